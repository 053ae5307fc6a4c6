internal import CDNNL
import RecContract
import Synchronization

/// The oneDNN execution context shared by all dense layers of a model: one CPU engine, and per
/// executor worker a stream and a user-managed scratchpad sized to the largest need of any
/// primitive prepared so far.
///
/// A call that names `worker: w` holds worker `w`'s lock while it executes, so per-worker state
/// (stream, scratchpad, a layer's per-worker memory objects) is never used by two threads at once;
/// calls on different workers run concurrently.
///
/// Boosting (`boostThreads` > 1, the `intra_boost` knob): every dense layer also gets primitives
/// created for an OpenMP team of `boostThreads`; between `beginBoost(worker:)` and
/// `endBoost(worker:)` that worker's calls use them, in a team of that size. The executor decides
/// when (see `IntraOpBoost`).
public final class DNNLContext: Sendable {
    /// Number of workers (valid `worker:` arguments are `0..<workers`).
    public let workers: Int
    /// OpenMP team size of a boosted call; 1 when the context does not boost.
    public let boostThreads: Int
    /// How the context's fp32 dense layers get their weight layout (the `weight_layout` knob).
    public let weightLayout: WeightLayoutPolicy
    /// fp32 dense layers built on the context that the `weight_layout` policy gave another layout
    /// than oneDNN's preferred one (the `dense.relaid_layers` counter: what `weight_layout: timed`
    /// changed in this run; 0 under `onednn`).
    public var relaidLayers: Int { relaid.load(ordering: .relaxed) }
    private let relaid = Atomic<Int>(0)
    /// fp32 dense layers built on the context whose weight gradient the `weight_layout` policy
    /// moved to `WeightGradientMethod.transposedGEMM` (the `dense.transposed_gemm_layers` counter).
    public var transposedGEMMLayers: Int { transposedGEMM.load(ordering: .relaxed) }
    private let transposedGEMM = Atomic<Int>(0)
    /// fp32 dense layers built on the context whose forward the `weight_layout` policy moved to a
    /// transposed copy of the weights (`ForwardWeights.transposedCopy`; the
    /// `dense.forward_copy_layers` counter).
    public var forwardCopyLayers: Int { forwardCopy.load(ordering: .relaxed) }
    private let forwardCopy = Atomic<Int>(0)
    /// fp32 dense layers built on the context whose timed arrangement came from the
    /// `WeightLayoutChoiceFile` rather than from timing in this process (the
    /// `dense.layout_choices_from_file` counter).
    public var choicesFromFile: Int { fromFile.load(ordering: .relaxed) }
    private let fromFile = Atomic<Int>(0)
    /// The run counters of what the `weight_layout` policy changed (`dense.relaid_layers`,
    /// `dense.transposed_gemm_layers` and `dense.forward_copy_layers`) and of where its choices
    /// came from (`dense.layout_choices_from_file`), as a trainer's result reports them.
    public var weightLayoutCounters: [Counter: Double] {
        [.denseRelaidLayers: Double(relaidLayers), .denseTransposedGEMMLayers: Double(transposedGEMMLayers),
         .denseForwardCopyLayers: Double(forwardCopyLayers), .denseLayoutChoicesFromFile: Double(choicesFromFile)]
    }
    let engine: DNNLEngine
    private let slots: [WorkerSlot]

    /// Per-worker execution state.
    struct WorkerState {
        let stream: DNNLStream
        var scratchpad: AlignedBuffer
        /// Between `beginBoost` and `endBoost`: calls use the boosted primitives.
        var boosted = false
        /// The worker thread's team size before `beginBoost` (restored by `endBoost`).
        var narrowThreads = 1
    }

    /// One worker's lock-protected state.
    final class WorkerSlot: Sendable {
        let state: Mutex<WorkerState>
        init(engine: DNNLEngine) throws {
            state = Mutex(WorkerState(stream: try DNNLStream(engine: engine), scratchpad: AlignedBuffer(bytes: 0)))
        }
    }

    /// Creates the CPU engine and one stream per worker.
    /// - Parameter boostThreads: OpenMP team size of boosted calls (1 = no boosting, no second
    ///   primitive set).
    /// - Parameter weightLayout: how fp32 dense layers built on the context choose their weight layout.
    /// - Throws: `DNNLError` naming the failing `dnnl_engine_create` / `dnnl_stream_create`.
    public init(workers: Int, boostThreads: Int = 1, weightLayout: WeightLayoutPolicy = .onednn) throws {
        dnnlRequire(workers >= 1, "DNNLContext needs at least one worker, got \(workers)")
        dnnlRequire(boostThreads >= 1, "boost threads must be >= 1, got \(boostThreads)")
        if case .timed(let rows) = weightLayout { dnnlRequire(rows >= 1, "weight layout timing rows must be >= 1, got \(rows)") }
        self.workers = workers
        self.boostThreads = boostThreads
        self.weightLayout = weightLayout
        let engine = try DNNLEngine()
        self.engine = engine
        var slots: [WorkerSlot] = []
        for _ in 0..<workers {
            slots.append(try WorkerSlot(engine: engine))
        }
        self.slots = slots
    }

    /// Counts a layer built in another layout than oneDNN's preferred one.
    func noteRelaidLayer() { relaid.add(1, ordering: .relaxed) }

    /// Counts a layer whose weight gradient the policy moved to the transposed GEMM.
    func noteTransposedGEMMLayer() { transposedGEMM.add(1, ordering: .relaxed) }

    /// Counts a layer whose forward the policy moved to a transposed copy of the weights.
    func noteForwardCopyLayer() { forwardCopy.add(1, ordering: .relaxed) }
    /// Counts a layer whose timed arrangement was read from the choice file.
    func noteChoiceFromFile() { fromFile.add(1, ordering: .relaxed) }

    /// Sets the number of OpenMP (intra-op) threads oneDNN uses for primitives started by the
    /// CALLING thread (`omp_set_num_threads`). Each executor worker calls it once at start.
    public func setIntraOpThreads(_ n: Int) {
        dnnlRequire(n >= 1, "intra-op threads must be >= 1, got \(n)")
        rectune_omp_set_num_threads(Int32(n))
    }

    /// Worker `worker` (the calling thread) runs its next dense calls in a team of `boostThreads`
    /// OpenMP threads with the boosted primitives, until `endBoost(worker:)`. No-op without boosting.
    public func beginBoost(worker: Int) {
        guard boostThreads > 1 else { return }
        let narrow = Int(rectune_omp_get_max_threads())
        withWorker(worker) { $0.boosted = true; $0.narrowThreads = narrow }
        rectune_omp_set_num_threads(Int32(boostThreads))
    }

    /// Ends `beginBoost(worker:)`: the calling thread's team size and primitives are the usual ones again.
    public func endBoost(worker: Int) {
        guard boostThreads > 1 else { return }
        var narrow = 1
        withWorker(worker) { $0.boosted = false; narrow = $0.narrowThreads }
        rectune_omp_set_num_threads(Int32(narrow))
    }

    /// Creates the calling worker's boosted OpenMP team up front (one empty parallel region of
    /// `boostThreads`); no-op without boosting. Why: libgomp lets an idle team member spin for
    /// 300,000 iterations (~ms) before sleeping, unless it manages more threads than there are
    /// CPUs, when it spins 1,000. With every worker's team created, a boosted team's helper
    /// sleeps soon after the node instead of taking the core the other worker needs next
    /// (measured with one team: some rounds of DLRM ran at half speed; OMP_WAIT_POLICY=passive
    /// removed that).
    public func startBoostTeam() {
        guard boostThreads > 1 else { return }
        rectune_omp_start_team(Int32(boostThreads))
    }

    /// Runs `body` with the calling thread's OpenMP team size set to `n`, then restores it.
    static func withOpenMPThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let before = rectune_omp_get_max_threads()
        rectune_omp_set_num_threads(Int32(n))
        defer { rectune_omp_set_num_threads(before) }
        return try body()
    }

    /// The OpenMP team size primitives started by the calling thread would use (`omp_get_max_threads`).
    public static var callingThreadIntraOpThreads: Int { Int(rectune_omp_get_max_threads()) }

    /// Bytes of scratchpad each worker currently holds.
    public var scratchpadBytesPerWorker: Int { slots[0].state.withLock { $0.scratchpad.bytes } }

    /// Grows every worker's scratchpad to at least `bytes` (preparation time).
    func reserveScratchpad(bytes: Int) {
        for slot in slots {
            slot.state.withLock { state in
                if state.scratchpad.bytes < bytes { state.scratchpad = AlignedBuffer(bytes: bytes) }
            }
        }
    }

    /// Runs `body` with worker `worker`'s stream and scratchpad while holding that worker's lock.
    @inline(__always)
    func withWorker(_ worker: Int, _ body: (inout WorkerState) -> Void) {
        dnnlRequire(worker >= 0 && worker < workers, "worker \(worker) out of range 0..<\(workers)")
        slots[worker].state.withLock { state in body(&state) }
    }
}
