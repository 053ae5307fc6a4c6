internal import CDNNL
import Foundation

/// Kernels of the sequence models (DIN, DIEN): row-major GEMM through oneDNN's `dnnl_sgemm` and,
/// for `bf16: on`, `dnnl_gemm_bf16bf16f32` (bf16 operands, fp32 accumulation and result) with the
/// fp32 → bf16 conversion; PReLU, sigmoid/tanh layers, masked softmax attention, the GRU / AUGRU
/// cell math, the DIEN auxiliary loss and gradient clipping by norm. Every function works on
/// caller-owned memory and allocates nothing.
///
/// Sequence tensors are time-major: step `t` of row `i` of a `rows`-row micro-batch is at
/// `(t * rows + i) * width`, so the first `T·rows` rows are the first T steps of every row.
enum SeqKernels {
    /// `C = alpha·op(A)·op(B) + beta·C`, all row-major (`op(A)` is M×K, `op(B)` K×N). No-op when a dimension is 0.
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                     c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        if k == 0 { scale(c, m: m, n: n, ldc: ldc, beta: beta); return }
        let status = dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78, dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha,
                                a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc))
        precondition(status == dnnl_success, "dnnl_sgemm(\(m)×\(n)×\(k)) failed: \(status)")
    }

    /// `C = alpha·op(A)·op(B) + beta·C` with A and B as bf16 bits (`toBF16`), the products summed in
    /// fp32 and C fp32, all row-major (oneDNN's `dnnl_gemm_bf16bf16f32`). No-op when a dimension is 0.
    static func gemmBF16(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                         a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, beta: Float,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        if k == 0 { scale(c, m: m, n: n, ldc: ldc, beta: beta); return }
        let status = dnnl_gemm_bf16bf16f32(transA ? 84 : 78, transB ? 84 : 78, dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha,
                                           a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc))
        precondition(status == dnnl_success, "dnnl_gemm_bf16bf16f32(\(m)×\(n)×\(k)) failed: \(status)")
    }

    /// `C = beta·C` (an empty product).
    private static func scale(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int, beta: Float) {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
    }

    // MARK: - BF16

    /// fp32 → bf16 bits, rounded to nearest even as oneDNN converts (the upper 16 bits of the
    /// rounded fp32); a NaN stays a quiet NaN.
    @inline(__always) static func bf16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        let rounded = UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
        return x.isNaN ? UInt16(truncatingIfNeeded: u >> 16) | 0x0040 : rounded
    }

    /// The fp32 value of bf16 bits (exact).
    @inline(__always) static func float(bf16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// `dst[i] = bf16Bits(src[i])` for `count` values.
    static func toBF16(_ src: UnsafePointer<Float>, count: Int, _ dst: UnsafeMutablePointer<UInt16>) {
        for i in 0..<count { dst[i] = bf16Bits(src[i]) }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    // MARK: - Activations

    /// In place: `x[r·width + j] = act(x + bias[j])`.
    static func biasActivate(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, bias: UnsafePointer<Float>, activation: SeqActivation) {
        for r in 0..<rows {
            let row = x + r * width
            switch activation {
            case .none: for j in 0..<width { row[j] += bias[j] }
            case .relu: for j in 0..<width { row[j] = max(row[j] + bias[j], 0) }
            case .sigmoid: for j in 0..<width { row[j] = sigmoid(row[j] + bias[j]) }
            }
        }
    }

    /// In place: `g *= act'(y)` given the activation's output `y`.
    static func activationBackward(y: UnsafePointer<Float>, grad g: UnsafeMutablePointer<Float>, count: Int, activation: SeqActivation) {
        switch activation {
        case .none: return
        case .relu: for j in 0..<count where y[j] <= 0 { g[j] = 0 }
        case .sigmoid: for j in 0..<count { g[j] *= y[j] * (1 - y[j]) }
        }
    }

    /// `out[j] = Σ_r g[r·width + j]` (overwrites when `!accumulate`).
    static func columnSums(_ g: UnsafePointer<Float>, rows: Int, width: Int, out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if !accumulate { out.update(repeating: 0, count: width) }
        for r in 0..<rows { let row = g + r * width; for j in 0..<width { out[j] += row[j] } }
    }

    /// PReLU as the scripts write it: `relu(x) + α·(x − |x|)·0.5` (= x for x > 0, α·x otherwise), α per column.
    static func preluForward(_ x: UnsafePointer<Float>, rows: Int, width: Int, alpha: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            for j in 0..<width {
                let v = x[r * width + j]
                out[r * width + j] = max(v, 0) + alpha[j] * (v - abs(v)) * 0.5
            }
        }
    }

    /// PReLU backward (TF's subgradients at 0: relu' = 0, |x|' = 0, so the slope at 0 is α/2).
    /// `gradX` may alias `gradOut`; `gradAlpha` is overwritten.
    static func preluBackward(_ x: UnsafePointer<Float>, rows: Int, width: Int, alpha: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                              gradX: UnsafeMutablePointer<Float>, gradAlpha: UnsafeMutablePointer<Float>) {
        gradAlpha.update(repeating: 0, count: width)
        for r in 0..<rows {
            for j in 0..<width {
                let k = r * width + j, v = x[k], g = gradOut[k]
                gradAlpha[j] += g * (v - abs(v)) * 0.5
                gradX[k] = g * (v > 0 ? 1 : (v < 0 ? alpha[j] : alpha[j] * 0.5))
            }
        }
    }

    /// The scripts' BatchNorm as it runs (inference mode, moving mean 0 and variance 1 never updated):
    /// `y = γ·x/√(1+ε) + β`.
    static func affineBNForward(_ x: UnsafePointer<Float>, rows: Int, width: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                epsilon: Float, out: UnsafeMutablePointer<Float>) {
        let s = 1 / (1 + epsilon).squareRoot()
        for r in 0..<rows { for j in 0..<width { out[r * width + j] = gamma[j] * (x[r * width + j] * s) + beta[j] } }
    }

    /// Backward of `affineBNForward`; `gradGamma`/`gradBeta` are overwritten, `gradX` (optional) too.
    static func affineBNBackward(_ x: UnsafePointer<Float>, rows: Int, width: Int, gamma: UnsafePointer<Float>, epsilon: Float,
                                 gradOut: UnsafePointer<Float>, gradX: UnsafeMutablePointer<Float>?,
                                 gradGamma: UnsafeMutablePointer<Float>, gradBeta: UnsafeMutablePointer<Float>) {
        let s = 1 / (1 + epsilon).squareRoot()
        gradGamma.update(repeating: 0, count: width)
        gradBeta.update(repeating: 0, count: width)
        for r in 0..<rows {
            for j in 0..<width {
                let k = r * width + j, g = gradOut[k]
                gradGamma[j] += g * (x[k] * s)
                gradBeta[j] += g
                gradX?[k] = g * gamma[j] * s
            }
        }
    }

    // MARK: - Attention

    /// The attention MLP's input for the valid (step, row) pairs only, packed: row `p` of `out`
    /// (`count × 4·width`) is `[q_i, f, q_i − f, q_i·f]` for pair `pairs[p] = t·rows + i`, with `f` the
    /// facts row `t·rows + i` of the time-major `[steps × rows × width]` facts. Steps past a row's
    /// history get no row at all (the softmax gives them weight 0, so their MLP rows were wasted).
    static func attentionInput(query q: UnsafePointer<Float>, facts f: UnsafePointer<Float>, rows: Int, width: Int,
                               pairs: UnsafePointer<Int32>, count: Int, out: UnsafeMutablePointer<Float>) {
        let w4 = 4 * width
        for p in 0..<count {
            let k = Int(pairs[p]), i = k % rows
            let qi = q + i * width, fi = f + k * width, o = out + p * w4
            for j in 0..<width {
                let a = qi[j], b = fi[j]
                o[j] = a; o[width + j] = b; o[2 * width + j] = a - b; o[3 * width + j] = a * b
            }
        }
    }

    /// Backward of `attentionInput` (`gradIn` packed like its `out`): `gradQuery` (rows × width) and
    /// `gradFacts` (time-major, like the facts) accumulate.
    static func attentionInputBackward(query q: UnsafePointer<Float>, facts f: UnsafePointer<Float>, rows: Int, width: Int,
                                       pairs: UnsafePointer<Int32>, count: Int, gradIn g: UnsafePointer<Float>,
                                       gradQuery: UnsafeMutablePointer<Float>, gradFacts: UnsafeMutablePointer<Float>) {
        let w4 = 4 * width
        for p in 0..<count {
            let k = Int(pairs[p]), i = k % rows
            let qi = q + i * width, fi = f + k * width, gi = g + p * w4
            let gq = gradQuery + i * width, gf = gradFacts + k * width
            for j in 0..<width {
                let gDiff = gi[2 * width + j], gProd = gi[3 * width + j]
                gq[j] += gi[j] + gDiff + gProd * fi[j]
                gf[j] += gi[width + j] - gDiff + gProd * qi[j]
            }
        }
    }

    /// Masked softmax over each row's steps: `p[t·rows + i]` for `t < lengths[i]`, 0 past it (the
    /// scripts' `where(mask, s, −2³² + 1)` then softmax gives exactly 0 there in fp32). `scores`
    /// is time-major `[steps × rows]`.
    static func maskedSoftmaxForward(scores s: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, rows: Int, steps: Int,
                                     out p: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let n = min(Int(lengths[i]), steps)
            guard n > 0 else { for t in 0..<steps { p[t * rows + i] = 0 }; continue }
            var m = -Float.infinity
            for t in 0..<n { m = max(m, s[t * rows + i]) }
            var z: Float = 0
            for t in 0..<n { let e = expf(s[t * rows + i] - m); p[t * rows + i] = e; z += e }
            let inv = 1 / z
            for t in 0..<n { p[t * rows + i] *= inv }
            for t in n..<steps { p[t * rows + i] = 0 }
        }
    }

    /// Softmax backward: `gradScores = p·(g − Σ p·g)` per row (0 at masked steps). May alias `gradP`.
    static func maskedSoftmaxBackward(p: UnsafePointer<Float>, gradP g: UnsafePointer<Float>, rows: Int, steps: Int,
                                      gradScores out: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            var dot: Float = 0
            for t in 0..<steps { dot += p[t * rows + i] * g[t * rows + i] }
            for t in 0..<steps { let k = t * rows + i; out[k] = p[k] * (g[k] - dot) }
        }
    }

    /// `out_i = Σ_t p[t·rows + i]·facts[(t·rows + i)·width]` (overwrites `out`, row stride `outStride`).
    static func weightedSum(p: UnsafePointer<Float>, facts f: UnsafePointer<Float>, rows: Int, steps: Int, width: Int,
                            out: UnsafeMutablePointer<Float>, outStride: Int) {
        for i in 0..<rows { (out + i * outStride).update(repeating: 0, count: width) }
        for t in 0..<steps {
            for i in 0..<rows {
                let w = p[t * rows + i]
                if w == 0 { continue }
                let fi = f + (t * rows + i) * width, o = out + i * outStride
                for j in 0..<width { o[j] += w * fi[j] }
            }
        }
    }

    /// Backward of `weightedSum`: `gradP` is overwritten, `gradFacts` accumulates.
    static func weightedSumBackward(p: UnsafePointer<Float>, facts f: UnsafePointer<Float>, rows: Int, steps: Int, width: Int,
                                    gradOut g: UnsafePointer<Float>, gradStride: Int, gradP: UnsafeMutablePointer<Float>,
                                    gradFacts: UnsafeMutablePointer<Float>) {
        for t in 0..<steps {
            for i in 0..<rows {
                let k = t * rows + i, fi = f + k * width, gi = g + i * gradStride, gf = gradFacts + k * width, w = p[k]
                var dot: Float = 0
                for j in 0..<width { dot += gi[j] * fi[j]; gf[j] += w * gi[j] }
                gradP[k] = dot
            }
        }
    }

    // MARK: - GRU / AUGRU cell

    /// Gate activation of one step: `gates = σ(gates + bias)` (r | u, each `hidden` wide) and
    /// `rh = r ∘ h` written at `rh[i·rhStride + rhOffset]`.
    static func gruGates(gates: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, h: UnsafePointer<Float>, rows: Int, hidden: Int,
                         rh: UnsafeMutablePointer<Float>, rhStride: Int, rhOffset: Int) {
        let h2 = 2 * hidden
        for i in 0..<rows {
            let g = gates + i * h2, hi = h + i * hidden, o = rh + i * rhStride + rhOffset
            for j in 0..<h2 { g[j] = sigmoid(g[j] + bias[j]) }
            for j in 0..<hidden { o[j] = g[j] * hi[j] }
        }
    }

    /// Candidate and state update of one step (rows with `t < length` are active):
    /// `c = tanh(c + bias)`, `u' = (1 − α)·u` (α = nil: GRU), `h' = u'·h + (1 − u')·c`;
    /// inactive rows keep `h` (the state stops updating past the row's length).
    static func gruUpdate(candidate c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, gates: UnsafePointer<Float>,
                          h: UnsafePointer<Float>, alpha: UnsafePointer<Float>?, lengths: UnsafePointer<Int32>, step t: Int,
                          rows: Int, hidden: Int, out: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let ci = c + i * hidden, hi = h + i * hidden, oi = out + i * hidden
            guard t < Int(lengths[i]) else { oi.update(from: hi, count: hidden); continue }
            let u = gates + i * 2 * hidden + hidden, a = alpha.map { 1 - $0[i] } ?? 1
            for j in 0..<hidden {
                let cj = tanhf(ci[j] + bias[j])
                ci[j] = cj
                let uj = a * u[j]
                oi[j] = uj * hi[j] + (1 - uj) * cj
            }
        }
    }

    /// Backward of `gruUpdate` for one step. `dh` (rows × hidden) is the gradient w.r.t. the new
    /// state; writes `dCandidate` (pre-tanh), the update half of `dGates` (pre-sigmoid; the reset
    /// half is zeroed), `dAlpha` (if α), and `dhPrev` = the direct part of the previous state's
    /// gradient (`dh·u'` on active rows, `dh` on inactive rows).
    static func gruUpdateBackward(candidate c: UnsafePointer<Float>, gates: UnsafePointer<Float>, h: UnsafePointer<Float>,
                                  alpha: UnsafePointer<Float>?, lengths: UnsafePointer<Int32>, step t: Int, rows: Int, hidden: Int,
                                  dh: UnsafePointer<Float>, dCandidate: UnsafeMutablePointer<Float>, dGates: UnsafeMutablePointer<Float>,
                                  dAlpha: UnsafeMutablePointer<Float>?, dhPrev: UnsafeMutablePointer<Float>) {
        let h2 = 2 * hidden
        for i in 0..<rows {
            let dhi = dh + i * hidden, dci = dCandidate + i * hidden, dgi = dGates + i * h2, dpi = dhPrev + i * hidden
            guard t < Int(lengths[i]) else {
                dpi.update(from: dhi, count: hidden)
                dci.update(repeating: 0, count: hidden)
                dgi.update(repeating: 0, count: h2)
                dAlpha?[i] = 0
                continue
            }
            let ci = c + i * hidden, hi = h + i * hidden, u = gates + i * h2 + hidden
            let a = alpha.map { 1 - $0[i] } ?? 1
            var da: Float = 0
            for j in 0..<hidden {
                let uj = a * u[j], g = dhi[j]
                let dc = g * (1 - uj)
                dci[j] = dc * (1 - ci[j] * ci[j])
                let du = g * (hi[j] - ci[j])
                da -= du * u[j]
                dgi[j] = 0
                dgi[hidden + j] = du * a * u[j] * (1 - u[j])
                dpi[j] = g * uj
            }
            dAlpha?[i] = da
        }
    }

    /// Reset-gate backward of one step: from `dRH` (gradient w.r.t. `r∘h`, rows × hidden at
    /// `dRH[i·stride + offset]`), adds `dRH·r` to `dhPrev` and writes the reset half of `dGates`.
    static func gruResetBackward(gates: UnsafePointer<Float>, h: UnsafePointer<Float>, rows: Int, hidden: Int,
                                 dRH: UnsafePointer<Float>, stride: Int, offset: Int, lengths: UnsafePointer<Int32>, step t: Int,
                                 dGates: UnsafeMutablePointer<Float>, dhPrev: UnsafeMutablePointer<Float>) {
        let h2 = 2 * hidden
        for i in 0..<rows where t < Int(lengths[i]) {
            let r = gates + i * h2, hi = h + i * hidden, d = dRH + i * stride + offset, dgi = dGates + i * h2, dpi = dhPrev + i * hidden
            for j in 0..<hidden {
                dpi[j] += d[j] * r[j]
                dgi[j] = d[j] * hi[j] * r[j] * (1 - r[j])
            }
        }
    }

    // MARK: - DIEN auxiliary loss

    /// The auxiliary net's head on `count` rows of 2 logits: `p = softmax(z)[0] + 1e-8`; clicked rows
    /// lose `−log p`, non-clicked rows `−log(1 − p)`; rows with `weight[r] == 0` are masked. Returns
    /// Σ weight·loss; writes `gradZ = scale·weight·∂loss/∂z`.
    static func auxiliaryLoss(logits z: UnsafePointer<Float>, count: Int, clicked: Bool, weight: (Int) -> Float, scale: Float,
                              gradZ: UnsafeMutablePointer<Float>) -> Double {
        var total = 0.0
        for r in 0..<count {
            let w = weight(r)
            let a = z[2 * r], b = z[2 * r + 1], m = max(a, b)
            let ea = expf(a - m), eb = expf(b - m)
            let p0 = ea / (ea + eb), p1 = eb / (ea + eb)
            guard w != 0 else { gradZ[2 * r] = 0; gradZ[2 * r + 1] = 0; continue }
            let p = p0 + 1e-8
            let d: Float
            if clicked {
                total += -Double(logf(p)) * Double(w)
                d = -p0 * p1 / p
            } else {
                total += -Double(logf(1 - p)) * Double(w)
                d = p0 * p1 / (1 - p)
            }
            gradZ[2 * r] = scale * w * d
            gradZ[2 * r + 1] = -scale * w * d
        }
        return total
    }

    // MARK: - Clipping

    /// `tf.clip_by_norm(g, maxNorm)`: scales `g` by `maxNorm/‖g‖` when `‖g‖ > maxNorm`. Returns the norm.
    @discardableResult
    static func clipByNorm(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float {
        var s: Double = 0
        for j in 0..<count { s += Double(g[j]) * Double(g[j]) }
        let norm = Float(s.squareRoot())
        if norm > maxNorm {
            let scale = maxNorm / norm
            for j in 0..<count { g[j] *= scale }
        }
        return norm
    }
}

/// The activation after a sequence-model dense layer.
enum SeqActivation: Sendable { case none, relu, sigmoid }
