import Foundation

/// What `rectune doctor` shows: the machine, NUMA, affinity, oneDNN, and which counters work here.
public struct DoctorReport: Sendable, Encodable {
    /// One event's status on this machine.
    public struct EventStatus: Sendable, Encodable, Equatable {
        /// The event name.
        public var name: String
        /// True when perf_event_open accepted it.
        public var available: Bool
        /// libpfm4's canonical encoding, nil when libpfm4 does not know the name.
        public var encoding: String?
        /// `user+kernel` or `user` (paranoid forced exclude_kernel); nil when unavailable.
        public var scope: String?
        /// Why it cannot be counted.
        public var reason: String?
    }

    /// CPU, cores, memory, kernel, perf_event_paranoid.
    public var host: HostInfo
    /// `numa_available() >= 0`.
    public var numaAvailable: Bool
    /// Configured NUMA nodes per libnuma.
    public var numaNodes: Int
    /// CPUs this process may run on.
    public var allowedCPUs: [Int]
    /// Linked oneDNN version (passed in by the caller, which may import the engine).
    public var onednnVersion: String
    /// The ISA oneDNN dispatches to.
    public var onednnISA: String
    /// Status of each probed event.
    public var events: [EventStatus]

    /// Probes this machine: opens each event (default: `CounterSession.defaultEvents` plus
    /// `page-faults` and `branch-misses`) on this process and records whether it is countable.
    public static func collect(onednnVersion: String, onednnISA: String,
                               events: [String] = CounterSession.defaultEvents + ["page-faults", "branch-misses"]) -> DoctorReport {
        let session = CounterSession(events: events)
        let totals = session.read().totals
        let statuses = totals.map { r in
            EventStatus(name: r.name, available: r.unavailable == nil, encoding: r.encoding,
                        scope: r.unavailable == nil ? r.scope : nil, reason: r.unavailable)
        }
        return DoctorReport(host: .collect(), numaAvailable: NUMAControl.available, numaNodes: NUMAControl.nodeCount,
                            allowedCPUs: CPUAffinity.allowedCPUs(), onednnVersion: onednnVersion, onednnISA: onednnISA,
                            events: statuses)
    }

    enum CodingKeys: String, CodingKey {
        case host, numaAvailable, numaNodes, onednnVersion, events
        case allowedCPUs = "allowed_cpus", onednnISA = "onednn_isa"
    }

    /// Pretty-printed JSON with snake_case keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// The report as aligned text lines.
    public func text() -> String {
        let gib = Double(host.memoryBytes) / Double(1 << 30)
        var lines = [
            "host           \(host.hostname)",
            "cpu            \(host.cpuModel.isEmpty ? "unknown" : host.cpuModel)",
            "isa flags      \(host.cpuFlags.isEmpty ? "(none of avx/amx/fma)" : host.cpuFlags)",
            "cores          \(host.logicalCores) logical; allowed CPUs \(Self.ranges(allowedCPUs))",
            "numa           \(numaAvailable ? "\(numaNodes) node\(numaNodes == 1 ? "" : "s") (libnuma)" : "NUMA API unavailable; /sys shows \(host.numaNodes) node(s)")",
            String(format: "memory         %.1f GiB", gib),
            "kernel         \(host.kernel)",
            "perf paranoid  \(host.perfEventParanoid) (\(Self.paranoidMeaning(host.perfEventParanoid)))",
            "onednn         \(onednnVersion), ISA \(onednnISA)",
            "counters",
        ]
        let width = (events.map(\.name.count).max() ?? 0) + 2
        for e in events {
            let name = e.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  " + name + (e.available ? "available (\(e.scope ?? "?"))" : "unavailable: \(e.reason ?? "?")"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func paranoidMeaning(_ level: Int) -> String {
        let privileged = geteuid() == 0 ? "; running as root, so it does not restrict rectune" : ""
        switch level {
        case ...(-1): return "no restrictions" + privileged
        case 0: return "no raw tracepoints for users" + privileged
        case 1: return "users: no CPU-wide events" + privileged
        case 2: return "users: own user-space only, kernel excluded" + privileged
        case 99: return "unreadable"
        default: return "users: no perf_event_open" + privileged
        }
    }

    static func ranges(_ cpus: [Int]) -> String {
        guard var start = cpus.first else { return "none" }
        var out: [String] = []
        var prev = start
        for c in cpus.dropFirst() + [Int.min] {
            if c == prev + 1 { prev = c; continue }
            out.append(start == prev ? "\(start)" : "\(start)-\(prev)")
            start = c; prev = c
        }
        return out.joined(separator: ",")
    }
}
