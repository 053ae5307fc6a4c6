import Foundation

/// `rectune compare A B`: two run sets side by side with the report's statistics and verdicts
/// (B is the candidate, A the baseline).
public struct SetComparison: Sendable, Codable {
    /// One metric side by side.
    public struct Row: Sendable, Codable {
        public var metric: String
        public var a: MetricResult
        public var b: MetricResult
        public var comparison: MetricComparison
    }

    public var labelA: String
    public var labelB: String
    public var okA: Int
    public var okB: Int
    public var failedA: Int
    public var failedB: Int
    public var rows: [Row]
    /// Set when the two sides come from hosts that are not comparable.
    public var hostWarning: String?

    /// Compares `b` against `a` over `metrics` (default: the metrics of A's spec, else the standard five).
    public static func compare(_ a: RunSet, _ b: RunSet, metrics: [String]? = nil,
                               analyzer: ExperimentAnalyzer = ExperimentAnalyzer()) -> SetComparison {
        let metrics = metrics.flatMap { $0.isEmpty ? nil : $0 }
            ?? (a.specMetrics.isEmpty ? ExperimentSpec.defaultMetrics : a.specMetrics)
        // Seed-deterministic metrics are deterministic only when neither side varied the seed.
        let spec = a.spec?.repeatSeed == .vary && b.spec?.repeatSeed == .vary ? a.spec : (a.spec ?? b.spec)
        func result(_ s: RunSet, _ m: String) -> MetricResult {
            let xs = s.values(m)
            return xs.isEmpty ? MetricResult(metric: m, stats: nil, unavailableReason: s.unavailableReason(m))
                              : MetricResult(metric: m, stats: analyzer.summarize(xs, metric: m, spec: spec))
        }
        let results = metrics.map { (result(a, $0), result(b, $0)) }
        let comparisons = analyzer.compareAll(metrics.indices.map { i in
            (metrics[i], a.values(metrics[i]), b.values(metrics[i]), results[i].0, results[i].1)
        }, spec: spec)
        let rows = metrics.indices.map { Row(metric: metrics[$0], a: results[$0].0, b: results[$0].1, comparison: comparisons[$0]) }
        var warning: String?
        let hosts = a.distinctHosts + b.distinctHosts
        if let first = hosts.first, let other = hosts.first(where: { $0.comparabilityKey != first.comparabilityKey }) {
            warning = "runs come from different hosts (\(RegressionGate.describeDifference(first, other))); differences may be the machine"
        }
        return SetComparison(labelA: a.label, labelB: b.label, okA: a.okRuns.count, okB: b.okRuns.count,
                             failedA: a.runs.count - a.okRuns.count, failedB: b.runs.count - b.okRuns.count,
                             rows: rows, hostWarning: warning)
    }

    /// Whether any metric got worse beyond its threshold with a significant q (`compare --fail-on-regression`).
    public var hasRegression: Bool { rows.contains { $0.comparison.verdict == .regressed } }

    /// The side-by-side table.
    public var table: ReportTable {
        ReportTable(
            header: ["metric", "A median [95% CI]", "B median [95% CI]", "B vs A [95% CI]", "threshold", "p (BH q)", "verdict"],
            rows: rows.map { r in
                [RunMetrics.label(r.metric), Fmt.metricCell(r.a, ci: true), Fmt.metricCell(r.b, ci: true),
                 Fmt.change(r.comparison), r.comparison.threshold, Fmt.pq(r.comparison),
                 r.comparison.baselineMedian == nil || r.comparison.candidateMedian == nil ? "n/a" : Fmt.verdict(r.comparison)]
            },
            rightAligned: [false, true, true, true, true, true, false])
    }

    /// Text or Markdown rendering.
    public func render(markdown: Bool) -> String {
        var out = markdown ? "### Compare\n\n" : ""
        out += "A = \(labelA): \(okA) ok runs" + (failedA > 0 ? " (\(failedA) failed)" : "") + "\n"
        out += (markdown ? "\n" : "") + "B = \(labelB): \(okB) ok runs" + (failedB > 0 ? " (\(failedB) failed)" : "") + "\n\n"
        if let hostWarning { out += (markdown ? "> " : "warning: ") + hostWarning + "\n\n" }
        out += markdown ? table.markdown() : table.text()
        out += "\n"
        for r in rows { out += (markdown ? "- `\(r.metric)`: " : "  \(r.metric): ") + r.comparison.reason + "\n" }
        return out
    }
}
