import Foundation

/// The HTML report: ONE self-contained file (inline CSS and SVG; no scripts, fonts or images from
/// the network). Every piece of text from the store or the spec is escaped.
public enum HTMLReport {
    /// Counter-per-step metrics shown as bar charts.
    public static let counterMetrics = ["minor_faults_per_step", "steals_per_step", "context_switches_per_step"]

    /// Renders the report for `analysis`; `data` supplies the per-run AUC/throughput pairs and the
    /// counters the analysis did not cover (analysed with `analyzer`).
    public static func render(_ a: ExperimentAnalysis, data: ExperimentData, analyzer: ExperimentAnalyzer = ExperimentAnalyzer()) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        h += "<title>rectune report: \(SVG.esc(a.experimentName))</title><style>\(css)</style></head><body>\n"
        h += header(a)
        h += verdictSummary(a)
        h += section("Configurations", table(SummaryReport.configTable(a)))

        var effects = ""
        for m in a.metrics {
            if let svg = HTMLCharts.effectBars(a, metric: m) { effects += figure(RunMetrics.label(m) + " — ratio vs baseline, 95% CI", svg) }
        }
        if !effects.isEmpty { h += section("Effect of each configuration vs baseline", legend + effects) }

        var strips = ""
        for m in a.metrics {
            if let svg = HTMLCharts.stripPlot(a, metric: m) { strips += figure(RunMetrics.label(m) + " — every repeat", svg) }
        }
        if !strips.isEmpty { h += section("Per-config distributions", strips) }

        // Counters the spec did not list get summaries here (medians only, no comparisons: they take no part
        // in the report's verdicts or multiplicity correction), so the chart is never silently empty.
        let missing = counterMetrics.filter { !a.metrics.contains($0) }
        var counterAnalysis = a
        if !missing.isEmpty {
            let steady = RunMetrics.steadySteps(data.spec)
            var byConfig: [String: [RunRecord]] = [:]
            for run in data.runs where run.status == .ok { byConfig[run.configHash, default: []].append(run) }
            for i in counterAnalysis.configs.indices {
                let ok = byConfig[counterAnalysis.configs[i].configHash] ?? []
                for m in missing {
                    let xs = ok.compactMap { RunMetrics.value(m, in: $0, steadySteps: steady) }
                    counterAnalysis.configs[i].metrics.append(xs.isEmpty
                        ? MetricResult(metric: m, stats: nil, unavailableReason: ok.first.map { RunMetrics.unavailableReason(m, in: $0) } ?? "no ok runs")
                        : MetricResult(metric: m, stats: analyzer.summarize(xs, metric: m, spec: data.spec)))
                }
            }
        }
        let counters = counterMetrics.map { m -> String in
            let results = counterAnalysis.configs.compactMap { $0.result(m) }
            if results.allSatisfy({ $0.stats == nil }) {
                let reason = results.first?.unavailableReason ?? "not measured"
                return "<p class=\"na\">\(SVG.esc(RunMetrics.label(m))): n/a (\(SVG.esc(reason)))</p>"
            }
            return figure(RunMetrics.label(m) + " — median", HTMLCharts.counterBars(counterAnalysis, metric: m))
        }
        h += section("Counters per step", counters.joined())

        if let svg = HTMLCharts.aucScatter(a, points: scatterPoints(a, data: data)) {
            h += section("AUC vs throughput", figure("one point per run", svg))
        }
        if a.configs.contains(where: { !$0.comparisons.isEmpty }) {
            h += section("Every metric against the baseline", table(SummaryReport.comparisonTable(a)))
        }
        if !a.effects.isEmpty { h += section("Effects", table(SummaryReport.effectsTable(a))) }
        if !a.claims.isEmpty { h += section("Claims", table(SummaryReport.claimsTable(a), statusColumn: 5)) }
        if !a.failedRuns.isEmpty { h += section("Failed runs", table(SummaryReport.failuresTable(a))) }
        h += section("Spec", "<pre>\(SVG.esc(a.specText))</pre>")
        h += "<footer>rectune \(SVG.esc(a.host.rectuneVersion)) · generated \(SVG.esc(ISO8601DateFormatter().string(from: Date())))</footer>"
        h += "</body></html>\n"
        return h
    }

    /// (config index, samples/s, AUC) for every ok run that has both.
    static func scatterPoints(_ a: ExperimentAnalysis, data: ExperimentData) -> [(config: Int, x: Double, y: Double)] {
        let index = Dictionary(a.configs.enumerated().map { ($1.configHash, $0) }, uniquingKeysWith: { first, _ in first })
        let steady = RunMetrics.steadySteps(data.spec)
        return data.runs.compactMap { run in
            guard run.status == .ok, let c = index[run.configHash],
                  let x = RunMetrics.value("samples_per_sec", in: run, steadySteps: steady),
                  let y = RunMetrics.value("auc", in: run, steadySteps: steady) else { return nil }
            return (c, x, y)
        }
    }

    static func header(_ a: ExperimentAnalysis) -> String {
        let ok = a.configs.reduce(0) { $0 + $1.okRunIDs.count }
        var h = "<header><h1>\(SVG.esc(a.experimentName)) <span class=\"id\">#\(a.experimentID)</span></h1>"
        h += "<p class=\"meta\">\(SVG.esc(a.design)) design · \(a.configs.count) configs · \(a.totalRuns) runs (\(ok) ok, "
        h += "\(a.failedRuns.count) failed) · created \(SVG.esc(ISO8601DateFormatter().string(from: a.created)))</p>"
        h += "<p class=\"host\">\(SVG.esc(SummaryReport.hostLine(a.host)))</p></header>\n"
        return h
    }

    /// A one-glance list: for each non-baseline config, its verdict on the primary metric.
    static func verdictSummary(_ a: ExperimentAnalysis) -> String {
        guard let primary = a.metrics.first else { return "" }
        let items = a.configs.filter { !$0.isBaseline }.compactMap { c -> String? in
            guard let cmp = c.comparison(primary) else { return nil }
            let mark = cmp.neutral
                ? "<span class=\"na\">\(SVG.esc(Fmt.verdict(cmp)))</span>"
                : "<span class=\"badge\" style=\"background:\(SVG.color(cmp.verdict))\">\(SVG.esc(cmp.verdict.rawValue))</span>"
            return "<li>\(mark) <b>\(SVG.esc(c.label))</b>: \(SVG.esc(RunMetrics.label(primary))) \(SVG.esc(Fmt.change(cmp)))</li>"
        }
        guard !items.isEmpty else { return "" }
        return "<section class=\"summary\"><ul>\(items.joined())</ul></section>\n"
    }

    static let legend = "<p class=\"legend\">" + MetricVerdict.allCases.filter { $0 != .changed }.map {
        "<span class=\"badge\" style=\"background:\(SVG.color($0))\">\($0.rawValue)</span>"
    }.joined(separator: " ") + " — bar from 1x to the median ratio, whisker = bootstrap 95% CI; polarity per metric; "
        + "a neutral diagnostic shows its change as “changed” (grey, no badge). Verdicts use Benjamini–Hochberg q-values.</p>"

    static func section(_ title: String, _ body: String) -> String {
        "<section><h2>\(SVG.esc(title))</h2>\(body)</section>\n"
    }

    static func figure(_ caption: String, _ svg: String) -> String {
        "<figure>\(svg)<figcaption>\(SVG.esc(caption))</figcaption></figure>"
    }

    static func table(_ t: ReportTable, statusColumn: Int? = nil) -> String {
        var h = "<div class=\"tw\"><table><thead><tr>"
        h += t.header.enumerated().map { "<th\(t.rightAligned[$0] ? " class=\"r\"" : "")>\(SVG.esc($1))</th>" }.joined()
        h += "</tr></thead><tbody>"
        for row in t.rows {
            h += "<tr>" + row.enumerated().map { c, cell in
                var cls: [String] = []
                if t.rightAligned[c] { cls.append("r") }
                if cell.hasPrefix("n/a") { cls.append("na") }
                if cell.contains("REGRESSED") || (c == statusColumn && cell == "not reproduced") { cls.append("bad") }
                if cell.contains("improved") || (c == statusColumn && cell == "reproduced") { cls.append("good") }
                return "<td\(cls.isEmpty ? "" : " class=\"\(cls.joined(separator: " "))\"")>\(SVG.esc(cell))</td>"
            }.joined() + "</tr>"
        }
        return h + "</tbody></table></div>"
    }

    static let css = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2330;margin:24px auto;max-width:1100px;padding:0 16px;background:#fbfbfd}
    h1{font-size:24px;margin:0 0 4px}h1 .id{color:#889;font-weight:normal}h2{font-size:17px;border-bottom:1px solid #dde;padding-bottom:3px;margin-top:28px}
    .meta,.host{color:#556;margin:2px 0}.host{font-size:12px}
    .summary ul{list-style:none;padding:0;margin:12px 0;display:flex;flex-wrap:wrap;gap:6px 18px}
    .badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
    .legend{font-size:12px;color:#556}
    figure{margin:10px 0 18px}figcaption{font-size:12px;color:#556;margin-left:230px}
    svg{display:block;max-width:100%;height:auto;font-family:inherit}
    .grid{stroke:#e3e5ec;stroke-width:1}.ref{stroke:#333;stroke-width:1.2;stroke-dasharray:4 3}
    .tick{font-size:10px;fill:#667}.lbl{font-size:12px;fill:#1d2330}.val{font-size:11px;fill:#333}.axis{font-size:12px;fill:#445}
    .na{font-size:12px;fill:#999;color:#999;font-style:italic}
    .tw{overflow-x:auto}table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
    th,td{border-bottom:1px solid #e6e7ee;padding:4px 9px;text-align:left;white-space:nowrap}th{background:#f0f1f6}
    td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}td.bad{color:#c0262d;font-weight:600}td.good{color:#1a7f45;font-weight:600}
    pre{background:#f3f4f8;border:1px solid #e0e2ea;padding:10px;overflow-x:auto;font-size:12px}
    footer{margin-top:30px;color:#99a;font-size:11px}
    """
}
