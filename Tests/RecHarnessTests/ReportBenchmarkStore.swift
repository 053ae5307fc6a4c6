import Foundation
@testable import RecHarness
import RecStats
import XCTest

/// Builds a large store and times every report format on it — a benchmark that prints, never asserts a time.
/// Run with `RECTUNE_BENCH_STORE=/tmp/big.sqlite swift test --filter ReportBenchmarkStore` (skipped otherwise),
/// or `scripts/bench_report.sh`, which also times the `rectune report` binary end to end.
final class ReportBenchmarkStore: XCTestCase {
    func testBuildTenThousandRunStore() throws {
        guard let path = ProcessInfo.processInfo.environment["RECTUNE_BENCH_STORE"] else {
            throw XCTSkip("set RECTUNE_BENCH_STORE=/path/to/new.sqlite to build a 10,000-run store for timing `rectune report`")
        }
        let runs = Int(ProcessInfo.processInfo.environment["RECTUNE_BENCH_RUNS"] ?? "") ?? 10_000
        try? FileManager.default.removeItem(atPath: path)
        let store = try ResultStore(path: path)
        let levels = (0..<10).map { "l\($0)" }
        let text = """
        name: big
        command: [/bin/true]
        repeats: \(max(1, runs / 100))
        steps: 100
        factors:
          a: [\(levels.joined(separator: ", "))]
          b: [\(levels.joined(separator: ", "))]
        baseline: {a: l0, b: l0}
        design: full
        metrics: [samples_per_sec, step_ms.p99, auc, minor_faults_per_step, steals_per_step]

        """
        _ = try SpecParser.parse(text, path: "big")
        let hostID = try store.upsertHost(AnalysisFixtures.host())
        let exp = try store.findOrCreateExperiment(name: "big", specText: text, specHash: "big", hostID: hostID).record
        var rng = Xoshiro256(seed: 99)
        for i in 0..<runs {
            let a = i % 10, b = (i / 10) % 10
            let config = ["a": "l\(a)", "b": "l\(b)"]
            let id = try store.insertRun(experimentID: exp.id, config: config, configHash: "cfg-\(a)-\(b)", repeatIndex: i / 100)
            let speed = 1000 * (1 + 0.05 * Double(a) - 0.02 * Double(b)) * (1 + 0.03 * rng.nextNormal())
            var metrics = [
                MetricValue(name: "samples_per_sec", value: speed, unit: "samples/s"),
                MetricValue(name: "step_ms.p99", value: 512_000 / speed * (1 + 0.05 * rng.nextNormal()), unit: "ms"),
                MetricValue(name: "auc", value: 0.75 + 0.002 * rng.nextNormal()),
                MetricValue(name: "logloss", value: 0.47 + 0.002 * rng.nextNormal()),
                MetricValue(name: "minor-faults", value: 120_000 + 1000 * rng.nextNormal(), source: "perf_event"),
                MetricValue(name: "minor_faults_per_step", value: 1200 + 10 * rng.nextNormal(), unit: "per step", source: "derived"),
                MetricValue(name: "executor.steals", value: 4000 + 100 * rng.nextNormal(), source: "engine"),
                MetricValue(name: "steals_per_step", value: 40 + rng.nextNormal(), unit: "per step", source: "derived"),
                MetricValue(name: "context_switches_per_step", value: 3 + 0.1 * rng.nextNormal(), unit: "per step", source: "derived"),
            ]
            metrics.append(MetricValue(name: "minor-faults", phase: "warmup", value: 900_000, source: "perf_event"))
            try store.finishRun(id: id, outcome: RunOutcome(status: i % 997 == 0 ? .failed : .ok, exitCode: i % 997 == 0 ? 1 : 0,
                                                           durationSeconds: 3, metrics: i % 997 == 0 ? [] : metrics,
                                                           unavailable: ["cycles": "perf_event_open: ENOENT"]))
        }
        XCTAssertEqual(try store.runs(experimentID: exp.id).count, runs)
        print("built \(runs) runs in \(path)")

        // In-process times: load once, then each format (the analysis runs once per format, as in `report`).
        let clock = ContinuousClock()
        var data: ExperimentData?
        let load = try clock.measure { data = try store.loadExperimentData(exp.id) }
        print("bench report: load \(runs) runs: \(load)")
        for format in ReportFormat.allCases where format != .ipynb || ProcessInfo.processInfo.environment["RECTUNE_BENCH_IPYNB"] != nil {
            var bytes = 0
            let t = try clock.measure { bytes = try ReportRenderer.render(data!, format: format).utf8.count }
            print("bench report: \(format.rawValue): \(t) (\(bytes) bytes)")
        }
    }
}
