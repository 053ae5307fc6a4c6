import Foundation

/// The HTML report's charts as inline SVG strings.
enum HTMLCharts {
    static let width = 760.0
    static let labelWidth = 230.0
    static let rowHeight = 24.0
    static let top = 10.0

    /// Ratio vs baseline per config for one metric: a bar from 1 to the ratio, CI whiskers, coloured by verdict.
    static func effectBars(_ a: ExperimentAnalysis, metric: String) -> String? {
        let rows = a.configs.filter { !$0.isBaseline }.compactMap { c -> (ConfigAnalysis, MetricComparison)? in
            guard let cmp = c.comparison(metric), let r = cmp.ratio, r.low.isFinite, r.high.isFinite else { return nil }
            return (c, cmp)
        }
        guard !rows.isEmpty else { return nil }
        let values: [Double] = rows.flatMap { (_, c) -> [Double] in [c.ratio!.low, c.ratio!.high, c.ratio!.value] } + [1.0]
        let right = width - 150
        let s = SVG.Scale(covering: values, p0: labelWidth, p1: right)
        let height = top + Double(rows.count) * rowHeight + 26
        var b = SVG.xAxis(s, top: top, bottom: height - 22, suffix: "x")
        b += "<line x1=\"\(SVG.f(s(1)))\" y1=\"\(SVG.f(top - 4))\" x2=\"\(SVG.f(s(1)))\" y2=\"\(SVG.f(height - 22))\" class=\"ref\"/>"
        for (i, (c, cmp)) in rows.enumerated() {
            let r = cmp.ratio!
            let y = top + Double(i) * rowHeight
            let mid = y + rowHeight / 2
            let x0 = min(s(1), s(r.value)), x1 = max(s(1), s(r.value))
            let color = SVG.color(cmp.verdict)
            b += "<text x=\"\(SVG.f(labelWidth - 8))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"lbl\" text-anchor=\"end\">"
                + "<title>\(SVG.esc(c.label))</title>\(SVG.esc(SVG.clip(c.label, 34)))</text>"
            b += "<rect x=\"\(SVG.f(x0))\" y=\"\(SVG.f(y + 5))\" width=\"\(SVG.f(max(x1 - x0, 1)))\" height=\"\(SVG.f(rowHeight - 10))\" fill=\"\(color)\" fill-opacity=\"0.55\"/>"
            b += "<line x1=\"\(SVG.f(s(r.low)))\" y1=\"\(SVG.f(mid))\" x2=\"\(SVG.f(s(r.high)))\" y2=\"\(SVG.f(mid))\" stroke=\"#222\" stroke-width=\"1.5\"/>"
            for x in [r.low, r.high] {
                b += "<line x1=\"\(SVG.f(s(x)))\" y1=\"\(SVG.f(mid - 5))\" x2=\"\(SVG.f(s(x)))\" y2=\"\(SVG.f(mid + 5))\" stroke=\"#222\" stroke-width=\"1.5\"/>"
            }
            b += "<text x=\"\(SVG.f(right + 6))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"val\" fill=\"\(color)\">\(SVG.esc(Fmt.ratio(r.value) + " " + cmp.verdict.rawValue))</text>"
        }
        return SVG.svg(width: width, height: height, title: "\(RunMetrics.label(metric)): ratio vs baseline with 95% CI", body: b)
    }

    /// The repeats of each config as dots, with the median as a tick; `n/a (reason)` rows for unmeasured configs.
    static func stripPlot(_ a: ExperimentAnalysis, metric: String) -> String? {
        let results = a.configs.map { ($0, $0.result(metric)) }
        let all = results.flatMap { $0.1?.stats?.values ?? [] }
        guard !all.isEmpty else { return nil }
        let right = width - 90
        let s = SVG.Scale(covering: all, p0: labelWidth, p1: right)
        let height = top + Double(results.count) * rowHeight + 26
        var b = SVG.xAxis(s, top: top, bottom: height - 22)
        for (i, (c, r)) in results.enumerated() {
            let y = top + Double(i) * rowHeight, mid = y + rowHeight / 2
            let color = SVG.palette[i % SVG.palette.count]
            b += "<text x=\"\(SVG.f(labelWidth - 8))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"lbl\" text-anchor=\"end\">"
                + "<title>\(SVG.esc(c.label))</title>\(SVG.esc(SVG.clip(c.label + (c.isBaseline && c.label != "baseline" ? " (baseline)" : ""), 34)))</text>"
            guard let st = r?.stats else {
                b += "<text x=\"\(SVG.f(labelWidth + 4))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"na\">\(SVG.esc(Fmt.metricCell(r)))</text>"
                continue
            }
            for (j, v) in st.values.enumerated() {
                let jitter = (Double(j % 5) - 2) * 2.2
                b += "<circle cx=\"\(SVG.f(s(v)))\" cy=\"\(SVG.f(mid + jitter))\" r=\"3.2\" fill=\"\(color)\" fill-opacity=\"0.7\"><title>\(SVG.esc(Fmt.num(v)))</title></circle>"
            }
            let m = s(st.median.value)
            b += "<line x1=\"\(SVG.f(m))\" y1=\"\(SVG.f(y + 3))\" x2=\"\(SVG.f(m))\" y2=\"\(SVG.f(y + rowHeight - 3))\" stroke=\"#111\" stroke-width=\"2\"/>"
            b += "<text x=\"\(SVG.f(right + 6))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"val\">\(SVG.esc(Fmt.num(st.median.value) + (st.isNoisy ? " noisy" : "")))</text>"
        }
        return SVG.svg(width: width, height: height, title: "\(RunMetrics.label(metric)) per config (each dot a run, bar = median)", body: b)
    }

    /// Median counter-per-step bars per config for one counter metric, `n/a (reason)` where unavailable.
    static func counterBars(_ a: ExperimentAnalysis, metric: String) -> String {
        let rows = a.configs.map { ($0, $0.result(metric)) }
        let medians = rows.compactMap { $0.1?.stats?.median.value }
        let right = width - 90
        let s = SVG.Scale(covering: medians.isEmpty ? [0, 1] : medians, p0: labelWidth, p1: right, includeZero: true)
        let height = top + Double(rows.count) * rowHeight + 26
        var b = medians.isEmpty ? "" : SVG.xAxis(s, top: top, bottom: height - 22)
        for (i, (c, r)) in rows.enumerated() {
            let y = top + Double(i) * rowHeight, mid = y + rowHeight / 2
            b += "<text x=\"\(SVG.f(labelWidth - 8))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"lbl\" text-anchor=\"end\">"
                + "<title>\(SVG.esc(c.label))</title>\(SVG.esc(SVG.clip(c.label + (c.isBaseline && c.label != "baseline" ? " (baseline)" : ""), 34)))</text>"
            guard let st = r?.stats else {
                b += "<text x=\"\(SVG.f(labelWidth + 4))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"na\">\(SVG.esc(Fmt.metricCell(r)))</text>"
                continue
            }
            let color = c.isBaseline ? "#4575b4" : SVG.color(c.comparison(metric)?.verdict)
            let x0 = s(0), x1 = s(st.median.value)
            b += "<rect x=\"\(SVG.f(min(x0, x1)))\" y=\"\(SVG.f(y + 5))\" width=\"\(SVG.f(max(abs(x1 - x0), 1)))\" height=\"\(SVG.f(rowHeight - 10))\" fill=\"\(color)\" fill-opacity=\"0.6\"/>"
            b += "<text x=\"\(SVG.f(right + 6))\" y=\"\(SVG.f(mid))\" dy=\"4\" class=\"val\">\(SVG.esc(Fmt.num(st.median.value)))</text>"
        }
        return SVG.svg(width: width, height: height, title: "\(RunMetrics.label(metric)) (median per config)", body: b)
    }

    /// One point per ok run: throughput on x, AUC on y, coloured by config, with a legend.
    static func aucScatter(_ a: ExperimentAnalysis, points: [(config: Int, x: Double, y: Double)]) -> String? {
        guard !points.isEmpty else { return nil }
        let left = 70.0, right = width - 200, plotTop = 12.0, bottom = 300.0
        let sx = SVG.Scale(covering: points.map(\.x), p0: left, p1: right)
        let sy = SVG.Scale(covering: points.map(\.y), p0: bottom, p1: plotTop)
        var b = SVG.xAxis(sx, top: plotTop, bottom: bottom) + SVG.yAxis(sy, left: left, right: right)
        b += "<text x=\"\(SVG.f((left + right) / 2))\" y=\"\(SVG.f(bottom + 32))\" class=\"axis\" text-anchor=\"middle\">samples/s</text>"
        b += "<text x=\"16\" y=\"\(SVG.f((plotTop + bottom) / 2))\" class=\"axis\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(SVG.f((plotTop + bottom) / 2)))\">AUC</text>"
        for p in points {
            let color = SVG.palette[p.config % SVG.palette.count]
            b += "<circle cx=\"\(SVG.f(sx(p.x)))\" cy=\"\(SVG.f(sy(p.y)))\" r=\"4\" fill=\"\(color)\" fill-opacity=\"0.75\">"
                + "<title>\(SVG.esc(a.configs[p.config].label)): \(SVG.esc(Fmt.num(p.x))) samples/s, AUC \(SVG.esc(Fmt.num(p.y)))</title></circle>"
        }
        for (i, c) in a.configs.enumerated().prefix(16) {
            let y = plotTop + 6 + Double(i) * 17
            b += "<circle cx=\"\(SVG.f(right + 18))\" cy=\"\(SVG.f(y))\" r=\"4\" fill=\"\(SVG.palette[i % SVG.palette.count])\"/>"
            b += "<text x=\"\(SVG.f(right + 28))\" y=\"\(SVG.f(y))\" dy=\"4\" class=\"lbl\">\(SVG.esc(SVG.clip(c.label, 24)))</text>"
        }
        return SVG.svg(width: width, height: bottom + 40, title: "AUC vs throughput, one point per run", body: b)
    }
}
