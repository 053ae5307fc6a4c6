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

/// Item 14: spec errors have a location (or say plainly that the file is the problem), and limits.
final class SpecInputTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-spec-input") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func load(_ name: String, _ bytes: Data) -> SpecError? {
        let path = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: bytes)
        do { _ = try LoadedSpec.load(path: path); return nil } catch { return error as? SpecError }
    }

    func testDuplicateKeyPointsAtTheSecondOccurrence() throws {
        let e = try XCTUnwrap(load("dup.yaml", Data("name: a\nrepeats: 2\nbatch: 8\nrepeats: 3\n".utf8)))
        XCTAssertEqual(e.line, 4, e.description)
        XCTAssertTrue(e.description.contains("dup.yaml:4:1: error: repeats: key listed twice"), e.description)
    }

    func testNonUTF8AndDirectoryAreNamed() throws {
        var bytes = Data("name: a\nrepeats: 2\n# caf".utf8)
        bytes.append(0xE9)
        bytes.append(contentsOf: Data("\n".utf8))
        let e = try XCTUnwrap(load("latin1.yaml", bytes))
        XCTAssertEqual(e.line, 3, e.description)
        XCTAssertTrue(e.description.contains("not UTF-8") && e.description.contains("0xE9"), e.description)
        do { _ = try LoadedSpec.load(path: dir.path); XCTFail("a directory is not a spec") } catch let e as SpecError {
            XCTAssertTrue(e.description.hasPrefix("\(dir.path): error: is a directory"), e.description)
            XCTAssertFalse(e.description.contains(":0:0"), e.description)
        }
    }

    func testClaimExpectationAndLimitsAreCheckedAtParseTime() throws {
        let claim = try XCTUnwrap(load("c.yaml", Data("name: a\nclaims:\n  - {metric: samples_per_sec, expect: \"faster please\"}\n".utf8)))
        XCTAssertEqual(claim.line, 3, claim.description)
        XCTAssertTrue(claim.description.contains("claims[0].expect"), claim.description)
        let repeats = try XCTUnwrap(load("r.yaml", Data("name: a\nrepeats: 1000000\n".utf8)))
        XCTAssertTrue(repeats.description.contains("repeats: must be at most 10000"), repeats.description)
        let timeout = try XCTUnwrap(load("t.yaml", Data("name: a\ntimeout: 1e-9\n".utf8)))
        XCTAssertTrue(timeout.description.contains("timeout: must be at least 1 second"), timeout.description)
        let levels = (0..<20_000).map(String.init).joined(separator: ", ")
        let big = try XCTUnwrap(load("l.yaml", Data("name: a\ncommand: [x]\nfactors:\n  k: [\(levels)]\n".utf8)))
        XCTAssertTrue(big.description.contains("20000 levels"), big.description)
        // A full design whose size is only known as a product is refused before expanding.
        let factors = (0..<6).map { "  k\($0): [\((0..<20).map(String.init).joined(separator: ", "))]" }.joined(separator: "\n")
        let spec = try SpecParser.parse("name: a\ncommand: [x]\ndesign: full\nfactors:\n\(factors)\n", path: "full.yaml")
        XCTAssertThrowsError(try RunPlan(spec: spec.spec)) { XCTAssertTrue(String(describing: $0).contains("more than the 100000 runs"), "\($0)") }
    }
}

extension BadInputTests {
    /// Item 16: exports show the repeat 1-based, like `runs` (the store's repeat_index stays 0-based).
    func testExportsShowRepeatsOneBased() throws {
        let store = try ResultStore.temporary()
        let id = try CheckTests.seed(store, name: "reps", sps: 1000, noise: 0.01, repeats: 2, seed: 1)
        let csv = try CSVReport.tidy(store.loadExperimentData(id))
        let lines = csv.split(separator: "\n")
        let column = try XCTUnwrap(lines.first?.split(separator: ",").firstIndex(of: "repeat"), "no repeat column")
        let repeats = Set(lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[column] })
        XCTAssertEqual(repeats, ["1", "2"], csv)
    }

    /// Item 5: an outcome file of a run whose live sweep is still storing it is not ingested twice.
    func testIngestLeavesALiveSweepsRunAlone() throws {
        let store = try ResultStore.temporary()
        let host = try store.upsertHost(StoreTests.host)
        let e = try store.findOrCreateExperiment(name: "live", specText: "name: live\n", specHash: "h", hostID: host).record
        let claim = try XCTUnwrap(store.claimRun(experimentID: e.id, config: [:], configHash: "c", repeatIndex: 0, since: Date(),
                                                 runsRoot: "/tmp/rectune-ingest-test", commandLine: { _ in "" }))
        let file = RunOutcomeFile(experimentName: "live", specHash: "h", config: [:], configHash: "c", repeatIndex: 0,
                                  owner: RunOwner.current.description, runDirectory: claim.runDirectory, commandLine: "", started: Date(),
                                  outcome: RunOutcome(status: .ok, durationSeconds: 1, metrics: [MetricValue(name: "x", value: 1, unit: "")]))
        XCTAssertEqual(try store.ingestOutcomes([file], experimentID: e.id), 0, "its owner (this process) is alive")
        try store.finishRun(id: claim.id, outcome: file.outcome)
        XCTAssertEqual(try store.ingestOutcomes([file], experimentID: e.id), 0, "already stored")
        XCTAssertEqual(try store.runs(experimentID: e.id).first?.metrics.count, 1, "metrics stored once")
    }
}
