/// A stream of training batches for the trainer: batch 0, 1, 2, … of one data set.
///
/// The consumer calls `next()` once per step and hands each batch back with `recycle(_:)` when
/// the step no longer needs it, so the source can refill the same buffers (no per-step
/// allocation in steady state). Sources are used from one consumer thread.
public protocol BatchSource: AnyObject {
    /// The next batch in index order. Throws the data set's error (`DataError.malformedRow`
    /// under `.fail`) for the batch that hit it; after `shutdown()` throws `StageError.stopped`.
    func next() throws -> Batch
    /// Returns a batch's buffers for reuse. Optional: an unreturned batch just costs an allocation.
    func recycle(_ batch: Batch)
    /// Cumulative counters since the source was made.
    var counters: StageCounters { get }
}

/// Stage (prefetch) counters.
public struct StageCounters: Sendable, Equatable, Codable {
    /// `next()` calls that found their batch not ready and had to wait.
    public var consumerWaits: Int = 0
    /// Total time `next()` spent waiting, in nanoseconds.
    public var waitNanoseconds: UInt64 = 0
    /// Largest number of batches parsed-or-being-parsed and not yet taken by the consumer.
    public var maxQueueDepth: Int = 0
    /// Batches parsed so far (including any parsed ahead and not yet consumed).
    public var batchesProduced: Int = 0
    /// Batch buffers allocated (bounded by capacity + batches held by the consumer).
    public var buffersAllocated: Int = 0

    /// Creates zeroed counters.
    public init() {}

    /// The counts accumulated after `earlier` (waits, wait time, batches, buffers); the max depth is
    /// kept as is (a maximum cannot be differenced). For per-phase engine counters.
    public func since(_ earlier: StageCounters) -> StageCounters {
        var d = self
        d.consumerWaits -= earlier.consumerWaits
        d.waitNanoseconds -= earlier.waitNanoseconds
        d.batchesProduced -= earlier.batchesProduced
        d.buffersAllocated -= earlier.buffersAllocated
        return d
    }

    /// Name → value, for a result's `counters` map (`stage_` prefix).
    public var dictionary: [String: Double] {
        ["stage_consumer_waits": Double(consumerWaits),
         "stage_wait_ms": Double(waitNanoseconds) / 1e6,
         "stage_max_queue_depth": Double(maxQueueDepth),
         "stage_batches_produced": Double(batchesProduced),
         "stage_buffers_allocated": Double(buffersAllocated)]
    }
}

/// Errors of a batch source itself (data errors are `DataError`).
public enum StageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `next()` after `shutdown()`.
    case stopped
    /// A parameter out of range.
    case invalidParameter(name: String, value: Int, allowed: String)

    public var description: String {
        switch self {
        case .stopped: return "the batch source was shut down"
        case let .invalidParameter(name, value, allowed): return "invalid stage \(name) \(value): \(allowed)"
        }
    }
}

/// Batch k parsed by `next()` on the calling thread: the reference batch sequence that the stage's
/// producers (`StagedBatchSource`) and the stage-off step's own parse (`InStepParse`, which the
/// trainers use with stage off) must reproduce.
public final class DirectBatchSource: BatchSource {
    /// The data set read.
    public let dataset: CriteoDataset
    /// Lines per batch.
    public let batchSize: Int
    private var nextIndex: Int
    private var spare: Batch?
    private var stats = StageCounters()

    /// Reads `dataset` in batches of `batchSize` (>= 1), starting at batch `startIndex` (>= 0);
    /// other values are a programming error (fatalError, also under -Ounchecked).
    public init(dataset: CriteoDataset, batchSize: Int, startIndex: Int = 0) {
        if batchSize < 1 || startIndex < 0 { fatalError("DirectBatchSource: batch size \(batchSize) must be >= 1, start index \(startIndex) >= 0") }
        self.dataset = dataset
        self.batchSize = batchSize
        self.nextIndex = startIndex
    }

    /// Parses the next batch (throws `DataError.malformedRow` under `.fail`; the index still advances).
    public func next() throws -> Batch {
        var batch: Batch
        if let s = spare { batch = s; spare = nil } else { batch = Batch(capacity: batchSize); stats.buffersAllocated += 1 }
        let k = nextIndex
        nextIndex += 1
        stats.batchesProduced += 1
        stats.maxQueueDepth = max(stats.maxQueueDepth, 1)
        try dataset.fill(&batch, index: k, batchSize: batchSize)
        return batch
    }

    /// Keeps `batch` as the buffer of the next `next()`.
    public func recycle(_ batch: Batch) {
        if batch.capacity >= batchSize { spare = batch }
    }

    /// Batches produced and buffers allocated (no waits: the consumer is the producer).
    public var counters: StageCounters { stats }
}

/// Pre-parsed batches served round-robin — for measuring the engine without parsing.
public final class InMemoryBatchSource: BatchSource {
    /// The batches, in serving order.
    public let batches: [Batch]
    private var nextIndex = 0
    private var stats = StageCounters()

    /// Serves `batches` in order, wrapping around. Throws `StageError.invalidParameter` if empty.
    public init(batches: [Batch]) throws {
        guard !batches.isEmpty else { throw StageError.invalidParameter(name: "batch count", value: 0, allowed: "must be >= 1") }
        self.batches = batches
    }

    /// Parses batches `0..<count` of `dataset` once (throws the data set's errors, and
    /// `StageError.invalidParameter` for `count < 1`).
    public convenience init(dataset: CriteoDataset, batchSize: Int, count: Int) throws {
        var out: [Batch] = []
        out.reserveCapacity(count)
        for k in 0..<count {
            var b = Batch(capacity: batchSize)
            try dataset.fill(&b, index: k, batchSize: batchSize)
            out.append(b)
        }
        try self.init(batches: out)
    }

    /// The next batch (shares storage with the stored one: no copy, no parse).
    public func next() throws -> Batch {
        let b = batches[nextIndex]
        nextIndex = nextIndex + 1 == batches.count ? 0 : nextIndex + 1
        stats.batchesProduced += 1
        return b
    }

    /// Nothing to do: the batches are kept.
    public func recycle(_ batch: Batch) {}

    /// Batches served.
    public var counters: StageCounters { stats }
}

@available(*, unavailable, message: "a batch source has one consumer thread")
extension DirectBatchSource: Sendable {}

@available(*, unavailable, message: "a batch source has one consumer thread")
extension InMemoryBatchSource: Sendable {}
