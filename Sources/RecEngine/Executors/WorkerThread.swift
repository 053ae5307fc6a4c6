import Glibc
import RecSystem

/// A joinable, named OS thread (pthread_create / pthread_join). Foundation's `Thread` cannot be
/// joined, and a clean `shutdown()` must know that every worker has returned.
final class WorkerThread {
    private var handle: pthread_t
    private var joined = false

    private final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    /// Starts a thread named `name` (at most 15 bytes are kept by Linux) that runs `body`.
    init(name: String, body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var h = pthread_t()
        let rc = pthread_create(&h, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            ThreadSetup.nameCurrentThread(start.name)
            start.body()
            return nil
        }, start)
        precondition(rc == 0, "pthread_create(\(name)) failed: errno \(rc)")
        handle = h
    }

    /// Waits for the thread to return (pthread_join). Idempotent.
    func join() {
        guard !joined else { return }
        joined = true
        let rc = pthread_join(handle, nil)
        precondition(rc == 0, "pthread_join failed: errno \(rc)")
    }

    deinit { precondition(joined, "WorkerThread released without join()") }
}

/// Naming and pinning of the calling thread.
enum ThreadSetup {
    /// Names the calling thread (visible in `top -H`, `perf`, gdb) by writing
    /// `/proc/thread-self/comm`: Glibc's `pthread_setname_np` is not exported to Swift without
    /// `_GNU_SOURCE`. Linux keeps at most 15 bytes. Failure is ignored (the name is cosmetic).
    static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Pins the calling thread to the `index`-th allowed CPU, modulo their number
    /// (RecSystem's `CPUAffinity`). Returns false if the kernel refused.
    @discardableResult
    static func pinCurrentThread(index: Int) -> Bool {
        let cpus = CPUAffinity.allowedCPUs()
        guard !cpus.isEmpty else { return false }
        do {
            try CPUAffinity.pinCurrentThread(toCPU: cpus[index % cpus.count])
            return true
        } catch {
            return false
        }
    }
}
