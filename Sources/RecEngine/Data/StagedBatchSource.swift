/// Stage on: `threads` producer threads parse batches ahead into a bounded queue.
///
/// Producers claim batch indices k = start, start+1, … in order, parse each into a recycled
/// buffer, and put it in slot `k % capacity` of a reorder buffer; `next()` hands them out in
/// index order, so the sequence is identical to `DirectBatchSource` over the same data set.
/// At most `capacity` batches are claimed and not yet consumed (being parsed or parsed and
/// waiting) at any time. `next()` blocks when its batch is not ready yet, counted as a
/// consumer wait with its duration. A parse error (`.fail`) is delivered by `next()` for the
/// batch that hit it, and again by every later call. `shutdown()` (or deinit) stops and joins
/// the producers.
public final class StagedBatchSource: BatchSource {
    /// The data set read.
    public let dataset: CriteoDataset
    /// Lines per batch.
    public let batchSize: Int
    /// Most batches in flight or ready at once.
    public let capacity: Int
    /// Producer threads.
    public let threads: Int
    private let state: StageQueueState<Batch>
    private var workers: [StageThread] = []

    /// Starts `threads` producers (named `rectune-stage-N`) reading `dataset` from batch
    /// `startIndex`. Throws `StageError.invalidParameter` for capacity, threads or batch size < 1.
    public init(dataset: CriteoDataset, batchSize: Int, capacity: Int, threads: Int, startIndex: Int = 0) throws {
        guard capacity >= 1 else { throw StageError.invalidParameter(name: "capacity", value: capacity, allowed: "must be >= 1") }
        guard threads >= 1 else { throw StageError.invalidParameter(name: "threads", value: threads, allowed: "must be >= 1") }
        guard batchSize >= 1 else { throw StageError.invalidParameter(name: "batch size", value: batchSize, allowed: "must be >= 1") }
        guard startIndex >= 0 else { throw StageError.invalidParameter(name: "start index", value: startIndex, allowed: "must be >= 0") }
        self.dataset = dataset
        self.batchSize = batchSize
        self.capacity = capacity
        self.threads = threads
        let state = StageQueueState<Batch>(capacity: capacity, start: startIndex)
        self.state = state
        for t in 0..<threads {
            workers.append(StageThread(name: "rectune-stage-\(t)") {
                StageQueueState.produce(state: state, makeBuffer: { Batch(capacity: batchSize) }) { batch, k in
                    try dataset.fill(&batch, index: k, batchSize: batchSize)
                }
            })
        }
    }

    deinit { shutdown() }

    /// The next batch in index order; blocks until it is parsed. Throws the parse error of
    /// that batch (sticky), or `StageError.stopped` after `shutdown()`.
    public func next() throws -> Batch { try state.consume() }

    /// Gives `batch`'s buffers back to the producers.
    public func recycle(_ batch: Batch) {
        guard batch.capacity >= batchSize else { return }
        state.recycle(batch)
    }

    /// A snapshot of the counters.
    public var counters: StageCounters { state.counters }

    /// Stops the producers (a batch being parsed is finished and dropped) and joins them.
    /// Idempotent; later `next()` calls throw `StageError.stopped`.
    public func shutdown() {
        state.stop()
        for w in workers { w.join() }
        workers.removeAll()
    }
}

@available(*, unavailable, message: "a batch source has one consumer thread")
extension StagedBatchSource: Sendable {}

/// The shared state of a stage queue of `Item` batches: the producer loop and the consumer's side.
final class StageQueueState<Item: Sendable>: @unchecked Sendable {  // every `var` is read and written only with `monitor` locked
    let monitor = StageMonitor()
    let capacity: Int
    /// Reorder buffer: slot `k % capacity` holds batch k once parsed.
    var slots: [Result<Item, any Error>?]
    /// Next batch index a producer will claim.
    var nextClaim: Int
    /// Next batch index the consumer will take.
    var nextConsume: Int
    /// Recycled buffers.
    var free: [Item] = []
    var stopping = false
    /// The error delivered to the consumer, re-thrown by every later `next()`.
    var failure: (any Error)?
    var stats = StageCounters()

    init(capacity: Int, start: Int) {
        self.capacity = capacity
        self.slots = Array(repeating: nil, count: capacity)
        self.nextClaim = start
        self.nextConsume = start
        self.free.reserveCapacity(capacity + 8)
    }

    /// A producer thread's loop: claim the next index while the queue has room, parse it
    /// outside the lock, publish it in its slot.
    static func produce(state s: StageQueueState<Item>, makeBuffer: () -> Item, fill: (inout Item, Int) throws -> Void) {
        s.monitor.lock()
        while true {
            while !s.stopping && s.nextClaim - s.nextConsume >= s.capacity { s.monitor.waitSpace() }
            if s.stopping { break }
            let k = s.nextClaim
            s.nextClaim += 1
            s.stats.maxQueueDepth = max(s.stats.maxQueueDepth, s.nextClaim - s.nextConsume)
            let recycled = s.free.popLast()
            if recycled == nil { s.stats.buffersAllocated += 1 }
            s.monitor.unlock()

            var batch = recycled ?? makeBuffer()
            let result: Result<Item, any Error>
            do {
                try fill(&batch, k)
                result = .success(batch)
            } catch {
                result = .failure(error)
            }

            s.monitor.lock()
            s.slots[k % s.capacity] = result
            s.stats.batchesProduced += 1
            if k == s.nextConsume { s.monitor.signalReady() }
        }
        s.monitor.unlock()
    }

    /// The consumer's next batch in index order; blocks (counted as a wait) until it is parsed.
    /// Throws that batch's parse error, sticky for every later call, or `StageError.stopped`
    /// after `stop()`.
    func consume() throws -> Item {
        monitor.lock()
        if let failure { monitor.unlock(); throw failure }
        if stopping { monitor.unlock(); throw StageError.stopped }
        let slot = nextConsume % capacity
        if slots[slot] == nil && !stopping {
            stats.consumerWaits += 1
            let t0 = stageMonotonicNanos()
            while slots[slot] == nil && !stopping { monitor.waitReady() }
            stats.waitNanoseconds += stageMonotonicNanos() &- t0
        }
        guard let result = slots[slot] else { monitor.unlock(); throw StageError.stopped }
        slots[slot] = nil
        nextConsume += 1
        monitor.signalSpace()
        switch result {
        case .success(let batch):
            monitor.unlock()
            return batch
        case .failure(let error):
            failure = error
            monitor.unlock()
            throw error
        }
    }

    /// Hands a consumed batch's buffers back to the producers.
    func recycle(_ batch: Item) {
        monitor.lock()
        free.append(batch)
        monitor.unlock()
    }

    /// A snapshot of the counters.
    var counters: StageCounters {
        monitor.lock()
        defer { monitor.unlock() }
        return stats
    }

    /// Tells the producers and a waiting consumer to stop; the caller joins the producer threads.
    func stop() {
        monitor.lock()
        stopping = true
        monitor.broadcastAll()
        monitor.unlock()
    }
}
