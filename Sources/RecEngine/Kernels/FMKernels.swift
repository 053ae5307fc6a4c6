/// DeepFM's second-order (factorization machine) term over `fields` embedding vectors of `dim`
/// floats per sample, stored at `x[i*stride + offset + f*dim + d]`:
///
///     out[i] = 0.5 * Σ_d ((Σ_f v_fd)^2 − Σ_f v_fd^2)
///
/// which equals Σ_{f<g} <v_f, v_g> computed in O(fields·dim).
public enum FMKernels {
    /// Forward: writes `out[i]` for `i in 0..<batch`.
    ///
    /// Uses a `dim`-float stack scratch for the per-dimension sums (no heap allocation).
    public static func forward(x: UnsafePointer<Float>, stride: Int, offset: Int, fields: Int, dim: Int, batch: Int,
                               out: UnsafeMutablePointer<Float>) {
        guard fields > 0, dim > 0 else {
            out.update(repeating: 0, count: batch)
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dim) { scratch in
            let s = scratch.baseAddress!
            for i in 0..<batch {
                let row = x + (i &* stride &+ offset)
                KernelMath.copy(row, to: s, dim)
                var squares = KernelMath.dot(row, row, dim)
                for f in 1..<fields {
                    let v = row + f &* dim
                    KernelMath.add(v, into: s, dim)
                    squares += KernelMath.dot(v, v, dim)
                }
                out[i] = 0.5 * (KernelMath.dot(s, s, dim) - squares)
            }
        }
    }

    /// Backward: `gradX[i*gradStride + gradOffset + f*dim + d] += gradOut[i] * (Σ_g v_gd − v_fd)`.
    ///
    /// ACCUMULATES into `gradX` (the embedding gradient block usually also receives the DNN's
    /// gradient for the same slots). `gradX` may have a different stride/offset from `x`.
    public static func backward(x: UnsafePointer<Float>, stride: Int, offset: Int, fields: Int, dim: Int, batch: Int,
                                gradOut: UnsafePointer<Float>,
                                gradX: UnsafeMutablePointer<Float>, gradStride: Int, gradOffset: Int) {
        guard fields > 0, dim > 0 else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dim) { scratch in
            let s = scratch.baseAddress!
            for i in 0..<batch {
                let row = x + (i &* stride &+ offset)
                KernelMath.copy(row, to: s, dim)
                for f in 1..<fields { KernelMath.add(row + f &* dim, into: s, dim) }
                let g = gradOut[i]
                let grow = gradX + (i &* gradStride &+ gradOffset)
                let g8 = SIMD8<Float>(repeating: g)
                for f in 0..<fields {
                    let v = row + f &* dim
                    let gv = grow + f &* dim
                    // 8 lanes by hand: the compiler's loop checked for overlap and ran short rows scalar.
                    var d = 0
                    while d &+ 8 <= dim {
                        let sum = SIMD8<Float>.load(s, byteOffset: d &* 4), vd = SIMD8<Float>.load(v, byteOffset: d &* 4)
                        (SIMD8<Float>.load(gv, byteOffset: d &* 4) + g8 * (sum - vd)).store(gv, byteOffset: d &* 4)
                        d &+= 8
                    }
                    while d < dim {
                        gv[d] += g * (s[d] - v[d])
                        d &+= 1
                    }
                }
            }
        }
    }
}
