import Glibc

/// Stage off, end to end: each step's batch is parsed inside the step, straight into the
/// `StepFeed`, by the step graph's first nodes: `parts` slices at once (one per inter-op worker),
/// then a join. Before, the trainer's thread parsed the whole batch into a `Batch` before the step
/// while the other workers waited; the parse is on every step's critical path with stage off, so
/// splitting it across the workers takes that much off each step.
///
/// The feed ends up holding exactly what `feed.stage(batch)` of `DirectBatchSource`'s batch k would:
/// part p parses lines `[p·B/parts, (p+1)·B/parts)` of batch k into the feed from row p·B/parts on
/// (a skipped line leaves no gap within the part), and the join closes the gaps between the parts
/// in order, then pads the rest of the feed (`StepFeed.setValidRows`).
///
/// Under `bad_rows: fail`, a malformed line stops its part. The join then marks no row valid, so the
/// step runs on rows that carry no loss weight, and `finish()` throws the error (the first
/// malformed line of the batch, as `DirectBatchSource` reports it) right after the step: the run
/// stops there, as it did when the parse came before the step.
///
/// `@unchecked Sendable`: `prepare` and `finish` run on the trainer's thread between steps; during
/// a step each part node writes only its own `Part` and its own feed rows, and the join reads them
/// after every part (its dependencies).
final class InStepParse: @unchecked Sendable {
    let dataset: CriteoDataset
    let feed: StepFeed
    let batchSize: Int
    private final class Part {
        let lines: Range<Int>
        var rows = 0
        var fault: (any Error)?
        init(lines: Range<Int>) { self.lines = lines }
    }
    private let parts: [Part]
    private var index = 0
    private var stats = StageCounters()

    /// Parses `dataset`'s training batches of `batchSize` (the feed's capacity) in `parts` slices
    /// (clamped to `1...batchSize`).
    init(dataset: CriteoDataset, feed: StepFeed, batchSize: Int, parts requested: Int) {
        precondition(batchSize >= 1 && batchSize <= feed.capacity, "InStepParse: batch \(batchSize) must be in 1...\(feed.capacity)")
        self.dataset = dataset
        self.feed = feed
        self.batchSize = batchSize
        let n = min(max(requested, 1), batchSize)
        parts = (0..<n).map { Part(lines: $0 * batchSize / n ..< ($0 + 1) * batchSize / n) }
    }

    /// Number of parse nodes.
    var partCount: Int { parts.count }

    /// Adds the parse nodes and their join to `b`; returns the join, which the rest of the step waits for.
    func addNodes(to b: GraphBuilder) -> [NodeID] {
        let nodes = parts.indices.map { p in
            b.node("feed.parse[\(p)]", kind: .input) { [self] _ in parse(part: p) }
        }
        return [b.node("feed.join", kind: .input, after: nodes) { [self] _ in join() }]
    }

    /// The next step parses batch `k`.
    func prepare(batch k: Int) {
        index = k
        stats.batchesProduced += 1
        stats.maxQueueDepth = 1
    }

    /// Throws the batch's first malformed line under `bad_rows: fail`; otherwise nothing.
    func finish() throws {
        if let fault = parts.lazy.compactMap(\.fault).first { throw fault }
    }

    /// Batches parsed (no waits and no buffers: the step parses into the feed).
    var counters: StageCounters { stats }

    private func parse(part p: Int) {
        let part = parts[p]
        do {
            part.rows = try dataset.parse(batch: index, batchSize: batchSize, lines: part.lines,
                                          into: feed.rows.advanced(by: part.lines.lowerBound))
            part.fault = nil
        } catch {
            part.rows = 0
            part.fault = error
        }
    }

    private func join() {
        if parts.contains(where: { $0.fault != nil }) {
            feed.setValidRows(0)
            return
        }
        var total = 0
        let d = CriteoSchema.denseCount, c = CriteoSchema.categoricalCount
        let rows = feed.rows
        for part in parts {
            let from = part.lines.lowerBound, n = part.rows
            if from != total && n > 0 {
                memmove(rows.labels + total, rows.labels + from, n * MemoryLayout<Float>.stride)
                memmove(rows.dense + total * d, rows.dense + from * d, n * d * MemoryLayout<Float>.stride)
                memmove(rows.categorical + total * c, rows.categorical + from * c, n * c * MemoryLayout<Int32>.stride)
            }
            total += n
        }
        feed.setValidRows(total)
    }
}
