import Foundation
import RecContract
@testable import RecHarness
import XCTest

/// Strict decoding of engine results (`ResultMetrics.fromEngineResult`).
final class ResultContractTests: XCTestCase {
    func result(config: [String: ConfigValue] = ["executor": .string("pool"), "micro_batch": .int(2)]) throws -> [String: Any] {
        let r = TrainResult(model: "wdl", config: config, steps: 10, warmupSteps: 2, batch: 64, samplesPerSec: 1000,
                            stepMs: StepTimes(p50: 1, p90: 2, p99: 3, mean: 1.5), auc: 0.7, logloss: 0.5, trainLossFirst: 0.6,
                            trainLossLast: 0.5, evalRows: 100, skippedRows: 0, wallS: 1,
                            counters: ["executor.steals": 30], countersWarmup: [:], counterInfo: [:],
                            engine: EngineInfo(version: "t", onednnVersion: "0", onednnISA: "x", interThreads: 2, intraThreads: 1))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
    }

    func extract(_ json: [String: Any], requested: [String: String] = ["micro_batch": "2"]) throws -> ResultMetrics.Extracted {
        ResultMetrics.fromEngineResult(try JSONSerialization.data(withJSONObject: json), requested: requested)
    }

    func testAValidResultGivesMetricsAndTheEcho() throws {
        let e = try extract(try result())
        XCTAssertNil(e.invalidReason)
        XCTAssertEqual(e.effectiveConfig?["micro_batch"], "2")
        XCTAssertEqual(e.metrics.first { $0.name == "steals_per_step" }?.value, 3)
    }

    /// Foundation's `JSONSerialization` reader returns a neighbouring double for about one number
    /// in five on this toolchain; a stored metric must be the number the run wrote, to the bit.
    func testNumbersAreReadExactlyFromAResultFileAndAStdoutLine() throws {
        let written = [0.4567901223456783, 0.8271604893827134, 3.6352266969999993, 1.320987645432093]
        var json = try result()
        json["samples_per_sec"] = written[0]
        json["auc"] = written[1]
        json["step_ms"] = ["p50": written[2], "p90": written[2], "p99": written[3], "mean": written[2]]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        XCTAssertTrue(text.contains("0.4567901223456783") && text.contains("1.320987645432093"), text)
        func check(_ metrics: [MetricValue], _ how: String) {
            func value(_ name: String) -> Double? { metrics.first { $0.name == name }?.value }
            XCTAssertEqual(value("samples_per_sec")?.bitPattern, written[0].bitPattern, how)
            XCTAssertEqual(value("auc")?.bitPattern, written[1].bitPattern, how)
            XCTAssertEqual(value("step_ms.p50")?.bitPattern, written[2].bitPattern, how)
            XCTAssertEqual(value("step_ms.p99")?.bitPattern, written[3].bitPattern, how)
        }
        let engine = ResultMetrics.fromEngineResult(Data(text.utf8), requested: ["micro_batch": "2"])
        XCTAssertNil(engine.invalidReason)
        check(engine.metrics, "result file")
        let line = try XCTUnwrap(ResultMetrics.lastJSONLine("training…\n" + text + "\n"))
        check(ResultMetrics.fromTrainJSON(line, strict: true).metrics, "last JSON line of stdout")
        // Booleans stay non-numbers and integers stay integers.
        let typed = try XCTUnwrap(ResultMetrics.object(Data(#"{"a": true, "b": 3, "c": null, "d": [1.5, "x"]}"#.utf8)))
        XCTAssertNil(ResultMetrics.number(typed["a"]))
        XCTAssertEqual(ResultMetrics.number(typed["b"]), 3)
        XCTAssertTrue(typed["c"] is NSNull)
        XCTAssertEqual((typed["d"] as? [Any])?.count, 2)
        XCTAssertNil(ResultMetrics.object(Data("[1, 2]".utf8)), "an array is not a result object")
        XCTAssertNil(ResultMetrics.object(Data("{\"a\": ".utf8)), "truncated JSON is not a result object")
    }

    func testUnavailableNumbersAreAllowedWithTheirReason() throws {
        var json = try result()
        json["auc"] = NSNull()
        json["auc" + TrainResult.unavailableSuffix] = "undefined: one class"
        let e = try extract(json)
        XCTAssertNil(e.invalidReason)
        XCTAssertEqual(e.unavailable["auc"], "undefined: one class")
        XCTAssertNil(e.metrics.first { $0.name == "auc" }, "an unavailable value is never stored")
        json["auc" + TrainResult.unavailableSuffix] = nil
        XCTAssertNotNil(try extract(json).invalidReason, "a null without a reason is not the contract")
    }

    func testKeysOutsideTheContractAndWrongTypesAndEchoMismatchesAreInvalid() throws {
        var json = try result()
        json["surprise"] = 1
        XCTAssertEqual(try extract(json).invalidReason, "result has a key outside the contract: 'surprise'")
        json = try result()
        json["steps"] = "ten"
        XCTAssertTrue(try extract(json).invalidReason?.contains("'steps'") ?? false)
        json = try result()
        json["logloss"] = nil
        XCTAssertTrue(try extract(json).invalidReason?.contains("logloss") ?? false)
        let mismatch = try extract(try result(), requested: ["micro_batch": "4"]).invalidReason
        XCTAssertEqual(mismatch, "the engine's config echo differs from the request: micro_batch: requested 4, engine ran 2")
        // A knob that does not apply is not compared (inter_threads under inline).
        let inline = try result(config: ["executor": .string("inline"), "inter_threads": .int(1)])
        XCTAssertNil(try extract(inline, requested: ["executor": "inline", "inter_threads": "2"]).invalidReason)
    }
}
