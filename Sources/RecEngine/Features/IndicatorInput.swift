/// How DeepFM's wide input (indicator, i.e. multi-hot count, columns plus the numerics) is computed.
public enum IndicatorMode: String, Sendable, CaseIterable, Codable {
    /// Materialize the `rows × width` multi-hot tensor every step and sum it (the contest baseline).
    case dense
    /// Compute the same row sums from the ids directly (the champion's fix).
    case scatter
}

/// DeepFM-contest's "linear part": `reduce_sum(input_layer(wide indicator columns + numerics), axis=1)`.
/// The indicator of slot s contributes its id counts (OOV vocabulary ids are already dropped by
/// the reader), so a row's value is Σ_s |bag_s| + Σ_j numeric_j. There is no parameter behind it, so
/// no gradient flows into it.
///
/// `dense` writes counts into a zeroed `rows × width` tensor (width = Σ buckets of the wide slots +
/// numerics, 150,022 for the contest) and sums each row; `scatter` adds the bag sizes and then the
/// numerics in the same order. Both give bit-identical floats: the count part of a row is a sum of
/// small integers, exact in float in any order (so dense sums it with vector accumulators), and the
/// numerics are then added one by one in the same sequence.
///
/// The dense tensor is materialized in `denseChunks` row blocks, each its own materialize and sum
/// node (the same bytes per step), so the inter-op workers share the work as TensorFlow's
/// intra-op threads share its one-hot and reduce-sum ops.
final class IndicatorInput: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    let feed: ContestFeed
    let slots: [Int]
    let slotOffsets: [Int]
    let width: Int
    let mode: IndicatorMode

    init(feed: ContestFeed, slots: [Int], buckets: [Int], mode: IndicatorMode) {
        self.feed = feed
        self.slots = slots
        self.mode = mode
        var offsets: [Int] = []
        var w = 0
        for s in slots { offsets.append(w); w += buckets[s] }
        slotOffsets = offsets
        width = w + feed.numericCount
    }

    /// Bytes the dense mode materializes per row (0 for scatter).
    var bytesPerRow: Int { mode == .dense ? width * MemoryLayout<Float>.stride : 0 }

    /// Row blocks of the dense tensor, each materialized and summed by its own pair of nodes.
    static let denseChunks = 4

    /// Adds the nodes computing `out[0..<rows]` for rows `[rowStart, rowStart + rows)`; `out` is
    /// allocated upstream. Returns the nodes that finish it.
    func addForward(_ b: GraphBuilder, tag: String, rowStart: Int, rows: Int, out: TensorID, after: [NodeID]) -> [NodeID] {
        let numerics = feed.numericCount, width = self.width, indicatorWidth = width - numerics
        switch mode {
        case .scatter:
            return [b.node("deepfm.indicator.scatter\(tag)", kind: .forward, after: after, uses: [out]) { [self] ctx in
                let o = ctx.memory.floats(out)
                for i in 0..<rows {
                    var count: Int32 = 0
                    for s in slots { count &+= feed.bagCount[(rowStart + i) * feed.slotCount + s] }
                    var acc = Float(count)
                    let num = feed.numeric + (rowStart + i) * numerics
                    for j in 0..<numerics { acc += num[j] }
                    o[i] = acc
                }
            }]
        case .dense:
            let chunks = min(Self.denseChunks, rows)
            return (0..<chunks).map { c in
                let lo = rows * c / chunks, n = rows * (c + 1) / chunks - lo
                let part = chunks > 1 ? ".\(c)" : ""
                let multiHot = b.floats("deepfm.indicator.dense\(tag)\(part)", count: n * width)
                let fill = b.node("deepfm.indicator.materialize\(tag)\(part)", kind: .forward, after: after, allocates: [multiHot]) { [self] ctx in
                    let m = ctx.memory.floats(multiHot)
                    for i in 0..<n {
                        let row = m + i * width
                        row.update(repeating: 0, count: indicatorWidth)
                        for (k, s) in slots.enumerated() {
                            let bags = feed.bags(slot: s, rowStart: rowStart)
                            let (start, count) = bags.bag(lo + i)
                            for q in start..<(start + Int(count)) { row[slotOffsets[k] + Int(bags.ids[q])] += 1 }
                        }
                        (row + indicatorWidth).update(from: feed.numeric + (rowStart + lo + i) * numerics, count: numerics)
                    }
                }
                return b.node("deepfm.indicator.sum\(tag)\(part)", kind: .forward, after: [fill], uses: [multiHot, out]) { ctx in
                    let m = ctx.memory.floats(multiHot), o = ctx.memory.floats(out)
                    for i in 0..<n {
                        let row = m + i * width
                        var acc = KernelMath.sum(row, indicatorWidth)
                        for j in indicatorWidth..<width { acc += row[j] }
                        o[lo + i] = acc
                    }
                }
            }
        }
    }
}
