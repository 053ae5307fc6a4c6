import Foundation
import RecContract
import RecStats

/// A metric the gate checks and the relative change that counts as a regression (0.05 = 5%).
public struct GateMetric: Sendable, Equatable {
    public var name: String
    public var threshold: Double
    /// Creates a gate metric.
    public init(name: String, threshold: Double) { self.name = name; self.threshold = threshold }

    /// Parses `NAME[:threshold]`; the default threshold is 0.05.
    /// - Throws: `SelectorError` naming the text when the threshold is not a number in (0, 10).
    public static func parse(_ text: String, defaultThreshold: Double = 0.05) throws -> GateMetric {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty else { throw SelectorError(message: "--metric '\(text)': empty metric name") }
        guard parts.count == 2 else { return GateMetric(name: name, threshold: defaultThreshold) }
        let raw = parts[1].hasSuffix("%") ? String(parts[1].dropLast()) : parts[1]
        guard let t = Double(raw), t.isFinite, t > 0 else {
            throw SelectorError(message: "--metric '\(text)': threshold '\(parts[1])' is not a positive number (e.g. 0.05 or 5%)")
        }
        let threshold = parts[1].hasSuffix("%") ? t / 100 : t
        guard threshold < 10 else { throw SelectorError(message: "--metric '\(text)': threshold \(threshold) is too large") }
        return GateMetric(name: name, threshold: threshold)
    }

    /// The gate's default metrics: samples/s at 5%, step p99 at 10%.
    public static let defaults = [GateMetric(name: "samples_per_sec", threshold: 0.05), GateMetric(name: "step_ms.p99", threshold: 0.10)]
}

/// Options of the regression gate.
public struct GateOptions: Sendable {
    public var metrics: [GateMetric]
    public var alpha: Double
    /// Treat "inconclusive" as failure (exit 1 instead of 3).
    public var inconclusiveFails: Bool
    /// Compare runs from hosts whose comparability keys differ.
    public var force: Bool
    /// Creates options; see the field docs.
    public init(metrics: [GateMetric] = GateMetric.defaults, alpha: Double = 0.05, inconclusiveFails: Bool = false, force: Bool = false) {
        self.metrics = metrics; self.alpha = alpha; self.inconclusiveFails = inconclusiveFails; self.force = force
    }
}

/// Why the gate could not compare (exit 2).
public struct GateError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// Creates an error with the message shown to the user.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The gate's decision.
public struct GateResult: Sendable {
    public var baselineLabel: String
    public var candidateLabel: String
    public var comparisons: [MetricComparison]
    public var thresholds: [String: Double]
    public var baselineOK: Int
    public var candidateOK: Int
    /// 0 no regression, 1 regression (or inconclusive with `inconclusiveFails`), 3 inconclusive.
    public var exitCode: Int32
    /// One line, e.g. `REGRESSION: samples_per_sec -12.0% [-15.1%, -9.2%]`.
    public var bottomLine: String
    /// Host note (e.g. "hosts differ, compared with --force: …"), empty when the hosts match.
    public var hostNote: String

    /// The Markdown summary printed on stdout for CI logs.
    public var markdown: String {
        var out = "### rectune check: `\(baselineLabel)` → `\(candidateLabel)`\n\n"
        out += "baseline: \(baselineOK) ok runs · candidate: \(candidateOK) ok runs\n\n"
        if !hostNote.isEmpty { out += "> \(hostNote)\n\n" }
        let table = ReportTable(
            header: ["metric", "baseline median", "candidate median", "ratio [95% CI]", "p", "threshold", "verdict"],
            rows: comparisons.map { c in
                [c.metric, Fmt.num(c.baselineMedian), Fmt.num(c.candidateMedian), Fmt.ratioCI(c.ratio), Fmt.p(c.pValue),
                 "±" + Fmt.percent(thresholds[c.metric]).dropFirst(), c.ratio == nil && c.verdict == .inconclusive ? "n/a" : c.verdict.marker]
            },
            rightAligned: [false, true, true, true, true, true, false])
        out += table.markdown() + "\n"
        for c in comparisons { out += "- `\(c.metric)`: \(c.reason)\n" }
        out += "\n**\(bottomLine)** (exit \(exitCode))\n"
        return out
    }
}

/// The CI regression gate: compares a candidate run set with a baseline run set per metric.
public enum RegressionGate {
    /// Compares `candidate` with `baseline` under `options`.
    /// - Throws: `GateError` (exit 2) when the hosts are not comparable and `force` is off, or a side has no ok runs.
    public static func evaluate(baseline: RunSet, candidate: RunSet, options: GateOptions,
                                rule: ComparisonRule = ComparisonRule()) throws -> GateResult {
        var hostNote = ""
        let hosts = baseline.distinctHosts + candidate.distinctHosts
        if let first = hosts.first, let other = hosts.first(where: { $0.comparabilityKey != first.comparabilityKey }) {
            let diff = describeDifference(first, other)
            if !options.force {
                throw GateError("refusing to compare runs from different hosts (\(diff)); rerun on one machine or pass --force")
            }
            hostNote = "hosts differ (\(diff)); compared anyway because of --force"
        }
        guard !baseline.okRuns.isEmpty else { throw GateError("baseline '\(baseline.label)' has no ok runs (\(baseline.runs.count) runs stored)") }
        guard !candidate.okRuns.isEmpty else { throw GateError("candidate '\(candidate.label)' has no ok runs (\(candidate.runs.count) runs stored)") }
        // A metric that is neither one rectune knows nor one a run of either side measured (or knew as
        // unavailable) is a typo: a usage error, not "inconclusive".
        let stored = Set((baseline.runs + candidate.runs).flatMap { $0.metrics.map(\.name) + Array($0.unavailable.keys) })
        func isKnown(_ name: String) -> Bool {
            stored.contains(name) || MetricCatalog.spec(name) != nil
        }
        let known = stored.union(options.metrics.map(\.name).filter(isKnown))
        for m in options.metrics where !isKnown(m.name) {
            let close = SpecError.closest(to: m.name, in: known.sorted())
            throw GateError("unknown metric '\(m.name)': no run of either side has it"
                            + (close.map { "; did you mean '\($0)'?" } ?? "")
                            + "; stored metrics: \(known.sorted().prefix(30).joined(separator: ", "))")
        }
        var r = rule
        r.alpha = options.alpha
        let analyzer = ExperimentAnalyzer(rule: r, thresholds: Dictionary(options.metrics.map { ($0.name, $0.threshold) },
                                                                           uniquingKeysWith: { _, b in b }))
        let comparisons = options.metrics.map { m -> MetricComparison in
            let b = baseline.values(m.name), c = candidate.values(m.name)
            var cmp = analyzer.compare(m.name, baseline: b, candidate: c)
            if b.isEmpty || c.isEmpty {
                cmp.reason = "n/a (\(b.isEmpty ? baseline.unavailableReason(m.name) : candidate.unavailableReason(m.name)))"
                return cmp
            }
            // The minimum sample count comes before any verdict: one run per side proves nothing either way.
            if b.count < r.minSamples || c.count < r.minSamples {
                cmp.verdict = .inconclusive
                cmp.reason = "too few runs: \(b.count) baseline, \(c.count) candidate (need at least \(r.minSamples) per side)"
                return cmp
            }
            return nonInferiority(cmp, threshold: m.threshold)
        }
        let regressed = comparisons.filter { $0.verdict == .regressed }
        let inconclusive = comparisons.filter { $0.verdict == .inconclusive }
        let exit: Int32
        let bottom: String
        func change(_ c: MetricComparison) -> String {
            guard let r = c.ratio else { return "\(c.metric) n/a" }
            return "\(c.metric) \(Fmt.percent(r.value - 1)) [\(Fmt.percent(r.low - 1)), \(Fmt.percent(r.high - 1))]"
        }
        if !regressed.isEmpty {
            exit = 1
            bottom = "REGRESSION: " + regressed.map(change).joined(separator: "; ")
        } else if !inconclusive.isEmpty {
            exit = options.inconclusiveFails ? 1 : 3
            bottom = "INCONCLUSIVE (too noisy or too few runs to tell): " + inconclusive.map(change).joined(separator: "; ")
                + (options.inconclusiveFails ? " — failing because of --inconclusive-fails" : "")
        } else {
            exit = 0
            let improved = comparisons.filter { $0.verdict == .improved }
            bottom = "NO REGRESSION" + (improved.isEmpty ? "" : "; improved: " + improved.map(change).joined(separator: "; "))
        }
        return GateResult(baselineLabel: baseline.label, candidateLabel: candidate.label, comparisons: comparisons,
                          thresholds: Dictionary(options.metrics.map { ($0.name, $0.threshold) }, uniquingKeysWith: { _, b in b }),
                          baselineOK: baseline.okRuns.count, candidateOK: candidate.okRuns.count,
                          exitCode: exit, bottomLine: bottom, hostNote: hostNote)
    }

    /// The gate asks one-sided "is it worse by more than the threshold?", so an inconclusive two-sided
    /// verdict whose CI rules out a regression beyond the threshold (the CI's bad-side bound lies within
    /// it: a non-inferiority test) counts as unchanged. Improvements of any size never fail the gate.
    static func nonInferiority(_ cmp: MetricComparison, threshold: Double) -> MetricComparison {
        guard cmp.verdict == .inconclusive, let r = cmp.ratio, r.low.isFinite, r.high.isFinite else { return cmp }
        let badBound = cmp.higherIsBetter ? r.low : r.high
        let ok = cmp.higherIsBetter ? badBound >= 1 - threshold : badBound <= 1 + threshold
        guard ok else { return cmp }
        var out = cmp
        out.verdict = .unchanged
        out.reason = "no regression beyond \(Fmt.percent(threshold).dropFirst()): CI bound on the worse side \(Fmt.ratio(badBound)) "
            + "is within it (one-sided); two-sided: \(cmp.reason)"
        return out
    }

    /// The comparability fields that differ, e.g. `cpu: Xeon 8269 vs EPYC 7B12; cores: 2 vs 4`.
    public static func describeDifference(_ a: HostFingerprint, _ b: HostFingerprint) -> String {
        var d: [String] = []
        if a.cpuModel != b.cpuModel { d.append("cpu: \(a.cpuModel) vs \(b.cpuModel)") }
        if a.cpuFlags != b.cpuFlags { d.append("cpu flags: \(a.cpuFlags) vs \(b.cpuFlags)") }
        if a.logicalCores != b.logicalCores { d.append("cores: \(a.logicalCores) vs \(b.logicalCores)") }
        if a.numaNodes != b.numaNodes { d.append("NUMA nodes: \(a.numaNodes) vs \(b.numaNodes)") }
        if a.memoryBytes / (1 << 30) != b.memoryBytes / (1 << 30) {
            d.append("memory: \(a.memoryBytes / (1 << 30)) GiB vs \(b.memoryBytes / (1 << 30)) GiB")
        }
        if a.onednnISA != b.onednnISA { d.append("oneDNN ISA: \(a.onednnISA) vs \(b.onednnISA)") }
        return d.isEmpty ? "fingerprints differ" : d.joined(separator: "; ")
    }
}
