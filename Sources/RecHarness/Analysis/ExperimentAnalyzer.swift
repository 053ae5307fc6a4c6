import RecContract
import Foundation
import RecStats
import Synchronization

/// Turns an experiment's stored runs into an `ExperimentAnalysis`: per configuration (runs grouped
/// by config hash, only `ok` runs count) the summary of every metric, the comparison with the
/// baseline configuration, effects, claims and failed runs.
public struct ExperimentAnalyzer: Sendable {
    /// The comparison rule (alpha, threshold, bootstrap settings) used for every metric without its own.
    public var rule: ComparisonRule
    /// Per-metric noise thresholds overriding `rule.threshold` (e.g. tighter for deterministic counters).
    public var thresholds: [String: Double]

    /// An analyzer with the given rule and per-metric thresholds.
    public init(rule: ComparisonRule = ComparisonRule(), thresholds: [String: Double] = [:]) {
        self.rule = rule; self.thresholds = thresholds
    }

    /// Analyses `data` over `metrics` (default: the spec's metrics, or the standard five if it lists none).
    public func analyze(_ data: ExperimentData, metrics: [String]? = nil) -> ExperimentAnalysis {
        let metrics = metrics ?? (data.spec.metrics.isEmpty ? ExperimentSpec.defaultMetrics : data.spec.metrics)
        let steady = RunMetrics.steadySteps(data.spec)
        let runs = data.runs.sorted { $0.id < $1.id }

        // Group by config hash in order of first appearance.
        var order: [String] = []
        var groups: [String: [RunRecord]] = [:]
        for run in runs {
            if groups[run.configHash] == nil { order.append(run.configHash) }
            groups[run.configHash, default: []].append(run)
        }
        let knobsOf = Dictionary(uniqueKeysWithValues: order.map { ($0, groups[$0]!.first!.config) })
        let baselineHash = Self.baselineHash(spec: data.spec, order: order, knobs: knobsOf, groups: groups)
        if let b = baselineHash, let i = order.firstIndex(of: b) { order.remove(at: i); order.insert(b, at: 0) }
        let varying = Self.varyingKnobs(spec: data.spec, configs: order.map { knobsOf[$0]! })
        let labels = Self.labels(order: order, knobs: knobsOf, baseline: baselineHash.flatMap { knobsOf[$0] }, varying: varying)

        // Metric values of each config (ok runs only).
        var values: [String: [String: [Double]]] = [:]
        var units: [String: [String: String]] = [:]
        for hash in order {
            let ok = groups[hash]!.filter { $0.status == .ok }
            for m in metrics {
                values[hash, default: [:]][m] = ok.compactMap { RunMetrics.value(m, in: $0, steadySteps: steady) }
                units[hash, default: [:]][m] = ok.lazy.compactMap { RunMetrics.unit(m, in: $0) }.first ?? ""
            }
        }
        // Summaries and comparisons, one config per task (the bootstraps dominate the cost on large stores).
        let frozenValues = values, frozenUnits = units, frozenOrder = order, frozenGroups = groups
        let baseline = baselineHash
        let perConfig = Mutex([String: ([MetricResult], [MetricComparison])]())
        DispatchQueue.concurrentPerform(iterations: frozenOrder.count) { i in
            let hash = frozenOrder[i]
            let ok = frozenGroups[hash]!.filter { $0.status == .ok }
            var results: [MetricResult] = [], comparisons: [MetricComparison] = []
            for m in metrics {
                let xs = frozenValues[hash]![m]!, unit = frozenUnits[hash]![m]!
                let reason = xs.isEmpty ? (ok.isEmpty ? "no ok runs" : RunMetrics.unavailableReason(m, in: ok[0])) : nil
                if let b = baseline, b != hash {
                    let bx = frozenValues[b]![m]!
                    let bReason = bx.isEmpty ? (frozenGroups[b]!.first { $0.status == .ok }.map { RunMetrics.unavailableReason(m, in: $0) } ?? "no ok runs") : nil
                    let (stats, cmp) = compareWithStats(m, baseline: bx, candidate: xs,
                                                        baselineResult: MetricResult(metric: m, stats: nil, unavailableReason: bReason),
                                                        candidateResult: MetricResult(metric: m, stats: nil, unavailableReason: reason))
                    results.append(MetricResult(metric: m, unit: unit, stats: stats, unavailableReason: reason))
                    comparisons.append(cmp)
                } else {
                    results.append(MetricResult(metric: m, unit: unit, stats: xs.isEmpty ? nil : summarize(xs), unavailableReason: reason))
                }
            }
            perConfig.withLock { $0[hash] = (results, comparisons) }
        }
        let analysed = perConfig.withLock { $0 }
        var configs: [ConfigAnalysis] = []
        for hash in order {
            let group = groups[hash]!
            configs.append(ConfigAnalysis(
                configHash: hash, label: labels[hash]!, knobs: knobsOf[hash]!, isBaseline: hash == baselineHash,
                okRunIDs: group.filter { $0.status == .ok }.map(\.id), failedCount: group.filter { Self.isFailure($0.status) }.count,
                metrics: analysed[hash]!.0, comparisons: analysed[hash]!.1))
        }

        // Interrupted (Ctrl-C, a killed sweep) and still-running runs are not failures of the configuration.
        let failed = runs.filter { Self.isFailure($0.status) }.map {
            FailedRun(runID: $0.id, configLabel: labels[$0.configHash] ?? $0.configHash, repeatIndex: $0.repeatIndex,
                      status: $0.status.rawValue, reason: Self.failureReason($0))
        }
        let effects = EffectsBuilder(rule: rule).effects(spec: data.spec, configs: configs, values: values, metrics: metrics)
        let claims = ClaimEvaluator.evaluate(data.spec.claims, configs: configs)
        return ExperimentAnalysis(
            experimentName: data.experiment.name, experimentID: data.experiment.id, created: data.experiment.created,
            host: data.host, specText: data.experiment.specText, design: Self.designName(data.spec.design), metrics: metrics,
            varyingKnobs: varying, configs: configs, effects: effects, claims: claims, failedRuns: failed, totalRuns: runs.count)
    }

    /// Summary statistics of `xs` as a `MetricStats`.
    public func summarize(_ xs: [Double]) -> MetricStats {
        stats(Summary.of(xs, level: rule.level, resamples: rule.resamples, seed: rule.seed, noisyCV: rule.noisyCV), values: xs)
    }

    func stats(_ s: Summary, values xs: [Double]) -> MetricStats {
        func iv(_ v: Double, _ ci: ConfidenceInterval?) -> Interval { Interval(value: v, low: ci?.lower ?? v, high: ci?.upper ?? v) }
        return MetricStats(n: s.n, median: iv(s.median, s.medianCI), mean: iv(s.mean, s.meanCI), stddev: s.n > 1 ? s.stddev : 0,
                           min: s.min, max: s.max, cv: s.cv.isFinite ? s.cv : 0, isNoisy: s.isNoisy, values: xs)
    }

    /// Compares two samples of `metric` (polarity from the name); missing data gives an inconclusive `n/a` entry.
    public func compare(_ metric: String, baseline: [Double], candidate: [Double],
                        baselineResult: MetricResult? = nil, candidateResult: MetricResult? = nil) -> MetricComparison {
        compareWithStats(metric, baseline: baseline, candidate: candidate, baselineResult: baselineResult,
                         candidateResult: candidateResult).comparison
    }

    /// The comparison and the candidate's summary (taken from the comparison, so it is bootstrapped once).
    func compareWithStats(_ metric: String, baseline: [Double], candidate: [Double], baselineResult: MetricResult?,
                          candidateResult: MetricResult?) -> (stats: MetricStats?, comparison: MetricComparison) {
        let pol = MetricCatalog.specOrGuess(metric).polarity
        if baseline.isEmpty || candidate.isEmpty {
            let why = (baseline.isEmpty ? baselineResult?.unavailableReason : candidateResult?.unavailableReason) ?? "no values"
            let cmp = MetricComparison(metric: metric, higherIsBetter: pol == .higherIsBetter,
                                       baselineMedian: baseline.isEmpty ? nil : Descriptive.median(baseline),
                                       candidateMedian: candidate.isEmpty ? nil : Descriptive.median(candidate),
                                       ratio: nil, pValue: nil, shift: nil, verdict: .inconclusive, reason: why)
            return (candidate.isEmpty ? nil : summarize(candidate), cmp)
        }
        var r = rule
        if let t = thresholds[metric] { r.threshold = t }
        let c = Compare.metric(metric, baseline: baseline, candidate: candidate, polarity: pol, rule: r)
        let ratio = c.ratio.isFinite ? Interval(value: c.ratio, low: c.ratioCI?.lower ?? c.ratio, high: c.ratioCI?.upper ?? c.ratio) : nil
        let cmp = MetricComparison(metric: metric, higherIsBetter: pol == .higherIsBetter, baselineMedian: c.baseline.median,
                                   candidateMedian: c.candidate.median, ratio: ratio, pValue: c.pValue, shift: c.shift,
                                   verdict: MetricVerdict(rawValue: c.verdict.rawValue) ?? .inconclusive, reason: c.reason)
        return (stats(c.candidate, values: candidate), cmp)
    }

    /// The config equal to the spec baseline on every factor (a factor missing from `baseline:` means
    /// its first level); else the first config with an ok run; else the first config.
    static func baselineHash(spec: ExperimentSpec, order: [String], knobs: [String: [String: String]],
                             groups: [String: [RunRecord]]) -> String? {
        let want: [String: String] = Dictionary(uniqueKeysWithValues: spec.factors.compactMap { f in
            (spec.baseline[f.name] ?? f.levels.first).map { (f.name, $0) }
        })
        if !want.isEmpty, let match = order.first(where: { h in want.allSatisfy { knobs[h]?[$0.key] == $0.value } }) {
            return match
        }
        return order.first { groups[$0]!.contains { $0.status == .ok } } ?? order.first
    }

    /// Knobs with more than one value across configs: spec factors first, then the others sorted.
    static func varyingKnobs(spec: ExperimentSpec, configs: [[String: String]]) -> [String] {
        let all = Set(configs.flatMap(\.keys))
        let varying = all.filter { k in Set(configs.map { $0[k] ?? "" }).count > 1 }
        let factorOrder = spec.factors.map(\.name).filter(varying.contains)
        return factorOrder + varying.subtracting(factorOrder).sorted()
    }

    /// `baseline`, or the varying knobs that differ from the baseline (`stage=on bf16=on`); unique.
    static func labels(order: [String], knobs: [String: [String: String]], baseline: [String: String]?,
                       varying: [String]) -> [String: String] {
        var out: [String: String] = [:]
        var used: Set<String> = []
        for hash in order {
            let k = knobs[hash]!
            let diff = varying.filter { baseline == nil || k[$0] != baseline?[$0] }.map { "\($0)=\(k[$0] ?? "")" }
            var label = diff.isEmpty ? "baseline" : diff.joined(separator: " ")
            if used.contains(label) { label += " #\(hash.prefix(6))" }
            used.insert(label)
            out[hash] = label
        }
        return out
    }

    static func designName(_ d: DesignKind) -> String {
        switch d {
        case .full: "full"
        case .ablation: "ablation"
        case .leaveOneOut: "leave-one-out"
        case .fractional(let r): "fractional (resolution \(r))"
        case .random(let n, _): "random(\(n))"
        }
    }

    /// Whether a run's status counts as a failure (interrupted and running runs do not).
    static func isFailure(_ status: RunStatus) -> Bool {
        status != .ok && status != .interrupted && status != .running
    }

    /// Exit status or signal, and the most telling stderr line: the harness's own note
    /// (`[rectune sweep] …`: timeout, invalid result), else the last line that reads as an error,
    /// else the last line that is not a usage hint or part of `measure`'s counter table.
    static func failureReason(_ run: RunRecord) -> String {
        var parts: [String] = []
        if let e = run.exitCode { parts.append("exit \(e)") }
        if let s = run.signal { parts.append("signal \(s)") }
        let lines = run.stderrTail.split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let noise = ["--help", "USAGE:", "Usage:", "See '", "Performance counter stats", "seconds time elapsed",
                     "seconds user", "seconds sys", "<not supported"]
        let pick = lines.last { $0.hasPrefix("[rectune sweep]") }
            ?? lines.last { $0.range(of: "error", options: .caseInsensitive) != nil || $0.hasPrefix("Traceback") || $0.contains("Exception") }
            ?? lines.last { line in !noise.contains { line.contains($0) } && !(line.first?.isNumber ?? false) }
        if let pick { parts.append(String(pick.prefix(160))) }
        return parts.isEmpty ? run.status.rawValue : parts.joined(separator: ": ")
    }
}
