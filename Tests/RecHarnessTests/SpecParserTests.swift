import TestSupport
import XCTest
@testable import RecHarness

final class SpecParserTests: XCTestCase {
    static let designExample = """
    name: wdl-ablation
    engine: rectune          # the built-in engine
    model: wdl
    data: {synthetic_rows: 200000, seed: 1}
    batch: 512
    steps: 400
    warmup_steps: 100
    repeats: 5
    order: interleaved
    baseline: {executor: pool, allocator: system, stage: off, micro_batch: 1, bf16: off}
    factors:
      executor: [pool, inline, costmodel]
      allocator: [system, adaptive]
      alloc_warmup_steps: [10, 50]
      stage: [off, on]
      micro_batch: [1, 2, 4]
      bf16: [off, on]
    design: ablation
    metrics: [samples_per_sec, step_ms.p99, auc, minor_faults_per_step, steals_per_step]
    claims:
      - {when: {bf16: on}, metric: samples_per_sec, expect: ">= 1.3x baseline", source: "DeepRec BF16 doc, WDL 1.43x"}
    """

    func parse(_ text: String) throws -> ExperimentSpec { try SpecParser.parse(text, path: "test.yaml").spec }

    func expectError(_ text: String, line: Int, keyPath: String, contains: [String], file: StaticString = #filePath, lineNo: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: lineNo) { error in
            guard let e = error as? SpecError else { return XCTFail("not a SpecError: \(error)", file: file, line: lineNo) }
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: lineNo)
            XCTAssertEqual(e.keyPath, keyPath, "\(e)", file: file, line: lineNo)
            for fragment in contains { XCTAssertTrue(e.description.contains(fragment), "'\(fragment)' not in: \(e)", file: file, line: lineNo) }
            XCTAssertTrue(e.description.hasPrefix("test.yaml:\(line):"), "\(e)", file: file, line: lineNo)
        }
    }

    func testParsesTheDesignExample() throws {
        let s = try parse(Self.designExample)
        XCTAssertEqual(s.name, "wdl-ablation")
        XCTAssertEqual(s.engine, .rectune)
        XCTAssertEqual(s.data, .synthetic(rows: 200_000, seed: 1))
        XCTAssertEqual([s.batch, s.steps, s.warmupSteps, s.repeats], [512, 400, 100, 5])
        XCTAssertEqual(s.order, .interleaved(seed: 1))
        XCTAssertEqual(s.factors.map(\.name), ["executor", "allocator", "alloc_warmup_steps", "stage", "micro_batch", "bf16"])
        XCTAssertEqual(s.factors[4].levels, ["1", "2", "4"])
        XCTAssertEqual(s.baseline["stage"], "off")
        XCTAssertEqual(s.baseline["alloc_warmup_steps"], "10", "a factor missing from the baseline takes its first level")
        XCTAssertEqual(s.design, .ablation)
        XCTAssertEqual(s.claims, [Claim(when: ["bf16": "on"], metric: "samples_per_sec", expect: ">= 1.3x baseline",
                                        source: "DeepRec BF16 doc, WDL 1.43x")])
    }

    func testFixedTimeoutOrderAndDesignForms() throws {
        let base = "name: x\nfactors: {executor: [pool, inline], bf16: [off, on]}\n"
        var s = try parse(base + "fixed: {embedding_dim: 8, seed: 3}\ntimeout: 45\norder: random\nseed: 9\ndesign: random(3)\n")
        XCTAssertEqual(s.fixed, ["embedding_dim": "8", "seed": "3"])
        XCTAssertEqual(s.timeoutSeconds, 45)
        XCTAssertEqual(s.order, .random(seed: 9))
        XCTAssertEqual(s.design, .random(count: 3, seed: 9))
        s = try parse(base + "design: random\ncount: 2\n")
        XCTAssertEqual(s.design, .random(count: 2, seed: 1))
        s = try parse(base + "design: fractional(3)\n")
        XCTAssertEqual(s.design, .fractional(resolution: 3))
        s = try parse(base + "design: fractional\nresolution: V\n")
        XCTAssertEqual(s.design, .fractional(resolution: 5))
        s = try parse(base + "design: leave-one-out\norder: sequential\n")
        XCTAssertEqual(s.design, .leaveOneOut)
        XCTAssertEqual(s.order, .sequential)
    }

    func testBadKnobValueNamesLineAndAllowedValues() {
        expectError("name: x\nfactors:\n  executor: [pool, fast]\n", line: 3, keyPath: "factors.executor[1]",
                    contains: ["'fast'", "allowed: pool, inline, costmodel"])
        expectError("name: x\nbaseline: {bf16: maybe}\n", line: 2, keyPath: "baseline.bf16", contains: ["'maybe'", "allowed: on, off"])
        expectError("name: x\nfactors:\n  micro_batch: [1, 0]\n", line: 3, keyPath: "factors.micro_batch[1]", contains: ["'0'", "integer"])
    }

    func testUnknownKeysAndKnobsSuggestTheClosestName() {
        expectError("name: x\nfactros: {}\n", line: 2, keyPath: "factros", contains: ["unknown key", "did you mean 'factors'"])
        expectError("name: x\nfactors:\n  executer: [pool]\n", line: 3, keyPath: "factors.executer",
                    contains: ["unknown knob", "did you mean 'executor'", "micro_batch"])
        expectError("name: x\nfixed: {embeding_dim: 8}\n", line: 2, keyPath: "fixed.embeding_dim", contains: ["did you mean 'embedding_dim'"])
        expectError("name: x\nmodel: wdl\ndesign: factorial\n", line: 3, keyPath: "design",
                    contains: ["'factorial'", "allowed: full, ablation, leave-one-out, fractional, random"])
        expectError("name: x\norder: shuffled\n", line: 2, keyPath: "order", contains: ["allowed: interleaved, random, sequential"])
        expectError("name: x\nmodel: xgboost\n", line: 2, keyPath: "model", contains: ["allowed: wdl, dlrm, deepfm"])
    }

    func testStructuralErrors() {
        expectError("model: wdl\n", line: 1, keyPath: "name", contains: ["missing required key"])
        expectError("name: x\nsteps: -3\n", line: 2, keyPath: "steps", contains: ["at least 1"])
        expectError("name: x\nrepeats: many\n", line: 2, keyPath: "repeats", contains: ["integer", "'many'"])
        expectError("name: x\nfactors: {bf16: [off, on], stage: [off]}\nfixed: {bf16: on}\n", line: 3, keyPath: "fixed.bf16",
                    contains: ["also a factor"])
        expectError("name: x\nfactors: {executor: [pool, inline, costmodel]}\ndesign: fractional\n", line: 3, keyPath: "design",
                    contains: ["exactly 2 levels"])
        expectError("name: x\nfactors: {bf16: [off, on]}\ndesign: random(5)\n", line: 3, keyPath: "design", contains: ["more random"])
        expectError("name: x\nfactors: {bf16: [off, on]}\nclaims:\n  - {when: {stage: on}, metric: auc, expect: '>= 0.7'}\n",
                    line: 4, keyPath: "claims[0].when.stage", contains: ["not a factor"])
        expectError("name: x\nfactors: [a, b\n", line: 3, keyPath: "", contains: ["invalid YAML"])
    }

    func testExternalCommandEngine() throws {
        let s = try parse("""
        name: ext
        model: mymodel
        engine:
          command: [python3, train.py, --model, "{model}", --steps, "{steps}", --data, "{data}"]
          args: {threads: ["--threads", "{value}"]}
          env: {precision: MY_PRECISION, mode: {MODE_A: "x{value}", MODE_B: "{value}"}}
          result: {regex: {samples_per_sec: "([0-9.]+) samples/s"}}
        factors: {threads: [1, 2], precision: [fp32, bf16], mode: [a, b]}
        """)
        guard case .command(let c) = s.engine else { return XCTFail("expected a command engine") }
        XCTAssertEqual(c.argv.first, "python3")
        XCTAssertEqual(c.args["threads"], ["--threads", "{value}"])
        XCTAssertEqual(c.env["precision"], ["MY_PRECISION": "{value}"])
        XCTAssertEqual(c.env["mode"], ["MODE_A": "x{value}", "MODE_B": "{value}"])
        XCTAssertEqual(c.result, .regex(["samples_per_sec": "([0-9.]+) samples/s"]))
        let shorthand = try parse("name: s\ncommand: [./run.sh, '{threads}']\nfactors: {threads: [1, 2]}\n")
        XCTAssertEqual(shorthand.engine, .command(ExternalCommandSpec(argv: ["./run.sh", "{threads}"])))
    }

    func testExternalCommandErrors() {
        expectError("name: e\ncommand: [run, '{thread}']\nfactors: {threads: [1]}\n", line: 2, keyPath: "engine",
                    contains: ["{thread}", "did you mean 'threads'"])
        expectError("name: e\nengine:\n  command: [run]\n  result: {regex: {sps: 'no group'}}\n", line: 4,
                    keyPath: "engine.result.regex.sps", contains: ["capture group"])
        expectError("name: e\nengine:\n  command: [run]\n  result: last_line\n", line: 4, keyPath: "engine.result",
                    contains: ["allowed: last_json_line, json_file, regex"])
        expectError("name: e\nengine: tensorflow\n", line: 2, keyPath: "engine", contains: ["'tensorflow'", "rectune"])
    }

    func testSpecHashIgnoresFormattingAndTimeoutButNotContent() throws {
        let a = try SpecParser.parse("name: h\nfactors: {bf16: [off, on]}\nsteps: 10\n", path: "a")
        let b = try SpecParser.parse("# comment\nsteps:   10\nname: h\nfactors:\n  bf16: [off, on]\ntimeout: 5\n", path: "b")
        let c = try SpecParser.parse("name: h\nfactors: {bf16: [off, on]}\nsteps: 11\n", path: "c")
        XCTAssertEqual(a.hash, b.hash)
        XCTAssertNotEqual(a.hash, c.hash)
        XCTAssertEqual(a.hash.count, 64)
    }

    func testShippedExperimentsParse() throws {
        let dir = RepositoryRoot.url
            .appendingPathComponent("Experiments")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertTrue(files.contains("quick.yaml"), "\(files)")
        for f in files {
            let loaded = try LoadedSpec.load(path: dir.appendingPathComponent(f).path)
            XCTAssertGreaterThan(try RunPlan(spec: loaded.spec).runs.count, 0, f)
        }
    }
}
