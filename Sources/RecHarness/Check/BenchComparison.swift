import RecContract
import RecStats

/// `rectune compare --bench A B`: the figures of two sets of `rectune bench --json` documents side
/// by side, per subject (`criteo wdl end-to-end`, `host GEMM bf16`, `kernel …`) and metric, with the
/// statistics of `rectune compare`: medians with bootstrap CIs, B ÷ A with its CI, the Mann–Whitney p
/// with one Benjamini–Hochberg correction over the figures with enough samples to be judged, and a
/// verdict by the metric's polarity.
///
/// A side's samples of one figure are every value it has of it: each document's run, plus each of its
/// `--rounds` (which measure the same figure again against that round's own host GEMM rate). One
/// document without rounds gives one value per figure, so its comparisons are inconclusive (fewer than
/// `minSamples`; AUC, deterministic, excepted): the ratio is still shown. This is benchstat's and Google Benchmark's `compare.py`
/// use, with the fraction of the dense roofline as the figure that carries across hosts.
public struct BenchComparison: Sendable, Codable {
    /// What a bench figure measures: its name (the result contract's where one exists), polarity and the
    /// change that matters.
    public enum Metric: String, Sendable, Codable, CaseIterable {
        case samplesPerSec = "samples_per_sec"
        case rooflineFraction = "roofline_fraction"
        case busyFraction = "busy_fraction"
        case stepP50 = "step_ms.p50"
        case stepP99 = "step_ms.p99"
        case auc
        case gflopsPerCore = "gflops_per_core"
        case busyGflops = "busy_gflops"
        case rowsPerSec = "rows_per_sec"
        case nsPerSample = "ns_per_sample"
        case forwardGflops = "forward_gflops"
        case backwardDataGflops = "backward_data_gflops"
        case backwardWeightsGflops = "backward_weights_gflops"

        /// Step times and kernel times are lower-is-better; rates, fractions and AUC higher-is-better.
        public var polarity: Polarity {
            switch self {
            case .stepP50, .stepP99, .nsPerSample: .lowerIsBetter
            default: .higherIsBetter
            }
        }

        /// AUC: ±0.001 absolute (the result contract's); everything else ±2% relative.
        public var defaultThreshold: ChangeThreshold {
            self == .auc ? MetricCatalog.spec("auc")?.threshold ?? .absolute(0.001) : .relative(0.02)
        }

        /// AUC is the same for the same settings (bench's data and seeds are fixed): n_eff = 1, and one
        /// value per side is judged on the threshold.
        public var deterministic: Bool { self == .auc }
    }

    /// One figure of one document.
    public struct Figure: Sendable, Equatable {
        /// What it belongs to, e.g. `criteo wdl end-to-end`.
        public var subject: String
        public var metric: Metric
        public var value: Double

        public init(_ subject: String, _ metric: Metric, _ value: Double) {
            self.subject = subject; self.metric = metric; self.value = value
        }
    }

    /// One document's provenance, for the notes on what differs between the sides.
    public struct Document: Sendable, Codable, Equatable {
        public var path: String
        public var gitCommit: String?
        /// CPU model, CPU count, oneDNN's ISA and the kernels' build target, as one line.
        public var host: String
        /// The bench's settings as (name, value) in the document's order.
        public var settings: [Setting]
        /// False when the bench stopped on an error.
        public var complete: Bool

        public init(path: String, gitCommit: String?, host: String, settings: [Setting], complete: Bool) {
            self.path = path; self.gitCommit = gitCommit; self.host = host; self.settings = settings; self.complete = complete
        }
    }

    public struct Setting: Sendable, Codable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    /// One side: its documents and all their figures.
    public struct Side: Sendable {
        public var label: String
        public var documents: [Document]
        public var figures: [Figure]
        public init(label: String, documents: [Document], figures: [Figure]) {
            self.label = label; self.documents = documents; self.figures = figures
        }
    }

    /// One figure side by side.
    public struct Row: Sendable, Codable {
        public var subject: String
        public var metric: String
        public var a: MetricResult
        public var b: MetricResult
        public var comparison: MetricComparison
    }

    public var labelA: String
    public var labelB: String
    public var documentsA: [Document]
    public var documentsB: [Document]
    public var rows: [Row]
    /// What differs between the sides' hosts, settings and commits, and the figures only one side has.
    public var notes: [String]

    /// Whether any figure got worse beyond its threshold with a significant q (the `--fail-on-regression` exit).
    public var hasRegression: Bool { rows.contains { $0.comparison.verdict == .regressed } }

    /// Compares `b` against `a` on every figure both have (or only `metrics`, with their thresholds when given).
    public static func compare(_ a: Side, _ b: Side, metrics: [(metric: Metric, threshold: ChangeThreshold?)] = [],
                               rule: ComparisonRule = ComparisonRule()) -> BenchComparison {
        let chosen = Dictionary(metrics.map { ($0.metric, $0.threshold) }, uniquingKeysWith: { $1 })
        func keep(_ m: Metric) -> Bool { chosen.isEmpty || chosen[m] != nil }
        let samplesA = samples(a.figures), samplesB = samples(b.figures)
        let pairs = samplesA.order.filter { samplesB.values[$0] != nil && keep($0.metric) }
        let analyzer = ExperimentAnalyzer(rule: rule)

        var raw: [Comparison] = [], results: [(MetricResult, MetricResult)] = []
        for (k, key) in pairs.enumerated() {
            let threshold = (chosen[key.metric] ?? nil) ?? key.metric.defaultThreshold
            let xs = samplesA.values[key]!, ys = samplesB.values[key]!
            let seed = ExperimentAnalyzer.seed(rule.seed, config: k, metric: 0)
            let sa = Sample(xs, rule: rule, seed: seed), sb = Sample(ys, rule: rule, seed: seed &+ 2)
            raw.append(Compare.measure(key.metric.rawValue, baseline: sa, candidate: sb, polarity: key.metric.polarity,
                                       threshold: threshold, deterministic: key.metric.deterministic, rule: rule))
            func result(_ s: Sample) -> MetricResult {
                MetricResult(metric: key.metric.rawValue,
                             stats: analyzer.metricStats(s, threshold: threshold, deterministic: key.metric.deterministic))
            }
            results.append((result(sa), result(sb)))
        }
        // One Benjamini–Hochberg family over the figures with enough samples to be judged; a figure with
        // fewer (one document without rounds) is inconclusive whatever its p, so it does not widen the family.
        let judged = raw.indices.filter { k in [results[k].0, results[k].1].allSatisfy { ($0.stats?.n ?? 0) >= rule.minSamples } }
        var family = judged.map { raw[$0] }
        MultipleTesting.adjustAndJudge(&family, rule: rule)
        for (j, k) in judged.enumerated() { raw[k] = family[j] }
        // AUC is deterministic (the bench's data and seeds are fixed; repeats would be copies), so one value
        // per side is judged on the threshold alone, as the store's reports judge seed-fixed repeats.
        var single = rule
        single.minSamples = 1
        for k in raw.indices where !judged.contains(k) {
            Compare.judge(&raw[k], decisionP: raw[k].pValue, rule: pairs[k].metric.deterministic ? single : rule)
        }
        let rows = pairs.indices.map { k in
            Row(subject: pairs[k].subject, metric: pairs[k].metric.rawValue, a: results[k].0, b: results[k].1,
                comparison: ExperimentAnalyzer.metricComparison(raw[k]))
        }
        return BenchComparison(labelA: a.label, labelB: b.label, documentsA: a.documents, documentsB: b.documents, rows: rows,
                               notes: differences(a, b) + unmatched(samplesA, samplesB, keep: keep))
    }

    struct Key: Hashable {
        var subject: String
        var metric: Metric
    }

    /// The values of each (subject, metric), and the keys in first-seen order.
    static func samples(_ figures: [Figure]) -> (order: [Key], values: [Key: [Double]]) {
        var order: [Key] = [], values: [Key: [Double]] = [:]
        for f in figures {
            let key = Key(subject: f.subject, metric: f.metric)
            if values[key] == nil { order.append(key) }
            values[key, default: []].append(f.value)
        }
        return (order, values)
    }

    /// Notes on the hosts, settings and commits that differ between the sides, and incomplete documents.
    static func differences(_ a: Side, _ b: Side) -> [String] {
        var notes: [String] = []
        func distinct(_ xs: [String]) -> [String] { xs.reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
        func list(_ xs: [String]) -> String { xs.joined(separator: " | ") }
        let hostsA = distinct(a.documents.map(\.host)), hostsB = distinct(b.documents.map(\.host))
        if Set(hostsA) != Set(hostsB) || hostsA.count > 1 {
            notes.append("hosts differ (A: \(list(hostsA)); B: \(list(hostsB))): samples/s and GFLOP/s carry the host's speed; "
                         + "roofline_fraction is taken against each run's own host GEMM rate and is the figure to compare")
        }
        var names: [String] = []
        for s in (a.documents + b.documents).flatMap(\.settings) where !names.contains(s.name) { names.append(s.name) }
        for name in names {
            func values(_ side: Side) -> [String] { distinct(side.documents.compactMap { $0.settings.first { $0.name == name }?.value }) }
            let va = values(a), vb = values(b)
            if Set(va) != Set(vb) || va.count > 1 || vb.count > 1 {
                notes.append("setting \(name): A \(va.isEmpty ? "–" : list(va)), B \(vb.isEmpty ? "–" : list(vb))")
            }
        }
        let commitsA = distinct(a.documents.compactMap(\.gitCommit)), commitsB = distinct(b.documents.compactMap(\.gitCommit))
        if Set(commitsA) != Set(commitsB) {
            func short(_ xs: [String]) -> String { xs.isEmpty ? "unknown" : list(xs.map { String($0.prefix(12)) }) }
            notes.append("commits: A \(short(commitsA)), B \(short(commitsB))")
        }
        for d in a.documents + b.documents where !d.complete {
            notes.append("\(d.path) is incomplete (the bench stopped on an error): it has only what was measured before")
        }
        return notes
    }

    /// Notes on the subjects (or a subject's metrics) only one side measured.
    static func unmatched(_ a: (order: [Key], values: [Key: [Double]]), _ b: (order: [Key], values: [Key: [Double]]),
                          keep: (Metric) -> Bool) -> [String] {
        func only(_ x: (order: [Key], values: [Key: [Double]]), _ y: [Key: [Double]]) -> [String] {
            var out: [String] = []
            for key in x.order where y[key] == nil && keep(key.metric) {
                let item = "\(key.subject) \(key.metric.rawValue)"
                if !out.contains(item) { out.append(item) }
            }
            return out
        }
        var notes: [String] = []
        let onlyA = only(a, b.values), onlyB = only(b, a.values)
        if !onlyA.isEmpty { notes.append("only in A (not compared): " + onlyA.joined(separator: ", ")) }
        if !onlyB.isEmpty { notes.append("only in B (not compared): " + onlyB.joined(separator: ", ")) }
        return notes
    }

    /// The side-by-side table.
    public var table: ReportTable {
        ReportTable(
            header: ["subject", "metric", "n A/B", "A median [95% CI]", "B median [95% CI]", "B vs A [95% CI]", "threshold", "p (BH q)", "verdict"],
            rows: rows.map { r in
                [r.subject, r.metric, "\(r.a.stats?.n ?? 0)/\(r.b.stats?.n ?? 0)", Fmt.metricCell(r.a, ci: true),
                 Fmt.metricCell(r.b, ci: true), Fmt.change(r.comparison), r.comparison.threshold, Fmt.pq(r.comparison),
                 Fmt.verdict(r.comparison)]
            },
            rightAligned: [false, false, true, true, true, true, true, true, false])
    }

    /// How many rows got each verdict, e.g. `2 improved, 1 regressed, 9 unchanged, 4 inconclusive`.
    public var verdictCounts: String {
        let counts = MetricVerdict.allCases.map { v in (v, rows.filter { $0.comparison.verdict == v }.count) }.filter { $0.1 > 0 }
        return counts.isEmpty ? "no figure in common" : counts.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
    }

    /// Text or Markdown rendering.
    public func render(markdown: Bool) -> String {
        func side(_ name: String, _ label: String, _ docs: [Document]) -> String {
            let commits = docs.compactMap(\.gitCommit).map { String($0.prefix(12)) }
            return "\(name) = \(label): \(docs.count) document\(docs.count == 1 ? "" : "s")"
                + (commits.isEmpty ? "" : ", commit " + Array(Set(commits)).sorted().joined(separator: ", "))
                + (docs.first.map { "; " + $0.host } ?? "") + "\n"
        }
        var out = markdown ? "### Compare bench documents\n\n" : ""
        out += side("A", labelA, documentsA) + (markdown ? "\n" : "") + side("B", labelB, documentsB) + "\n"
        for note in notes { out += (markdown ? "> " : "note: ") + note + "\n" + (markdown ? "\n" : "") }
        if !notes.isEmpty && !markdown { out += "\n" }
        out += "B vs A: \(verdictCounts)\n\n"
        out += markdown ? table.markdown() : table.text()
        let explained = rows.filter { $0.comparison.verdict == .improved || $0.comparison.verdict == .regressed }
        if !explained.isEmpty { out += "\n" }
        for r in explained {
            out += (markdown ? "- `\(r.subject) \(r.metric)`: " : "  \(r.subject) \(r.metric): ") + r.comparison.reason + "\n"
        }
        return out
    }
}
