import Foundation
import TestSupport
import XCTest

/// `rectune gen-data --format eleme|taobao` then `rectune train --dataset …` on the directory, as a
/// user runs them: the contest layout on disk, every contract key for every contest model, and
/// `--bad-rows fail` naming file, line and field.
final class ContestCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-contest-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func rectune(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try RectuneCLI.run(args, in: dir)
    }

    func testGenDataWritesTheContestLayoutsAndEveryModelWritesTheContract() throws {
        for (format, files, fields, models) in [("eleme", ["train.csv", "eval.csv"], 39, ["wdl", "deepfm", "dlrm"]),
                                                ("taobao", ["taobao_train_data", "taobao_test_data"], 20, ["mmoe"])] {
            let out = dir.appendingPathComponent(format).path
            let gen = try rectune(["gen-data", "--format", format, "--rows", "3000", "--eval-rows", "700", "--seed", "2", "--out", out])
            XCTAssertEqual(gen.status, 0, gen.err)
            XCTAssertTrue(gen.out.contains("oracle AUC"), gen.out)
            let train = try String(contentsOfFile: out + "/" + files[0], encoding: .utf8).split(separator: "\n")
            let eval = try String(contentsOfFile: out + "/" + files[1], encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(train.count, 3000)
            XCTAssertEqual(eval.count, 700)
            XCTAssertEqual(train[0].split(separator: ",", omittingEmptySubsequences: false).count, fields)
            for model in models {
                var args = ["train", "--model", model, "--data", out, "--batch", "128", "--steps", "4", "--warmup-steps", "1",
                            "--hash-buckets", "500", "--events", "none", "--json", "-"]
                if format == "eleme" { args += ["--dataset", "eleme"] }
                let r = try rectune(args)
                XCTAssertEqual(r.status, 0, "\(model): \(r.err)")
                let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
                for key in ["model", "config", "steps", "warmup_steps", "batch", "samples_per_sec", "step_ms", "auc", "logloss",
                            "wall_s", "counters", "counters_warmup", "counter_info", "engine", "auc_by_task", "eval_rows"] {
                    XCTAssertNotNil(json[key], "\(model): missing contract key \(key)")
                }
                XCTAssertEqual(json["model"] as? String, model)
                XCTAssertEqual(json["eval_rows"] as? Int, 700, "the whole evaluation file by default")
                let byTask = try XCTUnwrap(json["auc_by_task"] as? [String: Double])
                XCTAssertEqual(Set(byTask.keys), format == "eleme" ? ["clicked"] : ["clk", "buy"])
                let config = try XCTUnwrap(json["config"] as? [String: Any])
                XCTAssertEqual(config["dataset"] as? String, format)
                XCTAssertEqual(config["emb_fusion"] as? String, "on")
                if model == "deepfm" { XCTAssertEqual(config["indicator"] as? String, "dense") }
            }
        }
    }

    func testBadRowsFailNamesFileLineAndField() throws {
        let out = dir.appendingPathComponent("eleme")
        let gen = try rectune(["gen-data", "--format", "eleme", "--rows", "300", "--eval-rows", "50", "--out", out.path])
        XCTAssertEqual(gen.status, 0, gen.err)
        let trainPath = out.appendingPathComponent("train.csv")
        var lines = try String(contentsOf: trainPath, encoding: .utf8).split(separator: "\n").map(String.init)
        var fields = lines[9].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[6] = "lots"  // ctr_30 must be an integer
        lines[9] = fields.joined(separator: ",")
        try (lines.joined(separator: "\n") + "\n").write(to: trainPath, atomically: true, encoding: .utf8)
        let base = ["train", "--model", "dlrm", "--dataset", "eleme", "--data", out.path, "--batch", "64", "--steps", "2",
                    "--warmup-steps", "0", "--hash-buckets", "100", "--events", "none"]
        let failing = try rectune(base + ["--bad-rows", "fail"])
        XCTAssertNotEqual(failing.status, 0)
        XCTAssertTrue(failing.err.contains("train.csv:10:"), failing.err)
        XCTAssertTrue(failing.err.contains("field 7 (ctr_30)"), failing.err)
        let skipping = try rectune(base + ["--bad-rows", "skip", "--json", "-"])
        XCTAssertEqual(skipping.status, 0, skipping.err)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(skipping.out.utf8)) as? [String: Any])
        XCTAssertEqual(json["skipped_rows"] as? Int, 1)
    }
}
