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
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        let a = abs(x)
        if a == 0 { return "0" }
        if a >= 1000 { return String(format: "%.0f", x) }
        if a >= 100 { return String(format: "%.1f", x) }
        if a >= 1 { return String(format: "%.2f", x) }
        if a >= 0.01 { return String(format: "%.4f", x) }
        return String(format: "%.3g", x)
    }

    /// `1.43x`.
    public static func ratio(_ x: Double) -> String {
        guard x.isFinite else { return num(x) }
        return String(format: abs(x) >= 10 ? "%.1fx" : "%.3fx", x)
    }

    /// `1.43x [1.30, 1.55]`.
    public static func ratioCI(_ r: Interval?) -> String {
        guard let r else { return "–" }
        return "\(ratio(r.value)) [\(ratio(r.low).dropLast()), \(ratio(r.high).dropLast())]"
    }

    /// `1234 [1200, 1260]`.
    public static func withCI(_ i: Interval) -> String { "\(num(i.value)) [\(num(i.low)), \(num(i.high))]" }

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
