import ArgumentParser
import Foundation
import RecContract
import RecHarness

/// `rectune compare A B`: two experiments, two configs of one experiment, or two run-id sets side by
/// side; with `--bench`, two sets of `rectune bench --json` documents.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare two experiments, configs or run sets, or two sets of bench documents.",
        discussion: """
        A and B are selectors: NAME or ID (an experiment), NAME:key=value,key=value (one configuration of an \
        experiment), or runs:1,2,3 (run ids). B is compared against A: medians with bootstrap 95% CIs, the ratio B/A \
        with CI, the Mann-Whitney p-value and a verdict per metric (polarity per metric).

        With --bench, A and B are `rectune bench --json` documents (several per side: comma-separated paths, \
        pooled), compared figure by figure: each model's samples/s, roofline and busy fractions, step p50/p99 and \
        AUC, the host's GEMM rates, readers, sequence models, --dense shapes and --kernels. A side's samples of a \
        figure are each document's run plus each of its --rounds, so compare documents made with --rounds (or \
        several documents per side) for verdicts; one value per side gives the ratio and "inconclusive" (AUC, \
        deterministic, is judged on its threshold alone). Across hosts, compare roofline_fraction: it is taken \
        against each run's own host GEMM rate. Notes name the hosts, settings and commits that differ.
        --fail-on-regression exits 1 when any figure regressed (a CI gate on engine speed).
        """)

    @Argument(help: "Baseline selector (with --bench: bench document paths, comma-separated).")
    var a: String

    @Argument(help: "Candidate selector (with --bench: bench document paths, comma-separated).")
    var b: String

    @Flag(help: "A and B are `rectune bench --json` documents, not store selectors.")
    var bench = false

    @Flag(help: "Exit 1 when any compared metric regressed.")
    var failOnRegression = false

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Option(name: .customLong("metric"), help: "NAME[:T] metric to compare (repeatable; default: A's spec metrics, with --bench every figure); T overrides its change threshold: 3%, 0.03 or abs:0.001.")
    var metrics: [String] = []

    @Option(help: "text | md | json")
    var format: String = "text"

    func run() async throws {
        try await AnalysisCLI.exitingOnDataErrors {
            guard ["text", "md", "json"].contains(format) else {
                throw SelectorError(message: "--format '\(format)': expected text, md or json")
            }
            if bench { return try compareBench() }
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
            if failOnRegression && result.hasRegression { throw ExitCode(ExitStatus.failure) }
        }
    }

    /// `--bench`: two sets of bench documents, figure by figure.
    private func compareBench() throws {
        let known = Set(BenchComparison.Metric.allCases.map(\.rawValue))
        let parsed = try metrics.map { text -> (metric: BenchComparison.Metric, threshold: ChangeThreshold?) in
            let p = try MetricArgument.parse(text, known: known)
            guard let m = BenchComparison.Metric(rawValue: p.name) else {
                throw SelectorError(message: "--metric '\(text)': not a bench figure; --bench compares "
                                    + BenchComparison.Metric.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return (m, p.threshold)
        }
        let result = BenchComparison.compare(try BenchDocument.side(a), try BenchDocument.side(b), metrics: parsed)
        let text = format == "json" ? try ReportRenderer.json(result) : result.render(markdown: format == "md")
        FileHandle.standardOutput.write(Data(text.utf8))
        if failOnRegression && result.hasRegression { throw ExitCode(ExitStatus.failure) }
    }
}
