import Foundation
import RecContract
import Glibc
import Synchronization
import SystemPackage
internal import CPFM

/// Perf counters of this process (or of one child process), opened by name through libpfm4 and
/// `perf_event_open`, with `inherit` so threads created after opening are counted.
///
/// perf_event attaches to a thread, not a process: by default the session counts the calling
/// thread and, through `inherit`, every thread it (or its descendants) creates afterwards. Open
/// it on the thread that later starts the workers, before starting them. With `allThreads` it also
/// attaches to every thread that already exists (one fd per thread, like `perf stat -p`), for
/// work that runs on pre-existing pools (Dispatch, the Swift concurrency pool).
///
/// Call `start()`, then take `read()` snapshots at each phase boundary; a phase's values are
/// `later.delta(since: earlier)`. Events the machine cannot count stay in the session as
/// unavailable with the reason (see `unavailable`).
/// Scope: events are opened for user+kernel; when perf_event_paranoid refuses that (EACCES/EPERM)
/// the event is reopened with exclude_kernel and its readings say `scope: "user"` (kernel-side
/// events such as context switches then read near 0: that is a property of the scope, not of the run).
public final class CounterSession: Sendable {
    /// The events `rectune train` and `rectune measure` count by default.
    public static let defaultEvents = Counter.defaultPerfEvents.map(\.name)

    struct Slot: Sendable {
        var name: String
        var unit: String
        var encoding: String?
        var scope: String
        var descriptors: [PerfEventDescriptor]
        var unavailable: String?
    }

    let slots: [Slot]
    /// ioctl failures after opening (event name → reason); guarded by its own mutex.
    private let runtimeFailures = Mutex<[String: String]>([:])

    /// Opens `events` on the calling thread (pid 0, any CPU), disabled until `start()`.
    /// `inherit` makes threads (and children) created after this call count too; `allThreads`
    /// also attaches to the process's threads that already exist. Never throws: an event that
    /// cannot be opened is kept as unavailable with its reason.
    public convenience init(events: [String], inherit: Bool = true, allThreads: Bool = false) {
        let targets = allThreads ? Self.threadIDs() : [0]
        self.init(events: events, targets: targets.isEmpty ? [0] : targets, inherit: inherit, enableOnExec: false)
    }

    /// Opens `events` on each of `targets` (pid/tid; 0 = calling thread). With `enableOnExec` the
    /// counters start at the target's next execve. `forceUserOnly` opens every event with
    /// exclude_kernel, as an unprivileged user at perf_event_paranoid 2 gets.
    init(events: [String], targets: [Int32], inherit: Bool, enableOnExec: Bool, forceUserOnly: Bool = false) {
        let paranoid = HostInfo.readParanoid()
        var seen = Set<String>()
        var slots: [Slot] = []
        for name in events where seen.insert(name).inserted {
            var slot = Slot(name: name, unit: "", encoding: nil, scope: "user+kernel", descriptors: [], unavailable: nil)
            switch PFMLibrary.encode(name) {
            case .failure(let e):
                slot.unavailable = "\(e.description): unknown to libpfm4 on this machine"
            case .success(let encoded):
                slot.encoding = encoded.canonical
                slot.unit = encoded.canonical.contains("TASK_CLOCK") || encoded.canonical.contains("CPU_CLOCK") ? "ns" : ""
                var userOnly = forceUserOnly
                for (i, target) in targets.enumerated() {
                    func open() throws(PerfEventError) -> PerfEventDescriptor {
                        try PerfEventDescriptor(encoded: encoded, name: name, pid: target, inherit: inherit, disabled: true,
                                                enableOnExec: enableOnExec, excludeKernel: userOnly)
                    }
                    do {
                        do {
                            slot.descriptors.append(try open())
                        } catch where !userOnly && (error.rawValue == EACCES || error.rawValue == EPERM) {
                            userOnly = true
                            slot.descriptors.append(try open())
                        }
                    } catch where i > 0 && error.rawValue == ESRCH {
                        continue  // a thread that exited since it was listed
                    } catch {
                        slot.descriptors = []
                        slot.unavailable = UnavailableReason.text(for: error, eventType: encoded.attr.type, paranoid: paranoid)
                        break
                    }
                }
                slot.scope = userOnly ? "user" : "user+kernel"
            }
            slots.append(slot)
        }
        self.slots = slots
    }

    /// Names of the events that are being counted.
    public var available: [String] { slots.filter { !$0.descriptors.isEmpty }.map(\.name) }

    /// Event name → why it cannot be counted (errno name and meaning, or libpfm4's reason).
    public var unavailable: [String: String] {
        var out: [String: String] = [:]
        for s in slots where s.descriptors.isEmpty { out[s.name] = s.unavailable ?? "not opened" }
        return out
    }

    /// Enables every counter (`ioctl(PERF_EVENT_IOC_ENABLE)`), including inherited children.
    public func start() { forEachDescriptor("ioctl(PERF_EVENT_IOC_ENABLE)") { $0.enable() } }

    /// Disables every counter (`ioctl(PERF_EVENT_IOC_DISABLE)`); later snapshots stop growing.
    public func stop() { forEachDescriptor("ioctl(PERF_EVENT_IOC_DISABLE)") { $0.disable() } }

    /// Reads every counter now (`read(2)` on each fd; the kernel adds live and exited inherited
    /// threads; with several attached threads the values and times are summed).
    public func read() -> CounterSnapshot {
        let failures = runtimeFailures.withLock { $0 }
        return CounterSnapshot(entries: slots.map { slot in
            var entry = CounterSnapshot.Entry(name: slot.name, unit: slot.unit, encoding: slot.encoding, scope: slot.scope,
                                              raw: nil, unavailable: slot.unavailable ?? failures[slot.name])
            guard entry.unavailable == nil, !slot.descriptors.isEmpty else { return entry }
            var sum: (value: UInt64, enabled: UInt64, running: UInt64) = (0, 0, 0)
            for d in slot.descriptors {
                switch d.read() {
                case .success(let v):
                    sum = (sum.value &+ v.0, sum.enabled &+ v.1, sum.running &+ v.2)
                case .failure(let e):
                    entry.unavailable = PerfEventError(e, call: "read(\(slot.name))").description
                    return entry
                }
            }
            entry.raw = sum
            return entry
        })
    }

    private func forEachDescriptor(_ call: String, _ body: (PerfEventDescriptor) -> Errno?) {
        for slot in slots {
            for d in slot.descriptors {
                guard let e = body(d) else { continue }
                runtimeFailures.withLock { $0[slot.name] = PerfEventError(e, call: "\(call) \(slot.name)").description }
            }
        }
    }

    /// The thread ids of this process (/proc/self/task), calling thread first.
    static func threadIDs() -> [Int32] {
        let me = rt_gettid()
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).compactMap { Int32($0) }
        return [me] + all.filter { $0 != me }.sorted()
    }
}
