/// `--executor costmodel` (DeepRec's CostModel executor). Steps before `profileStart` run exactly
/// like `pool`. Steps in `[profileStart, profileStop)` run like `pool` while timing every node
/// (clock_gettime(CLOCK_MONOTONIC) around its execution). The first step at or after
/// `profileStop` turns the averages into a `CostModelPlan` and from then on:
/// - ready nodes are queued in a per-worker max-heap on critical-path cost (thieves also take
///   the most critical item);
/// - after a node finishes, its successor on the critical path (if now ready) continues on the
///   same thread without being queued;
/// - ready nodes cheaper than `batchThresholdMicros` become one batch task, run back to back by
///   the worker that takes it (successors made ready inside a batch are dispatched normally;
///   cheap ones among them form the next batch).
/// If no step of the window ran (for example `profileStop <= profileStart`), it stays `pool`.
///
/// Threads, pinning and `onWorkerStart` behave as in `PoolExecutor` (worker 0 is the caller;
/// pool threads are named `rectune-pool-N`).
///
/// Counters: tasks (a batch counts once), steals, failed steals, parks, batched nodes, nodes.
public final class CostModelExecutor: TimelineRecording {
    /// Policy name as in `--executor`.
    public let name = "costmodel"
    /// Number of inter-op workers, the calling thread included.
    public let workerCount: Int
    /// First profiled step.
    public let profileStart: Int
    /// First step scheduled by the plan.
    public let profileStop: Int
    /// Nodes cheaper than this (µs) are batched.
    public let batchThresholdMicros: Double
    private let scheduler: WorkStealingScheduler
    private var planGraph: StepGraph?

    /// The plan in force, nil until the first step at or after `profileStop`.
    public private(set) var plan: CostModelPlan?

    /// Starts `threads - 1` pool threads.
    /// - Parameters:
    ///   - threads: inter-op workers including the calling thread, 1...64.
    ///   - pinThreads: pin worker N to the N-th allowed CPU (mod their number), the caller too.
    ///   - profileStart: first step whose node times are recorded.
    ///   - profileStop: first step scheduled by the cost model.
    ///   - batchThresholdMicros: nodes whose average cost is below this are batched.
    ///   - onWorkerStart: called once on each worker's own thread with its worker index.
    ///   - boost: gives a dense node that runs alone a larger OpenMP team (`IntraOpBoost`); nil = never.
    ///   - intraThreads: OpenMP threads per worker; with `boost` or more threads than CPUs an idle
    ///     worker parks after a short spin (else it spins up to 200 µs, to span the gap between steps).
    public init(threads: Int, pinThreads: Bool = false, profileStart: Int, profileStop: Int,
                batchThresholdMicros: Double = 20, onWorkerStart: (@Sendable (Int) -> Void)? = nil,
                boost: IntraOpBoost? = nil, intraThreads: Int = 1) {
        precondition(profileStart >= 0, "costmodel-start must be >= 0, got \(profileStart)")
        workerCount = threads
        self.profileStart = profileStart
        self.profileStop = profileStop
        self.batchThresholdMicros = batchThresholdMicros
        scheduler = WorkStealingScheduler(threads: threads, pinThreads: pinThreads,
                                          namePrefix: "rectune-pool", onWorkerStart: onWorkerStart, boost: boost,
                                          intraThreads: intraThreads)
    }

    deinit { scheduler.shutdown() }

    /// Average measured cost of each node (µs), once the plan exists.
    public var nodeCostMicros: [Double]? { plan?.nodeCostMicros }

    /// Critical-path cost of each node (µs), once the plan exists.
    public var criticalPathCost: [Double]? { plan?.criticalPathCost }

    /// Runs every node of `graph` once; the scheduling policy depends on `step` (see the type).
    public func run(_ graph: StepGraph, memory: StepMemory, step: Int) {
        if let g = planGraph, g !== graph { plan = nil; planGraph = nil }
        let mode: SchedulingMode
        if let plan {
            mode = .costModel(plan)
        } else if step >= profileStart && step < profileStop {
            mode = .profile
        } else if step >= profileStop, let costs = scheduler.stepState(for: graph).averageCosts {
            let p = CostModelPlan(graph: graph, nodeCostMicros: costs, batchThresholdMicros: batchThresholdMicros)
            plan = p
            planGraph = graph
            mode = .costModel(p)
        } else {
            mode = .pool
        }
        scheduler.runStep(graph, memory: memory, step: step, mode: mode)
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
