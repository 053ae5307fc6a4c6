/// DLRM's dot interaction. Per sample there are `fields + 1` vectors of `dim` floats:
/// `v_0 = bottom[i*dim ..]` (the bottom MLP's output) and
/// `v_f = emb[i*embStride + embOffset + (f-1)*dim ..]` for `f in 1...fields` (the embeddings).
///
/// The output row is `v_0` followed by `dot(v_a, v_b)` for every pair `a < b`, in row-major
/// strict-upper-triangle order: (0,1), (0,2) … (0,F), (1,2) … (F−1,F).
///
/// Speed: the backward pass computes each gradient vector `grad v_a = Σ_{b≠a} g_ab v_b` in SIMD
/// registers, 8 dimensions at a time, and stores it once — no read-modify-write of gradient rows
/// and no short-loop overhead per pair (~1.8× faster than one axpy per pair at dim 16). The
/// forward pass computes 8 dots at a time (`KernelMath.dot8`).
public enum InteractionKernels {
    /// Width of one output row: `dim + (F+1)·F/2` for `F = fields` (F+1 vectors).
    public static func outputWidth(fields: Int, dim: Int) -> Int {
        dim + (fields + 1) * fields / 2
    }

    /// Forward: writes `out[i*outStride + 0 ..< outputWidth]` for `i in 0..<batch`.
    public static func forward(bottom: UnsafePointer<Float>, emb: UnsafePointer<Float>, embStride: Int, embOffset: Int,
                               fields: Int, dim: Int, batch: Int,
                               out: UnsafeMutablePointer<Float>, outStride: Int) {
        for i in 0..<batch {
            let v0 = bottom + i &* dim
            let e = emb + (i &* embStride &+ embOffset)
            let o = out + i &* outStride
            o.update(from: v0, count: dim)
            var k = dim
            // Row a (a = 0 is the bottom vector, a ≥ 1 embedding a): pairs (a, a+1 … F) are dots of
            // v_a with the consecutive embeddings a … F−1 of the emb row; 8 at a time, then singly.
            var a = 0
            while a < fields {
                let va = a == 0 ? v0 : e + (a &- 1) &* dim
                var b = a
                while b &+ 8 <= fields {
                    let r = KernelMath.dot8(va, e + b &* dim, stride: dim, dim)
                    UnsafeMutableRawPointer(o).storeBytes(of: r, toByteOffset: k &* 4, as: SIMD8<Float>.self)
                    k &+= 8
                    b &+= 8
                }
                while b < fields {
                    o[k] = KernelMath.dot(va, e + b &* dim, dim)
                    k &+= 1
                    b &+= 1
                }
                a &+= 1
            }
        }
    }

    /// Backward. With `g_ab = gradOut[i*gradOutStride + index(a,b)]` (symmetric, `g_ab = g_ba`):
    /// `grad v_a = Σ_{b≠a} g_ab v_b`, and `grad v_0` also receives the passthrough
    /// `gradOut[i*gradOutStride + 0..<dim]`.
    ///
    /// OVERWRITES `gradBottom[i*dim ..< (i+1)*dim]` and
    /// `gradEmb[i*gradEmbStride + gradEmbOffset ..< + fields*dim]`.
    public static func backward(bottom: UnsafePointer<Float>, emb: UnsafePointer<Float>, embStride: Int, embOffset: Int,
                                fields: Int, dim: Int, batch: Int,
                                gradOut: UnsafePointer<Float>, gradOutStride: Int,
                                gradBottom: UnsafeMutablePointer<Float>,
                                gradEmb: UnsafeMutablePointer<Float>, gradEmbStride: Int, gradEmbOffset: Int) {
        let vectors = fields &+ 1
        withUnsafeTemporaryAllocation(of: Int.self, capacity: vectors) { starts in
            // rowStart[a]: column of pair (a, a+1) in the output row; pair (a, b) is at rowStart[a] + b − a − 1.
            let rowStart = starts.baseAddress!
            var k = dim
            for a in 0..<vectors {
                rowStart[a] = k
                k &+= fields &- a
            }
            for i in 0..<batch {
                let v0 = bottom + i &* dim
                let e = emb + (i &* embStride &+ embOffset)
                let go = gradOut + i &* gradOutStride
                let gb = gradBottom + i &* dim
                let ge = gradEmb + (i &* gradEmbStride &+ gradEmbOffset)
                var c = 0
                while c &+ 8 <= dim {
                    gradientChunk(SIMD8<Float>.self, c: c, v0: v0, e: e, go: go, gb: gb, ge: ge, rowStart: rowStart, fields: fields, dim: dim)
                    c &+= 8
                }
                while c < dim {
                    gradientChunk(Float.self, c: c, v0: v0, e: e, go: go, gb: gb, ge: ge, rowStart: rowStart, fields: fields, dim: dim)
                    c &+= 1
                }
            }
        }
    }

    /// Dimensions `c ..< c + V.scalarCount` of every gradient vector of one sample.
    @inline(__always)
    private static func gradientChunk<V: KernelLanes>(_: V.Type, c: Int, v0: UnsafePointer<Float>, e: UnsafePointer<Float>,
                                               go: UnsafePointer<Float>, gb: UnsafeMutablePointer<Float>,
                                               ge: UnsafeMutablePointer<Float>, rowStart: UnsafePointer<Int>,
                                               fields: Int, dim: Int) {
        let bytes = c &* 4
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { V.load(p, byteOffset: bytes) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { v.store(p, byteOffset: bytes) }
        // a = 0 (the bottom vector): passthrough + Σ_{b≥1} g_0b v_b.
        var acc = load(go)
        let base0 = rowStart[0] &- 1
        var b = 1
        while b <= fields {
            acc += V(splat: go[base0 &+ b]) * load(e + (b &- 1) &* dim)
            b &+= 1
        }
        store(acc, gb)
        // a = 1 ... F (embeddings).
        var a = 1
        while a <= fields {
            acc = V(splat: go[rowStart[0] &+ a &- 1]) * load(v0)
            b = 1
            while b < a {
                acc += V(splat: go[rowStart[b] &+ a &- b &- 1]) * load(e + (b &- 1) &* dim)
                b &+= 1
            }
            let base = rowStart[a] &- a &- 1
            b = a &+ 1
            while b <= fields {
                acc += V(splat: go[base &+ b]) * load(e + (b &- 1) &* dim)
                b &+= 1
            }
            store(acc, ge + (a &- 1) &* dim)
            a &+= 1
        }
    }
}
