import Foundation
import enum RecEngine.OneDNNInfo
import TestSupport
import XCTest

/// `Experiments/external/tensorflow-vs-rectune.sh`, the runner of the rectune-vs-TensorFlow specs:
/// its rectune systems map to the knobs their names promise (checked in the result's config echo,
/// with the real binary; TensorFlow itself is not needed), a `_bf16` system turns bf16 on for
/// rectune and passes --bf16 to tf_compare.py, and an unknown system is refused.
final class TensorFlowComparisonCLITests: XCTestCase {
    static let root = RepositoryRoot.url

    /// Runs the script from the repository root with `RECTUNE` pointing at the built binary.
    func runScript(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [Self.root.appendingPathComponent("Experiments/external/tensorflow-vs-rectune.sh").path] + args
        p.currentDirectoryURL = Self.root
        var env = ProcessInfo.processInfo.environment
        env["RECTUNE"] = try RectuneCLI.requireBinary().path
        env.merge(environment) { _, mine in mine }
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func testRectuneSystemsRunTheirKnobs() throws {
        let dir = try makeTemporaryDirectory("rectune-tf-compare")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("train.tsv").path
        let gen = try RectuneCLI.run(["gen-data", "--rows", "6000", "--seed", "3", "--out", data], in: dir)
        XCTAssertEqual(gen.status, 0, gen.err)
        let expected: [(String, [String: String])] = [
            ("rectune", ["micro_batch": "1", "allocator": "system", "intra_boost": "off", "bf16": "off"]),
            ("rectune_boost", ["micro_batch": "1", "allocator": "system", "intra_boost": "on", "bf16": "off"]),
            ("rectune_tuned", ["micro_batch": "2", "allocator": "adaptive", "intra_boost": "off", "bf16": "off"]),
            ("rectune_tuned_bf16", ["micro_batch": "2", "allocator": "adaptive", "intra_boost": "off", "bf16": "on"]),
        ]
        // A host without bf16 refuses `--bf16 on` (EngineInputCLITests checks the refusal).
        for (system, knobs) in expected where OneDNNInfo.bf16Unsupported == nil || knobs["bf16"] != "on" {
            let json = dir.appendingPathComponent("\(system).json").path
            let r = try runScript(["--system", system, "--model", "dlrm", "--data", data, "--batch", "64", "--steps", "4",
                                   "--warmup-steps", "1", "--threads", "2", "--eval-rows", "500", "--json", json])
            XCTAssertEqual(r.status, 0, "\(system): \(r.err)")
            let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
            let config = try XCTUnwrap(result["config"] as? [String: Any], "\(system): no config echo")
            XCTAssertEqual(config["inter_threads"].map { "\($0)" }, "2", system)
            for (knob, value) in knobs {
                XCTAssertEqual(config[knob].map { "\($0)" }, value, "\(system): \(knob)")
            }
        }
        // The TensorFlow systems: a stand-in Python records the tf_compare.py arguments it gets.
        let python = dir.appendingPathComponent("python")
        try "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$SEEN\"\n".write(to: python, atomically: true, encoding: .utf8)
        chmod(python.path, 0o755)
        for (system, variant, bf16) in [("tf_lazy_adam", "lazy_adam", false), ("tf_xla_bf16", "xla", true)] {
            let seen = dir.appendingPathComponent("\(system).args")
            let r = try runScript(["--system", system, "--model", "deepfm", "--data", data, "--json", "x.json"],
                                  environment: ["RECTUNE_TF_PYTHON": python.path, "SEEN": seen.path])
            XCTAssertEqual(r.status, 0, r.err)
            let args = try String(contentsOf: seen, encoding: .utf8).split(separator: "\n").map(String.init)
            XCTAssertEqual(Array(args.prefix(5)), ["scripts/tf_compare.py", "--variant", variant, "--model", "deepfm"], system)
            XCTAssertEqual(args.contains("--bf16"), bf16, system)
        }
        let bad = try runScript(["--system", "rectune_fast", "--model", "dlrm", "--data", data, "--json", "x.json"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.contains("--system must be rectune, rectune_boost, rectune_tuned, tf_adam, tf_lazy_adam or tf_xla, optionally with _bf16, got 'rectune_fast'"), bad.err)
    }
}
