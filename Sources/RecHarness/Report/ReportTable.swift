import Foundation

/// A plain table (header + rows of text cells) that renders as an aligned terminal table or a
/// Markdown table. Numeric-looking columns are right-aligned.
public struct ReportTable: Sendable, Equatable {
    public var header: [String]
    public var rows: [[String]]
    /// Per column: true to right-align (numbers).
    public var rightAligned: [Bool]

    /// Creates a table; rows shorter than the header are padded with empty cells.
    public init(header: [String], rows: [[String]], rightAligned: [Bool]? = nil) {
        self.header = header
        self.rows = rows.map { $0.count < header.count ? $0 + Array(repeating: "", count: header.count - $0.count) : $0 }
        self.rightAligned = rightAligned ?? Array(repeating: false, count: header.count)
    }

    /// An aligned terminal table with a dashed rule under the header.
    public func text(indent: String = "") -> String {
        let widths = header.indices.map { c in
            ([header[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { c, cell -> String in
                let pad = String(repeating: " ", count: max(0, widths[c] - cell.count))
                return rightAligned[c] ? pad + cell : cell + pad
            }
            return indent + padded.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = [line(header), indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n") + "\n"
    }

    /// A GitHub-flavoured Markdown table; `|` in cells is escaped.
    public func markdown() -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        var out = "| " + header.map(esc).joined(separator: " | ") + " |\n"
        out += "|" + rightAligned.map { $0 ? " ---: |" : " --- |" }.joined() + "\n"
        for row in rows { out += "| " + row.map(esc).joined(separator: " | ") + " |\n" }
        return out
    }
}

/// Number formatting shared by every report.
public enum Fmt {
    /// A value with precision chosen by magnitude: `12345`, `123.4`, `1.234`, `0.7812`.
    public static func num(_ x: Double?) -> String {
        guard let x else { return "–" }
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "∞" : "-∞") }
        let a = abs(x)
        if a == 0 { return "0" }
        if a >= 1000 { return String(format: "%.0f", x) }
        if a >= 100 { return String(format: "%.1f", x) }
        if a >= 1 { return String(format: "%.2f", x) }
        if a >= 0.01 { return String(format: "%.4f", x) }
        return String(format: "%.3g", x)
    }

    /// `1.43x` (`∞x` for an infinite ratio: a zero baseline).
    public static func ratio(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "∞x" : "-∞x") }
        return String(format: abs(x) >= 10 ? "%.1fx" : "%.3fx", x)
    }

    /// `1.43x [1.30, 1.55]`; an infinite end prints as `∞`.
    public static func ratioCI(_ r: Interval?) -> String {
        guard let r else { return "–" }
        func end(_ x: Double) -> String { String(ratio(x).dropLast()) }
        return "\(ratio(r.value)) [\(end(r.low)), \(end(r.high))]"
    }

    /// The change of a comparison: the ratio (relative thresholds) or the difference (absolute ones, and a
    /// zero baseline), with its CI; a deterministic comparison has no CI.
    public static func change(_ c: MetricComparison) -> String {
        let absolute = !c.threshold.hasSuffix("%")
        let zeroBase = c.baselineMedian == 0
        if absolute || zeroBase, let d = c.difference {
            let v = signed(d.value)
            return c.deterministic ? "\(v)" : "\(v) [\(signed(d.low)), \(signed(d.high))]"
        }
        guard let r = c.ratio else { return "–" }
        return c.deterministic ? ratio(r.value) : ratioCI(r)
    }

    /// `+0.0123` style: a signed value with magnitude-chosen precision.
    public static func signed(_ x: Double) -> String {
        let s = num(x)
        return x > 0 && x.isFinite ? "+" + s : s
    }

    /// The p column: raw p and, when the comparison was tested, the q-value; `n_eff = 1` for deterministic.
    public static func pq(_ c: MetricComparison) -> String {
        if c.deterministic { return "n_eff = 1" }
        guard let p = c.pValue else { return "–" }
        return c.qValue.map { "\(Fmt.p(p)) (q \(Fmt.p($0)))" } ?? Fmt.p(p)
    }

    /// The verdict cell: `n/a (reason)` when a side has no data, `—` for a neutral diagnostic that did not
    /// clearly change, else the verdict's marker.
    public static func verdict(_ c: MetricComparison) -> String {
        if c.baselineMedian == nil || c.candidateMedian == nil { return "n/a (\(c.reason))" }
        if c.neutral && c.verdict != .changed && c.verdict != .unchanged { return "—" }
        return c.verdict.marker
    }

    /// `1234 [1200, 1260]`.
    public static func withCI(_ i: Interval) -> String {
        i.low == i.value && i.high == i.value ? num(i.value) : "\(num(i.value)) [\(num(i.low)), \(num(i.high))]"
    }

    /// `0.008`, `<0.001`.
    public static func p(_ p: Double?) -> String {
        guard let p else { return "–" }
        return p < 0.001 ? "<0.001" : String(format: "%.3f", p)
    }

    /// `+12.3%`.
    public static func percent(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%+.1f%%", x * 100)
    }

    /// The median of a metric result with CI, or `n/a (reason)`.
    public static func metricCell(_ r: MetricResult?, ci: Bool = false) -> String {
        guard let r else { return "–" }
        guard let s = r.stats else { return "n/a (\(r.unavailableReason ?? "not measured"))" }
        return ci ? withCI(s.median) : num(s.median.value)
    }
}
