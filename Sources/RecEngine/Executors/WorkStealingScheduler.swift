import Glibc
import RecSystem
import Synchronization

/// How the scheduler treats one step.
enum SchedulingMode: Sendable {
    /// TensorFlow-style: LIFO own deque, FIFO steals, first ready successor continues inline.
    case pool
    /// As `pool`, and every node's wall time is added to the step state's cost sums.
    case profile
    /// Critical-path priorities, critical continuation and batching of cheap nodes.
    case costModel(CostModelPlan)
}

/// Per-graph state of the running step, reused from step to step.
///
/// `@unchecked Sendable`: `memory`, `step`, `mode`, `timeline` and `profiledSteps` are written by the caller
/// only between steps, before the roots are pushed (the queue locks publish them to the workers);
/// `costSum[i]` is written only by the worker running node i, and a node runs once per step;
/// `pending` and `remaining` are atomics.
final class StepState: @unchecked Sendable {
    let graph: StepGraph
    let pending: AtomicIntArray
    let remaining = Atomic<Int>(0)
    var memory: StepMemory?
    var step = 0
    var mode: SchedulingMode = .pool
    /// The timeline this step records into, if any (set before the roots are pushed).
    var timeline: StepTimeline?
    /// Sum over profiled steps of each node's wall time, in microseconds.
    let costSum: UnsafeMutablePointer<Double>
    var profiledSteps = 0

    init(graph: StepGraph) {
        self.graph = graph
        pending = AtomicIntArray(count: graph.nodeCount)
        costSum = .allocate(capacity: max(graph.nodeCount, 1))
        costSum.initialize(repeating: 0, count: max(graph.nodeCount, 1))
    }

    deinit { costSum.deallocate() }

    /// Average profiled cost per node (µs), or nil before any profiled step.
    var averageCosts: [Double]? {
        guard profiledSteps > 0 else { return nil }
        return (0..<graph.nodeCount).map { costSum[$0] / Double(profiledSteps) }
    }
}

/// Scratch buffers of one worker, so dispatching successors allocates nothing.
///
/// `@unchecked Sendable`: each instance is touched only by its own worker thread.
final class WorkerScratch: @unchecked Sendable {
    var items: [WorkItem] = []
    var cheap: [Int] = []
    init() { items.reserveCapacity(64); cheap.reserveCapacity(64) }
}

/// The work-stealing engine shared by `PoolExecutor` and `CostModelExecutor`.
///
/// Worker 0 is the thread that calls `runStep` (it runs nodes like any other worker, so with
/// `threads: 2` the step uses exactly two threads); workers 1..<threads are joinable pthreads
/// named `<prefix>-N`. Each worker owns a `WorkQueue`; idle workers steal, spin (`spinMicros`) and
/// then park on their own `Parker`. Waking is race-free by a Dekker pair of sequentially
/// consistent operations: a pusher increments `pending` then reads `idleMask`, a parking worker
/// sets its `idleMask` bit then reads `pending` (worker 0 also reads the step's `remaining`).
///
/// `@unchecked Sendable`: `workers`, `state`, `current` and `callerStarted` are written only by the
/// caller of `runStep`/`shutdown` (one thread at a time, never during a step); workers read
/// `current` only after popping an item, which the queue lock orders after the write.
final class WorkStealingScheduler: @unchecked Sendable {
    /// Lifecycle of the pool.
    enum State { case running, shutDown }

    let threadCount: Int
    private let queues: [WorkQueue]
    let parkers: [Parker]
    let stats: [WorkerStats]
    let scratch: [WorkerScratch]
    let idleMask = Atomic<UInt64>(0)
    /// Queued items not yet taken.
    let pending = Atomic<Int>(0)
    /// With `boost`: workers holding an item (taken and not finished).
    let busy = Atomic<Int>(0)
    /// With `boost`: set while a boosted node runs.
    let boostToken = Atomic<Bool>(false)
    /// Gives lone dense nodes a larger OpenMP team (`IntraOpBoost`); nil = never.
    let boost: IntraOpBoost?
    private let stopping = Atomic<Bool>(false)
    private let pinThreads: Bool
    private let onWorkerStart: (@Sendable (Int) -> Void)?
    private var workers: [WorkerThread] = []
    private(set) var state = State.running
    private var current: StepState?
    private var callerStarted = false
    /// Set between steps only; while set, every step's node times are recorded into it.
    var timeline: StepTimeline?
    /// How long an idle worker keeps scanning for work (yielding the CPU every 256 scans) before
    /// it parks. Long enough to span the caller's work between two steps, so the next step's
    /// roots find the other workers awake: waking a parked worker (a futex wake-up) took 20–100 µs
    /// on the 2-vCPU VMs, which `bench --trace` showed as worker 1 starting each step that much
    /// after worker 0. With `boost`, or with more threads (workers × `intraThreads`) than the
    /// process may use CPUs, an idle worker parks after a short spin instead, so an OpenMP team or
    /// a busy worker gets the CPU.
    private let spinMicros: Double
    /// The spin when every worker has a CPU and nothing is boosted: 200 µs.
    static let longSpinMicros: Double = 200
    /// The short spin: about as long as 2048 scans took before the spin was timed.
    static let shortSpinMicros: Double = 5

    init(threads: Int, pinThreads: Bool, namePrefix: String, onWorkerStart: (@Sendable (Int) -> Void)?,
         boost: IntraOpBoost? = nil, intraThreads: Int = 1) {
        precondition(threads >= 1 && threads <= 64, "inter-op threads must be in 1...64, got \(threads)")
        threadCount = threads
        queues = (0..<threads).map { _ in WorkQueue() }
        parkers = (0..<threads).map { _ in Parker() }
        stats = (0..<threads).map { _ in WorkerStats() }
        scratch = (0..<threads).map { _ in WorkerScratch() }
        self.pinThreads = pinThreads
        self.onWorkerStart = onWorkerStart
        self.boost = boost
        spinMicros = boost == nil && threads * max(intraThreads, 1) <= max(CPUAffinity.allowedCPUs().count, 1)
            ? Self.longSpinMicros : Self.shortSpinMicros
        for w in 1..<threads {
            workers.append(WorkerThread(name: "\(namePrefix)-\(w)") { [self] in self.backgroundWorker(w) })
        }
    }

    /// The step state for `graph` (a new one, with fresh profile sums, when the graph changes).
    func stepState(for graph: StepGraph) -> StepState {
        if let s = current, s.graph === graph { return s }
        let s = StepState(graph: graph)
        current = s
        return s
    }

    /// Runs one step on the calling thread (worker 0) and the pool; returns when every node ran.
    func runStep(_ graph: StepGraph, memory: StepMemory, step: Int, mode: SchedulingMode) {
        precondition(state == .running, "executor used after shutdown()")
        if !callerStarted {
            callerStarted = true
            if pinThreads { ThreadSetup.pinCurrentThread(index: 0) }
            onWorkerStart?(0)
        }
        let st = stepState(for: graph)
        st.memory = memory
        st.step = step
        st.mode = mode
        if case .profile = mode { st.profiledSteps += 1 }
        memory.beginStep()
        let n = graph.nodeCount
        guard n > 0 else { return }
        for i in 0..<n { st.pending.store(graph.nodes[i].dependencies.count, at: i) }
        st.remaining.store(n, ordering: .sequentiallyConsistent)
        let timeline = self.timeline.flatMap { $0.nodeCount == n ? $0 : nil }
        st.timeline = timeline
        timeline?.beginStep()
        pushRoots(st)
        while let item = findWork(0, step: st) { runClaimed(item, worker: 0, state: st) }
        timeline?.endStep(step)
    }

    private func pushRoots(_ st: StepState) {
        let roots = st.graph.roots
        switch st.mode {
        case .pool, .profile:
            publish(roots.reversed().map { WorkItem(node: $0.index) }, worker: 0, prioritized: false)
        case .costModel(let plan):
            var items: [WorkItem] = []
            var cheap: [Int] = []
            for r in roots {
                if plan.cheap[r.index] { cheap.append(r.index) } else { items.append(plan.item(r.index)) }
            }
            if !cheap.isEmpty { items.append(plan.item(batch: cheap)) }
            publish(items, worker: 0, prioritized: true)
        }
    }

    /// Pushes items to `worker`'s queue and wakes idle workers for them.
    @inline(__always)
    func publish(_ items: [WorkItem], worker: Int, prioritized: Bool) {
        guard !items.isEmpty else { return }
        if prioritized { queues[worker].pushPrioritized(items) } else { queues[worker].pushLIFO(items) }
        pending.add(items.count, ordering: .sequentiallyConsistent)
        var k = min(items.count, threadCount - 1)
        while k > 0, wakeOne() { k -= 1 }
    }

    /// Claims one parked worker (clears its idle bit) and unparks it; false if none is idle.
    private func wakeOne() -> Bool {
        var m = idleMask.load(ordering: .sequentiallyConsistent)
        while m != 0 {
            let bit = m & (~m &+ 1)
            let (done, seen) = idleMask.compareExchange(expected: m, desired: m & ~bit, ordering: .sequentiallyConsistent)
            if done {
                parkers[bit.trailingZeroBitCount].unpark()
                return true
            }
            m = seen
        }
        return false
    }

    private func backgroundWorker(_ w: Int) {
        if pinThreads { ThreadSetup.pinCurrentThread(index: w) }
        onWorkerStart?(w)
        while let item = findWork(w, step: nil) {
            runClaimed(item, worker: w, state: current!)
        }
    }

    @inline(__always)
    private func shouldExit(_ w: Int, _ st: StepState?) -> Bool {
        if let st { return st.remaining.load(ordering: .sequentiallyConsistent) == 0 }
        return stopping.load(ordering: .sequentiallyConsistent)
    }

    /// Own queue, then steal, then spin, then park. Returns nil when worker 0's step is complete
    /// (`st` non-nil) or, for background workers, at shutdown.
    private func findWork(_ w: Int, step st: StepState?) -> WorkItem? {
        let s = stats[w]
        while true {
            if let item = queues[w].popOwn() {
                claimed()
                return item
            }
            if threadCount > 1, pending.load(ordering: .relaxed) > 0 {
                for k in 1..<threadCount {
                    if let item = queues[(w + k) % threadCount].steal() {
                        claimed()
                        WorkerStats.bump(s.steals)
                        return item
                    }
                    WorkerStats.bump(s.failedSteals)
                }
            }
            if shouldExit(w, st) { return nil }
            if spinFindsWork(w, step: st) { continue }
            let bit = UInt64(1) << UInt64(w)
            idleMask.bitwiseOr(bit, ordering: .sequentiallyConsistent)
            if pending.load(ordering: .sequentiallyConsistent) > 0 || shouldExit(w, st) {
                // If a waker already claimed us, its permit stays and only costs one spurious wake.
                idleMask.bitwiseAnd(~bit, ordering: .sequentiallyConsistent)
                continue
            }
            WorkerStats.bump(s.parks)
            parkers[w].park()
        }
    }

    /// Scans `pending` (and the step's end) for up to `spinMicros`, yielding the CPU every 256
    /// scans; true as soon as there is something to do, false when the time is up.
    private func spinFindsWork(_ w: Int, step st: StepState?) -> Bool {
        var scans = 0
        var deadline: Double?
        while true {
            if pending.load(ordering: .relaxed) > 0 || shouldExit(w, st) { return true }
            scans &+= 1
            if scans & 255 == 0 {
                sched_yield()
                let now = Self.monotonicMicros()
                if let deadline { if now >= deadline { return false } } else { deadline = now + spinMicros }
            }
        }
    }

    /// Takes a dequeued item off `pending`. With boosting, the worker counts itself busy first
    /// (both sequentially consistent), so a worker that sees `pending == 0` also sees it busy.
    @inline(__always)
    private func claimed() {
        if boost != nil {
            busy.add(1, ordering: .sequentiallyConsistent)
            pending.subtract(1, ordering: .sequentiallyConsistent)
        } else {
            pending.subtract(1, ordering: .relaxed)
        }
    }

    /// Runs a claimed item, then (with boosting) counts the worker idle again.
    @inline(__always)
    private func runClaimed(_ item: WorkItem, worker w: Int, state st: StepState) {
        runItem(item, worker: w, state: st)
        if boost != nil { busy.subtract(1, ordering: .sequentiallyConsistent) }
    }

    /// Summed counters of all workers.
    var counters: ExecutorCounters { WorkerStats.sum(stats) }

    /// Stops and joins the background workers. Idempotent.
    func shutdown() {
        guard state == .running else { return }
        state = .shutDown
        stopping.store(true, ordering: .sequentiallyConsistent)
        for w in 1..<threadCount {
            idleMask.bitwiseAnd(~(UInt64(1) << UInt64(w)), ordering: .sequentiallyConsistent)
            parkers[w].unpark()
        }
        for t in workers { t.join() }
        workers.removeAll()
    }

    // No deinit: the worker threads retain the scheduler, so its owner calls `shutdown()`.
}
