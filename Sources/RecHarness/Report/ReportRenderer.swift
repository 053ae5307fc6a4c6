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
        case .html: return HTMLReport.render(analysis, data: data, analyzer: analyzer)
        case .ipynb: return try NotebookReport.render(analysis, data: data)
        case .json: return try json(analysis)
        case .csv, .csvWide: fatalError("handled above")
        }
    }

    /// Any Encodable as pretty, sorted JSON (dates ISO 8601; NaN/±infinity as the strings "nan", "inf", "-inf").
    /// - Throws: `EncodingError`.
    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
