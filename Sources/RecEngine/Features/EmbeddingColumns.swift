/// Embedding columns over a contest feed: one table per group of slots (a shared-embedding group
/// has several member slots, an ordinary column one), each slot pooled as an embedding bag with
/// a combiner, and one sparse row optimizer per table that receives the gradients of every member.
///
/// `fused` is DeepRec's embedding fusion (`emb_fusion`): on, one gather node per micro-batch and one
/// update node per step cover every table; off, one node per table. Same arithmetic either way.
final class EmbeddingColumns: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; each table and its optimizer are touched only by
    // its lookup and update nodes, which the graph orders.
    struct Table {
        let parameter: ParameterTensor
        let optimizer: SparseRowOptimizer
        /// Member slots, pooled into fields `fieldOf[slot]`.
        let members: [Int]
    }

    let name: String
    let dim: Int
    let tables: [Table]
    let combiner: BagCombiner
    let fused: Bool
    let feed: ContestFeed
    /// Output field of each slot (−1: not an input of this layer).
    let fieldOf: [Int]
    /// Number of output fields (`fields * dim` floats per row).
    let fields: Int

    /// - Parameters:
    ///   - groups: slot lists, one table each (the table has the first member's bucket count).
    ///   - initScale: values start uniform in ±initScale.
    init(name: String, feed: ContestFeed, groups: [[Int]], buckets: [Int], dim: Int, combiner: BagCombiner, kind: SparseRowOptimizer.Kind,
         learningRate: Float, initScale: Float, fused: Bool, seed: UInt64) {
        self.name = name
        self.dim = dim
        self.combiner = combiner
        self.fused = fused
        self.feed = feed
        var rng = SplitMix64(seed: seed)
        var fieldOf = [Int](repeating: -1, count: feed.slotCount)
        var fields = 0
        for slot in groups.flatMap({ $0 }).sorted() { fieldOf[slot] = fields; fields += 1 }
        self.fieldOf = fieldOf
        self.fields = fields
        tables = groups.map { members in
            let rows = buckets[members[0]]
            precondition(members.allSatisfy { buckets[$0] == rows }, "\(name): a shared table's members need equal bucket counts")
            let label = members.map { feed.schema.slots[$0] }.joined(separator: "+")
            let t = ParameterTensor(name: "\(name).\(label)", rows: rows, columns: dim)
            for i in 0..<t.count { t.values[i] = rng.uniform(-initScale, initScale) }
            // Unique ids per update never exceed the table's rows.
            let opt = SparseRowOptimizer(table: t, kind: kind, learningRate: learningRate, maxIdsPerUpdate: rows)
            return Table(parameter: t, optimizer: opt, members: members)
        }
    }

    var parameters: [ParameterTensor] { tables.map(\.parameter) }

    private var nodeGroups: [[Int]] { fused ? [Array(tables.indices)] : tables.indices.map { [$0] } }

    private func label(_ group: [Int]) -> String {
        group.count == 1 ? tables[group[0]].members.map { feed.schema.slots[$0] }.joined(separator: "+") : "fused"
    }

    /// Pools every member slot of rows `[rowStart, rowStart + rows)` into `out`: slot s at
    /// `out[i*outStride + outOffset + fieldOf[s]*dim ..< + dim]`.
    func addLookup(_ b: GraphBuilder, tag: String, rowStart: Int, rows: Int, out: TensorID, outStride: Int, outOffset: Int,
                   after: [NodeID]) -> [NodeID] {
        nodeGroups.map { group in
            b.node("\(name).lookup.\(label(group))\(tag)", kind: .forward, after: after, uses: [out]) { [self] ctx in
                let o = ctx.memory.floats(out)
                for t in group {
                    let table = tables[t]
                    for slot in table.members {
                        BagKernels.forward(table: table.parameter.values, rows: table.parameter.rows, dim: dim,
                                           bags: feed.bags(slot: slot, rowStart: rowStart), batch: rows, combiner: combiner,
                                           out: o, outStride: outStride, outOffset: outOffset + fieldOf[slot] * dim)
                    }
                }
            }
        }
    }

    /// A micro-batch's gradient w.r.t. the pooled fields: slot s of sample i at
    /// `grad[i*gradStride + gradOffset + fieldOf[s]*dim]`.
    struct GradientSlice {
        let rowStart: Int
        let rows: Int
        let grad: TensorID
        let gradStride: Int
        let gradOffset: Int
        let ready: NodeID
    }

    /// Sparse update nodes: every member's bag gradients of every micro-batch into its table's
    /// optimizer, then one apply per table.
    func addUpdates(_ b: GraphBuilder, slices: [GradientSlice]) -> [NodeID] {
        let grads = Array(Set(slices.map(\.grad)))
        return nodeGroups.map { group in
            b.node("\(name).update.\(label(group))", kind: .update, after: slices.map(\.ready), uses: grads) { [self] ctx in
                for t in group {
                    let table = tables[t]
                    table.optimizer.begin()
                    for s in slices {
                        let valid = feed.validRows(start: s.rowStart, count: s.rows)
                        guard valid > 0 else { continue }
                        for slot in table.members {
                            table.optimizer.accumulateBags(feed.bags(slot: slot, rowStart: s.rowStart), count: valid, combiner: combiner,
                                                           grad: ctx.memory.floats(s.grad), gradStride: s.gradStride,
                                                           gradOffset: s.gradOffset + fieldOf[slot] * dim)
                        }
                    }
                    table.optimizer.apply(step: ctx.step + 1)
                }
            }
        }
    }
}
