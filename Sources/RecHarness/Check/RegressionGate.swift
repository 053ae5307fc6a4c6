import Foundation
import RecContract
import RecStats

/// A metric the gate checks and the change that counts as a regression (relative, e.g. 5%, or absolute).
public struct GateMetric: Sendable, Equatable {
    public var name: String
    public var threshold: ChangeThreshold
    /// Creates a gate metric.
    public init(name: String, threshold: ChangeThreshold) { self.name = name; self.threshold = threshold }
    /// Creates a gate metric with a relative threshold (0.05 = 5%).
    public init(name: String, threshold: Double) { self.init(name: name, threshold: .relative(threshold)) }

    /// Parses `NAME[:T]` with T as `5%`, `0.05` (relative) or `abs:0.001` (absolute). Without T: the
    /// catalog's threshold when it is absolute (AUC, logloss), else `defaultThreshold` (relative).
    /// - Parameter known: metric names accepted besides the catalog's (e.g. stored or command-declared
    ///   metrics); nil accepts any name.
    /// - Throws: `SelectorError` naming the text: an unknown metric (with did-you-mean) or a bad threshold.
    public static func parse(_ text: String, defaultThreshold: Double = 0.05, known: Set<String>? = []) throws -> GateMetric {
        let (name, threshold) = try MetricArgument.parse(text, known: known)
        if let threshold { return GateMetric(name: name, threshold: threshold) }
        if case .absolute(let a)? = MetricCatalog.spec(name)?.threshold { return GateMetric(name: name, threshold: .absolute(a)) }
        return GateMetric(name: name, threshold: .relative(defaultThreshold))
    }

    /// The gate's default metrics: samples/s at 5%, step p99 at 10%.
    public static let defaults = [GateMetric(name: "samples_per_sec", threshold: 0.05), GateMetric(name: "step_ms.p99", threshold: 0.10)]
}

/// `--metric NAME[:T]` as report, compare and check take it.
public enum MetricArgument {
    /// Splits `NAME[:T]` and checks both parts.
    /// - Parameter known: names accepted besides the catalog's; nil accepts any name (external commands).
    /// - Throws: `SelectorError`: an unknown metric with the closest known names, or a threshold that is not
    ///   `5%`, `0.05` or `abs:0.001`.
    public static func parse(_ text: String, known: Set<String>? = []) throws -> (name: String, threshold: ChangeThreshold?) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty else { throw SelectorError(message: "--metric '\(text)': empty metric name") }
        try checkName(name, known: known, context: "--metric '\(text)'")
        guard parts.count == 2 else { return (name, nil) }
        guard let t = ChangeThreshold(parsing: parts[1]) else {
            throw SelectorError(message: "--metric '\(text)': threshold '\(parts[1])' is not 5%, 0.05 (relative) or abs:0.001 (absolute)")
        }
        if case .relative(let r) = t, !(r > 0 && r < 10) {
            throw SelectorError(message: "--metric '\(text)': relative threshold \(r) must be in (0, 10)")
        }
        if case .absolute(let a) = t, !(a > 0) {
            throw SelectorError(message: "--metric '\(text)': absolute threshold must be positive")
        }
        return (name, t)
    }

    /// Throws unless `name` is a catalog metric, one of `known`, or `known` is nil.
    public static func checkName(_ name: String, known: Set<String>?, context: String) throws {
        guard let known, MetricCatalog.spec(name) == nil, !known.contains(name) else { return }
        let pool = MetricCatalog.all.map(\.name) + known.sorted()
        let near = MetricCatalog.suggestions(for: name, among: pool)
        throw SelectorError(message: "\(context): unknown metric '\(name)'"
                            + (near.isEmpty ? "" : "; did you mean \(near.map { "'\($0)'" }.joined(separator: " or "))?")
                           )
    }
}

/// Options of the regression gate.
public struct GateOptions: Sendable {
    public var metrics: [GateMetric]
    /// One-sided error rate of the whole check (Bonferroni-split over the judged metrics).
    public var alpha: Double
    /// Treat "inconclusive" as failure (exit 1 instead of 3).
    public var inconclusiveFails: Bool
    /// Compare runs from hosts whose comparability keys differ.
    public var force: Bool
    /// The two sides were measured interleaved (`check --ab`): the runs of repeat r of both sides ran
    /// back to back, so the change is estimated from the per-round pairs (the Wilcoxon signed-rank
    /// interval of the paired log ratios), which cancels machine drift between rounds.
    public var paired: Bool
    /// Creates options; see the field docs.
    public init(metrics: [GateMetric] = GateMetric.defaults, alpha: Double = 0.05, inconclusiveFails: Bool = false, force: Bool = false,
                paired: Bool = false) {
        self.metrics = metrics; self.alpha = alpha; self.inconclusiveFails = inconclusiveFails; self.force = force
        self.paired = paired
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
    public var thresholds: [String: ChangeThreshold]
    public var baselineOK: Int
    public var candidateOK: Int
    /// 0 no regression, 1 regression (or inconclusive with `inconclusiveFails`), 3 inconclusive.
    public var exitCode: Int32
    /// One line, e.g. `REGRESSION: samples_per_sec -12.0% [-15.1%, -9.2%]`.
    public var bottomLine: String
    /// Host note (e.g. "hosts differ, compared with --force: …"), empty when the hosts match.
    public var hostNote: String
    /// Two-sided level of the intervals shown (1 − 2α/k: each bad-side bound is one-sided at 1 − α/k).
    public var level: Double = 0.95
    /// Per metric: repeats per side the observed noise needs for a decisive answer (nil when not estimable).
    public var repeatsNeeded: [String: Int] = [:]
    /// True when the change was estimated from interleaved pairs (`GateOptions.paired`).
    public var paired = false

    /// The Markdown summary printed on stdout for CI logs.
    public var markdown: String {
        var out = "### rectune check: `\(baselineLabel)` → `\(candidateLabel)`\n\n"
        out += "baseline: \(baselineOK) ok runs · candidate: \(candidateOK) ok runs\n\n"
        if !hostNote.isEmpty { out += "> \(hostNote)\n\n" }
        let pct = String(format: "%g", (level * 100 * 10).rounded() / 10)
        let table = ReportTable(
            header: ["metric", "baseline median", "candidate median", "change [\(pct)% CI]", "p (BH q)", "threshold", "verdict",
                     "repeats needed"],
            rows: comparisons.map { c in
                [c.metric, Fmt.num(c.baselineMedian), Fmt.num(c.candidateMedian), Fmt.change(c), Fmt.pq(c),
                 thresholds[c.metric]?.description ?? c.threshold, Fmt.verdict(c), repeatsNeeded[c.metric].map(String.init) ?? "–"]
            },
            rightAligned: [false, true, true, true, true, true, false, true])
        out += table.markdown() + "\n"
        for c in comparisons { out += "- `\(c.metric)`: \(c.reason)\n" }
        out += "\nchange = Hodges–Lehmann ratio (or shift, for absolute thresholds) with its exact Mann–Whitney CI"
            + (paired ? " — here from the interleaved A/B rounds: the signed-rank interval of the per-round ratios. " : ". ")
            + "A regression needs the whole \(pct)% CI of the change beyond the threshold on the bad side; "
            + "\"no regression\" needs its bad-side bound within the threshold (one-sided non-inferiority, Bonferroni over the "
            + "judged metrics). Neutral diagnostics are shown, never judged. \"repeats needed\": runs per side that the "
            + "observed robust CV needs for a decisive answer 90% of the time when nothing changed.\n"
        out += "\n**\(bottomLine)** (exit \(exitCode))\n"
        return out
    }
}

/// The CI regression gate: compares a candidate run set with a baseline run set per metric.
///
/// Per metric (t = its threshold; k = number of non-neutral metrics; the change is the Hodges–Lehmann
/// estimate — of the log values for a relative threshold, so a ratio — with its exact distribution-free
/// Mann–Whitney CI at two-sided level 1 − 2α/k, so each end is a one-sided 1 − α/k bound; more efficient
/// at 5–10 repeats than a bootstrap CI of medians, and consistent with the Mann–Whitney test):
/// - **regressed** when the whole interval lies beyond t on the bad side (the change is worse than t with
///   confidence), or for a deterministic metric when the change itself is worse than t;
/// - **unchanged** ("no regression") when the bad-side bound lies within t (non-inferiority: a regression
///   as large as t is ruled out), **improved** when the two-sided report rule also says improved;
/// - **inconclusive** otherwise (exit 3): the interval straddles −t.
/// Neutral diagnostics are shown with their change and excluded from the decision. Under A/A (no true
/// change) a false "regression" needs a one-sided bound to miss the true value by more than t, which
/// happens far less often than α/k; see `RecHarnessTests.GateSimulationTests` for measured rates.
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
        let judged = options.metrics.filter { MetricCatalog.specOrGuess($0.name).polarity != .neutral }.count
        var r = rule
        r.alpha = options.alpha
        r.level = 1 - 2 * options.alpha / Double(max(judged, 1))
        let thresholds = Dictionary(options.metrics.map { ($0.name, $0.threshold) }, uniquingKeysWith: { _, b in b })
        let analyzer = ExperimentAnalyzer(rule: r, thresholds: thresholds)
        var comparisons = analyzer.compareAll(options.metrics.map { m in
            let b = baseline.values(m.name), c = candidate.values(m.name)
            return (m.name, b, c, MetricResult(metric: m.name, stats: nil, unavailableReason: baseline.unavailableReason(m.name)),
                    MetricResult(metric: m.name, stats: nil, unavailableReason: candidate.unavailableReason(m.name)))
        }, spec: baseline.spec?.repeatSeed == .vary && candidate.spec?.repeatSeed == .vary ? baseline.spec : nil)
        var needed: [String: Int] = [:]
        for (i, m) in options.metrics.enumerated() {
            let b = baseline.values(m.name), c = candidate.values(m.name)
            if b.isEmpty || c.isEmpty { comparisons[i].reason = "n/a (\(comparisons[i].reason))"; continue }
            // The minimum sample count comes before any verdict: one run per side proves nothing either way.
            if b.count < r.minSamples || c.count < r.minSamples {
                comparisons[i].verdict = .inconclusive
                comparisons[i].reason = "too few runs: \(b.count) baseline, \(c.count) candidate (need at least \(r.minSamples) per side)"
                continue
            }
            let pairs = options.paired ? Self.pairs(m.name, baseline: baseline, candidate: candidate) : nil
            comparisons[i] = nonInferiority(comparisons[i], threshold: m.threshold, baseline: b, candidate: c, level: r.level, pairs: pairs)
            if !comparisons[i].neutral && !comparisons[i].deterministic {
                let a = options.alpha / Double(max(judged, 1))
                if let pairs, pairs.count >= 2 {
                    needed[m.name] = repeatsNeeded(pairs: pairs, threshold: m.threshold, alpha: a)
                } else {
                    needed[m.name] = repeatsNeeded(baseline: b, candidate: c, threshold: m.threshold, alpha: a)
                }
            }
        }
        let counted = comparisons.filter { !$0.neutral }
        let regressed = counted.filter { $0.verdict == .regressed }
        let inconclusive = counted.filter { $0.verdict == .inconclusive }
        let exit: Int32
        let bottom: String
        if !regressed.isEmpty {
            exit = 1
            bottom = "REGRESSION: " + regressed.map(changeLine).joined(separator: "; ")
        } else if !inconclusive.isEmpty {
            exit = options.inconclusiveFails ? 1 : 3
            let more = inconclusive.compactMap { c in needed[c.metric].map { "\(c.metric) ~\($0)" } }
            bottom = "INCONCLUSIVE (too noisy or too few runs to tell): " + inconclusive.map(changeLine).joined(separator: "; ")
                + (more.isEmpty ? "" : " — repeats per side needed: " + more.joined(separator: ", "))
                + (options.inconclusiveFails ? " — failing because of --inconclusive-fails" : "")
        } else {
            exit = 0
            let improved = counted.filter { $0.verdict == .improved }
            bottom = "NO REGRESSION" + (improved.isEmpty ? "" : "; improved: " + improved.map(changeLine).joined(separator: "; "))
        }
        var result = GateResult(baselineLabel: baseline.label, candidateLabel: candidate.label, comparisons: comparisons,
                                thresholds: thresholds, baselineOK: baseline.okRuns.count, candidateOK: candidate.okRuns.count,
                                exitCode: exit, bottomLine: bottom, hostNote: hostNote)
        result.level = r.level
        result.repeatsNeeded = needed
        result.paired = options.paired
        return result
    }

    static func changeLine(_ c: MetricComparison) -> String {
        if c.baselineMedian == nil || c.candidateMedian == nil { return "\(c.metric) n/a" }
        if !c.threshold.hasSuffix("%") || c.baselineMedian == 0, let d = c.difference {
            return "\(c.metric) \(Fmt.signed(d.value))" + (c.deterministic ? "" : " [\(Fmt.signed(d.low)), \(Fmt.signed(d.high))]")
        }
        guard let r = c.ratio else { return "\(c.metric) n/a" }
        return "\(c.metric) \(Fmt.percent(r.value - 1))" + (c.deterministic ? "" : " [\(Fmt.percent(r.low - 1)), \(Fmt.percent(r.high - 1))]")
    }

    /// The gate's one-sided decision (see the type's documentation), replacing the two-sided report verdict
    /// of a non-neutral, non-deterministic comparison.
    /// (baseline, candidate) values of the same repeat index on both sides (interleaved rounds), ok runs only.
    static func pairs(_ metric: String, baseline: RunSet, candidate: RunSet) -> [(b: Double, c: Double)] {
        func byRepeat(_ s: RunSet) -> [Int: Double] {
            var out: [Int: Double] = [:]
            for r in s.okRuns { if let v = RunMetrics.value(metric, in: r, steadySteps: s.steadySteps[r.id] ?? 1) { out[r.repeatIndex] = v } }
            return out
        }
        let b = byRepeat(baseline), c = byRepeat(candidate)
        return b.keys.filter { c[$0] != nil }.sorted().map { (b[$0]!, c[$0]!) }
    }

    static func nonInferiority(_ cmp: MetricComparison, threshold: ChangeThreshold, baseline b: [Double], candidate c: [Double],
                               level: Double, pairs: [(b: Double, c: Double)]? = nil) -> MetricComparison {
        guard !cmp.neutral, !cmp.deterministic else { return cmp }
        var cmp = cmp
        let interval: Interval?
        let (lo, hi): (Double, Double)
        var how = ""
        switch threshold {
        case .relative(let t) where pairs.map({ $0.count >= 2 && $0.allSatisfy { $0.b > 0 && $0.c > 0 } }) == true:
            // paired rounds: the signed-rank interval of the per-round log ratios
            guard let sr = SignedRank.interval(pairs!.map { Foundation.log($0.c / $0.b) }, level: level) else {
                return tooFew(cmp, level: level)
            }
            cmp.ratio = Interval(value: Foundation.exp(sr.center), low: Foundation.exp(sr.ci.lower), high: Foundation.exp(sr.ci.upper))
            interval = cmp.ratio
            (lo, hi) = (1 - t, 1 + t)
            how = " (\(pairs!.count) interleaved pairs)"
        case .absolute(let a) where pairs.map({ $0.count >= 2 }) == true:
            guard let sr = SignedRank.interval(pairs!.map { $0.c - $0.b }, level: level) else { return tooFew(cmp, level: level) }
            cmp.difference = Interval(value: sr.center, low: sr.ci.lower, high: sr.ci.upper)
            interval = cmp.difference
            (lo, hi) = (-a, a)
            how = " (\(pairs!.count) interleaved pairs)"
        case .relative(let t):
            // ratio = exp(Hodges–Lehmann shift of the logs) with its exact Mann–Whitney bounds (positive data)
            if b.allSatisfy({ $0 > 0 }), c.allSatisfy({ $0 > 0 }) {
                guard let hl = HodgesLehmann.interval(c.map { Foundation.log($0) }, b.map { Foundation.log($0) }, level: level) else {
                    return tooFew(cmp, level: level)
                }
                cmp.ratio = Interval(value: Foundation.exp(hl.shift), low: Foundation.exp(hl.ci.lower), high: Foundation.exp(hl.ci.upper))
                interval = cmp.ratio
            } else {
                interval = cmp.baselineMedian == 0 ? nil : cmp.ratio
            }
            (lo, hi) = (1 - t, 1 + t)
        case .absolute(let a):
            guard let hl = HodgesLehmann.interval(c, b, level: level) else { return tooFew(cmp, level: level) }
            cmp.difference = Interval(value: hl.shift, low: hl.ci.lower, high: hl.ci.upper)
            interval = cmp.difference
            (lo, hi) = (-a, a)
        }
        guard let ci = interval, ci.low.isFinite, ci.high.isFinite else { return cmp }
        let worse = cmp.higherIsBetter ? ci.low : ci.high
        let better = cmp.higherIsBetter ? ci.high : ci.low
        let tText = threshold.description
        func bound(_ x: Double) -> String {
            if case .absolute = threshold { return Fmt.signed(x) }
            return Fmt.ratio(x)
        }
        var out = cmp
        let twoSided = "two-sided: \(cmp.verdict.rawValue) (\(cmp.reason))"
        if cmp.higherIsBetter ? better < lo : better > hi {
            out.verdict = .regressed
            out.reason = "regression beyond \(tText): even the better-side bound \(bound(better)) is beyond it (one-sided\(how)); \(twoSided)"
        } else if cmp.higherIsBetter ? worse >= lo : worse <= hi {
            out.verdict = cmp.verdict == .improved ? .improved : .unchanged
            out.reason = "no regression beyond \(tText): the worse-side bound \(bound(worse)) is within it (one-sided\(how)); \(twoSided)"
        } else {
            out.verdict = .inconclusive
            out.reason = "the worse-side bound \(bound(worse)) is beyond \(tText) and the better-side bound \(bound(better)) within it\(how): "
                + "cannot rule a regression in or out; \(twoSided)"
        }
        return out
    }

    /// Rounds needed in paired mode: n = (π/3) · s² · (z_{1−α} + z_{0.9})² / t², s the robust SD of the per-round
    /// log ratios (relative threshold) or differences (absolute); π/3 is the signed-rank HL's normal efficiency loss.
    public static func repeatsNeeded(pairs: [(b: Double, c: Double)], threshold: ChangeThreshold, alpha: Double) -> Int? {
        let d: [Double], t: Double
        switch threshold {
        case .relative(let r):
            guard pairs.allSatisfy({ $0.b > 0 && $0.c > 0 }) else { return nil }
            d = pairs.map { Foundation.log($0.c / $0.b) }; t = Foundation.log(1 + r)
        case .absolute(let a): d = pairs.map { $0.c - $0.b }; t = a
        }
        let s = 1.4826 * Descriptive.mad(d)
        guard s.isFinite, s > 0, t > 0 else { return nil }
        let z = NormalDistribution.quantile(1 - alpha) + 1.2815515655446004
        return max(6, Int((Double.pi / 3 * s * s * z * z / (t * t)).rounded(.up)))
    }

    /// Inconclusive: with so few runs no bound at this level exists (e.g. 3 vs 3 at one-sided 97.5%).
    static func tooFew(_ cmp: MetricComparison, level: Double) -> MetricComparison {
        var out = cmp
        out.verdict = .inconclusive
        out.reason = "too few runs for a one-sided \(Fmt.num((1 + level) / 2 * 100))% bound (the exact Mann–Whitney interval "
            + "does not exist at these sizes); add repeats"
        return out
    }

    /// Repeats per side for which, with no true change, the one-sided 1 − α bound of the change falls within
    /// the threshold 90% of the time, from the pooled robust scale: n = 2 · (π/2) · s² · (z_{1−α} + z_{0.9})² / t²
    /// (π/2: the variance of a median relative to a mean; s = robust CV for a relative threshold, robust SD
    /// for an absolute one). Nil when the noise is zero or the threshold is 0.
    public static func repeatsNeeded(baseline: [Double], candidate: [Double], threshold: ChangeThreshold, alpha: Double) -> Int? {
        func robustSD(_ xs: [Double]) -> Double { 1.4826 * Descriptive.mad(xs) }
        let med = abs(Descriptive.median(baseline + candidate))
        let sd = ((pow(robustSD(baseline), 2) + pow(robustSD(candidate), 2)) / 2).squareRoot()
        let scale: Double, t: Double
        switch threshold {
        case .relative(let r): scale = med > 0 ? sd / med : .nan; t = r
        case .absolute(let a): scale = sd; t = a
        }
        guard scale.isFinite, scale > 0, t > 0 else { return nil }
        let z = NormalDistribution.quantile(1 - alpha) + 1.2815515655446004
        return max(3, Int((2 * Double.pi / 2 * scale * scale * z * z / (t * t)).rounded(.up)))
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
