import Foundation

/// CSV exports of an experiment's runs (RFC 4180: comma-separated, a field quoted when it holds a comma,
/// quote, CR or LF, quotes doubled; `\n` line ends). Bytes are written straight into one buffer — on a
/// 10,000-run store the tidy export is ~100,000 rows.
///
/// Every row starts with the run's identity: `run_id, experiment, config, is_baseline, config_hash,
/// repeat, status, started, duration_s` (`config` is the report's label, e.g. `stage=on` or `baseline`;
/// `is_baseline` 1/0; `started` ISO 8601 UTC; `duration_s` the run's wall time), then every knob.
/// - tidy: one row per run × metric × phase (`…, metric, phase, value, unit, source, scaled, note`). A run
///   with no metrics (a failed run) still gets one row with an empty metric; an unavailable counter gets a
///   row with an empty value and `source=unavailable`, the reason in `note` — never a 0.
/// - wide: one row per run, one column per metric (spec metrics first, then every other metric of the
///   steady phase or of the whole run, such as `wall_s`), empty where a run has no value.
public enum CSVReport {
    /// The identity columns that start every row.
    public static let runColumns = ["run_id", "experiment", "config", "is_baseline", "config_hash", "repeat", "status",
                                    "started", "duration_s"]

    /// The knob columns: spec factors in order, then every other knob seen in a run, sorted.
    public static func knobColumns(_ data: ExperimentData) -> [String] {
        var cols = data.spec.factors.map(\.name)
        let seen = Set(cols)
        let rest = Set(data.runs.flatMap { $0.config.keys }).subtracting(seen).sorted()
        cols += rest
        return cols
    }

    /// The metric columns of the wide export: spec metrics first, then every other metric seen in the
    /// steady phase or for the whole run (`total`, e.g. `wall_s`), sorted.
    public static func wideMetricColumns(_ data: ExperimentData) -> [String] {
        var cols = data.spec.metrics
        let seen = Set(cols)
        var extra = Set<String>()
        for run in data.runs {
            for m in run.metrics where (m.phase == "steady" || m.phase == "total") && !seen.contains(m.name) { extra.insert(m.name) }
        }
        cols += extra.sorted()
        return cols
    }

    /// The tidy export as text.
    public static func tidy(_ data: ExperimentData) throws -> String {
        let knobs = knobColumns(data)
        let (labels, baseline) = ExperimentAnalyzer.configLabels(data)
        var w = Writer()
        w.row(runColumns + knobs + ["metric", "phase", "value", "unit", "source", "scaled", "note"])
        for run in data.runs {
            let prefix = identity(run, data: data, labels: labels, baseline: baseline, knobs: knobs)
            for m in run.metrics {
                w.raw(prefix); w.fields([m.name, m.phase, number(m.value), m.unit, m.source, m.scaled ? "1" : "0", ""])
            }
            for (name, reason) in run.unavailable.sorted(by: { $0.key < $1.key }) {
                w.raw(prefix); w.fields([name, "steady", "", "", "unavailable", "0", reason])
            }
            if run.metrics.isEmpty && run.unavailable.isEmpty {
                w.raw(prefix); w.fields(["", "", "", "", "", "", failureNote(run)])
            }
        }
        return w.text
    }

    /// The wide export as text.
    public static func wide(_ data: ExperimentData) throws -> String {
        let knobs = knobColumns(data)
        let metrics = wideMetricColumns(data)
        let steady = RunMetrics.steadySteps(data.spec)
        let (labels, baseline) = ExperimentAnalyzer.configLabels(data)
        var w = Writer()
        w.row(runColumns + knobs + metrics)
        for run in data.runs {
            w.raw(identity(run, data: data, labels: labels, baseline: baseline, knobs: knobs))
            w.fields(metrics.map { RunMetrics.value($0, in: run, steadySteps: steady).map(number) ?? "" })
        }
        return w.text
    }

    /// The identity and knob fields of a run, encoded, each followed by a comma.
    static func identity(_ run: RunRecord, data: ExperimentData, labels: [String: String], baseline: String?,
                         knobs: [String]) -> [UInt8] {
        var w = Writer()
        for f in [String(run.id), data.experiment.name, labels[run.configHash] ?? run.configHash,
                  run.configHash == baseline ? "1" : "0", run.configHash, String(run.repeatIndex + 1), run.status.rawValue,
                  timestamp(run.started), number(run.durationSeconds)] + knobs.map({ run.config[$0] ?? "" }) {
            w.field(f); w.bytes.append(UInt8(ascii: ","))
        }
        return w.bytes
    }

    /// Shortest round-tripping text for a value.
    static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// ISO 8601 UTC with milliseconds, e.g. `2026-11-30T02:01:22.123Z`.
    static func timestamp(_ d: Date) -> String {
        let t = d.timeIntervalSince1970
        var secs = time_t(t.rounded(.down))
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        let ms = Int(((t - t.rounded(.down)) * 1000).rounded(.down))
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1, Int(tmv.tm_mday),
                      Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), ms)
    }

    static func failureNote(_ run: RunRecord) -> String {
        var parts: [String] = []
        if let e = run.exitCode { parts.append("exit \(e)") }
        if let s = run.signal { parts.append("signal \(s)") }
        let tail = run.stderrTail.split(separator: "\n").last.map(String.init) ?? ""
        if !tail.isEmpty { parts.append(tail) }
        return parts.joined(separator: "; ")
    }

    /// An RFC 4180 writer into a byte buffer.
    struct Writer {
        var bytes: [UInt8] = []
        init() { bytes.reserveCapacity(1 << 20) }

        var text: String { String(decoding: bytes, as: UTF8.self) }

        mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

        /// Fields separated by commas, then a newline.
        mutating func fields(_ fs: [String]) {
            for (i, f) in fs.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                field(f)
            }
            bytes.append(UInt8(ascii: "\n"))
        }

        mutating func row(_ fs: [String]) { fields(fs) }

        mutating func field(_ f: String) {
            var s = f
            s.withUTF8 { u in
                let needsQuotes = u.contains { (c: UInt8) -> Bool in c == 44 || c == 34 || c == 10 || c == 13 }  // , " LF CR
                guard needsQuotes else { bytes.append(contentsOf: u); return }
                bytes.append(UInt8(ascii: "\""))
                for c in u {
                    if c == 34 { bytes.append(c) }  // a quote is doubled
                    bytes.append(c)
                }
                bytes.append(UInt8(ascii: "\""))
            }
        }
    }
}
