import ArgumentParser
import Foundation
import RecHarness

extension ReportFormat: ExpressibleByArgument {}

/// `rectune report [EXPERIMENT | --latest]`: an experiment as a terminal table, Markdown, CSV (tidy or
/// wide), one self-contained HTML file, a Jupyter notebook or JSON.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Report an experiment (text, md, csv, csv-wide, html, ipynb, json).",
        discussion: """
        EXPERIMENT is a stored experiment's name (its latest run) or id; without it (or with --latest) the most \
        recent experiment is reported. Per config: the knobs that vary, samples/s median with a bootstrap 95% CI, \
        ratio vs baseline with CI and verdict, the other metrics; main effects; claims; failed runs; the host. A \
        counter that could not be measured shows as n/a (reason). ipynb goes to notebooks-export/<experiment>.ipynb \
        unless --out is given; other formats go to stdout unless --out is given.
        """)

    @Argument(help: "Experiment name or id (default: the latest).")
    var experiment: String?

    @Option(name: .customLong("experiment"), help: "Same as the EXPERIMENT argument.")
    var experimentOption: String?

    @Flag(help: "Report the most recently created experiment.")
    var latest = false

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Option(help: "text | md | csv | csv-wide | html | ipynb | json")
    var format: ReportFormat = .text

    @Option(help: "Output file ('-' for stdout).")
    var out: String?

    @Option(name: .customLong("metric"), help: "NAME[:T] metric to analyse (repeatable; default: the spec's metrics); T overrides its change threshold: 3%, 0.03 or abs:0.001.")
    var metrics: [String] = []

    @Flag(help: "For an experiment of `rectune contest run`: report its runs as an ordinary experiment instead of the contest's scoreboard.")
    var noScoreboard = false

    func run() async throws {
        try await AnalysisCLI.exitingOnDataErrors {
            if experiment != nil && experimentOption != nil { throw SelectorError(message: "give EXPERIMENT once (argument or --experiment)") }
            let experiment = experiment ?? experimentOption
            if latest && experiment != nil { throw SelectorError(message: "give an EXPERIMENT or --latest, not both") }
            let store = try self.store.openForReading()
            let record: ExperimentRecord
            if let experiment {
                record = try store.findExperiment(experiment)
            } else {
                guard let l = try store.latestExperiment() else { throw SelectorError(message: "the store \(db) holds no experiment yet (run `rectune sweep` first)") }
                record = l
            }
            // A contest experiment reports as the whole contest's scoreboard (all its models and submissions).
            if !noScoreboard, let tag = ContestTag.find(in: record.specText),
               let board = try ContestReport.board(store: store, scale: tag.scale) {
                let format = self.format == .csvWide ? "csv" : self.format.rawValue
                let bytes = try ContestReport.render(board, format: format)
                let path = out ?? (self.format == .ipynb ? NotebookReport.defaultPath(for: "contest") : "-")
                if path == "-" { FileHandle.standardOutput.write(bytes) } else {
                    let url = URL(fileURLWithPath: path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try bytes.write(to: url, options: .atomic)
                    Terminal.err("wrote the \(format) contest scoreboard (scale \(tag.scale)) to \(path)")
                }
                return
            }
            let data = try store.loadExperimentData(record.id)
            let parsed = try metrics.map { try MetricArgument.parse($0, known: data.metricNames) }
            var analyzer = ExperimentAnalyzer()
            for p in parsed { if let t = p.threshold { analyzer.thresholds[p.name] = t } }
            let text = try ReportRenderer.render(data, format: format, analyzer: analyzer, metrics: parsed.isEmpty ? nil : parsed.map(\.name))
            let path = out ?? (format == .ipynb ? NotebookReport.defaultPath(for: record.name) : "-")
            if path == "-" {
                FileHandle.standardOutput.write(Data(text.utf8))
            } else {
                let url = URL(fileURLWithPath: path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url, options: .atomic)
                Terminal.err("wrote \(format.rawValue) report of '\(record.name)' (#\(record.id), \(data.runs.count) runs) to \(path)")
            }
        }
    }
}

/// Shared plumbing of the analysis commands (report, compare, check).
enum AnalysisCLI {
    /// Runs `body`; errors go to the one exit-status mapping (`ExitStatus.map`): a data or usage
    /// error exits 2, a store failure 5.
    static func exitingOnDataErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as ExitCode {
            throw e
        } catch let e as CleanExit {
            throw e
        } catch {
            let (status, message) = ExitStatus.map(error)
            if let message { Terminal.err(message) }
            // Anything not known to be the runs' own failure is a data error for the analysis commands.
            throw ExitCode(status == ExitStatus.failure ? ExitStatus.usage : status)
        }
    }
}
