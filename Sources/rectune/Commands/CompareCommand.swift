import ArgumentParser
import Foundation
import RecHarness

/// `rectune compare A B`: two experiments, two configs of one experiment, or two run-id sets side by side.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare two experiments, configs or run sets.",
        discussion: """
        A and B are selectors: NAME or ID (an experiment), NAME:key=value,key=value (one configuration
        of an experiment), or runs:1,2,3 (run ids). B is compared against A: medians with bootstrap 95%
        CIs, the ratio B/A with CI, the Mann-Whitney p-value and a verdict per metric (polarity per metric).
        """)

    @Argument(help: "Baseline selector.")
    var a: String

    @Argument(help: "Candidate selector.")
    var b: String

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Option(name: .customLong("metric"), help: "NAME[:T] metric to compare (repeatable; default: A's spec metrics); T overrides its change threshold: 3%, 0.03 or abs:0.001.")
    var metrics: [String] = []

    @Option(help: "text | md | json")
    var format: String = "text"

    func run() async throws {
        try await AnalysisCLI.exitingOnDataErrors {
            guard ["text", "md", "json"].contains(format) else {
                throw SelectorError(message: "--format '\(format)': expected text, md or json")
            }
            let store = try self.store.openForReading()
            let setA = try store.resolve(try RunSelector.parse(a))
            let setB = try store.resolve(try RunSelector.parse(b))
            let known = setA.metricNames.union(setB.metricNames)
            let parsed = try metrics.map { try MetricArgument.parse($0, known: known) }
            var analyzer = ExperimentAnalyzer()
            for p in parsed { if let t = p.threshold { analyzer.thresholds[p.name] = t } }
            let result = SetComparison.compare(setA, setB, metrics: parsed.map(\.name), analyzer: analyzer)
            let text = format == "json" ? try ReportRenderer.json(result) : result.render(markdown: format == "md")
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
