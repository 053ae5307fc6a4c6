import Foundation

/// The `rectune measure --json` object (the harness runner reads it) and its `perf stat`-like table.
///
/// JSON: `{"argv", "exit_status" (null if killed), "signal" (null if exited), "timed_out", "wall_s",
/// "counters" {name: value} (available events only), "counter_info" {name: {source, unit, scaled,
/// time_enabled, time_running, scope} or {unavailable}}, "rusage" {minflt, majflt, nvcsw, nivcsw,
/// maxrss_kb, user_s, sys_s}}`.
public struct MeasureReport: Sendable, Encodable {
    /// How one event was counted, or why it was not.
    public struct Info: Sendable, Encodable, Equatable {
        /// `perf_event`; nil when unavailable.
        public var source: String?
        /// `ns` for clock events, empty for counts.
        public var unit: String?
        /// Multiplexed and scaled.
        public var scaled: Bool?
        /// Nanoseconds enabled.
        public var timeEnabled: UInt64?
        /// Nanoseconds on a counter.
        public var timeRunning: UInt64?
        /// `user+kernel`, or `user` when perf_event_paranoid forced exclude_kernel.
        public var scope: String?
        /// Why the event could not be counted.
        public var unavailable: String?

        enum CodingKeys: String, CodingKey {
            case source, unit, scaled, scope, unavailable
            case timeEnabled = "time_enabled", timeRunning = "time_running"
        }
    }

    /// The command as given.
    public var argv: [String]
    /// Exit status, nil when killed by a signal.
    public var exitStatus: Int32?
    /// Terminating signal, nil when exited.
    public var signal: Int32?
    /// True when `--timeout` fired.
    public var timedOut: Bool
    /// Wall seconds from exec to exit.
    public var wallSeconds: Double
    /// Event name → value, available events only (never a stand-in 0).
    public var counters: [String: Double]
    /// Event name → how it was counted or why not; every requested event.
    public var counterInfo: [String: Info]
    /// The child's wait4 rusage.
    public var rusage: ResourceUsage
    /// Counter readings in the requested order (for the table; not encoded).
    public var readings: [CounterReading]

    /// Builds the report of a finished counted process.
    public init(_ result: CountedProcessResult) {
        argv = result.argv
        exitStatus = result.exitStatus
        signal = result.signal
        timedOut = result.timedOut
        wallSeconds = result.wallSeconds
        readings = result.counters
        counters = result.counters.values
        var info: [String: Info] = [:]
        for r in result.counters {
            info[r.name] = r.value == nil
                ? Info(unavailable: r.unavailable ?? "not counted")
                : Info(source: r.source, unit: r.unit, scaled: r.scaled, timeEnabled: r.timeEnabled,
                       timeRunning: r.timeRunning, scope: r.scope)
        }
        counterInfo = info
        rusage = result.rusage
    }

    enum CodingKeys: String, CodingKey {
        case argv, signal, counters, rusage
        case exitStatus = "exit_status", timedOut = "timed_out", wallSeconds = "wall_s", counterInfo = "counter_info"
    }

    /// Encodes with explicit nulls for `exit_status` / `signal`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(argv, forKey: .argv)
        try c.encode(exitStatus, forKey: .exitStatus)
        try c.encode(signal, forKey: .signal)
        try c.encode(timedOut, forKey: .timedOut)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(counters, forKey: .counters)
        try c.encode(counterInfo, forKey: .counterInfo)
        try c.encode(rusage, forKey: .rusage)
    }

    /// The JSON object as UTF-8, keys sorted, one line, followed by a newline.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// A `perf stat`-like table: counts, `<not supported: reason>` lines, wall/user/sys, rusage.
    public func table() -> String {
        var lines = ["", " Performance counter stats for '\(argv.joined(separator: " "))':", ""]
        for r in readings {
            if let v = r.value {
                let shown = r.unit == "ns" ? String(format: "%.2f msec", v / 1e6) : Self.grouped(v)
                let note = r.scaled ? String(format: "  (%.1f%% of the time on a counter)", 100 * Double(r.timeRunning) / Double(max(r.timeEnabled, 1))) : ""
                let scope = r.scope == "user" ? "  (user only)" : ""
                lines.append(Self.pad(shown, 20) + "      " + r.name + scope + note)
            } else {
                lines.append(String(repeating: " ", count: 26) + r.name + "  <not supported: \(r.unavailable ?? "?")>")
            }
        }
        lines.append("")
        lines.append(String(format: "%17.9f seconds time elapsed", wallSeconds))
        lines.append("")
        lines.append(String(format: "%17.6f seconds user", rusage.userSeconds))
        lines.append(String(format: "%17.6f seconds sys", rusage.systemSeconds))
        lines.append("")
        lines.append(" rusage: minflt \(Self.grouped(Double(rusage.minflt)))  majflt \(rusage.majflt)  nvcsw \(rusage.nvcsw)"
                     + "  nivcsw \(rusage.nivcsw)  maxrss \(Self.grouped(Double(rusage.maxrssKB))) KiB")
        if timedOut { lines.append(" timed out: the process group was terminated") }
        if let s = signal { lines.append(" killed by signal \(s)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    static func grouped(_ v: Double) -> String {
        let n = Int64(v.rounded())
        var digits = String(n.magnitude)
        var out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return (n < 0 ? "-" : "") + digits + out
    }
}
