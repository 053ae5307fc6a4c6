import XCTest
@testable import RecHarness

final class DesignTests: XCTestCase {
    func spec(_ factors: [(String, [String])], design: DesignKind, baseline: [String: String] = [:], repeats: Int = 1,
              order: RunOrder = .sequential) -> ExperimentSpec {
        var s = ExperimentSpec(name: "d", repeats: repeats, order: order, baseline: baseline,
                               factors: factors.map { Factor(name: $0.0, levels: $0.1) }, design: design)
        for f in s.factors where s.baseline[f.name] == nil { s.baseline[f.name] = f.levels[0] }
        return s
    }

    let five: [(String, [String])] = [("executor", ["pool", "inline", "costmodel"]), ("allocator", ["system", "adaptive"]),
                                      ("stage", ["off", "on"]), ("micro_batch", ["1", "2", "4"]), ("bf16", ["off", "on"])]

    func testFullFactorialHasEveryCombinationOnce() throws {
        let configs = try DesignExpander.configurations(of: spec(five, design: .full))
        XCTAssertEqual(configs.count, 3 * 2 * 2 * 3 * 2)
        XCTAssertEqual(Set(configs).count, configs.count)
        XCTAssertTrue(configs.allSatisfy { $0.keys == five.map(\.0) })
        XCTAssertEqual(configs.filter { $0["micro_batch"] == "4" }.count, 24)
    }

    func testAblationChangesExactlyOneFactorFromTheBaseline() throws {
        let s = spec(five, design: .ablation, baseline: ["micro_batch": "1", "inter_threads": "2"])
        let configs = try DesignExpander.configurations(of: s)
        let base = DesignExpander.baseline(of: s)
        XCTAssertEqual(configs.first, base)
        XCTAssertEqual(configs.count, 1 + 2 + 1 + 1 + 2 + 1)
        XCTAssertEqual(configs.filter { $0 == base }.count, 1, "baseline included once")
        for c in configs.dropFirst() {
            XCTAssertEqual(c.differences(from: base).count, 1, "\(c)")
            XCTAssertEqual(c["inter_threads"], "2", "baseline-only knobs are kept in every config")
        }
        XCTAssertEqual(configs[1].label(relativeTo: base), "executor=inline")
    }

    func testAblationOfADependentKnobSetsItsPrerequisiteJointly() throws {
        // issue 8 item 4: alloc_warmup_steps does nothing under allocator: system
        let s = spec([("allocator", ["system", "adaptive"]), ("alloc_warmup_steps", ["10", "50"])], design: .ablation)
        let configs = try DesignExpander.configurations(of: s)
        let base = DesignExpander.baseline(of: s)
        XCTAssertEqual(configs.map { $0.label(relativeTo: base) },
                       ["baseline", "allocator=adaptive", "allocator=adaptive alloc_warmup_steps=50"])
    }

    func testCrossedDesignsRefuseAKnobVariedWhereItHasNoEffect() throws {
        let s = spec([("allocator", ["system", "adaptive"]), ("alloc_warmup_steps", ["10", "50"])], design: .full)
        XCTAssertThrowsError(try DesignExpander.configurations(of: s)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("'alloc_warmup_steps' varies where it has no effect"), text)
            XCTAssertTrue(text.contains("allocator is adaptive"), text)
            XCTAssertTrue(text.contains("Fix: set allocator: adaptive"), text)
        }
        XCTAssertThrowsError(try DesignExpander.configurations(of: spec([("costmodel_start", ["5", "10"]), ("bf16", ["off", "on"])],
                                                                          design: .full)))
        // With the prerequisite in the baseline, the knob applies in every run.
        let fixed = spec([("alloc_warmup_steps", ["10", "50"]), ("stage", ["off", "on"])], design: .full,
                         baseline: ["allocator": "adaptive"])
        XCTAssertEqual(try DesignExpander.configurations(of: fixed).count, 4)
        // Inert baseline knobs are fine: inter_threads does nothing under inline, but nothing varies it there.
        let inline = spec([("executor", ["pool", "inline"]), ("bf16", ["off", "on"])], design: .full, baseline: ["inter_threads": "2"])
        XCTAssertEqual(try DesignExpander.configurations(of: inline).count, 4)
    }

    func testLeaveOneOutStartsFromAllOnAndTurnsEachFactorOff() throws {
        let s = spec(five, design: .leaveOneOut)
        let configs = try DesignExpander.configurations(of: s)
        let allOn = configs[0]
        XCTAssertEqual(allOn.values, ["executor": "costmodel", "allocator": "adaptive", "stage": "on", "micro_batch": "4", "bf16": "on"])
        XCTAssertEqual(configs.count, 1 + five.count)
        for (c, f) in zip(configs.dropFirst(), five) {
            XCTAssertEqual(c.differences(from: allOn), [f.0])
            XCTAssertEqual(c[f.0], f.1[0], "turned back to its baseline level")
        }
    }

    func testFractionalDesignsAreBalancedOrthogonalAndOfTheRightSize() throws {
        // (factors, resolution) → runs of the smallest design reaching that resolution.
        let cases: [(Int, Int, Int)] = [(3, 3, 4), (4, 4, 8), (5, 3, 8), (5, 5, 16), (6, 4, 16), (7, 3, 8), (7, 4, 16), (8, 4, 16)]
        for (k, resolution, runs) in cases {
            guard let m = FractionalDesign.make(factors: k, resolution: resolution) else { return XCTFail("no design for \(k)") }
            XCTAssertEqual(m.rows.count, runs, "k=\(k) R=\(resolution)")
            XCTAssertGreaterThanOrEqual(m.resolution, resolution, "k=\(k)")
            for j in 0..<k {
                XCTAssertEqual(m.rows.reduce(0) { $0 + $1[j] }, 0, "column \(j) balanced (k=\(k))")
                for l in (j + 1)..<k {
                    XCTAssertEqual(m.rows.reduce(0) { $0 + $1[j] * $1[l] }, 0, "columns \(j),\(l) orthogonal (k=\(k))")
                }
            }
            XCTAssertEqual(Set(m.rows).count, runs, "distinct runs")
            XCTAssertTrue(m.rows.contains(Array(repeating: -1, count: k)), "the all-low run is in the fraction")
        }
        XCTAssertEqual(FractionalDesign.shortestWord(base: 3, generators: [0b111]), 4, "D = ABC has I = ABCD")
    }

    func testFractionalExpansionMapsLevelsFromTheBaseline() throws {
        let factors: [(String, [String])] = [("executor", ["pool", "inline"]), ("allocator", ["system", "adaptive"]),
                                             ("stage", ["off", "on"]), ("bf16", ["off", "on"])]
        let s = spec(factors, design: .fractional(resolution: 4), baseline: ["stage": "on"])
        let configs = try DesignExpander.configurations(of: s)
        XCTAssertEqual(configs.count, 8)
        XCTAssertTrue(configs.contains(DesignExpander.baseline(of: s)), "baseline (all low) is a run")
        for f in factors { XCTAssertEqual(configs.filter { $0[f.0] == f.1[0] }.count, 4, f.0) }
        XCTAssertThrowsError(try DesignExpander.configurations(of: spec([("executor", ["pool", "inline", "costmodel"])], design: .fractional(resolution: 3))))
    }

    func testRandomDesignIsSeededDistinctAndIncludesTheBaseline() throws {
        let a = try DesignExpander.configurations(of: spec(five, design: .random(count: 10, seed: 7)))
        let b = try DesignExpander.configurations(of: spec(five, design: .random(count: 10, seed: 7)))
        let c = try DesignExpander.configurations(of: spec(five, design: .random(count: 10, seed: 8)))
        XCTAssertEqual(a.count, 10)
        XCTAssertEqual(Set(a).count, 10)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a[0], DesignExpander.baseline(of: spec(five, design: .ablation)))
        let all = try DesignExpander.configurations(of: spec(five, design: .random(count: 72, seed: 1)))
        XCTAssertEqual(Set(all).count, 72, "asking for the whole space gives the whole space")
    }

    func testOrders() throws {
        let factors: [(String, [String])] = [("bf16", ["off", "on"]), ("stage", ["off", "on"])]
        let seq = try RunPlan(spec: spec(factors, design: .ablation, repeats: 3, order: .sequential))
        XCTAssertEqual(seq.runs.map(\.repeatIndex), [0, 1, 2, 0, 1, 2, 0, 1, 2])
        XCTAssertEqual(seq.runs.map(\.number), Array(1...9))

        let two = try RunPlan(spec: spec([("bf16", ["off", "on"])], design: .ablation, repeats: 4, order: .interleaved(seed: 1)))
        // Two configs interleaved: every round holds A and B once, so the run sequence alternates within rounds.
        for round in 0..<4 {
            let pair = two.runs[(2 * round)..<(2 * round + 2)]
            XCTAssertEqual(Set(pair.map(\.config)).count, 2)
            XCTAssertTrue(pair.allSatisfy { $0.repeatIndex == round })
        }
        XCTAssertEqual(two.runs.prefix(2).map { $0.config["bf16"] }, ["off", "on"], "first round ABAB in design order")

        let inter = try RunPlan(spec: spec(factors, design: .full, repeats: 5, order: .interleaved(seed: 3)))
        for k in 1...5 {
            let prefix = inter.runs.prefix(4 * k)
            for c in inter.configs { XCTAssertEqual(prefix.filter { $0.config == c }.count, k) }
        }
        let random1 = try RunPlan(spec: spec(factors, design: .full, repeats: 3, order: .random(seed: 4)))
        let random2 = try RunPlan(spec: spec(factors, design: .full, repeats: 3, order: .random(seed: 4)))
        XCTAssertEqual(random1.runs.map(\.key), random2.runs.map(\.key))
        XCTAssertEqual(Set(random1.runs.map(\.key)).count, 12)
        XCTAssertNotEqual(random1.runs.map(\.key), seq.runs.map(\.key))
    }

    func testConfigHashCoversTheEffectiveConfig() throws {
        var s = spec([("bf16", ["off", "on"])], design: .ablation)
        let c = DesignExpander.baseline(of: s)
        let h = RunPlan.configHash(c, spec: s)
        XCTAssertEqual(h, RunPlan.configHash(c, spec: s))
        s.steps += 1
        XCTAssertNotEqual(RunPlan.configHash(c, spec: s), h, "steps are part of the effective config")
        s.steps -= 1; s.fixed["embedding_dim"] = "8"
        XCTAssertNotEqual(RunPlan.configHash(c, spec: s), h, "fixed settings are part of the effective config")
        s.fixed = [:]; s.repeats = 9
        XCTAssertEqual(RunPlan.configHash(c, spec: s), h, "repeats are not")
    }
}
