/// Cumulative counters of a step allocator. Phase figures are differences of two snapshots.
public struct AllocatorCounters: Sendable, Equatable {
    /// Allocations served.
    public var allocations: Int = 0
    /// Allocations served from the planned pool (adaptive only).
    public var hits: Int = 0
    /// Allocations that fell back to the system allocator (adaptive: unplanned or pool exhausted;
    /// system: every allocation).
    public var misses: Int = 0
    /// Bytes reserved by the plan (adaptive only).
    public var plannedBytes: Int = 0
    /// Highest number of step-tensor bytes live at once.
    public var peakLiveBytes: Int = 0
    public init() {}
}

/// Where every step tensor's memory comes from. Implementations are thread-safe: executors
/// allocate and release from several workers at once.
public protocol TensorAllocator: AnyObject, Sendable {
    /// Policy name as in `--allocator`.
    var name: String { get }
    /// Returns 64-byte-aligned memory of at least `bytes` bytes for `tensor`.
    func allocate(bytes: Int, tensor: TensorID) -> UnsafeMutableRawPointer
    /// Returns memory obtained from `allocate` for the same tensor and size.
    func deallocate(_ pointer: UnsafeMutableRawPointer, bytes: Int, tensor: TensorID)
    /// Called by the trainer before step `step` begins (0-based, warm-up included).
    func stepBegan(_ step: Int)
    /// Called by the trainer after step `step` finished and all its tensors were released.
    func stepEnded(_ step: Int)
    /// Cumulative counters.
    var counters: AllocatorCounters { get }
}
