/// One counter's value over a phase (or since the session opened), or why it is unavailable.
public struct CounterReading: Sendable, Equatable, Codable {
    /// The event name as requested, e.g. `minor-faults`.
    public var name: String
    /// The (scaled) count; nil when the event is unavailable. Never a stand-in 0.
    public var value: Double?
    /// The raw count before scaling.
    public var rawValue: UInt64
    /// Nanoseconds the event was enabled during the phase (summed over inherited threads).
    public var timeEnabled: UInt64
    /// Nanoseconds the event was actually on a counter during the phase.
    public var timeRunning: UInt64
    /// True when the kernel multiplexed the event (running < enabled) and `value` was scaled by enabled/running.
    public var scaled: Bool
    /// `ns` for clock events (task-clock, cpu-clock), empty for plain counts.
    public var unit: String
    /// Where the value comes from: `perf_event`.
    public var source: String
    /// libpfm4's canonical encoding, e.g. `perf::PERF_COUNT_SW_PAGE_FAULTS_MIN:u=1:k=1`; nil if unknown to libpfm4.
    public var encoding: String?
    /// Privilege levels counted: `user+kernel`, or `user` when perf_event_paranoid forced exclude_kernel.
    public var scope: String
    /// Why the event could not be counted (errno name and meaning, or libpfm4's reason); nil when available.
    public var unavailable: String?

    /// Creates a reading; the engine and tests build them, sessions return them.
    public init(name: String, value: Double?, rawValue: UInt64 = 0, timeEnabled: UInt64 = 0, timeRunning: UInt64 = 0,
                scaled: Bool = false, unit: String = "", source: String = "perf_event", encoding: String? = nil,
                scope: String = "user+kernel", unavailable: String? = nil) {
        self.name = name; self.value = value; self.rawValue = rawValue; self.timeEnabled = timeEnabled
        self.timeRunning = timeRunning; self.scaled = scaled; self.unit = unit; self.source = source
        self.encoding = encoding; self.scope = scope; self.unavailable = unavailable
    }
}

extension Array where Element == CounterReading {
    /// Name → value of the available readings (unavailable ones are left out, never 0).
    public var values: [String: Double] {
        var out: [String: Double] = [:]
        for r in self { if let v = r.value { out[r.name] = v } }
        return out
    }

    /// The reading named `name`, if the session has it.
    public subscript(name: String) -> CounterReading? { first { $0.name == name } }
}

/// The cumulative state of every event of a session at one instant; phase values are differences.
public struct CounterSnapshot: Sendable {
    /// One event's cumulative (value, enabled, running), or the reason it has none.
    struct Entry: Sendable {
        var name: String
        var unit: String
        var encoding: String?
        var scope: String
        var raw: (value: UInt64, enabled: UInt64, running: UInt64)?
        var unavailable: String?
    }

    let entries: [Entry]

    /// The event names, in session order.
    public var names: [String] { entries.map(\.name) }

    /// Cumulative readings since the session opened (counters count only while enabled).
    public var totals: [CounterReading] {
        entries.map { Self.reading($0, value: $0.raw?.value ?? 0, enabled: $0.raw?.enabled ?? 0, running: $0.raw?.running ?? 0) }
    }

    /// The phase between `earlier` and this snapshot: raw differences of value, time enabled and
    /// time running, scaled by enabled/running when the kernel multiplexed the event in that phase.
    /// Events matched by name; one absent from `earlier` counts from zero.
    public func delta(since earlier: CounterSnapshot) -> [CounterReading] {
        var before: [String: (value: UInt64, enabled: UInt64, running: UInt64)] = [:]
        for e in earlier.entries { if let raw = e.raw { before[e.name] = raw } }
        return entries.map { e in
            let b = before[e.name] ?? (0, 0, 0)
            let a = e.raw ?? (0, 0, 0)
            return Self.reading(e, value: a.value &- b.value, enabled: a.enabled &- b.enabled, running: a.running &- b.running)
        }
    }

    private static func reading(_ e: Entry, value: UInt64, enabled: UInt64, running: UInt64) -> CounterReading {
        var r = CounterReading(name: e.name, value: nil, rawValue: value, timeEnabled: enabled, timeRunning: running,
                               unit: e.unit, encoding: e.encoding, scope: e.scope, unavailable: e.unavailable)
        guard e.raw != nil, e.unavailable == nil else {
            r.unavailable = r.unavailable ?? "not read"
            return r
        }
        if running == 0 && enabled > 0 {
            r.unavailable = "not counted: the kernel never scheduled the event in this phase (time_running = 0)"
        } else if running < enabled {
            r.value = Double(value) * (Double(enabled) / Double(running))
            r.scaled = true
        } else {
            r.value = Double(value)
        }
        return r
    }
}
