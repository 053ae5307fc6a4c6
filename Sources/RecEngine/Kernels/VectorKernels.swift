/// Small strided helpers the models need around the big kernels: row sums (wide part, FM first
/// order), their gradient broadcast, adds, strided block copies (concat / split), and a tiny
/// dense dot product `x·w + b` (the wide part's 13 dense features → 1).
///
/// Every buffer is batch-major row-major; `stride` is the row length of the whole buffer and
/// `offset` the first column of the slice, so a kernel reads or writes a slice of a concatenation.
public enum VectorKernels {
    /// `out[i] (+)= Σ_{j<width} x[i*stride + offset + j]` for `i in 0..<batch`; adds into `out`
    /// when `accumulate`, else overwrites.
    public static func sumRows(x: UnsafePointer<Float>, stride: Int, offset: Int, width: Int, batch: Int,
                               out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for i in 0..<batch {
            let s = KernelMath.sum(x + (i &* stride &+ offset), width)
            out[i] = accumulate ? out[i] + s : s
        }
    }

    /// The gradient of `sumRows`: `gradX[i*stride + offset + j] (+)= gradOut[i]` for `j < width`.
    public static func broadcastColumn(gradOut: UnsafePointer<Float>, batch: Int, width: Int,
                                       gradX: UnsafeMutablePointer<Float>, stride: Int, offset: Int, accumulate: Bool) {
        for i in 0..<batch {
            let g = gradOut[i]
            let row = gradX + (i &* stride &+ offset)
            if accumulate {
                for j in 0..<width { row[j] += g }
            } else {
                row.update(repeating: g, count: width)
            }
        }
    }

    /// `out[k] = a[k] + b[k]` for `k in 0..<count`; `out` may alias `a` or `b`.
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>) {
        for k in 0..<count { out[k] = a[k] + b[k] }
    }

    /// `dst[k] += src[k]` for `k in 0..<count` (gradient accumulation across micro-batches).
    public static func accumulate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        KernelMath.add(src, into: dst, count)
    }

    /// `x[k] *= factor` for `k in 0..<count`.
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        for k in 0..<count { x[k] *= factor }
    }

    /// Strided block copy: `dst[i*dstStride + dstOffset + j] = src[i*srcStride + srcOffset + j]`
    /// for `i < batch`, `j < width` (concatenating features, or splitting a gradient back).
    public static func copyColumns(src: UnsafePointer<Float>, srcStride: Int, srcOffset: Int, width: Int, batch: Int,
                                   dst: UnsafeMutablePointer<Float>, dstStride: Int, dstOffset: Int) {
        for i in 0..<batch {
            (dst + (i &* dstStride &+ dstOffset)).update(from: src + (i &* srcStride &+ srcOffset), count: width)
        }
    }

    /// `out[i] (+)= bias + Σ_j x[i*stride + offset + j] * weights[j]` for `i < batch`, `j < width`.
    public static func linearForward(x: UnsafePointer<Float>, stride: Int, offset: Int, width: Int, batch: Int,
                                     weights: UnsafePointer<Float>, bias: Float,
                                     out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for i in 0..<batch {
            let s = bias + KernelMath.dot(x + (i &* stride &+ offset), weights, width)
            out[i] = accumulate ? out[i] + s : s
        }
    }

    /// Backward of `linearForward`: `gradWeights[j] (+)= Σ_i gradOut[i] * x[i, j]`,
    /// `gradBias[0] (+)= Σ_i gradOut[i]`, and if `gradX` is given, `gradX[i, j] (+)= gradOut[i] * weights[j]`
    /// (at `gradXStride`/`gradXOffset`). Each output is added to when `accumulate`, else overwritten.
    public static func linearBackward(x: UnsafePointer<Float>, stride: Int, offset: Int, width: Int, batch: Int,
                                      weights: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                                      gradWeights: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>,
                                      gradX: UnsafeMutablePointer<Float>?, gradXStride: Int, gradXOffset: Int,
                                      accumulate: Bool) {
        if !accumulate {
            gradWeights.update(repeating: 0, count: width)
            gradBias[0] = 0
        }
        var biasSum: Float = 0
        for i in 0..<batch {
            let g = gradOut[i]
            biasSum += g
            KernelMath.axpy(g, x + (i &* stride &+ offset), gradWeights, width)
        }
        gradBias[0] += biasSum
        guard let gradX else { return }
        for i in 0..<batch {
            let g = gradOut[i]
            let row = gradX + (i &* gradXStride &+ gradXOffset)
            if accumulate {
                KernelMath.axpy(g, weights, row, width)
            } else {
                for j in 0..<width { row[j] = g * weights[j] }
            }
        }
    }
}
