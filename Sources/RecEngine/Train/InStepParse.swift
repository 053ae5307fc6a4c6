import Glibc

/// Stage off, end to end: each step's batch is parsed inside the step, straight into the step's
/// feed, by the step graph's first nodes: `parts` slices at once (one per inter-op worker), then a
/// join. Before, the trainer's thread parsed the whole batch before the step while the other
/// workers waited; the parse is on every step's critical path with stage off, so splitting it
/// across the workers takes that much off each step.
///
/// The feed ends up holding exactly what staging the batch `fill` parses would: part p parses lines
/// `[p·B/parts, (p+1)·B/parts)` of batch k into the feed from row p·B/parts on (a skipped line
/// leaves no gap within the part), and the join closes the gaps between the parts in order, then
/// pads the rest of the feed. `FeedParsing` is what it parses with: the Criteo models' `StepFeed`
/// (`CriteoFeedParsing`) or a contest model's `ContestFeed` (`ContestFeedParsing`).
///
/// Under `bad_rows: fail`, a malformed line stops its part. The join then marks no row valid, so the
/// step runs on rows that carry no loss weight, and `finish()` throws the error (the first
/// malformed line of the batch, as parsing the whole batch reports it) right after the step: the
/// run stops there, as it did when the parse came before the step.
///
/// `@unchecked Sendable`: `prepare` and `finish` run on the trainer's thread between steps; during
/// a step each part node writes only its own `Part` and its own feed rows, and the join reads them
/// after every part (its dependencies).
final class InStepParse: @unchecked Sendable {
    let target: any FeedParsing
    let batchSize: Int
    /// What a part's node left for the join.
    private final class Part {
        var rows = 0
        var fault: (any Error)?
    }
    private let parts: [Part]
    /// Each part's lines within the batch (also what `prepare` hands the target: no array built per step).
    private let partLines: [Range<Int>]
    private var index = 0
    private var stats = StageCounters()

    /// Parses batches of `batchSize` (the feed's capacity) into `target` in `parts` slices
    /// (clamped to `1...batchSize`).
    init(_ target: any FeedParsing, batchSize: Int, parts requested: Int) {
        precondition(batchSize >= 1 && batchSize <= target.capacity, "InStepParse: batch \(batchSize) must be in 1...\(target.capacity)")
        self.target = target
        self.batchSize = batchSize
        let n = min(max(requested, 1), batchSize)
        partLines = (0..<n).map { $0 * batchSize / n ..< ($0 + 1) * batchSize / n }
        parts = partLines.map { _ in Part() }
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

    /// The next step parses batch `k`. Throws what the target's preparation throws (a bad index).
    func prepare(batch k: Int) throws {
        index = k
        try target.prepare(batch: k, batchSize: batchSize, parts: partLines)
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
            part.rows = try target.parse(batch: index, batchSize: batchSize, part: p, lines: partLines[p])
            part.fault = nil
        } catch {
            part.rows = 0
            part.fault = error
        }
    }

    private func join() {
        if parts.contains(where: { $0.fault != nil }) {
            target.setValidRows(0)
            return
        }
        var total = 0
        for (part, lines) in zip(parts, partLines) {
            if lines.lowerBound != total && part.rows > 0 {
                target.moveRows(from: lines.lowerBound, to: total, count: part.rows)
            }
            total += part.rows
        }
        target.setValidRows(total)
    }
}

/// A feed that `InStepParse` parses batches into, with the data set it reads.
protocol FeedParsing: AnyObject {
    /// Rows the feed holds.
    var capacity: Int { get }
    /// Before the step that parses batch `k` in `parts`, on the trainer's thread (the feed may grow).
    func prepare(batch k: Int, batchSize: Int, parts: [Range<Int>]) throws
    /// Parses lines `lines` of batch `k` (part `part`) into the feed from row `lines.lowerBound` on
    /// (a skipped line leaves no gap); returns the rows parsed. Throws the malformed-row error under
    /// `bad_rows: fail`. Parts run at once, each on its own rows.
    func parse(batch k: Int, batchSize: Int, part: Int, lines: Range<Int>) throws -> Int
    /// Moves rows `[from, from + count)` down to row `to` (< `from`).
    func moveRows(from: Int, to: Int, count: Int)
    /// Rows `0..<n` are the step's batch; the rest become padding.
    func setValidRows(_ n: Int)
}

/// The Criteo models' feed and data set.
final class CriteoFeedParsing: FeedParsing {
    let dataset: CriteoDataset
    let feed: StepFeed
    init(dataset: CriteoDataset, feed: StepFeed) { self.dataset = dataset; self.feed = feed }

    var capacity: Int { feed.capacity }
    func prepare(batch k: Int, batchSize: Int, parts: [Range<Int>]) {}
    func parse(batch k: Int, batchSize: Int, part: Int, lines: Range<Int>) throws -> Int {
        try dataset.parse(batch: k, batchSize: batchSize, lines: lines, into: feed.rows.advanced(by: lines.lowerBound))
    }
    func moveRows(from: Int, to: Int, count n: Int) {
        let rows = feed.rows, d = CriteoSchema.denseCount, c = CriteoSchema.categoricalCount
        memmove(rows.labels + to, rows.labels + from, n * MemoryLayout<Float>.stride)
        memmove(rows.dense + to * d, rows.dense + from * d, n * d * MemoryLayout<Float>.stride)
        memmove(rows.categorical + to * c, rows.categorical + from * c, n * c * MemoryLayout<Int32>.stride)
    }
    func setValidRows(_ n: Int) { feed.setValidRows(n) }
}

/// A contest model's feed and its data set (Ele.me, Taobao, Amazon Books). Each part writes its ids
/// into its own range of the feed's id buffer, sized before the step (from the lines' lengths for the
/// CSV formats, a fixed room per row for Amazon Books); a bag's start is an index into that buffer, so
/// closing up rows moves no id.
final class ContestFeedParsing: FeedParsing {
    let dataset: ContestDataset
    let feed: ContestFeed
    /// Where part p's ids start in the feed's id buffer for the current batch (refilled in place each step).
    private var idCursors: [Int] = []
    init(dataset: ContestDataset, feed: ContestFeed) {
        self.dataset = dataset; self.feed = feed
    }

    var capacity: Int { feed.capacity }
    func prepare(batch k: Int, batchSize: Int, parts: [Range<Int>]) throws {
        idCursors.removeAll(keepingCapacity: true)
        var room = 0
        for lines in parts {
            idCursors.append(room)
            room += try dataset.idRoom(batch: k, batchSize: batchSize, lines: lines)
        }
        feed.reserveIDs(room)
    }
    func parse(batch k: Int, batchSize: Int, part: Int, lines: Range<Int>) throws -> Int {
        try dataset.parse(batch: k, batchSize: batchSize, lines: lines, into: feed.rows.advanced(by: lines.lowerBound),
                          idCursor: idCursors[part])
    }
    func moveRows(from: Int, to: Int, count n: Int) {
        let rows = feed.rows, (l, m, s) = (rows.labelCount, rows.numericCount, rows.slotCount)
        memmove(rows.labels + to * l, rows.labels + from * l, n * l * MemoryLayout<Float>.stride)
        memmove(rows.numeric + to * m, rows.numeric + from * m, n * m * MemoryLayout<Float>.stride)
        memmove(rows.bagStart + to * s, rows.bagStart + from * s, n * s * MemoryLayout<Int32>.stride)
        memmove(rows.bagCount + to * s, rows.bagCount + from * s, n * s * MemoryLayout<Int32>.stride)
    }
    func setValidRows(_ n: Int) { feed.setValidRows(n) }
}
