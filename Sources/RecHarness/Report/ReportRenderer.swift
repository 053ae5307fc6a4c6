import Foundation

/// The formats `rectune report` writes.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, md, csv, csvWide = "csv-wide", html, ipynb, json

    /// The file extension for the format.
    public var fileExtension: String {
        switch self {
        case .text: "txt"
        case .md: "md"
        case .csv, .csvWide: "csv"
        case .html: "html"
        case .ipynb: "ipynb"
        case .json: "json"
        }
    }
}

/// Renders an experiment in any `ReportFormat`.
public enum ReportRenderer {
    /// Analyses `data` with `analyzer` and renders it as `format`.
    /// - Throws: CSV or JSON encoding errors (not expected for stored data).
    public static func render(_ data: ExperimentData, format: ReportFormat,
                              analyzer: ExperimentAnalyzer = ExperimentAnalyzer(), metrics: [String]? = nil) throws -> String {
        switch format {
        case .csv: return try CSVReport.tidy(data)
        case .csvWide: return try CSVReport.wide(data)
        default: break
        }
        let analysis = analyzer.analyze(data, metrics: metrics)
        switch format {
        case .text: return SummaryReport.render(analysis, style: .text)
        case .md: return SummaryReport.render(analysis, style: .markdown)
        case .html: return HTMLReport.render(analysis, data: data, analyzer: analyzer)  // one analysis, reused
        case .ipynb: return try NotebookReport.render(analysis, data: data)
        case .json: return try json(analysis)
        case .csv, .csvWide: fatalError("handled above")
        }
    }

    /// Any Encodable as pretty, sorted JSON (dates ISO 8601; NaN and ±infinity as `null`: JSON has no
    /// number for them, and a string would break consumers that expect a number or nothing).
    /// - Throws: `EncodingError`.
    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // A sentinel string value, replaced by null below (a stored string equal to it is not plausible).
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: nonFinite, negativeInfinity: nonFinite, nan: nonFinite)
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        return text.replacingOccurrences(of: "\"\(nonFinite)\"", with: "null") + "\n"
    }

    private static let nonFinite = "__rectune_non_finite_7f3a9c__"
}
