import RecContract
import Foundation
import RecStats
import Synchronization

/// Turns an experiment's stored runs into an `ExperimentAnalysis`: per configuration (runs grouped
/// by config hash, only `ok` runs count) the summary of every metric, the comparison with the
/// baseline configuration, effects, claims and failed runs.
///
/// Cost model (10,000 runs in well under 2 s): every configuration × metric is bootstrapped once
/// (`RecStats.Sample`; resample medians by selection) and those draws serve its summary, its
/// comparison with the baseline (paired with the baseline's draws) and the ablation effects. The
/// Benjamini–Hochberg q-values are computed over every tested comparison of the report (non-neutral,
/// non-deterministic, with a p-value) before any verdict is given.
public struct ExperimentAnalyzer: Sendable {
    /// The comparison rule (alpha, bootstrap settings; `threshold` for metrics outside the catalog).
    public var rule: ComparisonRule
    /// Per-metric change thresholds overriding the spec's `thresholds:` and the catalog (from `--metric NAME:T`).
    public var thresholds: [String: ChangeThreshold]

    /// An analyzer with the given rule and per-metric thresholds.
    public init(rule: ComparisonRule = ComparisonRule(), thresholds: [String: ChangeThreshold] = [:]) {
        self.rule = rule; self.thresholds = thresholds
    }

    /// The threshold of `metric`: `--metric` override, else the spec's `thresholds:`, else the catalog's.
    public func threshold(_ metric: String, spec: ExperimentSpec? = nil) -> ChangeThreshold {
        thresholds[metric] ?? spec?.thresholds[metric] ?? Compare.defaultThreshold(metric, rule: rule)
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
        var reasons: [String: [String: String]] = [:]
        for hash in order {
            let ok = groups[hash]!.filter { $0.status == .ok }
            for m in metrics {
                let xs = ok.compactMap { RunMetrics.value(m, in: $0, steadySteps: steady) }
                values[hash, default: [:]][m] = xs
                units[hash, default: [:]][m] = ok.lazy.compactMap { RunMetrics.unit(m, in: $0) }.first ?? ""
                if xs.isEmpty { reasons[hash, default: [:]][m] = ok.isEmpty ? "no ok runs" : RunMetrics.unavailableReason(m, in: ok[0]) }
            }
        }
        // One bootstrap per config × metric, in parallel (they dominate the cost on large stores).
        let frozenValues = values, frozenOrder = order, spec = data.spec
        let cells = frozenOrder.count * metrics.count
        let samples = Mutex([Sample?](repeating: nil, count: cells))
        DispatchQueue.concurrentPerform(iterations: cells) { k in
            let (i, j) = (k / metrics.count, k % metrics.count)
            let xs = frozenValues[frozenOrder[i]]![metrics[j]]!
            guard !xs.isEmpty else { return }
            let s = Sample(xs, rule: rule, seed: Self.seed(rule.seed, config: i, metric: j))
            samples.withLock { $0[k] = s }
        }
        let prepared = samples.withLock { $0 }
        // Comparisons with the baseline (statistics first, verdicts after the report-wide q-values).
        var raw: [Comparison] = []
        var slots: [(config: Int, metric: Int)] = []
        if baselineHash != nil {
            let jobs = (1..<max(frozenOrder.count, 1)).flatMap { i in metrics.indices.map { (i, $0) } }
                .filter { prepared[$0.0 * metrics.count + $0.1] != nil && prepared[$0.1] != nil }
            let out = Mutex([Comparison?](repeating: nil, count: jobs.count))
            DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
                let (i, j) = jobs[k]
                let m = metrics[j]
                let c = Compare.measure(m, baseline: prepared[j]!, candidate: prepared[i * metrics.count + j]!,
                                        threshold: threshold(m, spec: spec), deterministic: Self.seedDeterministic(m, spec: spec),
                                        rule: rule)
                out.withLock { $0[k] = c }
            }
            raw = out.withLock { $0 }.map { $0! }
            slots = jobs.map { (config: $0.0, metric: $0.1) }
        }
        MultipleTesting.adjustAndJudge(&raw, rule: rule)
        var judged: [Int: [Int: Comparison]] = [:]
        for (k, slot) in slots.enumerated() { judged[slot.config, default: [:]][slot.metric] = raw[k] }

        var configs: [ConfigAnalysis] = []
        for (i, hash) in order.enumerated() {
            let group = groups[hash]!
            var results: [MetricResult] = [], comparisons: [MetricComparison] = []
            for (j, m) in metrics.enumerated() {
                let xs = values[hash]![m]!
                let t = threshold(m, spec: spec)
                let stats = prepared[i * metrics.count + j].map { metricStats($0, threshold: t, deterministic: Self.seedDeterministic(m, spec: spec)) }
                results.append(MetricResult(metric: m, unit: units[hash]![m]!, stats: stats, unavailableReason: reasons[hash]?[m]))
                guard let b = baselineHash, b != hash else { continue }
                if let c = judged[i]?[j] {
                    comparisons.append(Self.metricComparison(c))
                } else {
                    let bx = values[b]![m]!
                    let why = (bx.isEmpty ? reasons[b]?[m] : reasons[hash]?[m]) ?? "no values"
                    comparisons.append(Self.unavailable(m, baseline: bx, candidate: xs, reason: why, threshold: t))
                }
            }
            configs.append(ConfigAnalysis(
                configHash: hash, label: labels[hash]!, knobs: knobsOf[hash]!, isBaseline: hash == baselineHash,
                okRunIDs: group.filter { $0.status == .ok }.map(\.id), failedCount: group.filter { Self.isFailure($0.status) }.count,
                metrics: results, comparisons: comparisons))
        }

        // Interrupted (Ctrl-C, a killed sweep) and still-running runs are not failures of the configuration.
        let failed = runs.filter { Self.isFailure($0.status) }.map {
            FailedRun(runID: $0.id, configLabel: labels[$0.configHash] ?? $0.configHash, repeatIndex: $0.repeatIndex,
                      status: $0.status.rawValue, reason: Self.failureReason($0))
        }
        var sampleMap: [String: [String: Sample]] = [:]
        for (i, hash) in order.enumerated() {
            for (j, m) in metrics.enumerated() { if let s = prepared[i * metrics.count + j] { sampleMap[hash, default: [:]][m] = s } }
        }
        let effects = EffectsBuilder(rule: rule).effects(spec: data.spec, configs: configs, values: values, metrics: metrics,
                                                         samples: sampleMap)
        let claims = ClaimEvaluator.evaluate(data.spec.claims, configs: configs)
        return ExperimentAnalysis(
            experimentName: data.experiment.name, experimentID: data.experiment.id, created: data.experiment.created,
            host: data.host, specText: data.experiment.specText, design: Self.designName(data.spec.design), metrics: metrics,
            varyingKnobs: varying, configs: configs, effects: effects, claims: claims, failedRuns: failed, totalRuns: runs.count)
    }

    /// The report's label of every config hash and the baseline's hash, without analysing anything
    /// (what the CSV exports and the notebook write next to each run).
    public static func configLabels(_ data: ExperimentData) -> (labels: [String: String], baseline: String?) {
        var order: [String] = []
        var groups: [String: [RunRecord]] = [:]
        for run in data.runs.sorted(by: { $0.id < $1.id }) {
            if groups[run.configHash] == nil { order.append(run.configHash) }
            groups[run.configHash, default: []].append(run)
        }
        let knobs = Dictionary(uniqueKeysWithValues: order.map { ($0, groups[$0]!.first!.config) })
        let base = baselineHash(spec: data.spec, order: order, knobs: knobs, groups: groups)
        if let b = base, let i = order.firstIndex(of: b) { order.remove(at: i); order.insert(b, at: 0) }
        let varying = varyingKnobs(spec: data.spec, configs: order.map { knobs[$0]! })
        return (labels(order: order, knobs: knobs, baseline: base.flatMap { knobs[$0] }, varying: varying), base)
    }

    /// A bootstrap seed per (config, metric) cell: independent streams, stable across runs of the report.
    static func seed(_ base: UInt64, config: Int, metric: Int) -> UInt64 {
        base &+ UInt64(config) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(metric) &* 0xBF58_476D_1CE4_E5B9
    }

    /// Whether `metric` is seed-deterministic in `spec`'s runs: the catalog says so and repeats share the seed.
    static func seedDeterministic(_ metric: String, spec: ExperimentSpec?) -> Bool {
        (MetricCatalog.spec(metric)?.seedDeterministic ?? false) && spec?.repeatSeed != .vary
    }

    /// Summary statistics of `xs` as a `MetricStats` (noisy flag against the metric's catalog threshold).
    public func summarize(_ xs: [Double], metric: String? = nil, spec: ExperimentSpec? = nil) -> MetricStats {
        let t = metric.map { threshold($0, spec: spec) } ?? .relative(rule.threshold)
        return metricStats(Sample(xs, rule: rule, seed: rule.seed), threshold: t,
                           deterministic: metric.map { Self.seedDeterministic($0, spec: spec) } ?? false)
    }

    func metricStats(_ sample: Sample, threshold: ChangeThreshold, deterministic: Bool) -> MetricStats {
        let s = sample.summary
        func iv(_ v: Double, _ ci: ConfidenceInterval?) -> Interval { Interval(value: v, low: ci?.lower ?? v, high: ci?.upper ?? v) }
        var st = MetricStats(n: s.n, median: iv(s.median, s.medianCI), mean: iv(s.mean, s.meanCI), stddev: s.n > 1 ? s.stddev : 0,
                             min: s.min, max: s.max, cv: s.cv.isFinite ? s.cv : 0,
                             isNoisy: Self.isNoisy(s, threshold: threshold, deterministic: deterministic), values: sample.raw)
        st.robustCV = s.robustCV.isFinite ? s.robustCV : 0
        return st
    }

    /// Noisy: the median's CI half-width exceeds the change threshold (relative to |median| for a relative one).
    static func isNoisy(_ s: Summary, threshold: ChangeThreshold, deterministic: Bool) -> Bool {
        guard !deterministic, !s.isConstant, let ci = s.medianCI else { return false }
        let half = (ci.upper - ci.lower) / 2
        switch threshold {
        case .relative(let r): return s.median == 0 ? half > 0 : half / abs(s.median) > r
        case .absolute(let a): return half > a
        }
    }

    /// Compares two samples of `metric` (polarity from the catalog); missing data gives an inconclusive `n/a` entry.
    /// A single comparison: its q-value is its p-value.
    public func compare(_ metric: String, baseline: [Double], candidate: [Double],
                        baselineResult: MetricResult? = nil, candidateResult: MetricResult? = nil,
                        spec: ExperimentSpec? = nil) -> MetricComparison {
        compareAll([(metric, baseline, candidate, baselineResult, candidateResult)], spec: spec)[0]
    }

    /// Compares several metrics between two run sets with one Benjamini–Hochberg correction over them.
    public func compareAll(_ items: [(metric: String, baseline: [Double], candidate: [Double],
                                      baselineResult: MetricResult?, candidateResult: MetricResult?)],
                           spec: ExperimentSpec? = nil) -> [MetricComparison] {
        var raw: [Comparison] = [], index: [Int] = []
        for (k, it) in items.enumerated() where !it.baseline.isEmpty && !it.candidate.isEmpty {
            raw.append(Compare.measure(it.metric, baseline: Sample(it.baseline, rule: rule, seed: rule.seed),
                                       candidate: Sample(it.candidate, rule: rule, seed: rule.seed &+ 2),
                                       threshold: threshold(it.metric, spec: spec),
                                       deterministic: Self.seedDeterministic(it.metric, spec: spec), rule: rule))
            index.append(k)
        }
        MultipleTesting.adjustAndJudge(&raw, rule: rule)
        var out = items.map { it -> MetricComparison in
            let why = (it.baseline.isEmpty ? it.baselineResult?.unavailableReason : it.candidateResult?.unavailableReason) ?? "no values"
            return Self.unavailable(it.metric, baseline: it.baseline, candidate: it.candidate, reason: why,
                                    threshold: threshold(it.metric, spec: spec))
        }
        for (r, k) in index.enumerated() { out[k] = Self.metricComparison(raw[r]) }
        return out
    }

    static func unavailable(_ metric: String, baseline: [Double], candidate: [Double], reason: String,
                            threshold: ChangeThreshold) -> MetricComparison {
        let pol = MetricCatalog.specOrGuess(metric).polarity
        var cmp = MetricComparison(metric: metric, higherIsBetter: pol == .higherIsBetter,
                                   baselineMedian: baseline.isEmpty ? nil : Descriptive.median(baseline),
                                   candidateMedian: candidate.isEmpty ? nil : Descriptive.median(candidate),
                                   ratio: nil, pValue: nil, shift: nil, verdict: .inconclusive, reason: reason)
        cmp.neutral = pol == .neutral
        cmp.threshold = threshold.description
        return cmp
    }

    static func metricComparison(_ c: Comparison) -> MetricComparison {
        let ratio = c.ratio.isFinite || c.ratio.isInfinite
            ? Interval(value: c.ratio, low: c.ratioCI?.lower ?? c.ratio, high: c.ratioCI?.upper ?? c.ratio) : nil
        var cmp = MetricComparison(metric: c.metric, higherIsBetter: c.polarity == .higherIsBetter, baselineMedian: c.baseline.median,
                                   candidateMedian: c.candidate.median, ratio: ratio, pValue: c.pValue,
                                   shift: c.deterministic ? nil : c.shift,
                                   verdict: MetricVerdict(rawValue: c.verdict.rawValue) ?? .inconclusive, reason: c.reason)
        cmp.difference = c.difference.isNaN ? nil
            : Interval(value: c.difference, low: c.differenceCI?.lower ?? c.difference, high: c.differenceCI?.upper ?? c.difference)
        cmp.qValue = c.qValue
        cmp.deterministic = c.deterministic
        cmp.neutral = c.polarity == .neutral
        cmp.threshold = c.threshold.description
        return cmp
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
