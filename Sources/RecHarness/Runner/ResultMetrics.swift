import Foundation
import RecContract

/// Turns run output into long-form metrics: the `rectune train --json` contract (strictly
/// validated), the `rectune measure --json` wrapper output, and external commands' own results
/// (last JSON line, JSON file, or regexes).
public enum ResultMetrics {
    /// Keys every `train` result must have: the contract's keys (`RecContract.TrainResult.keys`) less the optional ones.
    public static var contractKeys: [String] { TrainResult.keys.filter { !TrainResult.optionalKeys.contains($0) } }

    /// What a result contributed: metrics, unavailable counters, or why it is invalid.
    public struct Extracted: Sendable, Equatable {
        public var metrics: [MetricValue] = []
        public var unavailable: [String: String] = [:]
        /// Non-nil when the result fails validation.
        public var invalidReason: String?
        /// The engine's `config` echo as text (engine results only).
        public var effectiveConfig: [String: String]?
    }

    /// Decodes a `rectune train --json` result strictly (`RecContract.TrainResult`: every required
    /// key present with its type, no key outside the contract) and checks the engine's `config`
    /// echo against `requested` (knob → value as the spec wrote it): every registry knob that was
    /// requested and applies to the run must have been run with the requested value. A mismatch or
    /// a decoding failure makes the result invalid with the reason.
    public static func fromEngineResult(_ data: Data, requested: [String: String]) -> Extracted {
        var out = Extracted()
        guard let json = object(data) else {
            out.invalidReason = "the result file is not a JSON object: \(String(decoding: data.prefix(80), as: UTF8.self))"
            return out
        }
        // A `null` with its `<key>_unavailable` reason is allowed (the value could not be produced);
        // the structure is checked with a placeholder in its place, and the metric is left unmeasured.
        var shape = json
        for (key, value) in json where key.hasSuffix(TrainResult.unavailableSuffix) {
            let base = String(key.dropLast(TrainResult.unavailableSuffix.count))
            guard value is String, TrainResult.keys.contains(base), shape[base] is NSNull else { continue }
            shape[key] = nil
            shape[base] = 0
        }
        if let unknown = shape.keys.sorted().first(where: { !TrainResult.keys.contains($0) }) {
            out.invalidReason = "result has a key outside the contract: '\(unknown)'"
            return out
        }
        let result: TrainResult
        do {
            let shaped = try JSONSerialization.data(withJSONObject: shape)
            result = try JSONDecoder().decode(TrainResult.self, from: shaped)
        } catch {
            out.invalidReason = "result does not decode as the train contract: \(describe(error))"
            return out
        }
        let echo = result.config.mapValues(\.description)
        out.effectiveConfig = echo
        if let mismatch = echoMismatch(requested: requested, echo: echo, model: result.model) {
            out.invalidReason = mismatch
            return out
        }
        var extracted = fromTrainJSON(json, strict: true)
        extracted.effectiveConfig = echo
        return extracted
    }

    /// The knobs whose echoed value differs from the requested one (only knobs that apply to the
    /// run), as one line; nil when they agree.
    public static func echoMismatch(requested: [String: String], echo: [String: String], model: String) -> String? {
        func effective(_ k: Knob) -> String { echo[k.name] ?? k.spec.defaultValue }
        var diffs: [String] = []
        for (name, value) in requested.sorted(by: { $0.key < $1.key }) {
            guard let knob = Knob(name: name), knob.spec.applies(model: model, value: effective) else { continue }
            let wanted = (try? knob.spec.canonical(value)) ?? value
            guard let got = echo[name] else { diffs.append("\(name): requested \(wanted), not echoed"); continue }
            if got != wanted { diffs.append("\(name): requested \(wanted), engine ran \(got)") }
        }
        return diffs.isEmpty ? nil : "the engine's config echo differs from the request: " + diffs.joined(separator: "; ")
    }

    private static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .keyNotFound(let key, let c): return "missing key '\((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "'\(path(c))': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// Parses a JSON object from `data`, every number exactly as written (`ExactJSON`:
    /// `JSONSerialization`'s reader is off by a bit for about one number in five); nil when it is
    /// not one.
    static func object(_ data: Data) -> [String: Any]? {
        ExactJSON.object(with: data)
    }

    static func number(_ any: Any?) -> Double? {
        guard let any, !(type(of: any) == Bool.self) else { return nil }
        // Objects built by JSONSerialization (not `object`) hold `true`/`false` as an NSNumber of
        // ObjC type "c" (char) on Linux, which bridges to 1.0/0.0: a JSON boolean is not a measurement.
        if let n = any as? NSNumber, String(cString: n.objCType) == "c" { return nil }
        if let d = any as? Double { return d }
        if let i = any as? Int { return Double(i) }
        return (any as? NSNumber)?.doubleValue
    }

    /// Metrics of a train-contract JSON object. `strict` (engine `rectune`) requires every contract
    /// key and a finite, positive `samples_per_sec`; lenient mode (external commands) takes what is
    /// there: top-level numbers, one level of nested numbers (`step_ms.p99`), and counters.
    public static func fromTrainJSON(_ json: [String: Any], strict: Bool, fallbackSteps: Int = 0, fallbackWarmup: Int = 0) -> Extracted {
        var out = Extracted()
        if strict, let missing = contractKeys.first(where: { json[$0] == nil }) {
            out.invalidReason = "result is missing the contract key '\(missing)'"
            return out
        }
        if json["samples_per_sec"] != nil || strict {
            guard let sps = number(json["samples_per_sec"]), sps.isFinite, sps > 0 else {
                out.invalidReason = "samples_per_sec is not a finite positive number: \(json["samples_per_sec"].map { "\($0)" } ?? "null")"
                return out
            }
        }
        // `"auc": null, "auc_unavailable": "…"`: a value the engine could not produce, with its reason.
        for (key, value) in json where key.hasSuffix(TrainResult.unavailableSuffix) {
            if let reason = value as? String { out.unavailable[String(key.dropLast(TrainResult.unavailableSuffix.count))] = reason }
        }
        let info = json["counter_info"] as? [String: Any] ?? [:]
        for (name, raw) in info {
            if let reason = (raw as? [String: Any])?["unavailable"] as? String { out.unavailable[name] = reason }
        }
        // Run-shape echoes (steps, batch …) are not measurements; counters are handled below.
        let special: Set<String> = ["counters", "counters_warmup", "counter_info", "config", "engine", "profile",
                                    "steps", "warmup_steps", "batch", "eval_rows"]
        for (key, value) in json where !special.contains(key) {
            if let v = number(value) {
                out.metrics.append(MetricValue(name: key, phase: key == "wall_s" ? "total" : "steady", value: v,
                                               unit: MetricCatalog.spec(key)?.unit ?? "", source: "result"))
            } else if let nested = value as? [String: Any] {
                for (sub, subValue) in nested {
                    if let v = number(subValue) {
                        let name = "\(key).\(sub)"
                        out.metrics.append(MetricValue(name: name, value: v, unit: MetricCatalog.spec(name)?.unit ?? "", source: "result"))
                    }
                }
            }
        }
        if strict, let stepMs = json["step_ms"] as? [String: Any],
           let missing = ["p50", "p90", "p99", "mean"].first(where: { number(stepMs[$0]) == nil }) {
            out.invalidReason = "step_ms is missing '\(missing)'"
            return out
        }
        let steps = number(json["steps"]).map(Int.init) ?? fallbackSteps
        let warmup = number(json["warmup_steps"]).map(Int.init) ?? fallbackWarmup
        out.metrics += counters(json["counters"], phase: "steady", steps: steps, info: info, unavailable: out.unavailable)
        out.metrics += counters(json["counters_warmup"], phase: "warmup", steps: warmup, info: info, unavailable: out.unavailable)
        out.metrics.sort { ($0.phase, $0.name) < ($1.phase, $1.name) }
        return out
    }

    /// Counter metrics of one phase (never for unavailable counters) plus derived per-step values.
    static func counters(_ raw: Any?, phase: String, steps: Int, info: [String: Any], unavailable: [String: String]) -> [MetricValue] {
        guard let dict = raw as? [String: Any] else { return [] }
        var values: [String: Double] = [:]
        var metrics: [MetricValue] = []
        for (name, any) in dict where unavailable[name] == nil {
            guard let v = number(any), v.isFinite else { continue }
            values[name] = v
            let i = info[name] as? [String: Any] ?? [:]
            metrics.append(MetricValue(name: name, phase: phase, value: v, unit: i["unit"] as? String ?? "",
                                       source: i["source"] as? String ?? "engine", scaled: i["scaled"] as? Bool ?? false))
        }
        if steps > 0 {
            for metric in MetricCatalog.perStepMetrics {
                if let counter = metric.perStepCounter, let v = values[counter.name] {
                    metrics.append(MetricValue(name: metric.name, phase: phase, value: v / Double(steps), unit: metric.unit, source: "derived"))
                }
            }
        }
        return metrics
    }

    /// Metrics of a `rectune measure --json` object (phase `total`): counters with their info,
    /// rusage values as `rusage.<field>`, `wall_s`, and counters per step over `steps`.
    public static func fromMeasureJSON(_ json: [String: Any], steps: Int) -> Extracted {
        var out = Extracted()
        // `"auc": null, "auc_unavailable": "…"`: a value the engine could not produce, with its reason.
        for (key, value) in json where key.hasSuffix(TrainResult.unavailableSuffix) {
            if let reason = value as? String { out.unavailable[String(key.dropLast(TrainResult.unavailableSuffix.count))] = reason }
        }
        let info = json["counter_info"] as? [String: Any] ?? [:]
        for (name, raw) in info {
            if let reason = (raw as? [String: Any])?["unavailable"] as? String { out.unavailable[name] = reason }
        }
        out.metrics = counters(json["counters"], phase: "total", steps: steps, info: info, unavailable: out.unavailable)
            .map { var m = $0; if m.source == "engine" { m.source = "perf_event" }; return m }
        for (key, any) in json["rusage"] as? [String: Any] ?? [:] {
            if let v = number(any) { out.metrics.append(MetricValue(name: "rusage.\(key)", phase: "total", value: v, source: "rusage")) }
        }
        if let wall = number(json["wall_s"]) {
            out.metrics.append(MetricValue(name: "wall_s", phase: "total", value: wall, unit: "s", source: "measure"))
        }
        return out
    }

    /// The last line of `text` that parses as a JSON object.
    public static func lastJSONLine(_ text: String) -> [String: Any]? {
        for line in text.split(whereSeparator: \.isNewline).reversed() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("{") else { continue }
            if let obj = object(Data(trimmed.utf8)) { return obj }
        }
        return nil
    }

    /// Metrics from regexes over stdout (each pattern's first capture group, parsed as a number);
    /// invalid when a pattern does not match or does not capture a number.
    /// Metrics of a one-number-per-line result file: line i (1-based, blank lines skipped) is
    /// `metrics[i-1]`. A missing line or a non-number is an invalid result naming the file and line.
    public static func fromLines(_ text: String, metrics: [String], path: String) -> Extracted {
        var out = Extracted()
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for (i, name) in metrics.enumerated() {
            guard i < lines.count else {
                out.invalidReason = "\(path): \(lines.count) line(s), expected \(metrics.count) (\(metrics.joined(separator: ", ")))"
                return out
            }
            guard let v = Double(lines[i]), v.isFinite else {
                out.invalidReason = "\(path):\(i + 1): '\(lines[i])' is not a number (\(name))"
                return out
            }
            out.metrics.append(MetricValue(name: name, value: v, source: "result"))
        }
        return out
    }

    public static func fromRegex(_ patterns: [String: String], stdout: String) -> Extracted {
        var out = Extracted()
        for (metric, pattern) in patterns.sorted(by: { $0.key < $1.key }) {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            let range = NSRange(stdout.startIndex..., in: stdout)
            guard let match = regex.matches(in: stdout, range: range).last, match.numberOfRanges > 1,
                  let r = Range(match.range(at: 1), in: stdout), let v = Double(stdout[r]), v.isFinite else {
                out.invalidReason = "the pattern for '\(metric)' (\(pattern)) did not match a number in stdout"
                return out
            }
            out.metrics.append(MetricValue(name: metric, value: v, source: "result"))
        }
        return out
    }
}
