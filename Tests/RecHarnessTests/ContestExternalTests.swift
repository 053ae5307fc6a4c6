import XCTest
import Foundation
import TestSupport
@testable import RecHarness

/// `Experiments/contest/deeprec-external.yaml` drives the contest's own `train.py` through
/// `deeprec-train.sh`: a stand-in script with the scored scripts' options writes the same result
/// file (line 1 seconds, line 2 AUC) and records the switches and environment it received.
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
}
