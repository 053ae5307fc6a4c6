import Glibc
import Synchronization

/// `--allocator system`: every step tensor is `posix_memalign`ed and `free`d, as a framework's
/// default CPU allocator does. Large buffers come from glibc's mmap path (or its heap once the
/// dynamic mmap threshold has risen), which is where minor page faults come from.
public final class SystemAllocator: TensorAllocator {
    public let name = "system"
    private let state = Mutex(State())

    private struct State {
        var counters = AllocatorCounters()
        var liveBytes = 0
    }

    public init() {}

    public func allocate(bytes: Int, tensor: TensorID) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, max(bytes, 64))
        precondition(rc == 0 && raw != nil, "posix_memalign(\(bytes)) failed: \(rc)")
        state.withLock {
            $0.counters.allocations += 1
            $0.counters.misses += 1
            $0.liveBytes += bytes
            $0.counters.peakLiveBytes = max($0.counters.peakLiveBytes, $0.liveBytes)
        }
        return raw!
    }

    public func deallocate(_ pointer: UnsafeMutableRawPointer, bytes: Int, tensor: TensorID) {
        free(pointer)
        state.withLock { $0.liveBytes -= bytes }
    }

    public func stepBegan(_ step: Int) {}
    public func stepEnded(_ step: Int) {}

    public var counters: AllocatorCounters { state.withLock { $0.counters } }
}
