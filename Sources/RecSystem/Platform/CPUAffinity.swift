import Glibc
internal import CNUMA
import SystemPackage

/// CPU affinity of the calling thread (sched_setaffinity / sched_getaffinity syscalls with pid 0).
public enum CPUAffinity {
    /// Pins the calling thread to one CPU (calls `sched_setaffinity` through `rt_pin_current_thread`).
    /// Throws `SystemCallError` (EINVAL when the CPU is outside the allowed set or out of range).
    public static func pinCurrentThread(toCPU cpu: Int) throws(SystemCallError) {
        guard let c = Int32(exactly: cpu) else { throw SystemCallError(.invalidArgument, call: "sched_setaffinity(cpu \(cpu))") }
        _ = try syscallRetrying("sched_setaffinity(cpu \(cpu))") { rt_pin_current_thread(c) }
    }

    /// Restricts the calling thread to `cpus` (calls `sched_setaffinity`); use it to undo a pin.
    public static func setCurrentThread(toCPUs cpus: [Int]) throws(SystemCallError) {
        let c = cpus.map { Int32(clamping: $0) }
        _ = try syscallRetrying("sched_setaffinity(cpus \(cpus))") { c.withUnsafeBufferPointer { rt_set_current_thread_cpus($0.baseAddress, Int32($0.count)) } }
    }

    /// CPUs the calling thread may run on, ascending (calls `sched_getaffinity`); empty on failure.
    public static func allowedCPUs() -> [Int] {
        var buf = [Int32](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBufferPointer { rt_allowed_cpus($0.baseAddress, Int32($0.count)) }
        guard n > 0 else { return [] }
        return buf.prefix(Int(min(n, 4096))).map(Int.init)
    }

    /// The CPU the calling thread runs on right now (calls `getcpu`), or nil.
    public static var currentCPU: Int? {
        let c = rt_current_cpu()
        return c >= 0 ? Int(c) : nil
    }
}
