/// Training batches of a contest data set for the trainer, in index order, in one of three ways:
/// parsed inside the step (stage off), parsed ahead by producer threads into a bounded reorder
/// queue (stage on; the same queue as `StagedBatchSource`), or pre-parsed batches served
/// round-robin (the in-memory benchmark). The batch sequence is the same for direct and staged.
public final class ContestBatchSource {
    public let dataset: ContestDataset
    public let batchSize: Int
    private var nextIndex = 0
    private var spare: ContestBatch?
    private var stats = StageCounters()
    private let preparsed: [ContestBatch]
    private let state: StageQueueState<ContestBatch>?
    private var workers: [StageThread] = []

    /// - Parameters:
    ///   - inMemory: > 0: parse batches `0..<inMemory` once and serve them round-robin.
    ///   - stage: (capacity, threads) to parse ahead on producer threads named `rectune-stage-N`.
    ///   - startIndex: the first batch index served (a run resumed from a checkpoint continues there).
    /// Throws the data set's errors (in-memory parsing) and `StageError.invalidParameter`.
    public init(dataset: ContestDataset, batchSize: Int, inMemory: Int = 0, stage: (capacity: Int, threads: Int)? = nil,
                startIndex: Int = 0) throws {
        guard batchSize >= 1 else { throw StageError.invalidParameter(name: "batch size", value: batchSize, allowed: "must be >= 1") }
        self.dataset = dataset
        self.batchSize = batchSize
        nextIndex = max(startIndex, 0)
        var pre: [ContestBatch] = []
        for k in 0..<max(inMemory, 0) {
            var b = ContestBatch(schema: dataset.schema, capacity: batchSize)
            try dataset.fill(&b, index: k, batchSize: batchSize)
            pre.append(b)
        }
        preparsed = pre
        if inMemory <= 0, let stage {
            guard stage.capacity >= 1 else { throw StageError.invalidParameter(name: "capacity", value: stage.capacity, allowed: "must be >= 1") }
            guard stage.threads >= 1 else { throw StageError.invalidParameter(name: "threads", value: stage.threads, allowed: "must be >= 1") }
            let s = StageQueueState<ContestBatch>(capacity: stage.capacity, start: max(startIndex, 0))
            state = s
            let schema = dataset.schema
            for t in 0..<stage.threads {
                workers.append(StageThread(name: "rectune-stage-\(t)") {
                    StageQueueState.produce(state: s, makeBuffer: { ContestBatch(schema: schema, capacity: batchSize) }) { batch, k in
                        try dataset.fill(&batch, index: k, batchSize: batchSize)
                    }
                })
            }
        } else {
            state = nil
        }
    }

    deinit { shutdown() }

    /// The next batch in index order (blocks for a staged batch not parsed yet; the wait is counted).
    /// Throws the parse error of that batch (sticky when staged) or `StageError.stopped`.
    public func next() throws -> ContestBatch {
        if !preparsed.isEmpty {
            let b = preparsed[nextIndex % preparsed.count]
            nextIndex += 1
            stats.batchesProduced += 1
            return b
        }
        guard let s = state else {
            var batch: ContestBatch
            if let sp = spare { batch = sp; spare = nil } else { batch = ContestBatch(schema: dataset.schema, capacity: batchSize); stats.buffersAllocated += 1 }
            let k = nextIndex
            nextIndex += 1
            stats.batchesProduced += 1
            stats.maxQueueDepth = max(stats.maxQueueDepth, 1)
            try dataset.fill(&batch, index: k, batchSize: batchSize)
            return batch
        }
        return try s.consume()
    }

    /// Hands `batch`'s buffers back for reuse.
    public func recycle(_ batch: ContestBatch) {
        guard preparsed.isEmpty, batch.capacity == batchSize else { return }
        if let s = state {
            s.recycle(batch)
        } else {
            spare = batch
        }
    }

    /// Stage counters (waits, queue depth, batches, buffers).
    public var counters: StageCounters {
        state?.counters ?? stats
    }

    /// Stops and joins the producers (idempotent).
    public func shutdown() {
        guard let s = state else { return }
        s.stop()
        for w in workers { w.join() }
        workers.removeAll()
    }
}

@available(*, unavailable, message: "a batch source has one consumer thread")
extension ContestBatchSource: Sendable {}
