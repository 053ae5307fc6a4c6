/// One embedding table per categorical column (`buckets × dim`), each with its own sparse
/// row-wise optimizer, and the graph nodes that gather rows and apply sparse updates.
///
/// Every column is its own branch: 26 gather nodes per micro-batch and 26 update nodes per step,
/// the independent work an inter-op executor can spread over threads.
final class EmbeddingGroup: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; each table and its optimizer are touched only by
    // that column's gather and update nodes, which the graph orders.
    let name: String
    let dim: Int
    let tables: [ParameterTensor]
    let optimizers: [SparseRowOptimizer]
    let feed: StepFeed
    /// Tables keyed by the same columns' ids whose sparse updates ride on this group's (each
    /// column's optimizer has the companion's as `SparseRowOptimizer.companion`): one hash lookup
    /// per id for both, and no update nodes of the companion's own.
    let companion: EmbeddingGroup?

    init(name: String, buckets: Int, dim: Int, kind: SparseRowOptimizer.Kind, learningRate: Float,
         initScale: Float, maxIdsPerUpdate: Int, feed: StepFeed, seed: UInt64,
         companion: EmbeddingGroup? = nil) {
        self.name = name
        self.dim = dim
        self.feed = feed
        self.companion = companion
        var rng = SplitMix64(seed: seed)
        var tables: [ParameterTensor] = []
        for c in 0..<CriteoSchema.categoricalCount {
            let t = ParameterTensor(name: "\(name).C\(c + 1)", rows: buckets, columns: dim)
            for i in 0..<t.count { t.values[i] = rng.uniform(-initScale, initScale) }
            tables.append(t)
        }
        self.tables = tables
        optimizers = tables.indices.map { c in
            SparseRowOptimizer(table: tables[c], kind: kind, learningRate: learningRate, maxIdsPerUpdate: maxIdsPerUpdate,
                               companion: companion?.optimizers[c])
        }
    }

    var parameters: [ParameterTensor] { tables }

    /// Gathers every column's rows for micro-batch rows `[rowStart, rowStart + rows)` into `out`,
    /// column c at `out[i * outStride + outOffset + c * dim]`.
    func addGather(_ b: GraphBuilder, tag: String, rowStart: Int, rows: Int, out: TensorID, outStride: Int,
                   outOffset: Int, after: [NodeID]) -> [NodeID] {
        tables.indices.map { c in
            b.node("\(name).gather.C\(c + 1)\(tag)", kind: .forward, after: after, uses: [out]) { [self] ctx in
                EmbeddingKernels.gather(table: tables[c].values, rows: tables[c].rows, dim: dim,
                                        ids: feed.categorical + rowStart * CriteoSchema.categoricalCount,
                                        idStride: CriteoSchema.categoricalCount, column: c, batch: rows, out: ctx.memory.floats(out),
                                        outStride: outStride, outOffset: outOffset + c * dim)
            }
        }
    }

    /// For dim-1 tables (the wide / first-order weights): one node that allocates `out` and writes
    /// the sum of every column's weight per sample of micro-batch rows `[rowStart, rowStart + rows)`
    /// (`EmbeddingKernels.gatherSum`).
    func addGatherSum(_ b: GraphBuilder, tag: String, rowStart: Int, rows: Int, out: TensorID, after: [NodeID]) -> NodeID {
        precondition(dim == 1, "\(name): addGatherSum needs dim-1 tables, not dim \(dim)")
        let columns = tables.count
        return b.node("\(name).gather_sum\(tag)", kind: .forward, after: after, allocates: [out]) { [self] ctx in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: columns) { pointers in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: columns) { rowCounts in
                    for c in 0..<columns {
                        pointers[c] = UnsafePointer(tables[c].values)
                        rowCounts[c] = tables[c].rows
                    }
                    EmbeddingKernels.gatherSum(tables: pointers.baseAddress!, rows: rowCounts.baseAddress!, columns: columns,
                                               ids: feed.categorical + rowStart * CriteoSchema.categoricalCount,
                                               idStride: CriteoSchema.categoricalCount, batch: rows, out: ctx.memory.floats(out))
                }
            }
        }
    }

    /// A micro-batch's gradient w.r.t. the gathered rows: column c of sample i at
    /// `grad[i * gradStride + gradOffset + c * columnStride]`.
    struct GradientSlice {
        let rowStart: Int
        let rows: Int
        let grad: TensorID
        let gradStride: Int
        let gradOffset: Int
        /// Distance between columns in `grad` (dim for concatenated embeddings; 0 when all columns share one gradient, as the wide part's logit gradient).
        let columnStride: Int
        let ready: NodeID
    }

    /// Sparse update nodes: accumulate every micro-batch's row gradients, then apply once. With a
    /// `companion`, `companionSlices` are its gradients of the same micro-batches (in the same
    /// order), and these nodes update its tables too.
    func addUpdates(_ b: GraphBuilder, slices: [GradientSlice], companionSlices: [GradientSlice] = []) -> [NodeID] {
        let matched = companion == nil ? companionSlices.isEmpty
            : companionSlices.count == slices.count
                && zip(slices, companionSlices).allSatisfy { $0.rowStart == $1.rowStart && $0.rows == $1.rows }
        if !matched {
            fatalError("EmbeddingGroup(\(name)).addUpdates: the companion's gradient slices must match the micro-batches of this group's")
        }
        let grads = Array(Set((slices + companionSlices).map(\.grad)))
        return optimizers.indices.map { c in
            b.node("\(name).update.C\(c + 1)", kind: .update, after: (slices + companionSlices).map(\.ready), uses: grads) { [self] ctx in
                let opt = optimizers[c]
                opt.begin()
                for (k, s) in slices.enumerated() {
                    let valid = feed.validRows(start: s.rowStart, count: s.rows)
                    guard valid > 0 else { continue }
                    let companionSlice = companionSlices.isEmpty ? nil : companionSlices[k]
                    opt.accumulate(ids: feed.categorical + s.rowStart * CriteoSchema.categoricalCount,
                                   idStride: CriteoSchema.categoricalCount, column: c, count: valid,
                                   grad: ctx.memory.floats(s.grad), gradStride: s.gradStride,
                                   gradOffset: s.gradOffset + c * s.columnStride,
                                   companionGrad: companionSlice.map { UnsafePointer(ctx.memory.floats($0.grad)) },
                                   companionStride: companionSlice?.gradStride ?? 0,
                                   companionOffset: companionSlice.map { $0.gradOffset + c * $0.columnStride } ?? 0)
                }
                opt.apply(step: ctx.step + 1)
            }
        }
    }
}
