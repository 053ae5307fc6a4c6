import Foundation
@testable import RecHarness
import RecContract
import RecEngine
import XCTest

/// `metrics:`, `thresholds:` and `repeat_seed:` in a spec, and what they do to plans and command lines.
final class SpecStatisticsTests: XCTestCase {
    static let base = """
    name: s
    model: wdl
    steps: 50
    repeats: 3
    factors:
      stage: [off, on]
    baseline: {stage: off}

    """

    func parse(_ extra: String) throws -> ExperimentSpec { try SpecParser.parse(Self.base + extra, path: "s.yaml").spec }

    func testThresholdsParseRelativeAndAbsolute() throws {
        let spec = try parse("metrics: [samples_per_sec, auc]\nthresholds: {auc: abs:0.002, samples_per_sec: 3%, wall_s: 0.05}\n")
        XCTAssertEqual(spec.thresholds["auc"], .absolute(0.002))
        XCTAssertEqual(spec.thresholds["samples_per_sec"], .relative(0.03))
        XCTAssertEqual(spec.thresholds["wall_s"], .relative(0.05))
        // the analyzer resolves: --metric override, else the spec, else the catalog
        var analyzer = ExperimentAnalyzer()
        XCTAssertEqual(analyzer.threshold("auc", spec: spec), .absolute(0.002))
        XCTAssertEqual(analyzer.threshold("logloss", spec: spec), .absolute(0.001), "catalog")
        analyzer.thresholds["auc"] = .absolute(0.01)
        XCTAssertEqual(analyzer.threshold("auc", spec: spec), .absolute(0.01))
    }

    func testUnknownMetricsFailWithDidYouMean() {
        for (text, key, wanted) in [("metrics: [samples_per_sec, step_ms.p999]\n", "metrics[1]", "step_ms.p99"),
                                    ("thresholds: {aucc: abs:0.001}\n", "thresholds.aucc", "auc")] {
            XCTAssertThrowsError(try parse(text)) { e in
                guard let e = e as? SpecError else { return XCTFail("\(e)") }
                XCTAssertEqual(e.keyPath, key, "\(e)")
                XCTAssertTrue(e.description.contains("unknown metric") && e.description.contains(wanted), "\(e)")
            }
        }
        XCTAssertThrowsError(try parse("thresholds: {auc: lots}\n")) { e in XCTAssertTrue("\(e)".contains("abs:0.001"), "\(e)") }
        XCTAssertThrowsError(try parse("repeat_seed: sometimes\n")) { e in XCTAssertTrue("\(e)".contains("vary"), "\(e)") }
    }

    func testExternalCommandRegexMetricsAreDeclared() throws {
        let text = """
        name: ext
        engine: {command: [python3, train.py], result: {regex: {my_qps: "qps=([0-9.]+)"}}}
        metrics: [my_qps, wall_s]
        thresholds: {my_qps: 4%}

        """
        let spec = try SpecParser.parse(text, path: "ext.yaml").spec
        XCTAssertEqual(spec.thresholds["my_qps"], .relative(0.04))
        XCTAssertThrowsError(try SpecParser.parse(text.replacingOccurrences(of: "metrics: [my_qps", with: "metrics: [my_qpss"), path: "ext.yaml")) { e in
            XCTAssertTrue("\(e)".contains("my_qps"), "\(e)")
        }
    }

    func testRepeatSeedVaryGivesEachRepeatItsSeedAndEntersTheHash() throws {
        let fixed = try parse("")
        let vary = try parse("repeat_seed: vary\nfixed: {seed: 40}\n")
        XCTAssertEqual(fixed.repeatSeed, .fixed)
        XCTAssertEqual(vary.repeatSeed, .vary)
        let fixedPlan = try RunPlan(spec: fixed), varyPlan = try RunPlan(spec: vary)
        // repeats of one config share a hash (they are one configuration) …
        XCTAssertEqual(Set(varyPlan.runs.filter { $0.config == varyPlan.baseline }.map(\.configHash)).count, 1)
        // … but vary and fixed sweeps never share runs
        var fixedWithSeed = fixed
        fixedWithSeed.fixed["seed"] = "40"
        XCTAssertNotEqual(RunPlan.configHash(varyPlan.baseline, spec: vary), RunPlan.configHash(varyPlan.baseline, spec: fixedWithSeed))
        XCTAssertEqual(RunPlan.effectiveConfig(varyPlan.baseline, spec: vary)["@repeat_seed"], "vary")
        XCTAssertNil(RunPlan.effectiveConfig(fixedPlan.baseline, spec: fixed)["@repeat_seed"])
        // seed = base + repeat on the engine's command line
        let builder = CommandLineBuilder(executable: "/bin/rectune")
        for r in 0..<3 {
            let argv = builder.command(spec: vary, config: varyPlan.baseline, repeatIndex: r, dataPath: "d", runDir: "/tmp/x").argv
            let i = try XCTUnwrap(argv.firstIndex(of: "--seed"))
            XCTAssertEqual(argv[i + 1], String(40 + r))
        }
        let fixedArgv = builder.command(spec: fixedWithSeed, config: fixedPlan.baseline, repeatIndex: 2, dataPath: "d", runDir: "/tmp/x").argv
        XCTAssertEqual(fixedArgv[fixedArgv.firstIndex(of: "--seed")! + 1], "40")
    }

    /// A tuner trial runs a config over a spec whose `fixed` holds the baseline's values of the same
    /// knobs (`contest tune`): the config's value must be the one on the command line, once, as the
    /// echo check expects (found when every trial of a contest tune came back `invalid`).
    func testRunConfigWinsOverFixedOnTheCommandLine() {
        var spec = ExperimentSpec(name: "t")
        spec.fixed = ["allocator": "system", "executor": "pool", "hash_buckets": "10000"]
        let config = RunConfig(keys: ["allocator"], values: ["allocator": "adaptive"])
        let argv = CommandLineBuilder(executable: "/bin/rectune").command(spec: spec, config: config, repeatIndex: 0, dataPath: "d", runDir: "/tmp/x").argv
        XCTAssertEqual(argv.indices.filter { argv[$0] == "--allocator" }.map { argv[$0 + 1] }, ["adaptive"])
        XCTAssertEqual(argv[argv.firstIndex(of: "--executor")! + 1], "pool", "fixed settings the config leaves alone stay")
        XCTAssertEqual(argv[argv.firstIndex(of: "--hash-buckets")! + 1], "10000")
    }

    /// Runs of the rectune engine share their store's layout choice file
    /// (`<runs folder>/weight-layout-choices.json`, in the environment and so in the stored command
    /// line) unless the harness's environment names one (a path, or empty for none).
    func testEngineRunsShareTheStoresLayoutChoiceFile() {
        let spec = ExperimentSpec(name: "t")
        let config = RunConfig(keys: [], values: [:])
        let runDir = "/data/results/runs/e3/0123456789ab-r0-7"
        let variable = WeightLayoutChoiceFile.environmentVariable
        let shared = CommandLineBuilder(executable: "/bin/rectune", inherited: ["PATH": "/bin"])
            .command(spec: spec, config: config, repeatIndex: 0, dataPath: "d", runDir: runDir)
        XCTAssertEqual(shared.environment, [variable: "/data/results/runs/weight-layout-choices.json"])
        XCTAssertTrue(shared.shellLine.hasPrefix("\(variable)=/data/results/runs/weight-layout-choices.json /bin/rectune train"),
                      shared.shellLine)
        for inherited in ["/elsewhere/choices.json", ""] {
            let own = CommandLineBuilder(executable: "/bin/rectune", inherited: [variable: inherited])
                .command(spec: spec, config: config, repeatIndex: 0, dataPath: "d", runDir: runDir)
            XCTAssertEqual(own.environment, [:], "the harness's own \(variable)='\(inherited)' reaches the run unchanged")
        }
    }

    func testVariedSeedMakesAUCAReplicatedMetric() {
        var vary = ExperimentSpec(name: "v")
        vary.repeatSeed = .vary
        XCTAssertFalse(ExperimentAnalyzer.seedDeterministic("auc", spec: vary))
        XCTAssertTrue(ExperimentAnalyzer.seedDeterministic("auc", spec: ExperimentSpec(name: "f")))
        XCTAssertFalse(ExperimentAnalyzer.seedDeterministic("samples_per_sec", spec: nil))
    }
}
