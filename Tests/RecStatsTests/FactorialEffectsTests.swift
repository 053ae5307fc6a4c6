import Foundation
import RecStats
import TestSupport
import XCTest

final class RecStatsFactorialEffectsTests: XCTestCase {
    let levels: [(factor: String, levels: [String])] = [("A", ["off", "on"]), ("B", ["off", "on"]), ("C", ["off", "on"])]

    /// 2³ full factorial, `repeats` runs per cell, y = 10 + 3a + 2b + 1ab + 0c + noise with a, b, c ∈ {-1, +1}.
    /// Expected contrasts: A = 2·3 = 6, B = 2·2 = 4, C = 0, AB = 2·1 = 2, AC = BC = 0.
    func observations(seed: UInt64, repeats: Int, sigma: Double) -> [(config: [String: String], value: Double)] {
        var rng = Xoshiro256(seed: seed)
        var obs: [(config: [String: String], value: Double)] = []
        for a in [-1.0, 1] { for b in [-1.0, 1] { for c in [-1.0, 1] {
            let config = ["A": a > 0 ? "on" : "off", "B": b > 0 ? "on" : "off", "C": c > 0 ? "on" : "off", "model": "wdl"]
            for _ in 0..<repeats {
                obs.append((config, 10 + 3 * a + 2 * b + 1 * a * b + sigma * rng.nextNormal()))
            }
        } } }
        return obs
    }

    func testRecoversKnownMainEffectsAndInteractions() throws {
        let obs = observations(seed: 3, repeats: 4, sigma: 0.5)
        let main = FactorialEffects.mainEffects(obs, levels: levels, level: 0.99, seed: 1)
        XCTAssertEqual(main.map(\.factor), ["A", "B", "C"])
        XCTAssertTrue(main.allSatisfy { $0.level == nil && $0.secondFactor == nil })
        for (effect, truth) in zip(main, [6.0, 4.0, 0.0]) {
            let ci = try XCTUnwrap(effect.ci)
            XCTAssertTrue(ci.contains(truth), "\(effect.factor): \(truth) not in [\(ci.lower), \(ci.upper)]")
            // SE of a contrast = σ·sqrt(4/N) = 0.5·sqrt(4/32) ≈ 0.18: a 99% CI is about ±0.45 wide
            XCTAssertLessThan(ci.width, 1.2, effect.factor)
            assertClose(effect.estimate, truth, atol: 0.6)
        }
        assertClose(try XCTUnwrap(main[0].relative), main[0].estimate / 10, rtol: 0.05)

        let inter = FactorialEffects.interactions(obs, levels: levels, level: 0.99, seed: 1)
        XCTAssertEqual(inter.map { "\($0.factor)×\($0.secondFactor ?? "")" }, ["A×B", "A×C", "B×C"])
        for (effect, truth) in zip(inter, [2.0, 0.0, 0.0]) {
            let ci = try XCTUnwrap(effect.ci)
            XCTAssertTrue(ci.contains(truth), "\(effect.factor)×\(effect.secondFactor!): \(truth) not in [\(ci.lower), \(ci.upper)]")
            assertClose(effect.estimate, truth, atol: 0.6)
        }
        // the A×B interaction is clearly non-zero, the others are not
        XCTAssertGreaterThan(try XCTUnwrap(inter[0].ci).lower, 0)
    }

    func testNoiselessDataGivesExactContrasts() {
        let obs = observations(seed: 1, repeats: 1, sigma: 0)
        let main = FactorialEffects.mainEffects(obs, levels: levels)
        assertClose(main.map(\.estimate), [6, 4, 0], atol: 1e-12)
        XCTAssertTrue(main.allSatisfy { $0.ci == nil }, "one run per cell: nothing to resample")
        assertClose(FactorialEffects.interactions(obs, levels: levels).map(\.estimate), [2, 0, 0], atol: 1e-12)
    }

    func testMultiLevelFactorComparesEachLevelWithTheFirst() throws {
        var rng = Xoshiro256(seed: 5)
        let shift = ["1": 0.0, "2": 5.0, "4": 8.0]
        var obs: [(config: [String: String], value: Double)] = []
        for mb in ["1", "2", "4"] { for bf in ["off", "on"] { for _ in 0..<3 {
            obs.append((["micro_batch": mb, "bf16": bf], 100 + shift[mb]! + (bf == "on" ? -3 : 0) + 0.2 * rng.nextNormal()))
        } } }
        obs.append((["micro_batch": "8", "bf16": "on"], 1e9))   // level not listed: ignored
        obs.append((["bf16": "on"], 1e9))                       // factor missing: ignored
        let effects = FactorialEffects.mainEffects(obs, levels: [("micro_batch", ["1", "2", "4"]), ("bf16", ["off", "on"])])
        XCTAssertEqual(effects.map(\.factor), ["micro_batch", "micro_batch", "bf16"])
        XCTAssertEqual(effects.map(\.level), ["2", "4", nil])
        assertClose(effects.map(\.estimate), [5, 8, -3], atol: 0.4)
        for (e, truth) in zip(effects, [5.0, 8.0, -3.0]) {
            XCTAssertTrue(try XCTUnwrap(e.ci).contains(truth), "\(e.factor) \(e.level ?? "")")
        }
        // no pair of 2-level factors: no interactions
        XCTAssertTrue(FactorialEffects.interactions(obs, levels: [("micro_batch", ["1", "2", "4"]), ("bf16", ["off", "on"])]).isEmpty)
    }

    func testUnbalancedCellsUseCellMeans() {
        // cell (A=on) has one wild extra repeat count: unweighted cell means keep the contrast at 2
        var obs: [(config: [String: String], value: Double)] = []
        for _ in 0..<2 { obs.append((["A": "off", "B": "off"], 10)) }
        for _ in 0..<2 { obs.append((["A": "off", "B": "on"], 20)) }
        for _ in 0..<6 { obs.append((["A": "on", "B": "off"], 12)) }
        obs.append((["A": "on", "B": "on"], 22))
        let e = FactorialEffects.mainEffects(obs, levels: [("A", ["off", "on"]), ("B", ["off", "on"])])
        assertClose(e[0].estimate, 2, atol: 1e-12)
        assertClose(e[1].estimate, 10, atol: 1e-12)
    }
}

final class RecStatsFactorialCellDrawsTests: XCTestCase {
    /// Effects from per-cell bootstrap draws (the report's one bootstrap per config) give the same estimates
    /// as the observation API and CIs of the same size (different but equally valid resamples).
    func testCellDrawsMatchTheObservationAPI() {
        var rng = Xoshiro256(seed: 4)
        let levels: [(factor: String, levels: [String])] = [("a", ["0", "1"]), ("b", ["0", "1"])]
        var obs: [(config: [String: String], value: Double)] = []
        var cells: [FactorialEffects.Cell] = []
        for (i, (a, b)) in [("0", "0"), ("1", "0"), ("0", "1"), ("1", "1")].enumerated() {
            let xs = (0..<8).map { _ in 100 + (a == "1" ? 10 : 0) + (b == "1" ? -4 : 0) + 2 * rng.nextNormal() }
            obs += xs.map { (["a": a, "b": b], $0) }
            cells.append(.init(config: ["a": a, "b": b], values: xs,
                               meanDraws: Bootstrap.draws(xs, resamples: 4000, seed: UInt64(i + 1)).means))
        }
        let viaObs = FactorialEffects.mainEffects(obs, levels: levels, resamples: 4000)
        let viaCells = FactorialEffects.effects(cells: cells, levels: levels)
        XCTAssertEqual(viaCells.main.count, 2)
        XCTAssertEqual(viaCells.interactions.count, 1)
        for (o, c) in zip(viaObs, viaCells.main) {
            assertClose(c.estimate, o.estimate, rtol: 1e-12)
            let wo = o.ci!.width, wc = c.ci!.width
            XCTAssertEqual(wc, wo, accuracy: 0.15 * wo, "CI widths agree within Monte-Carlo error")
        }
    }
}
