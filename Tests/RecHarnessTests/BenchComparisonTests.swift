import RecContract
@testable import RecHarness
import RecStats
import XCTest

/// `compare --bench`'s statistics over bench figures: verdicts by each metric's polarity, one
/// Benjamini–Hochberg family over the figures with enough samples, and the notes on what differs.
final class BenchComparisonTests: XCTestCase {
    private typealias F = BenchComparison.Figure

    private func document(_ path: String, host: String = "EPYC, 2 CPUs", bf16: String = "false", commit: String? = "aaaa") -> BenchComparison.Document {
        .init(path: path, gitCommit: commit, host: host, settings: [.init("batch", "512"), .init("bf16", bf16)], complete: true)
    }

    private func figures(_ subject: String, _ metric: BenchComparison.Metric, _ values: [Double]) -> [F] {
        values.map { F(subject, metric, $0) }
    }

    func testVerdictsFollowEachMetricsPolarity() {
        let wdl = "criteo wdl in-memory"
        let a = BenchComparison.Side(label: "before", documents: [document("a.json")], figures:
            figures(wdl, .samplesPerSec, [100, 101, 99, 100.5, 99.5, 100.2])
            + figures(wdl, .stepP50, [10, 10.1, 9.9, 10.05, 9.95, 10.02])
            + figures(wdl, .rooflineFraction, [0.70, 0.71, 0.69, 0.705, 0.695, 0.702])
            + [F("reader criteo", .rowsPerSec, 3.0e6), F("kernel gather", .nsPerSample, 200)])
        let b = BenchComparison.Side(label: "after", documents: [document("b.json")], figures:
            figures(wdl, .samplesPerSec, [120, 121, 119, 120.5, 119.5, 120.2])
            + figures(wdl, .stepP50, [12, 12.1, 11.9, 12.05, 11.95, 12.02])
            + figures(wdl, .rooflineFraction, [0.70, 0.71, 0.69, 0.705, 0.695, 0.702])
            + [F("reader criteo", .rowsPerSec, 1.5e6)])
        // AUC: deterministic, so one value per side is judged on its ±0.001 alone.
        let auc = BenchComparison.compare(
            .init(label: "a", documents: [], figures: [F("criteo wdl in-memory", .auc, 0.7901), F("criteo dlrm in-memory", .auc, 0.7151)]),
            .init(label: "b", documents: [], figures: [F("criteo wdl in-memory", .auc, 0.7871), F("criteo dlrm in-memory", .auc, 0.7155)]))
        XCTAssertEqual(auc.rows.map(\.comparison.verdict), [.regressed, .unchanged], auc.rows.map(\.comparison.reason).description)
        XCTAssertEqual(auc.rows.map(\.comparison.deterministic), [true, true])
        let c = BenchComparison.compare(a, b)
        func row(_ subject: String, _ metric: BenchComparison.Metric) -> BenchComparison.Row? {
            c.rows.first { $0.subject == subject && $0.metric == metric.rawValue }
        }
        XCTAssertEqual(c.rows.count, 4, "the kernel is only in A: not compared")
        XCTAssertEqual(row(wdl, .samplesPerSec)?.comparison.verdict, .improved, "higher samples/s is better")
        XCTAssertEqual(row(wdl, .samplesPerSec)?.comparison.ratio?.value ?? 0, 120.1 / 100.1, accuracy: 1e-9)
        XCTAssertEqual(row(wdl, .stepP50)?.comparison.verdict, .regressed, "a longer step is worse")
        XCTAssertEqual(row(wdl, .rooflineFraction)?.comparison.verdict, .unchanged, "identical samples: the CI sits inside ±2%")
        XCTAssertTrue(c.hasRegression)
        let reader = row("reader criteo", .rowsPerSec)
        XCTAssertEqual(reader?.comparison.verdict, .inconclusive, "one value per side cannot be judged")
        XCTAssertEqual(reader?.comparison.ratio?.value ?? 0, 0.5, accuracy: 1e-12, "but its ratio is shown")
        XCTAssertNil(reader?.comparison.qValue, "and it stays out of the BH family")
        XCTAssertEqual(reader?.a.stats?.n, 1)

        // The BH family holds only the three judged rows.
        let judged = [wdl].flatMap { s in [BenchComparison.Metric.samplesPerSec, .stepP50, .rooflineFraction].compactMap { row(s, $0) } }
        let q = MultipleTesting.benjaminiHochberg(judged.map { $0.comparison.pValue ?? .nan })
        XCTAssertEqual(judged.map { $0.comparison.qValue ?? .nan }, q)

        XCTAssertTrue(c.notes.contains("only in A (not compared): kernel gather ns_per_sample"), "\(c.notes)")
        XCTAssertFalse(c.notes.contains { $0.hasPrefix("hosts differ") || $0.hasPrefix("setting") || $0.hasPrefix("commits") }, "\(c.notes)")
        let text = c.render(markdown: false)
        XCTAssertTrue(text.contains("B vs A: 1 improved, 1 regressed, 1 unchanged, 1 inconclusive"), text)
        XCTAssertTrue(text.contains("criteo wdl in-memory step_ms.p50: "), "the regression's reason is printed: \(text)")
        XCTAssertTrue(c.render(markdown: true).contains("| criteo wdl in-memory | samples_per_sec | 6/6 |"))
    }

    func testNotesNameTheHostsSettingsAndCommitsThatDiffer() {
        let a = BenchComparison.Side(label: "a", documents: [document("a.json")], figures: [F("host GEMM fp32", .gflopsPerCore, 100)])
        var incomplete = document("b.json", host: "Xeon, 2 CPUs", bf16: "true", commit: "bbbb")
        incomplete.complete = false
        let b = BenchComparison.Side(label: "b", documents: [incomplete], figures: [F("host GEMM fp32", .gflopsPerCore, 150)])
        let notes = BenchComparison.compare(a, b).notes
        XCTAssertTrue(notes.contains { $0.hasPrefix("hosts differ (A: EPYC, 2 CPUs; B: Xeon, 2 CPUs)") && $0.contains("roofline_fraction") }, "\(notes)")
        XCTAssertTrue(notes.contains("setting bf16: A false, B true"), "\(notes)")
        XCTAssertFalse(notes.contains { $0.hasPrefix("setting batch") }, "equal settings are not noted: \(notes)")
        XCTAssertTrue(notes.contains("commits: A aaaa, B bbbb"), "\(notes)")
        XCTAssertTrue(notes.contains { $0.hasPrefix("b.json is incomplete") }, "\(notes)")
    }

    func testMetricsAndThresholdsChosenByTheUser() {
        let s = "criteo dlrm end-to-end"
        let a = BenchComparison.Side(label: "a", documents: [document("a.json")], figures:
            figures(s, .samplesPerSec, [100, 101, 99, 100.5, 99.5]) + figures(s, .stepP99, [20, 21, 19, 20.5, 19.5]))
        let b = BenchComparison.Side(label: "b", documents: [document("b.json")], figures:
            figures(s, .samplesPerSec, [110, 111, 109, 110.5, 109.5]) + figures(s, .stepP99, [30, 31, 29, 30.5, 29.5]))
        let c = BenchComparison.compare(a, b, metrics: [(.samplesPerSec, .relative(0.5))])
        XCTAssertEqual(c.rows.map(\.metric), ["samples_per_sec"], "only the metric asked for")
        XCTAssertEqual(c.rows.first?.comparison.threshold, "±50%")
        XCTAssertNotEqual(c.rows.first?.comparison.verdict, .improved, "+10% is inside a ±50% threshold")
        XCTAssertFalse(c.notes.contains { $0.contains("step_ms.p99") }, "a metric left out is not an unmatched figure: \(c.notes)")
        XCTAssertEqual(BenchComparison.compare(a, b).rows.first { $0.metric == "step_ms.p99" }?.comparison.verdict, .regressed)
    }
}
