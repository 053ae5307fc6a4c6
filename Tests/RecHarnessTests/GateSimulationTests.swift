import Foundation
@testable import RecHarness
import RecStats
import TestSupport
import XCTest

/// The regression gate under A/A (both sides from one distribution) and under real regressions, by
/// simulation: lognormal noise at CVs seen on shared CI machines (samples/s 1–3%, step p99 3–8%), the
/// gate's default metrics and thresholds (samples/s 5%, step p99 10%). Prints the rates of exit 1 (false
/// alarm), 0 (decisive "no regression") and 3 (inconclusive); asserts only what must hold by construction.
final class GateSimulationTests: XCTestCase {
    static func runSet(_ label: String, _ rng: inout Xoshiro256, n: Int, spsCV: Double, p99CV: Double, spsScale: Double = 1) -> RunSet {
        let runs = (0..<n).map { r in
            RunRecord(id: Int64(r + 1), experimentID: 1, config: [:], configHash: "c", repeatIndex: r, status: .ok,
                      started: Date(timeIntervalSince1970: 0), durationSeconds: 1,
                      metrics: [MetricValue(name: "samples_per_sec", value: 1000 * spsScale * exp(spsCV * rng.nextNormal())),
                                MetricValue(name: "step_ms.p99", value: 50 / spsScale * exp(p99CV * rng.nextNormal()))])
        }
        return RunSet(label: label, runs: runs, host: AnalysisFixtures.host())
    }

    /// Exit-code rates over `sims` simulated checks.
    static func rates(n: Int, spsCV: Double, p99CV: Double, spsScale: Double = 1, sims: Int, seed: UInt64) throws -> [Int32: Double] {
        var counts: [Int32: Int] = [:]
        var rng = Xoshiro256(seed: seed)
        var rule = ComparisonRule()
        rule.resamples = 1000
        for _ in 0..<sims {
            let a = runSet("A", &rng, n: n, spsCV: spsCV, p99CV: p99CV)
            let b = runSet("B", &rng, n: n, spsCV: spsCV, p99CV: p99CV, spsScale: spsScale)
            counts[try RegressionGate.evaluate(baseline: a, candidate: b, options: GateOptions(), rule: rule).exitCode, default: 0] += 1
        }
        return counts.mapValues { Double($0) / Double(sims) }
    }

    func testAAFalseAlarmAndDecisiveRates() throws {
        let sims = 300
        var worstFalseAlarm = 0.0
        print("gate A/A simulation (\(sims) checks per cell; exit 1 = false alarm, 0 = decisive no regression, 3 = inconclusive)")
        for n in [5, 6, 8, 10] {
            for (sps, p99) in [(0.01, 0.03), (0.02, 0.05), (0.03, 0.08)] {
                let r = try Self.rates(n: n, spsCV: sps, p99CV: p99, sims: sims, seed: UInt64(n * 1000) + UInt64(sps * 1e4))
                worstFalseAlarm = max(worstFalseAlarm, r[1] ?? 0)
                print(String(format: "  n=%2d  CV samples/s %.0f%%, p99 %.0f%%:  exit1 %.3f  exit0 %.3f  exit3 %.3f",
                             n, sps * 100, p99 * 100, r[1] ?? 0, r[0] ?? 0, r[3] ?? 0))
                if n >= 8 && sps <= 0.02 {
                    // the repeats .ci/run uses, at the noise it was sized for: mostly decisive
                    XCTAssertGreaterThanOrEqual(r[0] ?? 0, 0.9, "n=\(n) CV \(sps)/\(p99): decisive rate")
                }
            }
        }
        // A false alarm needs a one-sided 97.5% bound to miss the truth by more than the threshold: with 300
        // checks per cell, none may occur (a rate of even 1% would show ~3 with probability 0.95).
        XCTAssertEqual(worstFalseAlarm, 0, "A/A exit 1")
    }

    /// Machine drift between rounds (the load of a shared CI runner changes: each round's speed is scaled by
    /// a factor with CV `drift`, shared by the A and B run of that round, as `check --ab` interleaves them).
    static func driftRates(n: Int, drift: Double, noise: Double, scale: Double = 1, paired: Bool, sims: Int, seed: UInt64) throws -> [Int32: Double] {
        var counts: [Int32: Int] = [:]
        var rng = Xoshiro256(seed: seed)
        var rule = ComparisonRule()
        rule.resamples = 500
        for _ in 0..<sims {
            var a: [RunRecord] = [], b: [RunRecord] = []
            for r in 0..<n {
                let load = exp(drift * rng.nextNormal())
                for (side, k) in [(0, 1.0), (1, scale)] {
                    let sps = 1000 * k * load * exp(noise * rng.nextNormal()), p99 = 50 / (k * load) * exp(2.5 * noise * rng.nextNormal())
                    let run = RunRecord(id: Int64(2 * r + side + 1), experimentID: Int64(side + 1), config: [:], configHash: "c", repeatIndex: r,
                                        status: .ok, started: Date(timeIntervalSince1970: 0), durationSeconds: 1,
                                        metrics: [MetricValue(name: "samples_per_sec", value: sps), MetricValue(name: "step_ms.p99", value: p99)])
                    if side == 0 { a.append(run) } else { b.append(run) }
                }
            }
            let options = GateOptions(paired: paired)
            let result = try RegressionGate.evaluate(baseline: RunSet(label: "A", runs: a, host: AnalysisFixtures.host()),
                                                     candidate: RunSet(label: "B", runs: b, host: AnalysisFixtures.host()),
                                                     options: options, rule: rule)
            counts[result.exitCode, default: 0] += 1
        }
        return counts.mapValues { Double($0) / Double(sims) }
    }

    func testPairingInterleavedRoundsCancelsDrift() throws {
        print("gate under round-to-round drift (200 checks per cell, n = 8 rounds, 2% noise within a round):")
        var worst = 0.0
        for drift in [0.0, 0.10, 0.25] {
            let u = try Self.driftRates(n: 8, drift: drift, noise: 0.02, paired: false, sims: 200, seed: 31)
            let p = try Self.driftRates(n: 8, drift: drift, noise: 0.02, paired: true, sims: 200, seed: 31)
            worst = max(worst, u[1] ?? 0, p[1] ?? 0)
            print(String(format: "  drift CV %2.0f%%: unpaired exit0 %.3f exit1 %.3f | paired exit0 %.3f exit1 %.3f",
                         drift * 100, u[0] ?? 0, u[1] ?? 0, p[0] ?? 0, p[1] ?? 0))
            if drift >= 0.10 { XCTAssertGreaterThan(p[0] ?? 0, (u[0] ?? 0) + 0.3, "pairing must help under drift") }
        }
        // decisive rate of the paired gate by rounds (drift cancels, so only the within-round noise matters)
        for n in [8, 10, 12] {
            let p = try Self.driftRates(n: n, drift: 0.25, noise: 0.02, paired: true, sims: 200, seed: 33 + UInt64(n))
            worst = max(worst, p[1] ?? 0)
            print(String(format: "  paired, %2d rounds, drift CV 25%%: exit0 %.3f exit1 %.3f exit3 %.3f", n, p[0] ?? 0, p[1] ?? 0, p[3] ?? 0))
            if n >= 10 { XCTAssertGreaterThanOrEqual(p[0] ?? 0, 0.85, "paired A/A decisive at \(n) rounds") }
        }
        XCTAssertEqual(worst, 0, "A/A exit 1")
        // and a real 15% slowdown under 25% drift is still caught when paired
        let slow = try Self.driftRates(n: 8, drift: 0.25, noise: 0.02, scale: 0.85, paired: true, sims: 200, seed: 32)
        print(String(format: "  15%% slower under 25%% drift, paired: exit1 %.3f exit0 %.3f", slow[1] ?? 0, slow[0] ?? 0))
        XCTAssertGreaterThanOrEqual(slow[1] ?? 0, 0.9)
        XCTAssertEqual(slow[0] ?? 0, 0)
    }

    func testRealRegressionsAreCaught() throws {
        // samples/s down 15% (p99 up 17.6%) at n = 8 and CV 2%/5%: the gate says regression nearly always
        let r = try Self.rates(n: 8, spsCV: 0.02, p99CV: 0.05, spsScale: 0.85, sims: 200, seed: 77)
        print(String(format: "gate power: 15%% slower at n=8, CV 2%%/5%%: exit1 %.3f exit0 %.3f exit3 %.3f", r[1] ?? 0, r[0] ?? 0, r[3] ?? 0))
        XCTAssertGreaterThanOrEqual(r[1] ?? 0, 0.95)
        XCTAssertEqual(r[0] ?? 0, 0, "a 15% regression must never pass as no regression")
    }

    func testRepeatsNeededGrowsWithNoiseAndShrinksWithThreshold() {
        var rng = Xoshiro256(seed: 5)
        let quiet = (0..<8).map { _ in 1000 * exp(0.01 * rng.nextNormal()) }, loud = (0..<8).map { _ in 1000 * exp(0.05 * rng.nextNormal()) }
        let a = RegressionGate.repeatsNeeded(baseline: quiet, candidate: quiet, threshold: .relative(0.05), alpha: 0.025)!
        let b = RegressionGate.repeatsNeeded(baseline: loud, candidate: loud, threshold: .relative(0.05), alpha: 0.025)!
        let c = RegressionGate.repeatsNeeded(baseline: loud, candidate: loud, threshold: .relative(0.10), alpha: 0.025)!
        XCTAssertLessThan(a, b)
        XCTAssertLessThan(c, b)
        XCTAssertNil(RegressionGate.repeatsNeeded(baseline: [1, 1, 1], candidate: [1, 1, 1], threshold: .relative(0.05), alpha: 0.025))
    }

    func testNeutralMetricsAreShownButNeverDecide() throws {
        var rng = Xoshiro256(seed: 9)
        var a = Self.runSet("A", &rng, n: 6, spsCV: 0.01, p99CV: 0.02), b = Self.runSet("B", &rng, n: 6, spsCV: 0.01, p99CV: 0.02)
        for i in a.runs.indices { a.runs[i].metrics.append(MetricValue(name: "steals_per_step", value: 10 + Double(i % 2))) }
        for i in b.runs.indices { b.runs[i].metrics.append(MetricValue(name: "steals_per_step", value: 40 + Double(i % 2))) }
        let options = GateOptions(metrics: GateMetric.defaults + [GateMetric(name: "steals_per_step", threshold: 0.05)])
        let r = try RegressionGate.evaluate(baseline: a, candidate: b, options: options)
        let steals = try XCTUnwrap(r.comparisons.first { $0.metric == "steals_per_step" })
        XCTAssertTrue(steals.neutral)
        XCTAssertEqual(steals.verdict, .changed, steals.reason)
        XCTAssertNil(steals.qValue)
        XCTAssertEqual(r.exitCode, 0, r.markdown)
        XCTAssertTrue(r.markdown.contains("~ changed"), r.markdown)
    }
}
