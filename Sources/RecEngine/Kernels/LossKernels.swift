import Glibc

/// The CTR loss: sigmoid cross-entropy on logits, and the sigmoid itself for predictions.
public enum LossKernels {
    /// Sigmoid cross-entropy with logits, in the numerically stable form
    /// `ℓ(z, y) = max(z, 0) − z·y + log(1 + e^−|z|)` (no overflow for any finite z).
    ///
    /// Writes `gradLogits[i] = (σ(z_i) − y_i) · gradScale`; pass `gradScale = 1 / fullBatch` for the
    /// gradient of the MEAN loss (with micro-batches, the full batch size, so the micro-batch
    /// gradients add up to the full-batch one). Returns the SUM of the per-sample losses (Double),
    /// so callers can combine micro-batches before dividing.
    public static func sigmoidCrossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, batch: Int,
                                           gradScale: Float, gradLogits: UnsafeMutablePointer<Float>) -> Double {
        var total: Double = 0
        for i in 0..<batch {
            let z = logits[i]
            let y = labels[i]
            // e = e^−|z| ∈ (0, 1]; σ(z) = 1/(1+e) for z ≥ 0, e/(1+e) for z < 0.
            let e = expf(-abs(z))
            let inv = 1 / (1 + e)
            let p = z >= 0 ? inv : e * inv
            gradLogits[i] = (p - y) * gradScale
            total += Double(max(z, 0) - z * y + log1pf(e))
        }
        return total
    }

    /// `out[i] = 1 / (1 + e^−logits[i])`, stable for large |z|. `out` may alias `logits`.
    public static func sigmoid(_ logits: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let z = logits[i]
            let e = expf(-abs(z))
            let inv = 1 / (1 + e)
            out[i] = z >= 0 ? inv : e * inv
        }
    }
}
