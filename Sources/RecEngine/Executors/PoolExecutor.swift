/// `--executor pool` (the default, like TensorFlow's inter-op executor): ready nodes go to a
/// work-stealing pool. Each worker owns a deque, pops its newest work, runs the first ready
/// successor of a finished node itself and pushes the others onto its own deque; idle workers
/// steal the oldest work of others, spin (up to 200 µs, see `WorkStealingScheduler`), then park
/// until work is pushed.
///
/// Threads: worker 0 is the thread that calls `run` (so `threads: 2` means the caller plus one
/// pool thread, `rectune-pool-1`); `run` must always be called from the same thread. With
/// `pinThreads`, worker N is pinned to the N-th CPU the process may run on (modulo their number),
/// through RecSystem's `CPUAffinity`; that includes the calling thread, which stays pinned.
/// `onWorkerStart(N)` runs once on each worker's thread before its first node: for pool threads
/// when they start, for worker 0 at the start of the first `run`.
///
/// Counters: tasks (nodes dispatched, one per node), steals, failed steal attempts, parks, nodes.
public final class PoolExecutor: TimelineRecording {
    /// Policy name as in `--executor`.
    public let name = "pool"
    /// Number of inter-op workers, the calling thread included.
    public let workerCount: Int
    private let scheduler: WorkStealingScheduler

    /// Starts `threads - 1` pool threads.
    /// - Parameters:
    ///   - threads: inter-op workers including the calling thread, 1...64.
    ///   - pinThreads: pin worker N to the N-th allowed CPU (mod their number), the caller too.
    ///   - onWorkerStart: called once on each worker's own thread with its worker index.
    ///   - boost: gives a dense node that runs alone a larger OpenMP team (`IntraOpBoost`); nil = never.
    ///   - intraThreads: OpenMP threads per worker; with `boost` or more threads than CPUs an idle
    ///     worker parks after a short spin (else it spins up to 200 µs, to span the gap between steps).
    public init(threads: Int, pinThreads: Bool = false, onWorkerStart: (@Sendable (Int) -> Void)? = nil,
                boost: IntraOpBoost? = nil, intraThreads: Int = 1) {
        workerCount = threads
        scheduler = WorkStealingScheduler(threads: threads, pinThreads: pinThreads,
                                          namePrefix: "rectune-pool", onWorkerStart: onWorkerStart, boost: boost,
                                          intraThreads: intraThreads)
    }

    deinit { scheduler.shutdown() }

    /// Runs every node of `graph` once on the pool; returns when the step is complete.
    public func run(_ graph: StepGraph, memory: StepMemory, step: Int) {
        scheduler.runStep(graph, memory: memory, step: step, mode: .pool)
    }

    /// While set, every step's node times and workers are recorded into it (`StepTimeline`).
    public var timeline: StepTimeline? {
        get { scheduler.timeline }
        set { scheduler.timeline = newValue }
    }

    /// Cumulative counters summed over the workers.
    public var counters: ExecutorCounters { scheduler.counters }

    /// Stops and joins the pool threads (idempotent); `run` traps afterwards.
    public func shutdown() { scheduler.shutdown() }
}
