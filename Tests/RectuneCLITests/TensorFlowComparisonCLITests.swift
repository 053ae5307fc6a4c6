import Foundation
import TestSupport
import XCTest

/// `Experiments/external/tensorflow-vs-rectune.sh`, the runner of the rectune-vs-TensorFlow specs:
/// its rectune systems map to the knobs their names promise (checked in the result's config echo,
/// with the real binary; TensorFlow itself is not needed), and an unknown system is refused.
final class TensorFlowComparisonCLITests: XCTestCase {
    static let root = RepositoryRoot.url

    /// Runs the script from the repository root with `RECTUNE` pointing at the built binary.
    func runScript(_ args: [String]) throws -> (status: Int32, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [Self.root.appendingPathComponent("Experiments/external/tensorflow-vs-rectune.sh").path] + args
        p.currentDirectoryURL = Self.root
        var env = ProcessInfo.processInfo.environment
        env["RECTUNE"] = try RectuneCLI.requireBinary().path
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
            ("rectune", ["micro_batch": "1", "allocator": "system", "intra_boost": "off"]),
            ("rectune_boost", ["micro_batch": "1", "allocator": "system", "intra_boost": "on"]),
            ("rectune_tuned", ["micro_batch": "2", "allocator": "adaptive", "intra_boost": "off"]),
        ]
        for (system, knobs) in expected {
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
        let bad = try runScript(["--system", "rectune_fast", "--model", "dlrm", "--data", data, "--json", "x.json"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.contains("--system must be rectune, rectune_boost, rectune_tuned, tf_adam, tf_lazy_adam or tf_xla, got 'rectune_fast'"), bad.err)
    }
}
