import XCTest
import Foundation
import TestSupport
@testable import RecHarness

/// The contest's own scripts as external engines. `Experiments/contest/deeprec-external.yaml` drives
/// `train.py` through `deeprec-train.sh`: a stand-in script with the scored scripts' options writes
/// the same result file (line 1 seconds, line 2 AUC) and records the switches and environment it
/// received. A contest submission can also name another engine (`engine:` as in a spec): the
/// shipped `Experiments/contest/tensorflow.yaml` runs `train.py --tf` on stock TensorFlow through
/// `tensorflow-train.sh` and `tianchi_on_tf2.py`; there a stand-in "python" takes TensorFlow's
/// place, checks what the wrapper hands the compatibility layer and writes the result file.
final class ContestExternalTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-contest-external") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let root = RepositoryRoot.url

    /// The scored scripts' argparse options (no --micro_batch, --inter, --intra) and their result file.
    static let standIn = #"""
    import argparse, json, os, sys
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, required=True)
    p.add_argument('--smartstaged')
    p.add_argument('--bf16', action='store_true')
    p.add_argument('--emb_fusion')
    p.add_argument('--op_fusion')
    a = p.parse_args()
    root = os.environ['TIANCHI_RESULT_DIR']
    os.makedirs(os.path.join(root, 'WDL'), exist_ok=True)
    with open(os.path.join(root, 'WDL', 'result'), 'w') as f:
        f.write('%s\n%s\n' % (a.steps * 0.01, 0.75 if not a.bf16 else 0.74))
    env = {k: os.environ.get(k) for k in ['ENABLE_MEMORY_OPTIMIZATION', 'START_STATISTIC_STEP', 'STOP_STATISTIC_STEP']}
    with open(os.path.join(root, 'seen-%s.json' % env['ENABLE_MEMORY_OPTIMIZATION']), 'w') as f:
        json.dump({'argv': sys.argv[1:], 'env': env}, f)
    """#

    func testExternalSpecRunsTheScriptAndReadsItsResultFile() async throws {
        let models = dir.appendingPathComponent("models/WDL")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Self.standIn.write(to: models.appendingPathComponent("train.py"), atomically: true, encoding: .utf8)
        let results = dir.appendingPathComponent("result")
        setenv("DEEPREC_MODELS_DIR", dir.appendingPathComponent("models").path, 1)
        setenv("TIANCHI_RESULT_DIR", results.path, 1)
        setenv("PYTHON", "python3", 1)
        defer { unsetenv("DEEPREC_MODELS_DIR"); unsetenv("TIANCHI_RESULT_DIR"); unsetenv("PYTHON") }

        // The shipped spec parses as it is.
        let shippedPath = Self.root.appendingPathComponent("Experiments/contest/deeprec-external.yaml").path
        let shipped = try LoadedSpec.load(path: shippedPath)
        guard case .command(let command) = shipped.spec.engine, case .linesFile(let path, let metrics) = command.result else {
            return XCTFail("the external spec reads a lines file")
        }
        XCTAssertEqual(path, "{result_dir}/{contest_model}/result")
        XCTAssertEqual(metrics, ["contest_seconds", "auc"])
        XCTAssertEqual(shipped.spec.factors.first?.levels, ["DIEN", "DIN", "DLRM", "DeepFM", "MMoE", "WDL"])

        // WDL only, at scale 0.01 (89 steps), allocator system vs adaptive, results in the temp dir.
        var text = try String(contentsOfFile: shippedPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "sh, Experiments/contest/deeprec-train.sh",
                                         with: "sh, \(Self.root.appendingPathComponent("Experiments/contest/deeprec-train.sh").path)")
        text = text.replacingOccurrences(of: "contest_model: [DIEN, DIN, DLRM, DeepFM, MMoE, WDL]",
                                         with: "contest_model: [WDL]\n  allocator: [system, adaptive]")
        text = text.replacingOccurrences(of: "  allocator: system\n", with: "")
        text = text.replacingOccurrences(of: "scale: \"1\"", with: "scale: \"0.01\"")
        text = text.replacingOccurrences(of: "result_dir: /tmp/tianchi/result", with: "result_dir: \(results.path)")
        let spec = try SpecParser.parse(text, path: "external.yaml")
        let store = try ResultStore.temporary()
        var options = SweepOptions(storePath: store.path, executablePath: "/bin/false")
        options.measureExternalCommands = false
        options.host = StoreTests.host
        options.runDirectory = dir.appendingPathComponent("runs").path
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertEqual(summary.ok, 2)
        let runs = try store.runs(experimentID: summary.experimentID)
        for run in runs {
            XCTAssertEqual(run.status, .ok, run.stderrTail)
            XCTAssertEqual(try XCTUnwrap(run.metric("contest_seconds")), 0.89, accuracy: 1e-9)
            XCTAssertEqual(run.metric("auc"), 0.75)
        }
        for (value, flag) in [("0", "system"), ("1", "adaptive")] {
            let seen = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("seen-\(value).json"))) as? [String: Any])
            XCTAssertEqual(seen["env"] as? [String: String], ["ENABLE_MEMORY_OPTIMIZATION": value, "START_STATISTIC_STEP": "100", "STOP_STATISTIC_STEP": "110"], flag)
            XCTAssertEqual(seen["argv"] as? [String], ["--steps", "89", "--emb_fusion", "True", "--op_fusion", "True"], flag)
        }

        // micro_batch 2: the scored scripts have no --micro_batch, the run fails, and the previous
        // run's result file is not read as this run's result.
        let failing = try SpecParser.parse(text.replacingOccurrences(of: "micro_batch: \"1\"", with: "micro_batch: \"2\"")
            .replacingOccurrences(of: "name: deeprec-contest-external", with: "name: external-micro"), path: "external-micro.yaml")
        let failed = try await SweepRunner(store: store, options: options).run(failing)
        XCTAssertEqual(failed.ok, 0)
        let tails = try store.runs(experimentID: failed.experimentID).map(\.stderrTail)
        XCTAssertTrue(tails.allSatisfy { $0.contains("unrecognized arguments: --micro_batch 2") }, "\(tails)")

        // A result file that is not one number per line is an invalid run naming the file and line.
        let bad = ResultMetrics.fromLines("12.5\nnot-a-number\n", metrics: ["contest_seconds", "auc"], path: "/r/result")
        XCTAssertEqual(bad.invalidReason, "/r/result:2: 'not-a-number' is not a number (auc)")
        XCTAssertEqual(ResultMetrics.fromLines("12.5\n", metrics: ["contest_seconds", "auc"], path: "/r/result").invalidReason,
                       "/r/result: 1 line(s), expected 2 (contest_seconds, auc)")
    }

    static var contest: ContestDefinition { get throws { try ContestDefinition.load(root.appendingPathComponent("Experiments/contest/contest.yaml").path) } }
    static func file(_ name: String) -> String { root.appendingPathComponent("Experiments/contest/\(name)").path }

    /// Stands in for `python3`: argv[1] is the compatibility layer, argv[2] the contest script,
    /// then the script's own flags. Seconds = steps × 0.01 (+ 0.5 for DeepFM), AUC 0.7; the
    /// arguments are kept in <TIANCHI_RESULT_DIR>/seen-<MODEL>.json.
    static let fakePython = #"""
    #!/usr/bin/env python3
    import json, os, sys
    shim, script, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    assert shim.endswith('/Experiments/external/tianchi_on_tf2.py') and os.path.isfile(shim), shim
    model = os.path.basename(os.path.dirname(script))
    steps = int(args[args.index('--steps') + 1])
    if os.environ.get('FAIL_MODEL') == model:
        sys.exit('Traceback: %s failed' % model)
    out = os.path.join(os.environ['TIANCHI_RESULT_DIR'], model)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'result'), 'w') as f:
        f.write('%r\n0.7\n' % (steps * 0.01 + (0.5 if model == 'DeepFM' else 0)))
    with open(os.path.join(os.environ['TIANCHI_RESULT_DIR'], 'seen-%s.json' % model), 'w') as f:
        json.dump({'script': script, 'args': args, 'cwd': os.getcwd()}, f)
    """#

    func testShippedSubmissionRunsItsEngineWithoutRectunesKnobs() throws {
        let contest = try Self.contest
        let base = try Submission.load(Self.file("baseline.yaml"), contest: contest)
        let tf = try Submission.load(Self.file("tensorflow.yaml"), contest: contest, base: base)
        XCTAssertEqual(tf.name, "tensorflow")
        let engine = try XCTUnwrap(tf.engine)
        XCTAssertEqual(Array(engine.argv.prefix(2)), ["sh", "Experiments/contest/tensorflow-train.sh"])
        XCTAssertEqual(engine.result, .linesFile(path: "{run_dir}/tianchi-result", metrics: ["contest_seconds", "auc"]))
        XCTAssertEqual(tf.runSettings("deepfm", over: base), [:], "the baseline's rectune knobs are not the engine's")
        XCTAssertEqual(base.runSettings("deepfm", over: base)["indicator"], "dense")

        var options = ContestRunOptions()
        options.scale = 0.1
        let runner = ContestRunner(definition: contest, baseline: base)
        let text = runner.specText(submission: tf, entry: contest.entry("deepfm")!, options: options, dataPath: "/data/eleme")
        let spec = try SpecParser.parse(text, path: "gen.yaml").spec
        guard case .command(let command) = spec.engine else { return XCTFail("an external engine: \(text)") }
        XCTAssertEqual(command, engine)
        XCTAssertEqual(spec.steps, 70)
        XCTAssertNil(spec.checkpoint, "checkpoints are the script's own")
        XCTAssertEqual(spec.fixed, ["dataset": "eleme", "seed": "2021"], "no rectune model settings or eval switch")
        XCTAssertEqual(ContestTag.find(in: text)?.settings, [:])

        // The submission's own settings reach the engine through its templates; a template for a
        // knob a model does not set is left out of that model's spec.
        let custom = try Submission.parse("""
            engine:
              command: [sh, train.sh, "{model}"]
              args: {threads: [--threads, "{value}"], bf16: [--bf16]}
              result: last_json_line
            models:
              wdl: {threads: 4, anything: goes}
            """, path: "custom.yaml", contest: contest, base: base)
        XCTAssertEqual(custom.settings["wdl"], ["threads": "4", "anything": "goes"], "an engine's knobs are its own, unvalidated")
        let wdl = try SpecParser.parse(runner.specText(submission: custom, entry: contest.entry("wdl")!, options: options, dataPath: "/d"),
                                       path: "w.yaml").spec
        guard case .command(let wdlCommand) = wdl.engine else { return XCTFail("external") }
        XCTAssertEqual(wdlCommand.args, ["threads": ["--threads", "{value}"]])
        XCTAssertEqual(wdl.fixed["threads"], "4")
        let dlrm = try SpecParser.parse(runner.specText(submission: custom, entry: contest.entry("dlrm")!, options: options, dataPath: "/d"),
                                        path: "d.yaml").spec
        guard case .command(let dlrmCommand) = dlrm.engine else { return XCTFail("external") }
        XCTAssertEqual(dlrmCommand.args, [:])
        // The writer's text reads back with the engine.
        let again = try Submission.parse(custom.yaml(), path: "again.yaml", contest: contest, base: base)
        XCTAssertEqual(again.engine, custom.engine)
        XCTAssertEqual(again.settings, custom.settings)
    }

    func testABadEngineNamesTheSubmissionFileAndLine() throws {
        let contest = try Self.contest
        for (text, line, part) in [("name: x\nengine:\n  result: last_json_line\n", 3, "engine.command: missing required key"),
                                   ("name: x\nengine:\n  command: [sh]\n  result: {csv: a}\n", 4, "unknown key 'csv'"),
                                   ("name: x\nengine: tensorflow\n", 2, "unknown engine 'tensorflow'")] {
            XCTAssertThrowsError(try Submission.parse(text, path: "sub.yaml", contest: contest)) { e in
                let d = (e as? SpecError)?.description ?? "\(e)"
                XCTAssertTrue(d.hasPrefix("sub.yaml:\(line):") || d.hasPrefix("sub.yaml:\(line - 1):"), d)
                XCTAssertTrue(d.contains(part), "'\(part)' not in: \(d)")
            }
        }
    }

    /// The whole path on two models: the contest runner runs the shipped submission's command,
    /// the wrapper hands the script its steps, data and a checkpoint directory in the run
    /// directory, and the board scores the script's result file; a failing script is a failed model.
    func testContestRunScoresTheScriptsResultFile() async throws {
        let data = dir.appendingPathComponent("data")
        for d in ["eleme", "taobao"] { try FileManager.default.createDirectory(at: data.appendingPathComponent(d), withIntermediateDirectories: true) }
        let python = dir.appendingPathComponent("python")
        try Self.fakePython.write(to: python, atomically: true, encoding: .utf8)
        chmod(python.path, 0o755)
        let results = dir.appendingPathComponent("tianchi")
        setenv("RECTUNE_TF_PYTHON", python.path, 1)
        setenv("TIANCHI_RESULT_DIR", results.path, 1)
        setenv("TIANCHI_MODELS_DIR", dir.appendingPathComponent("models").path, 1)
        defer { for v in ["RECTUNE_TF_PYTHON", "TIANCHI_RESULT_DIR", "TIANCHI_MODELS_DIR", "FAIL_MODEL"] { unsetenv(v) } }
        for m in ["DeepFM", "MMoE"] {
            let folder = dir.appendingPathComponent("models/\(m)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "# stand-in\n".write(to: folder.appendingPathComponent("train.py"), atomically: true, encoding: .utf8)
        }
        // The shipped submission, with the wrapper's path made absolute (tests run elsewhere).
        let shipped = try String(contentsOfFile: Self.file("tensorflow.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "sh, Experiments/contest/tensorflow-train.sh", with: "sh, \(Self.file("tensorflow-train.sh"))")
        let contest = try Self.contest
        let base = try Submission.load(Self.file("baseline.yaml"), contest: contest)
        let tf = try Submission.parse(shipped, path: "tensorflow.yaml", contest: contest, base: base)

        let store = try ResultStore.temporary()
        var sweep = SweepOptions(storePath: store.path, executablePath: "/bin/false")
        sweep.measureExternalCommands = false
        sweep.host = StoreTests.host
        sweep.runDirectory = dir.appendingPathComponent("runs").path
        var options = ContestRunOptions()
        options.scale = 0.01
        options.realData = data.path
        options.models = ["deepfm", "mmoe"]
        let board = try await ContestRunner(definition: contest, baseline: base).run(submissions: [tf], options: options, store: store, sweep: sweep)
        let outcomes = try XCTUnwrap(board.submissions.first?.repeats.first)
        XCTAssertEqual(outcomes.map(\.model), ["deepfm", "mmoe"])
        XCTAssertEqual(outcomes.map(\.failure), [nil, nil])
        XCTAssertEqual(try XCTUnwrap(outcomes[0].seconds), 7 * 0.01 + 0.5, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(outcomes[1].seconds), 277 * 0.01, accuracy: 1e-9)
        XCTAssertEqual(outcomes.map(\.auc), [0.7, 0.7])

        let seen = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("seen-DeepFM.json"))) as? [String: Any])
        let args = try XCTUnwrap(seen["args"] as? [String])
        let cwd = try XCTUnwrap(seen["cwd"] as? String)
        XCTAssertEqual(Array(args.prefix(5)), ["--tf", "--steps", "7", "--data_location", data.appendingPathComponent("eleme").path])
        XCTAssertEqual(args.last, cwd + "/tf-checkpoint", "checkpoints go to the run directory")
        XCTAssertEqual(seen["script"] as? String, dir.appendingPathComponent("models/DeepFM/train.py").path)

        // A script that fails leaves no result file, so the model fails instead of reading the last one.
        setenv("FAIL_MODEL", "MMoE", 1)
        options.models = ["mmoe"]
        options.repeats = 2
        let failed = try await ContestRunner(definition: contest, baseline: base).run(submissions: [tf], options: options, store: store, sweep: sweep)
        let failure = try XCTUnwrap(failed.submissions.first?.repeats.first?.first?.failure)
        XCTAssertFalse(failure.isEmpty)
        XCTAssertNil(failed.submissions.first?.repeats.first?.first?.seconds)
    }
}
