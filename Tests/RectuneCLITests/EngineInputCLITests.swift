import Foundation
import TestSupport
import XCTest

/// Issue 12 items 8–10: bad input to the engine is rejected up front (exit 2, naming the setting)
/// or reported in the result, never a crash after a full run.
final class EngineInputCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-engine-input") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @discardableResult
    func rectune(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try RectuneCLI.run(args, in: dir) }

    /// A Criteo-format row: label, 13 integers, 26 hex categoricals.
    static func row(label: Int, _ i: Int) -> String {
        ([String(label)] + (0..<13).map { String(($0 * 7 + i) % 50) } + (0..<26).map { String(format: "%08x", ($0 * 2_654_435_761 + i * 97) & 0xffff_ffff) })
            .joined(separator: "\t")
    }

    func write(_ name: String, _ lines: [String]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let small = ["--batch", "32", "--steps", "3", "--warmup-steps", "1", "--embedding-dim", "4",
                        "--hidden-layers", "16,8", "--events", "none", "--quiet"]

    /// Item 8: an eval slice with one class used to crash after the run with a raw EncodingError.
    func testOneClassEvalSliceGivesNullAUCWithAReason() throws {
        let rows = (0..<300).map { Self.row(label: $0 < 250 ? $0 % 2 : 0, $0) }
        let data = try write("one-class.tsv", rows)
        let out = dir.appendingPathComponent("r.json").path
        let r = try rectune(["train", "--data", data, "--eval-rows", "50", "--json", out] + Self.small)
        XCTAssertEqual(r.status, 0, r.err)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        XCTAssertTrue(json["auc"] is NSNull, "auc is null: \(String(describing: json["auc"]))")
        XCTAssertTrue((json["auc_unavailable"] as? String)?.contains("one class") ?? false, "\(json)")
    }

    /// Item 8: --lr must be finite and positive.
    func testNonFiniteLearningRateIsAUsageError() throws {
        for lr in ["nan", "inf", "0", "-0.1"] {
            let r = try rectune(["train", "--lr", lr] + Self.small)
            XCTAssertEqual(r.status, 2, "--lr \(lr): \(r.err)")
            XCTAssertTrue(r.err.contains("--lr must be a finite positive number"), r.err)
        }
    }

    /// Item 9: --bad-rows skip with no valid training row exited 0 at 0 samples/s.
    func testNoValidTrainingRowFails() throws {
        let data = try write("bad.tsv", (0..<200).map { "not\ta\tcriteo\trow \($0)" })
        let r = try rectune(["train", "--data", data, "--eval-rows", "20", "--bad-rows", "skip"] + Self.small)
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("no valid training row"), r.err)
    }

    /// Item 10: plan (and sweep) refuse what every run would fail on, naming the setting; so does train.
    func testPlanValidatesWithTheEngineRules() throws {
        let cases: [(String, String)] = [
            ("factors: {micro_batch: [1, 64]}\nbatch: 32", "--micro-batch"),
            ("fixed: {costmodel_start: 20, costmodel_stop: 20}", "--costmodel-start"),
            ("fixed: {eval_rows: 50000}", "--synthetic-rows"),
            ("data: {path: /no/such/file.tsv}", "no such file"),
            ("fixed: {hash_buckets: 1}", "hash_buckets"),
            ("batch: 10000000", "--batch"),
            ("fixed: {embedding_dim: 100000}", "embedding_dim"),
        ]
        for (i, (body, expected)) in cases.enumerated() {
            var text = "name: bad\(i)\nmodel: wdl\nsteps: 5\nwarmup_steps: 1\nrepeats: 1\n"
            if !body.contains("data:") { text += "data: {synthetic_rows: 20000, seed: 1}\n" }
            text += body + "\n"
            let spec = dir.appendingPathComponent("bad\(i).yaml").path
            try text.write(toFile: spec, atomically: true, encoding: .utf8)
            let plan = try rectune(["plan", spec])
            XCTAssertEqual(plan.status, 2, "\(body): \(plan.out)")
            XCTAssertTrue(plan.err.contains(expected), "\(body): \(plan.err)")
            let sweep = try rectune(["sweep", spec, "--db", dir.appendingPathComponent("s.sqlite").path])
            XCTAssertEqual(sweep.status, 2, "sweep \(body): \(sweep.err)")
        }
        for (flag, value, expected) in [("--hash-buckets", "1", "hash_buckets"), ("--batch", "10000000", "memory"),
                                         ("--embedding-dim", "100000", "embedding_dim")] {
            let r = try rectune(["train", flag, value, "--steps", "2", "--events", "none"])
            XCTAssertEqual(r.status, 2, "\(flag) \(value): \(r.err)")
            XCTAssertTrue(r.err.contains(expected), r.err)
        }
    }

    /// bf16 where oneDNN has none (an AVX2 host; `ONEDNN_MAX_CPU_ISA=AVX2` caps oneDNN at AVX2 on
    /// any host): `train --bf16 on` and `bench --bf16` are refused with exit 2, naming the reason;
    /// `bench --dense` says bf16 was not measured; `plan` and `sweep` leave the bf16 configuration
    /// out, say why, and run the rest (exit 0); a bf16 baseline is an error.
    func testBF16WhereOneDNNHasNoneIsRefusedOrLeftOutWithTheReason() throws {
        let avx2 = ["ONEDNN_MAX_CPU_ISA": "AVX2"]
        let train = try RectuneCLI.run(["train", "--bf16", "on", "--steps", "2", "--events", "none"], in: dir, environment: avx2)
        XCTAssertEqual(train.status, 2, train.err)
        XCTAssertTrue(train.err.contains("not supported on this host") && train.err.contains("dnnl_unimplemented"), train.err)
        let bench = try RectuneCLI.run(["bench", "--bf16", "--models", "none", "--contest", "none", "--sequence", "none"], in: dir, environment: avx2)
        XCTAssertEqual(bench.status, 2, bench.err)
        XCTAssertTrue(bench.err.contains("not supported on this host"), bench.err)
        let dense = try RectuneCLI.run(["bench", "--dense", "--dense-shapes", "64x32", "--models", "none", "--contest", "none", "--sequence", "none"],
                                       in: dir, environment: avx2)
        XCTAssertEqual(dense.status, 0, dense.err)
        XCTAssertTrue(dense.out.contains("64→32 fp32"), dense.out)
        XCTAssertTrue(dense.out.contains("bf16: not measured, not supported on this host"), dense.out)

        let spec = dir.appendingPathComponent("bf16.yaml").path
        try """
        name: bf16-here
        model: wdl
        data: {synthetic_rows: 3000, seed: 1}
        batch: 64
        steps: 3
        warmup_steps: 1
        repeats: 1
        baseline: {executor: pool, bf16: off}
        factors: {executor: [pool, inline], bf16: [off, on]}
        fixed: {eval_rows: 500}
        design: ablation
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let plan = try RectuneCLI.run(["plan", spec], in: dir, environment: avx2)
        XCTAssertEqual(plan.status, 0, plan.err)
        XCTAssertTrue(plan.out.contains("not run on this host: [bf16=on] (1 runs): --bf16 on: oneDNN"), plan.out)
        XCTAssertFalse(plan.out.contains("] repeat 1/1  {executor=pool bf16=on}"), plan.out)
        XCTAssertTrue(plan.out.contains("2 configurations × 1 repeats = 2 runs"), plan.out)
        let dry = try RectuneCLI.run(["sweep", spec, "--db", dir.appendingPathComponent("dry.sqlite").path, "--dry-run"], in: dir, environment: avx2)
        XCTAssertEqual(dry.status, 0, dry.err)
        XCTAssertTrue(dry.out.contains("2 configurations × 1 repeats = 2 runs") && !dry.out.contains("[bf16=on] repeat"), dry.out)
        let sweep = try RectuneCLI.run(["sweep", spec, "--db", dir.appendingPathComponent("bf16.sqlite").path], in: dir, environment: avx2)
        XCTAssertEqual(sweep.status, 0, sweep.err)
        XCTAssertTrue(sweep.out.contains("2 ok, 0 failed of 2 planned"), sweep.out)
        XCTAssertTrue(sweep.out.contains("not run on this host: [bf16=on] (1 runs)"), sweep.out)

        try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: "baseline: {executor: pool, bf16: off}",
                                                                              with: "baseline: {executor: pool, bf16: on}")
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let badBaseline = try RectuneCLI.run(["plan", spec], in: dir, environment: avx2)
        XCTAssertEqual(badBaseline.status, 2, badBaseline.out)
        XCTAssertTrue(badBaseline.err.contains("the baseline [") && badBaseline.err.contains("cannot run on this host"), badBaseline.err)
    }
}
