internal import CDNNL

/// How a bag of embedding rows is pooled (TF's `combiner`).
public enum BagCombiner: String, Sendable {
    /// Σ rows (the linear model's `sparse_combiner='sum'`; also indicator counts).
    case sum
    /// Σ rows / n (the default of `embedding_column` and `shared_embedding_columns`).
    case mean

    /// The weight of each row of an `n`-row bag (0 for an empty bag: it pools to zeros).
    @inline(__always)
    func weight(_ n: Int32) -> Float {
        n == 0 ? 0 : (self == .sum ? 1 : 1 / Float(n))
    }
}

/// A view of one categorical slot's bags in a batch: row i's ids are
/// `ids[start[i*stride + slot] ..< + count[i*stride + slot]]`.
public struct BagView {
    public let ids: UnsafePointer<Int32>
    public let start: UnsafePointer<Int32>
    public let count: UnsafePointer<Int32>
    /// Bags per row (the batch's slot count).
    public let stride: Int
    public let slot: Int

    public init(ids: UnsafePointer<Int32>, start: UnsafePointer<Int32>, count: UnsafePointer<Int32>, stride: Int, slot: Int) {
        self.ids = ids; self.start = start; self.count = count; self.stride = stride; self.slot = slot
    }

    /// (first id index, id count) of row `i`.
    @inline(__always)
    func bag(_ i: Int) -> (Int, Int32) {
        let k = i &* stride &+ slot
        return (Int(start[k]), count[k])
    }
}

/// Embedding bags (pooled multi-valued lookups with per-row offsets) and the dense-input ops the
/// contest models add: a whole-tensor L2 normalization, batch normalization, softmax gates and
/// their mixture, the vector-valued FM term, and the MSE-on-sigmoid loss.
public enum BagKernels {
    /// How many samples ahead `forward` requests the rows of a bag (0: none). Changes speed only.
    public static let bagPrefetchDistance = 8

    /// `out[i*outStride + outOffset + d] = w_i · Σ_{id ∈ bag_i} table[id*dim + d]`, w_i the
    /// combiner's weight (an empty bag gives zeros). Ids outside `0..<rows` stop the process.
    public static func forward(table: UnsafePointer<Float>, rows: Int, dim: Int, bags: BagView, batch: Int, combiner: BagCombiner,
                               out: UnsafeMutablePointer<Float>, outStride: Int, outOffset: Int,
                               prefetchDistance: Int = bagPrefetchDistance) {
        for i in 0..<batch {
            if prefetchDistance > 0 && i &+ prefetchDistance < batch {
                // The rows sit at random addresses: request the first line of every row of sample
                // i + distance's bag (a hint only; its ids are checked when their turn comes).
                let (s, n) = bags.bag(i &+ prefetchDistance)
                for k in s..<(s &+ Int(n)) {
                    let id = Int(bags.ids[k])
                    if id >= 0 && id < rows { rt_prefetch_for_read(table + id &* dim) }
                }
            }
            let dst = out + (i &* outStride &+ outOffset)
            let (s, n) = bags.bag(i)
            dst.update(repeating: 0, count: dim)
            if n == 0 { continue }
            for k in s..<(s &+ Int(n)) {
                let id = Int(bags.ids[k])
                if id < 0 || id >= rows { fatalError("BagKernels.forward: id \(id) of sample \(i), slot \(bags.slot) is outside 0..<\(rows)") }
                KernelMath.add(table + id &* dim, into: dst, dim)
            }
            let w = combiner.weight(n)
            if w != 1 { for d in 0..<dim { dst[d] *= w } }
        }
    }

    /// Dense reference of the bag gradient: `gradTable[id*dim + d] += w_i · gradOut[i*gradStride + gradOffset + d]`
    /// for every id of every bag (the sparse optimizers' `accumulateBags` does the same into their rows).
    public static func backwardDense(bags: BagView, batch: Int, dim: Int, combiner: BagCombiner,
                                     gradOut: UnsafePointer<Float>, gradStride: Int, gradOffset: Int,
                                     gradTable: UnsafeMutablePointer<Float>) {
        for i in 0..<batch {
            let (s, n) = bags.bag(i)
            let w = combiner.weight(n)
            for k in s..<(s &+ Int(n)) {
                KernelMath.axpy(w, gradOut + (i &* gradStride &+ gradOffset), gradTable + Int(bags.ids[k]) &* dim, dim)
            }
        }
    }

    /// TF's `l2_normalize` with no axis: `out = x / sqrt(max(Σ x², 1e-12))` over all `count`
    /// values. Returns that denominator (needed by the backward). `out` may alias `x`.
    @discardableResult
    public static func l2NormalizeForward(_ x: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>) -> Float {
        var ss: Double = 0
        for k in 0..<count { ss += Double(x[k]) * Double(x[k]) }
        let norm = Float(max(ss, 1e-12).squareRoot())
        let inv = 1 / norm
        for k in 0..<count { out[k] = x[k] * inv }
        return norm
    }

    /// Backward of `l2NormalizeForward` from its output `y` and the denominator: `gradX = (g − y·(y·g)) / norm`
    /// when Σ x² ≥ 1e-12 (else the denominator is constant: `g / norm`). `gradX` may alias `g`.
    public static func l2NormalizeBackward(y: UnsafePointer<Float>, norm: Float, gradOut g: UnsafePointer<Float>, count: Int,
                                           clamped: Bool, gradX: UnsafeMutablePointer<Float>) {
        var dot: Double = 0
        if !clamped { for k in 0..<count { dot += Double(y[k]) * Double(g[k]) } }
        let d = Float(dot), inv = 1 / norm
        for k in 0..<count { gradX[k] = (g[k] - y[k] * d) * inv }
    }

    /// Batch normalization with batch statistics over the first `valid` of `rows` rows (columns
    /// are features): `y = γ·(x − μ)/sqrt(σ² + ε) + β` (σ² the biased variance, as TF's
    /// `batch_normalization(training=True)`). Rows past `valid` are normalized with the same
    /// statistics. Writes `mean` and `invStd` (width each) for the backward; `out` may alias `x`.
    public static func batchNormForward(x: UnsafePointer<Float>, rows: Int, valid: Int, width: Int, gamma: UnsafePointer<Float>,
                                        beta: UnsafePointer<Float>, epsilon: Float, out: UnsafeMutablePointer<Float>,
                                        mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>) {
        let n = max(valid, 1)
        mean.update(repeating: 0, count: width)
        invStd.update(repeating: 0, count: width)  // holds Σ (x − μ)² first
        for i in 0..<n { KernelMath.add(x + i &* width, into: mean, width) }
        let invN = 1 / Float(n)
        for j in 0..<width { mean[j] *= invN }
        for i in 0..<n {
            let row = x + i &* width
            for j in 0..<width { let c = row[j] - mean[j]; invStd[j] += c * c }
        }
        for j in 0..<width { invStd[j] = 1 / (invStd[j] * invN + epsilon).squareRoot() }
        for i in 0..<rows {
            let row = x + i &* width, o = out + i &* width
            for j in 0..<width { o[j] = gamma[j] * (row[j] - mean[j]) * invStd[j] + beta[j] }
        }
    }

    /// Backward of `batchNormForward` over the `valid` rows (padding rows get zero gradient):
    /// with x̂ = (x − μ)·invStd, `dβ += Σ g`, `dγ += Σ g·x̂`, and
    /// `dx = γ·invStd/N · (N·g − Σ g − x̂·Σ g·x̂)`. `gradGamma`/`gradBeta` are overwritten; `gradX` may alias `gradOut`.
    public static func batchNormBackward(x: UnsafePointer<Float>, rows: Int, valid: Int, width: Int, gamma: UnsafePointer<Float>,
                                         mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                                         gradX: UnsafeMutablePointer<Float>, gradGamma: UnsafeMutablePointer<Float>,
                                         gradBeta: UnsafeMutablePointer<Float>) {
        let n = max(valid, 1)
        gradGamma.update(repeating: 0, count: width)
        gradBeta.update(repeating: 0, count: width)
        for i in 0..<n {
            let row = x + i &* width, g = gradOut + i &* width
            for j in 0..<width {
                gradBeta[j] += g[j]
                gradGamma[j] += g[j] * (row[j] - mean[j]) * invStd[j]
            }
        }
        let invN = 1 / Float(n)
        for i in 0..<n {
            let row = x + i &* width, g = gradOut + i &* width, dx = gradX + i &* width
            for j in 0..<width {
                let xh = (row[j] - mean[j]) * invStd[j]
                dx[j] = gamma[j] * invStd[j] * invN * (Float(n) * g[j] - gradBeta[j] - xh * gradGamma[j])
            }
        }
        if rows > n { (gradX + n &* width).update(repeating: 0, count: (rows - n) * width) }
    }

    /// Row-wise softmax of `[rows × width]` logits (max-subtracted); `out` may alias `z`.
    public static func softmaxForward(_ z: UnsafePointer<Float>, rows: Int, width: Int, out: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let r = z + i &* width, o = out + i &* width
            var m = r[0]
            for j in 1..<width { m = max(m, r[j]) }
            var s: Float = 0
            for j in 0..<width { o[j] = expf(r[j] - m); s += o[j] }
            let inv = 1 / s
            for j in 0..<width { o[j] *= inv }
        }
    }

    /// Backward of `softmaxForward` from its output `p`: `gradZ = p ⊙ (g − Σ_j p_j g_j)` per row; `gradZ` may alias `g`.
    public static func softmaxBackward(p: UnsafePointer<Float>, gradOut g: UnsafePointer<Float>, rows: Int, width: Int,
                                       gradZ: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let pr = p + i &* width, gr = g + i &* width, o = gradZ + i &* width
            var dot: Float = 0
            for j in 0..<width { dot += pr[j] * gr[j] }
            for j in 0..<width { o[j] = pr[j] * (gr[j] - dot) }
        }
    }

    /// The MMoE mixture: `out[i, :] = Σ_k gate[i, k] · experts[k][i, :]` (`experts[k]` is `[rows × width]`,
    /// `gate` is `[rows × experts.count]`).
    public static func mixtureForward(experts: UnsafePointer<UnsafePointer<Float>>, count: Int, gate: UnsafePointer<Float>,
                                      rows: Int, width: Int, out: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let o = out + i &* width
            o.update(repeating: 0, count: width)
            for k in 0..<count { KernelMath.axpy(gate[i &* count &+ k], experts[k] + i &* width, o, width) }
        }
    }

    /// Backward of the mixture: `gradGate[i, k] = experts[k][i, :]·g[i, :]` (overwritten) and
    /// `gradExperts[k][i, :] += gate[i, k] · g[i, :]` (accumulated: each expert feeds both towers).
    public static func mixtureBackward(experts: UnsafePointer<UnsafePointer<Float>>, count: Int, gate: UnsafePointer<Float>,
                                       gradOut g: UnsafePointer<Float>, rows: Int, width: Int, gradGate: UnsafeMutablePointer<Float>,
                                       gradExperts: UnsafePointer<UnsafeMutablePointer<Float>>) {
        for i in 0..<rows {
            let gr = g + i &* width
            for k in 0..<count {
                gradGate[i &* count &+ k] = KernelMath.dot(experts[k] + i &* width, gr, width)
                KernelMath.axpy(gate[i &* count &+ k], gr, gradExperts[k] + i &* width, width)
            }
        }
    }

    /// DeepFM-contest's FM term, kept per dimension (TF reduces over fields only):
    /// `out[i*outStride + outOffset + d] = ½((Σ_f v_fd)² − Σ_f v_fd²)`, `v_f` at `x[i*stride + offset + f*dim]`.
    public static func fmVectorForward(x: UnsafePointer<Float>, stride: Int, offset: Int, fields: Int, dim: Int, batch: Int,
                                       out: UnsafeMutablePointer<Float>, outStride: Int, outOffset: Int) {
        for i in 0..<batch {
            let row = x + (i &* stride &+ offset), o = out + (i &* outStride &+ outOffset)
            for d in 0..<dim {
                var s: Float = 0, q: Float = 0
                for f in 0..<fields { let v = row[f &* dim &+ d]; s += v; q += v * v }
                o[d] = 0.5 * (s * s - q)
            }
        }
    }

    /// Backward of `fmVectorForward`: `gradX[.. f*dim + d] += g_d · (Σ_h v_hd − v_fd)` (accumulates).
    public static func fmVectorBackward(x: UnsafePointer<Float>, stride: Int, offset: Int, fields: Int, dim: Int, batch: Int,
                                        gradOut: UnsafePointer<Float>, gradOutStride: Int, gradOutOffset: Int,
                                        gradX: UnsafeMutablePointer<Float>, gradStride: Int, gradOffset: Int) {
        for i in 0..<batch {
            let row = x + (i &* stride &+ offset), g = gradOut + (i &* gradOutStride &+ gradOutOffset)
            let gr = gradX + (i &* gradStride &+ gradOffset)
            for d in 0..<dim {
                var s: Float = 0
                for f in 0..<fields { s += row[f &* dim &+ d] }
                for f in 0..<fields { gr[f &* dim &+ d] += g[d] * (s - row[f &* dim &+ d]) }
            }
        }
    }

    /// MSE on the sigmoid (DeepFM-contest's loss): `ℓ_i = (σ(z_i) − y_i)²`; writes
    /// `gradLogits[i] = 2(p − y)·p(1 − p)·gradScale`; returns Σ ℓ_i.
    public static func sigmoidMSE(logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, batch: Int, gradScale: Float,
                                  gradLogits: UnsafeMutablePointer<Float>) -> Double {
        var total: Double = 0
        for i in 0..<batch {
            let z = logits[i]
            let e = expf(-abs(z)), inv = 1 / (1 + e)
            let p = z >= 0 ? inv : e * inv
            let r = p - labels[i]
            gradLogits[i] = 2 * r * p * (1 - p) * gradScale
            total += Double(r * r)
        }
        return total
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
