import Foundation
@testable import RecHarness
import TestSupport
import XCTest

/// Issue 12, "bad input that gets through": each test reproduces one fault.
final class BadInputTests: XCTestCase {
    /// Item 12: one run per side, a 4% drop: before, the gate said "no regression" (exit 0) even with
    /// --inconclusive-fails; the minimum sample count now comes before any verdict.
    func testGateNeedsTheMinimumSampleCountBeforeAnyVerdict() throws {
        let store = try ResultStore.temporary()
        try CheckTests.seed(store, name: "one-a", sps: 1000, noise: 0, repeats: 1, seed: 1)
        try CheckTests.seed(store, name: "one-b", sps: 960, noise: 0, repeats: 1, seed: 2)
        let result = try CheckTests.gate(store, "one-a", "one-b", options: GateOptions(metrics: [GateMetric(name: "samples_per_sec", threshold: 0.05)]))
        XCTAssertEqual(result.exitCode, 3, result.markdown)
        XCTAssertTrue(result.comparisons[0].reason.contains("too few runs"), result.comparisons[0].reason)
        let strict = try CheckTests.gate(store, "one-a", "one-b",
                                         options: GateOptions(metrics: [GateMetric(name: "samples_per_sec", threshold: 0.05)], inconclusiveFails: true))
        XCTAssertEqual(strict.exitCode, 1)
    }

    /// Item 12: a metric no run has is a usage error naming it (with a suggestion), also beside a real one.
    func testGateRejectsAnUnknownMetric() throws {
        let store = try ResultStore.temporary()
        try CheckTests.seed(store, name: "m-a", sps: 1000, noise: 0.01, seed: 1)
        try CheckTests.seed(store, name: "m-b", sps: 1000, noise: 0.01, seed: 2)
        for metrics in [["samples_per_sec", "step_ms.p999"], ["samples_per_sek"]] {
            let options = GateOptions(metrics: metrics.map { GateMetric(name: $0, threshold: 0.05) })
            XCTAssertThrowsError(try CheckTests.gate(store, "m-a", "m-b", options: options)) { error in
                let text = String(describing: error)
                XCTAssertTrue(text.contains("unknown metric '\(metrics.last!)'"), text)
            }
        }
        XCTAssertThrowsError(try CheckTests.gate(store, "m-a", "m-b", options: GateOptions(metrics: [GateMetric(name: "samples_per_sek", threshold: 0.05)]))) {
            XCTAssertTrue(String(describing: $0).contains("did you mean 'samples_per_sec'"), String(describing: $0))
        }
    }

    /// Item 13: a knob value containing `{steps}` reaches the command literally (it was expanded again).
    func testTemplateFillIsOnePass() {
        XCTAssertEqual(Template.fill("--tag={mode} --steps={steps}", ["mode": "a{steps}b", "steps": "100"]), "--tag=a{steps}b --steps=100")
        XCTAssertEqual(Template.fill("${HOME} {x} {unknown} {", ["x": "{x}"]), "${HOME} {x} {unknown} {")
    }

    /// Item 11: `{"samples_per_sec": true}` is not a measurement of 1.0.
    func testJSONBooleanIsNotANumber() throws {
        let json = try XCTUnwrap(ResultMetrics.lastJSONLine(#"{"samples_per_sec": true, "auc": false}"#))
        let extracted = ResultMetrics.fromTrainJSON(json, strict: false)
        XCTAssertNotNil(extracted.invalidReason, "a boolean samples_per_sec makes the result invalid")
        XCTAssertTrue(extracted.metrics.isEmpty)
    }

    /// Item 16: the failure reason is the error line, not measure's table or a help hint after it.
    func testFailureReasonPicksTheErrorLine() {
        func run(_ tail: String) -> RunRecord {
            RunRecord(id: 1, experimentID: 1, config: [:], configHash: "h", repeatIndex: 0, status: .failed, exitCode: 2,
                      stderrTail: tail, started: Date(), durationSeconds: 1)
        }
        XCTAssertEqual(ExperimentAnalyzer.failureReason(run("loading data\nerror: no such file: x.tsv\nSee 'train --help' for more")),
                       "exit 2: error: no such file: x.tsv")
        XCTAssertEqual(ExperimentAnalyzer.failureReason(run("boom happened\n\n Performance counter stats for 'x':\n   1,234   minor-faults\n  0.1 seconds time elapsed")),
                       "exit 2: boom happened")
    }

    /// Item 16: interrupted runs are not counted as failed in the report.
    func testInterruptedRunsAreNotFailures() {
        XCTAssertFalse(ExperimentAnalyzer.isFailure(.interrupted))
        XCTAssertFalse(ExperimentAnalyzer.isFailure(.running))
        XCTAssertTrue(ExperimentAnalyzer.isFailure(.timeout))
    }
}
