/// DeepFM's second-order (factorization machine) term over `fields` embedding vectors of `dim`
/// floats per sample, stored at `x[i*stride + offset + f*dim + d]`:
///
///     out[i] = 0.5 * Σ_d ((Σ_f v_fd)^2 − Σ_f v_fd^2)
///
/// which equals Σ_{f<g} <v_f, v_g> computed in O(fields·dim).
public enum FMKernels {
    /// Forward: writes `out[i]` for `i in 0..<batch`.
    ///
    /// Eight dimensions at a time, in registers: the field sum `s` and the sum of squares `q` of
    /// dimensions `c ..< c+8` over all fields, then `Σ (s² − q)` folded once per sample. (The
    /// former kernel summed each field into a scratch row and folded a dot product per field:
    /// `bench --kernels`, 26 × 16: 88 ns per sample.) A `dim` that is not a multiple of 8 ends
    /// in a scalar tail.
    public static func forward(x: UnsafePointer<Float>, stride: Int, offset: Int, fields: Int, dim: Int, batch: Int,
                               out: UnsafeMutablePointer<Float>) {
        guard fields > 0, dim > 0 else {
            out.update(repeating: 0, count: batch)
            return
        }
        for i in 0..<batch {
            let row = x + (i &* stride &+ offset)
            var acc = SIMD8<Float>()
            var c = 0
            while c &+ 8 <= dim {
                acc += chunkSquares(SIMD8<Float>.self, row: row, c: c, fields: fields, dim: dim)
                c &+= 8
            }
            var tail: Float = 0
            while c < dim {
                tail += chunkSquares(Float.self, row: row, c: c, fields: fields, dim: dim)
                c &+= 1
            }
            out[i] = 0.5 * (acc.sum() + tail)
        }
    }

    /// `s² − q` of dimensions `c ..< c + V.scalarCount`: `s` the sum over the fields, `q` the sum
    /// of their squares.
    @inline(__always)
    private static func chunkSquares<V: KernelLanes>(_: V.Type, row: UnsafePointer<Float>, c: Int, fields: Int, dim: Int) -> V {
        let bytes = c &* 4
        var s = V.load(row, byteOffset: bytes)
        var q = s * s
        var f = 1
        while f < fields {
            let v = V.load(row + f &* dim, byteOffset: bytes)
            s += v
            q += v * v
            f &+= 1
        }
        return s * s - q
    }

    /// Backward: `gradX[i*gradStride + gradOffset + f*dim + d] += gradOut[i] * (Σ_g v_gd − v_fd)`.
    ///
    /// ACCUMULATES into `gradX` (the embedding gradient block usually also receives the DNN's
    /// gradient for the same slots). `gradX` may have a different stride/offset from `x`.
    /// Eight dimensions at a time: the field sum stays in a register while every field's
    /// gradient is updated.
    public static func backward(x: UnsafePointer<Float>, stride: Int, offset: Int, fields: Int, dim: Int, batch: Int,
                                gradOut: UnsafePointer<Float>,
                                gradX: UnsafeMutablePointer<Float>, gradStride: Int, gradOffset: Int) {
        guard fields > 0, dim > 0 else { return }
        for i in 0..<batch {
            let row = x + (i &* stride &+ offset)
            let grow = gradX + (i &* gradStride &+ gradOffset)
            let g = gradOut[i]
            var c = 0
            while c &+ 8 <= dim {
                chunkGradient(SIMD8<Float>.self, row: row, grow: grow, g: g, c: c, fields: fields, dim: dim)
                c &+= 8
            }
            while c < dim {
                chunkGradient(Float.self, row: row, grow: grow, g: g, c: c, fields: fields, dim: dim)
                c &+= 1
            }
        }
    }

    /// Dimensions `c ..< c + V.scalarCount` of every field's gradient of one sample.
    @inline(__always)
    private static func chunkGradient<V: KernelLanes>(_: V.Type, row: UnsafePointer<Float>, grow: UnsafeMutablePointer<Float>,
                                                                g: Float, c: Int, fields: Int, dim: Int) {
        let bytes = c &* 4
        var s = V.load(row, byteOffset: bytes)
        var f = 1
        while f < fields {
            s += V.load(row + f &* dim, byteOffset: bytes)
            f &+= 1
        }
        let gv = V(splat: g)
        f = 0
        while f < fields {
            let at = f &* dim
            var d = V.load(grow + at, byteOffset: bytes)
            d += gv * (s - V.load(row + at, byteOffset: bytes))
            d.store(grow + at, byteOffset: bytes)
            f &+= 1
        }
    }
}
