import Foundation

/// Building blocks for the HTML report's inline SVG charts: escaping, linear scales with "nice"
/// ticks, and the verdict colour palette. No scripts, no external resources.
enum SVG {
    /// Escapes text for HTML/SVG content and attribute values.
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A coordinate with two decimals.
    /// A coordinate with two decimals (`%.2f`), by integer arithmetic: a 10,000-run strip plot formats
    /// tens of thousands of coordinates, and `String(format:)` dominated the HTML report's time.
    static func f(_ x: Double) -> String {
        let scaled = (x * 100).rounded()
        guard scaled.isFinite, abs(scaled) < 1e15 else { return String(format: "%.2f", x) }
        let n = Int64(scaled), a = n.magnitude
        let frac = a % 100
        return (n < 0 ? "-" : "") + String(a / 100) + (frac < 10 ? ".0" : ".") + String(frac)
    }

    /// Colour for a verdict.
    static func color(_ v: MetricVerdict?) -> String {
        switch v {
        case .improved: "#1a9850"
        case .regressed: "#d73027"
        case .unchanged: "#7f8c8d"
        case .inconclusive: "#e6a100"
        case .changed: "#9aa3b5"
        case nil: "#4575b4"
        }
    }

    /// A categorical palette for configurations.
    static let palette = ["#4575b4", "#d73027", "#1a9850", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#17becf",
                          "#66a61e", "#e7298a", "#7570b3", "#b8860b"]

    /// A linear map from a data range onto a pixel range.
    struct Scale {
        var lo: Double, hi: Double, p0: Double, p1: Double
        /// A scale covering `values` (padded by 5%, never empty) onto `[p0, p1]`.
        init(covering values: [Double], p0: Double, p1: Double, includeZero: Bool = false) {
            var lo = values.filter(\.isFinite).min() ?? 0, hi = values.filter(\.isFinite).max() ?? 1
            if includeZero { lo = Swift.min(lo, 0); hi = Swift.max(hi, 0) }
            if hi - lo < 1e-12 * Swift.max(1, abs(hi)) { lo -= Swift.max(abs(lo) * 0.05, 0.5e-3); hi += Swift.max(abs(hi) * 0.05, 0.5e-3) }
            let pad = (hi - lo) * 0.05
            self.lo = (includeZero && lo == 0) ? 0 : lo - pad
            self.hi = hi + pad
            self.p0 = p0; self.p1 = p1
        }
        func callAsFunction(_ x: Double) -> Double {
            let c = Swift.min(Swift.max(x.isFinite ? x : (x > 0 ? hi : lo), lo), hi)
            return p0 + (c - lo) / (hi - lo) * (p1 - p0)
        }
        /// About `count` round tick values inside the range.
        func ticks(_ count: Int = 5) -> [Double] {
            let raw = (hi - lo) / Double(Swift.max(count, 1))
            let mag = pow(10, floor(log10(raw)))
            let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
            var t = ceil(lo / step) * step, out: [Double] = []
            while t <= hi + step * 1e-9 && out.count < 20 { out.append(t); t += step }
            return out
        }
    }

    /// Tick label text.
    static func tick(_ x: Double) -> String {
        let a = abs(x)
        if a == 0 { return "0" }
        if a >= 10_000 { return String(format: "%.0fk", x / 1000) }
        if a >= 100 { return String(format: "%.0f", x) }
        if a >= 1 { return String(format: "%.2g", x) == String(format: "%.0f", x) ? String(format: "%.0f", x) : String(format: "%.3g", x) }
        return String(format: "%.3g", x)
    }

    /// Tick labels with as many decimals as the tick spacing needs (so 0.999, 1.000, 1.001 stay distinct).
    static func tickLabels(_ ticks: [Double]) -> [String] {
        guard ticks.count > 1 else { return ticks.map(tick) }
        let step = abs(ticks[1] - ticks[0])
        let decimals = step > 0 ? max(0, Int(ceil(-log10(step) - 1e-9))) : 0
        if decimals == 0 || ticks.contains(where: { abs($0) >= 10_000 }) { return ticks.map(tick) }
        return ticks.map { String(format: "%.\(min(decimals, 8))f", $0) }
    }

    /// Vertical grid lines with tick labels along the bottom of a plot area; `suffix` follows each label (e.g. "x").
    static func xAxis(_ s: Scale, top: Double, bottom: Double, suffix: String = "") -> String {
        var out = ""
        let ticks = s.ticks()
        for (t, label) in zip(ticks, tickLabels(ticks)) {
            let x = f(s(t))
            out += "<line x1=\"\(x)\" y1=\"\(f(top))\" x2=\"\(x)\" y2=\"\(f(bottom))\" class=\"grid\"/>"
            out += "<text x=\"\(x)\" y=\"\(f(bottom + 14))\" class=\"tick\" text-anchor=\"middle\">\(esc(label + suffix))</text>"
        }
        return out
    }

    /// Horizontal grid lines with tick labels along the left of a plot area.
    static func yAxis(_ s: Scale, left: Double, right: Double) -> String {
        var out = ""
        let ticks = s.ticks()
        for (t, label) in zip(ticks, tickLabels(ticks)) {
            let y = f(s(t))
            out += "<line x1=\"\(f(left))\" y1=\"\(y)\" x2=\"\(f(right))\" y2=\"\(y)\" class=\"grid\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(y)\" dy=\"4\" class=\"tick\" text-anchor=\"end\">\(esc(label))</text>"
        }
        return out
    }

    /// A label cut to `max` characters (full text kept in a <title> by callers when cut).
    static func clip(_ s: String, _ max: Int) -> String { s.count <= max ? s : String(s.prefix(max - 1)) + "…" }

    /// An `<svg>` element with a title for screen readers.
    static func svg(width: Double, height: Double, title: String, body: String) -> String {
        "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\"><title>\(esc(title))</title>\(body)</svg>"
    }
}
