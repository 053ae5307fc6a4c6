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
        func result(_ s: RunSet, _ m: String) -> MetricResult {
            let xs = s.values(m)
            return xs.isEmpty ? MetricResult(metric: m, stats: nil, unavailableReason: s.unavailableReason(m))
                              : MetricResult(metric: m, stats: analyzer.summarize(xs))
        }
        let rows = metrics.map { m -> Row in
            let ra = result(a, m), rb = result(b, m)
            return Row(metric: m, a: ra, b: rb,
                       comparison: analyzer.compare(m, baseline: a.values(m), candidate: b.values(m), baselineResult: ra, candidateResult: rb))
        }
        var warning: String?
        let hosts = a.distinctHosts + b.distinctHosts
        if let first = hosts.first, let other = hosts.first(where: { $0.comparabilityKey != first.comparabilityKey }) {
            warning = "runs come from different hosts (\(RegressionGate.describeDifference(first, other))); differences may be the machine"
        }
        return SetComparison(labelA: a.label, labelB: b.label, okA: a.okRuns.count, okB: b.okRuns.count,
                             failedA: a.runs.count - a.okRuns.count, failedB: b.runs.count - b.okRuns.count,
                             rows: rows, hostWarning: warning)
    }

    /// The side-by-side table.
    public var table: ReportTable {
        ReportTable(
            header: ["metric", "A median [95% CI]", "B median [95% CI]", "B/A [95% CI]", "p", "verdict"],
            rows: rows.map { r in
                [RunMetrics.label(r.metric), Fmt.metricCell(r.a, ci: true), Fmt.metricCell(r.b, ci: true),
                 Fmt.ratioCI(r.comparison.ratio), Fmt.p(r.comparison.pValue),
                 r.comparison.ratio == nil && r.comparison.verdict == .inconclusive ? "n/a" : r.comparison.verdict.marker]
            },
            rightAligned: [false, true, true, true, true, false])
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
