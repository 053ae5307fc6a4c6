import Foundation
import RecContract
import enum RecEngine.OneDNNInfo
import TestSupport
import XCTest

/// The contract across the engine/harness boundary, tested on the real binary: every registry
/// knob set on the command line or in a spec comes back in the engine's `config` echo, and every
/// catalog metric the engine can produce is produced by a real sweep (or recorded unavailable
/// with its reason). These tests fail, never skip, when the binary is missing or training fails.
final class ContractCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-contract-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A value for every knob, each different from its default and applicable together with the others.
    static let everyKnob: [Knob: String] = [
        .executor: "costmodel", .interThreads: "3", .intraThreads: "2", .costmodelStart: "1", .costmodelStop: "3",
        .pinThreads: "on", .numa: "local", .allocator: "adaptive", .allocWarmupStart: "0", .allocWarmupSteps: "2",
        .mallocMmapThreshold: "262144", .stage: "on", .stageCapacity: "3", .stageThreads: "2", .microBatch: "2",
        .bf16: "on", .embeddingDim: "4", .hashBuckets: "1000", .evalRows: "300", .seed: "7", .badRows: "fail",
        .dataset: "eleme", .embFusion: "off", .indicator: "scatter", .rnn: "fused", .intraBoost: "on",
        .weightLayout: "timed",
    ]
    /// The model under which every knob above applies (indicator is contest DeepFM's).
    static let model = "deepfm"
    /// Knobs the sweep test leaves at their defaults: its generated data is Criteo's.
    static let contestOnly: Set<Knob> = [.dataset, .embFusion, .indicator, .rnn]
    /// Knobs of another model than `model` (checked to apply under that one; echoed all the same).
    static let otherModel: [Knob: String] = [.rnn: "dien"]
    /// Knobs that apply only where another knob above has a different value (checked to apply
    /// with those values; echoed all the same): `weight_layout` is for fp32 runs.
    static let otherValues: [Knob: [Knob: String]] = [.weightLayout: [.bf16: "off"]]

    func testValuesCoverTheRegistryWithNonDefaultApplicableValues() throws {
        XCTAssertEqual(Set(Self.everyKnob.keys), Set(Knob.allCases), "a new knob needs a value here")
        for (knob, value) in Self.everyKnob {
            XCTAssertNotEqual(try knob.spec.canonical(value), knob.spec.defaultValue, knob.name)
            let values = Self.everyKnob.merging(Self.otherValues[knob] ?? [:]) { $1 }
            XCTAssertTrue(knob.spec.applies(model: Self.otherModel[knob] ?? Self.model) { values[$0]! }, "\(knob.name) must apply")
        }
    }

    func testEveryKnobOnTheCommandLineIsEchoedAsRun() throws {
        var args = ["train", "--model", Self.model, "--synthetic-rows", "2000", "--batch", "64", "--steps", "4", "--warmup-steps", "2",
                    "--json", "out.json", "--quiet"]
        var values = Self.everyKnob
        // A host without bf16 refuses `--bf16 on` (EngineInputCLITests checks the refusal).
        if OneDNNInfo.bf16Unsupported != nil { values[.bf16] = "off" }
        for knob in Knob.allCases { args += [knob.flag, values[knob]!] }
        let r = try RectuneCLI.run(args, in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let data = try Data(contentsOf: dir.appendingPathComponent("out.json"))
        let result = try JSONDecoder().decode(TrainResult.self, from: data)  // strict: every required key, typed
        let keys = Set(try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any]).keys)
        XCTAssertEqual(keys.subtracting(TrainResult.keys), [], "keys outside the contract")
        XCTAssertEqual(Set(TrainResult.keys).subtracting(TrainResult.optionalKeys).subtracting(keys), [], "missing contract keys")
        for knob in Knob.allCases {
            XCTAssertEqual(result.config[knob.name]?.description, values[knob], "echo of \(knob.name)")
        }
    }

    func testHelpListsEveryRegistryFlagWithItsHelp() throws {
        let help = try RectuneCLI.run(["train", "--help"], in: dir)
        XCTAssertEqual(help.status, 0, help.err)
        let flat = help.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let optionLines = help.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for spec in KnobSpec.all {
            XCTAssertEqual(optionLines.filter { $0.hasPrefix(spec.flag + " <") }.count, 1, "\(spec.flag): exactly one option in train --help")
            let firstWords = spec.help.split(separator: " ").prefix(4).joined(separator: " ")
            XCTAssertTrue(flat.contains(firstWords), "help of \(spec.flag): '\(firstWords)'")
        }
        let bad = try RectuneCLI.run(["train", "--micro-batch", "0"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("micro_batch: '0' is not allowed (allowed: integer 1…1024)"), bad.err)
    }

    struct Shown: Decodable {
        struct Metric: Decodable { var name: String; var phase: String; var value: Double }
        var status: String
        var effectiveConfig: [String: String]?
        var metrics: [Metric]
        var unavailable: [String: String]
        var stderrTail: String
    }

    func testASweepEchoesEveryKnobAndProducesEveryCatalogMetric() throws {
        var fixed = Self.everyKnob
        fixed[.bf16] = nil
        for knob in Self.contestOnly { fixed[knob] = nil }
        let fixedYAML = fixed.keys.sorted().map { "\($0.name): \"\(fixed[$0]!)\"" }.joined(separator: ", ")
        let spec = dir.appendingPathComponent("contract.yaml")
        try """
        name: contract
        model: wdl
        data: {synthetic_rows: 2000, seed: 1}
        batch: 64
        steps: 4
        warmup_steps: 2
        repeats: 1
        timeout: 300
        fixed: {\(fixedYAML)}
        factors: {bf16: ["off", "on"]}
        """.write(to: spec, atomically: true, encoding: .utf8)
        let sweep = try RectuneCLI.run(["sweep", spec.path, "--db", "c.sqlite"], in: dir)
        XCTAssertEqual(sweep.status, 0, sweep.out + sweep.err)
        // A host without bf16 leaves the bf16 run out (EngineInputCLITests checks how).
        let bf16Here = OneDNNInfo.bf16Unsupported == nil
        XCTAssertTrue(sweep.out.contains(bf16Here ? "2 ok, 0 failed" : "1 ok, 0 failed of 1 planned"), sweep.out)

        // What a Criteo WDL run produces: every counter and metric whose registry condition holds for it.
        func produced(_ condition: KnobCondition?) -> Bool {
            condition?.holds(model: "wdl") { fixed[$0] ?? $0.spec.defaultValue } ?? true
        }
        let engineCounters = Set(Counter.defaultPerfEvents + Counter.allCases.filter { $0.source != .perfEvent })
            .filter { produced($0.producedWhen) }
        for id in bf16Here ? ["1", "2"] : ["1"] {
            let show = try RectuneCLI.run(["show", id, "--db", "c.sqlite", "--json"], in: dir)
            XCTAssertEqual(show.status, 0, show.err)
            let run = try JSONDecoder().decode(Shown.self, from: Data(show.out.utf8))
            XCTAssertEqual(run.status, "ok", run.stderrTail)
            let echo = try XCTUnwrap(run.effectiveConfig, "the store keeps the engine's echo")
            for (knob, value) in fixed { XCTAssertEqual(echo[knob.name], value, "stored echo of \(knob.name)") }
            for knob in Self.contestOnly { XCTAssertEqual(echo[knob.name], knob.spec.defaultValue, "default echo of \(knob.name)") }
            XCTAssertEqual(Set(Knob.allCases.map(\.name)).subtracting(echo.keys), [], "every knob is echoed")

            let steady = Set(run.metrics.filter { $0.phase == "steady" || $0.phase == "total" }.map(\.name))
            for m in MetricCatalog.resultMetrics where produced(m.producedWhen) {
                XCTAssertTrue(steady.contains(m.name), "result metric \(m.name) not stored")
            }
            for c in engineCounters {
                XCTAssertTrue(steady.contains(c.name) || run.unavailable[c.name] != nil,
                              "counter \(c.name) neither stored nor recorded unavailable")
                if let perStep = MetricCatalog.perStepMetric(for: c), steady.contains(c.name) {
                    XCTAssertTrue(steady.contains(perStep.name), "\(perStep.name) not derived from \(c.name)")
                }
                if let reason = run.unavailable[c.name] {
                    XCTAssertFalse(reason.isEmpty)
                    XCTAssertFalse(steady.contains(c.name), "an unavailable counter is never stored as a value")
                }
            }
            // The knobs' mechanisms ran: the stage waited or not, but was counted; the allocator planned.
            XCTAssertNotNil(run.metrics.first { $0.name == Counter.allocatorHits.name && $0.phase == "steady" && $0.value > 0 })
        }
    }
}
