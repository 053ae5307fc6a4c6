import Foundation
@testable import RecHarness
import RecStats
import TestSupport
import XCTest

final class CheckTests: XCTestCase {
    static let specText = """
    name: NAME
    model: wdl
    steps: 120
    warmup_steps: 20
    repeats: 5
    factors:
      stage: [off, on]
    baseline: {stage: off}
    metrics: [samples_per_sec, step_ms.p99, minor_faults_per_step]

    """

    /// Stores an experiment whose runs have samples/s ≈ `sps` and step p99 ≈ `p99` with relative `noise`.
    @discardableResult
    static func seed(_ store: ResultStore, name: String, sps: Double, p99: Double = 50, noise: Double, repeats: Int = 6,
                     seed: UInt64, host: HostFingerprint = AnalysisFixtures.host(), stage: String = "off") throws -> Int64 {
        let hostID = try store.upsertHost(host)
        let text = specText.replacingOccurrences(of: "NAME", with: name)
        let exp = try store.findOrCreateExperiment(name: name, specText: text, specHash: "h-\(name)", hostID: hostID).record
        var rng = Xoshiro256(seed: seed)
        for r in 0..<repeats {
            let id = try store.insertRun(experimentID: exp.id, config: ["stage": stage], configHash: "cfg-\(stage)", repeatIndex: r)
            let metrics = [
                MetricValue(name: "samples_per_sec", value: sps * (1 + noise * rng.nextNormal()), unit: "samples/s"),
                MetricValue(name: "step_ms.p99", value: p99 * (1 + noise * rng.nextNormal()), unit: "ms"),
            ]
            try store.finishRun(id: id, outcome: RunOutcome(status: .ok, durationSeconds: 1, metrics: metrics,
                                                           unavailable: ["minor-faults": "perf_event_open: EACCES"]))
        }
        return exp.id
    }

    static func gate(_ store: ResultStore, _ b: String, _ c: String, options: GateOptions = GateOptions()) throws -> GateResult {
        try RegressionGate.evaluate(baseline: try store.resolve(try RunSelector.parse(b)),
                                    candidate: try store.resolve(try RunSelector.parse(c)), options: options)
    }

    func testGateExitCodesOnAStore() throws {
        let store = try ResultStore.temporary()
        try Self.seed(store, name: "base", sps: 1000, noise: 0.005, seed: 1)
        try Self.seed(store, name: "same", sps: 1000, noise: 0.005, seed: 2)
        try Self.seed(store, name: "slow", sps: 700, noise: 0.005, seed: 3)
        try Self.seed(store, name: "noisy", sps: 1000, noise: 0.25, seed: 4)

        let same = try Self.gate(store, "base", "same")
        XCTAssertEqual(same.exitCode, 0, same.markdown)
        XCTAssertTrue(same.bottomLine.hasPrefix("NO REGRESSION"))

        let slow = try Self.gate(store, "base", "slow")
        XCTAssertEqual(slow.exitCode, 1, slow.markdown)
        XCTAssertEqual(slow.comparisons.first { $0.metric == "samples_per_sec" }?.verdict, .regressed)
        XCTAssertTrue(slow.bottomLine.hasPrefix("REGRESSION: samples_per_sec -"), slow.bottomLine)
        // Reversed, the same data is an improvement, not a regression.
        XCTAssertEqual(try Self.gate(store, "slow", "base").exitCode, 0)

        let noisy = try Self.gate(store, "base", "noisy")
        XCTAssertEqual(noisy.exitCode, 3, noisy.markdown)
        XCTAssertEqual(try Self.gate(store, "base", "noisy", options: GateOptions(inconclusiveFails: true)).exitCode, 1)

        // Markdown summary: a table per metric and a bottom line.
        let md = slow.markdown
        XCTAssertTrue(md.contains("| metric | baseline median | candidate median | change [95% CI] | p (BH q) | threshold | verdict | repeats needed |"), md)
        XCTAssertTrue(md.contains("| samples_per_sec |"))
        XCTAssertTrue(md.contains("**REGRESSION"))

        // An unavailable counter is n/a, which is inconclusive (exit 3), never a 0 that "regresses".
        let faults = try Self.gate(store, "base", "same", options: GateOptions(metrics: [GateMetric(name: "minor_faults_per_step", threshold: 0.1)]))
        XCTAssertEqual(faults.exitCode, 3)
        XCTAssertTrue(faults.comparisons[0].reason.contains("EACCES"), faults.comparisons[0].reason)
    }

    func testDataErrorsAndSelectors() throws {
        let store = try ResultStore.temporary()
        let id = try Self.seed(store, name: "base", sps: 1000, noise: 0.01, seed: 1)
        try Self.seed(store, name: "base-on", sps: 1000, noise: 0.01, seed: 2, stage: "on")
        XCTAssertThrowsError(try store.resolve(.experiment("nope"))) { e in
            XCTAssertTrue("\(e)".contains("no experiment 'nope'") && "\(e)".contains("base"), "\(e)")
        }
        XCTAssertThrowsError(try store.resolve(try RunSelector.parse("base:stage=maybe"))) { e in
            XCTAssertTrue("\(e)".contains("stage ∈ {off}"), "\(e)")
        }
        XCTAssertThrowsError(try store.resolve(.runs([1, 999]))) { e in XCTAssertTrue("\(e)".contains("999"), "\(e)") }
        XCTAssertEqual(try store.resolve(.experiment(String(id))).runs.count, 6)
        XCTAssertEqual(try store.resolve(try RunSelector.parse("base:stage=off")).runs.count, 6)
        XCTAssertEqual(try store.resolve(try RunSelector.parse("runs:1,2,3")).okRuns.count, 3)

        XCTAssertEqual(try RunSelector.parse("wdl:stage=on,bf16=off"), .config(experiment: "wdl", knobs: ["stage": "on", "bf16": "off"]))
        XCTAssertEqual(try RunSelector.parse("runs:4, 5"), .runs([4, 5]))
        for bad in ["", "runs:", "runs:1,x", "wdl:", "wdl:stage", ":a=b"] {
            XCTAssertThrowsError(try RunSelector.parse(bad), bad)
        }
        XCTAssertEqual(try GateMetric.parse("step_ms.p99:10%"), GateMetric(name: "step_ms.p99", threshold: 0.1))
        // AUC's catalog threshold is absolute; a relative default applies to the others
        XCTAssertEqual(try GateMetric.parse("auc"), GateMetric(name: "auc", threshold: .absolute(0.001)))
        XCTAssertEqual(try GateMetric.parse("wall_s"), GateMetric(name: "wall_s", threshold: 0.05))
        XCTAssertEqual(try GateMetric.parse("auc:abs:0.002"), GateMetric(name: "auc", threshold: .absolute(0.002)))
        XCTAssertThrowsError(try GateMetric.parse("auc:fast"))
        XCTAssertThrowsError(try GateMetric.parse("samples_per_secc:5%")) { e in
            XCTAssertTrue("\(e)".contains("unknown metric 'samples_per_secc'") && "\(e)".contains("did you mean 'samples_per_sec'"), "\(e)")
        }
        XCTAssertEqual(try GateMetric.parse("my_qps:5%", known: ["my_qps"]).name, "my_qps")
        XCTAssertEqual(try GateMetric.parse("anything", known: nil).name, "anything")

        // A side with no ok runs is a data error.
        let empty = RunSet(label: "empty", runs: [], host: AnalysisFixtures.host())
        XCTAssertThrowsError(try RegressionGate.evaluate(baseline: empty, candidate: try store.resolve(.experiment("base")), options: GateOptions()))
    }

    func testDifferentHostsAreRefusedUnlessForced() throws {
        let store = try ResultStore.temporary()
        try Self.seed(store, name: "here", sps: 1000, noise: 0.005, seed: 1)
        try Self.seed(store, name: "there", sps: 1000, noise: 0.005, seed: 2, host: AnalysisFixtures.host(cpu: "AMD EPYC 7B12", cores: 4))
        XCTAssertThrowsError(try Self.gate(store, "here", "there")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("cpu: Intel Xeon Test CPU @ 2.5GHz vs AMD EPYC 7B12"), text)
            XCTAssertTrue(text.contains("cores: 2 vs 4"), text)
            XCTAssertTrue(text.contains("--force"), text)
        }
        let forced = try Self.gate(store, "here", "there", options: GateOptions(force: true))
        XCTAssertEqual(forced.exitCode, 0, forced.markdown)
        XCTAssertTrue(forced.markdown.contains("compared anyway because of --force"))
        // Same CPU, different hostname and commit: comparable.
        var other = AnalysisFixtures.host()
        other.hostname = "ci-runner-7"
        other.gitCommit = "ffffff"
        try Self.seed(store, name: "ci", sps: 1000, noise: 0.005, seed: 3, host: other)
        XCTAssertEqual(try Self.gate(store, "here", "ci").exitCode, 0)
    }

    func testCompareSideBySide() throws {
        let store = try ResultStore.temporary()
        try Self.seed(store, name: "a", sps: 1000, noise: 0.01, seed: 1)
        try Self.seed(store, name: "b", sps: 1500, noise: 0.01, seed: 2)
        let cmp = SetComparison.compare(try store.resolve(.experiment("a")), try store.resolve(.experiment("b")))
        XCTAssertEqual(cmp.rows.map(\.metric), ["samples_per_sec", "step_ms.p99", "minor_faults_per_step"])
        XCTAssertEqual(cmp.rows[0].comparison.verdict, .improved)
        assertClose(try XCTUnwrap(cmp.rows[0].comparison.ratio).value, 1.5, rtol: 0.03)
        XCTAssertNil(cmp.rows[2].a.stats)
        let text = cmp.render(markdown: false)
        XCTAssertTrue(text.contains("A = a: 6 ok runs"), text)
        XCTAssertTrue(text.contains("n/a (perf_event_open: EACCES)"), text)
    }

    /// A/A: both sides from the same noisy distribution (Gaussian jitter plus occasional slow outliers, like
    /// real runs on a shared VM). The gate must flag a regression at no more than the nominal rate.
    func testAAFalsePositiveRate() throws {
        var rng = Xoshiro256(seed: 2024)
        let trials = 400
        var exits: [Int32: Int] = [:]
        func sample(_ n: Int) -> [RunRecord] {
            (0..<n).map { i in
                let outlier = rng.nextUnit() < 0.08 ? 0.85 : 1.0
                let sps = 10_000 * (1 + 0.03 * rng.nextNormal()) * outlier
                let p99 = 60 * (1 + 0.06 * rng.nextNormal()) / outlier
                return RunRecord(id: Int64(i + 1), experimentID: 1, config: [:], configHash: "c", repeatIndex: i, status: .ok,
                                 started: Date(), durationSeconds: 1,
                                 metrics: [MetricValue(name: "samples_per_sec", value: sps), MetricValue(name: "step_ms.p99", value: p99)])
            }
        }
        let host = AnalysisFixtures.host()
        var byN: [Int: [Int32: Int]] = [:]
        for t in 0..<trials {
            let n = [3, 5, 8, 12][t % 4] // repeats per side
            let result = try RegressionGate.evaluate(
                baseline: RunSet(label: "A", runs: sample(n), host: host), candidate: RunSet(label: "A'", runs: sample(n), host: host),
                options: GateOptions(), rule: ComparisonRule(resamples: 400))
            exits[result.exitCode, default: 0] += 1
            byN[n, default: [:]][result.exitCode, default: 0] += 1
        }
        func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
        let fp = Double(exits[1, default: 0]) / Double(trials)
        let inconclusive = Double(exits[3, default: 0]) / Double(trials)
        print("A/A over \(trials) trials (n=3/5/8/12, 3% jitter + 8% slow outliers): regression (exit 1) \(pct(fp)), "
              + "inconclusive (exit 3) \(pct(inconclusive)), pass (exit 0) \(pct(Double(exits[0, default: 0]) / Double(trials)))")
        for n in byN.keys.sorted() {
            let e = byN[n]!, total = Double(e.values.reduce(0, +))
            print("  n=\(n): exit0 \(pct(Double(e[0, default: 0]) / total))  exit1 \(pct(Double(e[1, default: 0]) / total))  "
                  + "exit3 \(pct(Double(e[3, default: 0]) / total))")
        }
        XCTAssertLessThanOrEqual(fp, 0.05, "\(exits)")
        XCTAssertEqual(exits.values.reduce(0, +), trials)
    }
}
