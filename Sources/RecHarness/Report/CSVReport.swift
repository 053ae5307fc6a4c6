import CSV
import Foundation

/// CSV exports of an experiment's runs, written with yaslab/CSV.swift's `CSVWriter`.
///
/// - tidy: one row per run × metric × phase (`run_id, experiment, config_hash, repeat, status,
///   <every knob>, metric, phase, value, unit, source, scaled, note`). A run with no metrics (a
///   failed run) still gets one row with an empty metric; an unavailable counter gets a row with an
///   empty value and `source=unavailable`, the reason in `note` — never a 0.
/// - wide: one row per run (`run_id, experiment, config_hash, repeat, status, <knobs>, <metrics…>`),
///   steady phase, empty cell where a run has no value.
public enum CSVReport {
    /// The knob columns: spec factors in order, then every other knob seen in a run, sorted.
    public static func knobColumns(_ data: ExperimentData) -> [String] {
        var cols = data.spec.factors.map(\.name)
        let seen = Set(cols)
        let rest = Set(data.runs.flatMap { $0.config.keys }).subtracting(seen).sorted()
        cols += rest
        return cols
    }

    /// The metric columns of the wide export: spec metrics first, then every other steady metric seen, sorted.
    public static func wideMetricColumns(_ data: ExperimentData) -> [String] {
        var cols = data.spec.metrics
        var seen = Set(cols)
        var extra = Set<String>()
        for run in data.runs {
            for m in run.metrics where m.phase == "steady" && !seen.contains(m.name) { extra.insert(m.name) }
        }
        cols += extra.sorted()
        seen.formUnion(extra)
        return cols
    }

    /// The tidy export as text.
    /// - Throws: `CSVError` if the writer fails.
    public static func tidy(_ data: ExperimentData) throws -> String {
        let knobs = knobColumns(data)
        return try write { w in
            try w.write(row: ["run_id", "experiment", "config_hash", "repeat", "status"] + knobs
                        + ["metric", "phase", "value", "unit", "source", "scaled", "note"])
            for run in data.runs {
                let prefix = [String(run.id), data.experiment.name, run.configHash, String(run.repeatIndex + 1), run.status.rawValue]
                    + knobs.map { run.config[$0] ?? "" }
                for m in run.metrics {
                    try w.write(row: prefix + [m.name, m.phase, number(m.value), m.unit, m.source, m.scaled ? "1" : "0", ""])
                }
                for (name, reason) in run.unavailable.sorted(by: { $0.key < $1.key }) {
                    try w.write(row: prefix + [name, "steady", "", "", "unavailable", "0", reason])
                }
                if run.metrics.isEmpty && run.unavailable.isEmpty {
                    try w.write(row: prefix + ["", "", "", "", "", "", failureNote(run)])
                }
            }
        }
    }

    /// The wide export as text.
    /// - Throws: `CSVError` if the writer fails.
    public static func wide(_ data: ExperimentData) throws -> String {
        let knobs = knobColumns(data)
        let metrics = wideMetricColumns(data)
        let steady = RunMetrics.steadySteps(data.spec)
        return try write { w in
            try w.write(row: ["run_id", "experiment", "config_hash", "repeat", "status"] + knobs + metrics)
            for run in data.runs {
                var row = [String(run.id), data.experiment.name, run.configHash, String(run.repeatIndex + 1), run.status.rawValue]
                row += knobs.map { run.config[$0] ?? "" }
                row += metrics.map { RunMetrics.value($0, in: run, steadySteps: steady).map(number) ?? "" }
                try w.write(row: row)
            }
        }
    }

    /// Shortest round-tripping text for a value.
    static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    static func failureNote(_ run: RunRecord) -> String {
        var parts: [String] = []
        if let e = run.exitCode { parts.append("exit \(e)") }
        if let s = run.signal { parts.append("signal \(s)") }
        let tail = run.stderrTail.split(separator: "\n").last.map(String.init) ?? ""
        if !tail.isEmpty { parts.append(tail) }
        return parts.joined(separator: "; ")
    }

    private static func write(_ body: (CSVWriter) throws -> Void) throws -> String {
        let stream = OutputStream(toMemory: ())
        let writer = try CSVWriter(stream: stream)
        try body(writer)
        // A CSV file ends with a newline; CSVWriter only writes separators between rows.
        stream.close()
        let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
