internal import CDNNL
import Synchronization

/// The oneDNN execution context shared by all dense layers of a model: one CPU engine, and per
/// executor worker a stream and a user-managed scratchpad sized to the largest need of any
/// primitive prepared so far.
///
/// A call that names `worker: w` holds worker `w`'s lock while it executes, so per-worker state
/// (stream, scratchpad, a layer's per-worker memory objects) is never used by two threads at once;
/// calls on different workers run concurrently.
public final class DNNLContext: Sendable {
    /// Number of workers (valid `worker:` arguments are `0..<workers`).
    public let workers: Int
    let engine: DNNLEngine
    private let slots: [WorkerSlot]

    /// Per-worker execution state.
    struct WorkerState {
        let stream: DNNLStream
        var scratchpad: AlignedBuffer
    }

    /// One worker's lock-protected state.
    final class WorkerSlot: Sendable {
        let state: Mutex<WorkerState>
        init(engine: DNNLEngine) throws {
            state = Mutex(WorkerState(stream: try DNNLStream(engine: engine), scratchpad: AlignedBuffer(bytes: 0)))
        }
    }

    /// Creates the CPU engine and one stream per worker.
    /// - Throws: `DNNLError` naming the failing `dnnl_engine_create` / `dnnl_stream_create`.
    public init(workers: Int) throws {
        dnnlRequire(workers >= 1, "DNNLContext needs at least one worker, got \(workers)")
        self.workers = workers
        let engine = try DNNLEngine()
        self.engine = engine
        var slots: [WorkerSlot] = []
        for _ in 0..<workers {
            slots.append(try WorkerSlot(engine: engine))
        }
        self.slots = slots
    }

    /// Sets the number of OpenMP (intra-op) threads oneDNN uses for primitives started by the
    /// CALLING thread (`omp_set_num_threads`). Each executor worker calls it once at start.
    public func setIntraOpThreads(_ n: Int) {
        dnnlRequire(n >= 1, "intra-op threads must be >= 1, got \(n)")
        rectune_omp_set_num_threads(Int32(n))
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
