internal import CDNNL

/// Embedding lookups: copy table rows selected by categorical ids into a strided output slice.
///
/// The gradient side ("scatter-add" of gradient rows into the table) is done sparsely by
/// `SparseRowOptimizer.accumulate`, which reads the same strided gradient slice directly.
public enum EmbeddingKernels {
    /// How many samples ahead `gather` requests a table row's first cache line (the whole row for
    /// the engine's rows of 16 floats or fewer in a 64-byte-aligned table). Changes speed only:
    /// with it (8 samples) the gathers' share of a bf16 DeepFM step fell from 4.0% to 3.1% (`perf`);
    /// `bench --kernels` "gather …, fresh ids": 139–152 ns per sample at 8, 86–99 at 24.
    static let gatherPrefetchDistance = 24
    /// How many samples ahead `gatherSum` requests every column's weight (0: none). Changes speed
    /// only. In a step the products have evicted the dim-1 tables from L2 by the next gather, so
    /// each of a sample's 26 weights is a miss of its own: the inline profile (bf16, `micro_batch
    /// 2`, three alternations) put DeepFM's two gather-sum nodes at 60–88 µs without and 28–33 µs
    /// with it, WDL's at 61–78 and 28–35 µs. `bench --kernels`, where the tables stay in L2, shows
    /// only its cost (22 → 27 ns per sample).
    public static let gatherSumPrefetchDistance = 4

    /// Gathers one embedding per sample:
    /// `out[i*outStride + outOffset + d] = table[ids[i*idStride + column] * dim + d]`
    /// for `i in 0..<batch`, `d in 0..<dim`.
    ///
    /// `table` is `rows × dim` row-major. Ids must lie in `0..<rows`; `rows` is used only to check
    /// that (an out-of-range id stops the process with the column, sample and id: the copy below
    /// goes through raw pointers and would otherwise read foreign memory).
    public static func gather(table: UnsafePointer<Float>, rows: Int, dim: Int,
                              ids: UnsafePointer<Int32>, idStride: Int, column: Int, batch: Int,
                              out: UnsafeMutablePointer<Float>, outStride: Int, outOffset: Int) {
        for i in 0..<batch {
            // The rows sit at random addresses: request sample i + gatherPrefetchDistance's row
            // while copying this one, so the copies overlap their cache misses (an out-of-range
            // id there is only a hint; it is checked when its turn comes).
            if i &+ gatherPrefetchDistance < batch {
                let ahead = Int(ids[(i &+ gatherPrefetchDistance) &* idStride &+ column])
                if ahead >= 0 && ahead < rows { rt_prefetch_for_read(table + ahead &* dim) }
            }
            let id = Int(ids[i &* idStride &+ column])
            if id < 0 || id >= rows {
                fatalError("EmbeddingKernels.gather: id \(id) of sample \(i), column \(column) is outside 0..<\(rows)")
            }
            let src = table + id &* dim
            let dst = out + (i &* outStride &+ outOffset)
            KernelMath.copy(src, to: dst, dim)
        }
    }

    /// The first-order (wide) logit of dim-1 tables: `out[i] = Σ_c tables[c][ids[i*idStride + c]]`
    /// for `c in 0..<columns`, the gather of every column's weight and the row sum in one pass,
    /// sample by sample. The same sum, in the same order, as `gatherAll` into a row of `columns`
    /// floats followed by `VectorKernels.sumRows` (the row is summed from a stack buffer), without
    /// the step tensor of gathered weights. Ids are checked as in `gather`.
    public static func gatherSum(tables: UnsafePointer<UnsafePointer<Float>>, rows: UnsafePointer<Int>, columns: Int,
                                 ids: UnsafePointer<Int32>, idStride: Int, batch: Int, out: UnsafeMutablePointer<Float>,
                                 prefetchDistance: Int = gatherSumPrefetchDistance) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(columns, 1)) { buffer in
            let row = buffer.baseAddress!
            for i in 0..<batch {
                if prefetchDistance > 0 && i &+ prefetchDistance < batch {
                    // Every column's weight is a miss of its own: request sample i + distance's.
                    let aheadIds = ids + (i &+ prefetchDistance) &* idStride
                    for c in 0..<columns {
                        let ahead = Int(aheadIds[c])
                        if ahead >= 0 && ahead < rows[c] { rt_prefetch_for_read(tables[c] + ahead) }
                    }
                }
                let sampleIds = ids + i &* idStride
                for c in 0..<columns {
                    let id = Int(sampleIds[c])
                    if id < 0 || id >= rows[c] {
                        fatalError("EmbeddingKernels.gatherSum: id \(id) of sample \(i), column \(c) is outside 0..<\(rows[c])")
                    }
                    row[c] = tables[c][id]
                }
                out[i] = KernelMath.sum(row, columns)
            }
        }
    }

    /// `gather` for every column of a multi-column id matrix at once: column `c` uses `tables[c]`
    /// (each `rows[c] × dim`) and lands at `out[i*outStride + outOffset + c*dim ..]` — the layout of
    /// a concatenated `[batch][columns*dim]` embedding block.
    public static func gatherAll(tables: UnsafePointer<UnsafePointer<Float>>, rows: UnsafePointer<Int>, columns: Int, dim: Int,
                                 ids: UnsafePointer<Int32>, idStride: Int, batch: Int,
                                 out: UnsafeMutablePointer<Float>, outStride: Int, outOffset: Int) {
        for c in 0..<columns {
            gather(table: tables[c], rows: rows[c], dim: dim, ids: ids, idStride: idStride, column: c, batch: batch,
                   out: out, outStride: outStride, outOffset: outOffset &+ c &* dim)
        }
    }
}
