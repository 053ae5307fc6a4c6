#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with two condition variables (`ready` for the consumer, `space` for the
/// producers) — the waiting primitive of the stage queue. `Synchronization.Mutex` cannot be
/// waited on, hence this small wrapper (pthread_mutex_*, pthread_cond_*).
final class StageMonitor: @unchecked Sendable {  // the pthread objects are thread-safe by contract; heap-allocated so they never move
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let readyCond: UnsafeMutablePointer<pthread_cond_t>
    private let spaceCond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        readyCond = .allocate(capacity: 1)
        spaceCond = .allocate(capacity: 1)
        // Not inside `precondition(...)`: under -Ounchecked its argument is not evaluated.
        let rc = (pthread_mutex_init(mutex, nil), pthread_cond_init(readyCond, nil), pthread_cond_init(spaceCond, nil))
        if rc != (0, 0, 0) { fatalError("pthread_mutex_init/pthread_cond_init failed: \(rc)") }
    }

    deinit {
        pthread_cond_destroy(spaceCond)
        pthread_cond_destroy(readyCond)
        pthread_mutex_destroy(mutex)
        spaceCond.deallocate()
        readyCond.deallocate()
        mutex.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }
    /// Waits (lock held) until `signalReady`/`broadcastAll`.
    @inline(__always) func waitReady() { pthread_cond_wait(readyCond, mutex) }
    /// Waits (lock held) until `signalSpace`/`broadcastAll`.
    @inline(__always) func waitSpace() { pthread_cond_wait(spaceCond, mutex) }
    @inline(__always) func signalReady() { pthread_cond_signal(readyCond) }
    @inline(__always) func signalSpace() { pthread_cond_signal(spaceCond) }
    func broadcastAll() {
        pthread_cond_broadcast(readyCond)
        pthread_cond_broadcast(spaceCond)
    }
}

/// Names the calling thread (Linux: writes /proc/thread-self/comm, what pthread_setname_np
/// does; Glibc does not export that function to Swift). Best effort: failures are ignored.
func stageSetThreadName(_ name: String) {
    #if os(Linux)
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
    _ = close(fd)
    #endif
}

/// A named, joinable pthread running one closure (pthread_create, pthread_join).
final class StageThread {
    private var handle: pthread_t
    private var joined = false

    /// Starts `body` on a new thread named `name` (truncated to the 15 bytes Linux allows).
    init(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box { let name: String; let body: @Sendable () -> Void; init(_ n: String, _ b: @escaping @Sendable () -> Void) { name = n; body = b } }
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            stageSetThreadName(box.name)
            box.body()
            return nil
        }, box)
        if rc != 0 { fatalError("pthread_create failed: \(rc)") }
        handle = tid
    }

    /// Waits for the thread to finish (once).
    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }

    deinit { join() }
}

/// Monotonic nanoseconds (clock_gettime(CLOCK_MONOTONIC)).
@inline(__always)
func stageMonotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
