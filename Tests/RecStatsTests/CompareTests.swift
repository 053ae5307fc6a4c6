import RecContract
import Foundation
import RecStats
import TestSupport
import XCTest

final class RecStatsCompareTests: XCTestCase {
    /// n draws of center·exp(σ·Z): multiplicative (lognormal) timing noise.
    func lognormal(_ rng: inout Xoshiro256, n: Int, center: Double, sigma: Double) -> [Double] {
        (0..<n).map { _ in center * exp(sigma * rng.nextNormal()) }
    }

    /// A/A: both sides from one distribution. A "regressed" verdict is a false alarm. Under H0 the two-sided
    /// test at α fires in the bad direction at most α/2 of the time (less here: the exact n=5 test is
    /// conservative and the verdict also needs |ratio-1| > 2% and a CI excluding 1). With N = 1000 seeds,
    /// the bound is α/2 plus a one-sided 99.9% binomial margin: 0.025 + 3.09·sqrt(0.025·0.975/1000) = 0.040.
    func testAAFalseRegressionRateIsAtMostNominal() {
        let seeds = 1000
        // (σ, center, rounded): timings at two noise levels, and integer counters (many ties: asymptotic test)
        for (sigma, center, rounded) in [(0.005, 100.0, false), (0.03, 100.0, false), (0.10, 20.0, true)] {
            var counts: [Verdict: Int] = [:]
            for seed in 0..<seeds {
                var rng = Xoshiro256(seed: UInt64(seed) &* 7919 &+ 17)
                var a = lognormal(&rng, n: 5, center: center, sigma: sigma)
                var b = lognormal(&rng, n: 5, center: center, sigma: sigma)
                if rounded { a = a.map { $0.rounded() }; b = b.map { $0.rounded() } }
                counts[Compare.metric("step_ms.p50", baseline: a, candidate: b).verdict, default: 0] += 1
            }
            let rate = Double(counts[.regressed, default: 0]) / Double(seeds)
            let bound = 0.025 + 3.09 * (0.025 * 0.975 / Double(seeds)).squareRoot()
            print("A/A n=5 σ=\(sigma) center=\(center) rounded=\(rounded): regressed \(rate), improved \(Double(counts[.improved, default: 0]) / Double(seeds)),",
                  "unchanged \(Double(counts[.unchanged, default: 0]) / Double(seeds)),",
                  "inconclusive \(Double(counts[.inconclusive, default: 0]) / Double(seeds)) (bound \(bound))")
            XCTAssertLessThanOrEqual(rate, bound, "A/A false regression rate at σ=\(sigma)")
            XCTAssertLessThanOrEqual(Double(counts[.improved, default: 0]) / Double(seeds), bound, "A/A false improvement rate")
            if sigma == 0.005 {
                // with noise well below the 2% threshold the gate must mostly say "unchanged", not just shrug
                XCTAssertGreaterThan(Double(counts[.unchanged, default: 0]) / Double(seeds), 0.5)
            }
        }
    }

    /// Power: a 20% change with n = 5 and 1% noise is detected every time, in the right direction.
    func testTwentyPercentShiftIsDetected() {
        for seed in 0..<100 {
            var rng = Xoshiro256(seed: UInt64(seed) + 100_000)
            let base = lognormal(&rng, n: 5, center: 1000, sigma: 0.01)
            let faster = lognormal(&rng, n: 5, center: 1200, sigma: 0.01)
            let slower = lognormal(&rng, n: 5, center: 800, sigma: 0.01)
            let up = Compare.metric("samples_per_sec", baseline: base, candidate: faster)
            XCTAssertEqual(up.verdict, .improved, "seed \(seed): \(up.reason)")
            XCTAssertEqual(Compare.metric("samples_per_sec", baseline: base, candidate: slower).verdict, .regressed)
            // the same numbers as step times are a regression
            XCTAssertEqual(Compare.metric("step_ms.p99", baseline: base, candidate: faster).verdict, .regressed)
            assertClose(up.ratio, 1.2, rtol: 0.03)
            XCTAssertTrue(try XCTUnwrap(up.ratioCI).contains(up.ratio))
        }
    }

    func testTooFewSamplesIsInconclusive() {
        let c = Compare.metric("samples_per_sec", baseline: [100], candidate: [200])
        XCTAssertEqual(c.verdict, .inconclusive)
        XCTAssertTrue(c.reason.contains("too few samples"), c.reason)
        XCTAssertNil(c.ratioCI)
        XCTAssertEqual(c.ratio, 2)
    }

    func testIdenticalSamplesAreUnchanged() {
        let xs = [100.0, 100.4, 99.7, 100.2, 99.9]
        let c = Compare.metric("samples_per_sec", baseline: xs, candidate: xs)
        XCTAssertEqual(c.verdict, .unchanged, c.reason)
        XCTAssertEqual(c.pValue, 1)
        XCTAssertEqual(c.ratio, 1)
        XCTAssertEqual(c.shift, 0)
    }

    func testDeterministicCountersDecideByRatioAlone() {
        let same = Compare.metric("minor_faults_per_step", baseline: [7, 7, 7], candidate: [7, 7, 7])
        XCTAssertEqual(same.verdict, .unchanged, same.reason)
        let worse = Compare.metric("minor_faults_per_step", baseline: [7, 7, 7], candidate: [8, 8, 8])
        XCTAssertEqual(worse.verdict, .regressed, worse.reason)
        XCTAssertTrue(worse.reason.contains("deterministic"), worse.reason)
        let tiny = Compare.metric("steals_per_step", baseline: [1000, 1000, 1000], candidate: [1010, 1010, 1010])
        XCTAssertEqual(tiny.verdict, .unchanged, "1% < 2% threshold: \(tiny.reason)")
        let better = Compare.metric("minor_faults_per_step", baseline: [512, 512, 512], candidate: [0, 0, 0])
        XCTAssertEqual(better.verdict, .improved)
        XCTAssertEqual(better.ratio, 0)
    }

    func testZeroBaseline() {
        let both = Compare.metric("minor_faults_per_step", baseline: [0, 0, 0], candidate: [0, 0, 0])
        XCTAssertEqual(both.verdict, .unchanged)
        XCTAssertEqual(both.ratio, 1)
        let fromZero = Compare.metric("minor_faults_per_step", baseline: [0, 0, 0], candidate: [5, 5, 5])
        XCTAssertEqual(fromZero.verdict, .regressed)
        XCTAssertEqual(fromZero.ratio, .infinity)
        let noisy = Compare.metric("minor_faults_per_step", baseline: [0, 1, 0, 0, 2], candidate: [10, 12, 11, 13, 9])
        XCTAssertEqual(noisy.verdict, .regressed, noisy.reason)
        XCTAssertTrue(noisy.reason.contains("ratio undefined"), noisy.reason)
        assertClose(noisy.shift, 11, rtol: 0.1)
    }

    func testNaNIsRejectedWithItsPosition() {
        let c = Compare.metric("auc", baseline: [0.7, 0.71, .nan, 0.7], candidate: [0.72, 0.72, 0.73])
        XCTAssertEqual(c.verdict, .inconclusive)
        XCTAssertTrue(c.reason.contains("baseline sample 2 is nan"), c.reason)
        XCTAssertEqual(c.baseline.rejected, 1)
        XCTAssertEqual(c.baseline.n, 3)
        XCTAssertThrowsError(try StatsError.validate([1, 2, .infinity], label: "run 7 step_ms.p50")) { e in
            XCTAssertEqual(e as? StatsError, .nonFinite(label: "run 7 step_ms.p50", index: 2, value: .infinity))
            XCTAssertTrue("\(e)".contains("run 7 step_ms.p50: sample 2 is inf"))
        }
        XCTAssertThrowsError(try StatsError.validate([], label: "x"))
        XCTAssertNoThrow(try StatsError.validate([1, 2], label: "x"))
    }

    func testNoisyWideDataIsInconclusive() {
        let c = Compare.metric("samples_per_sec", baseline: [100, 140, 70, 120, 90], candidate: [95, 150, 60, 130, 80])
        XCTAssertEqual(c.verdict, .inconclusive, c.reason)
        XCTAssertTrue(c.baseline.isNoisy)
    }

    func testRuleDecodesFromPartialJSON() throws {
        let r = try JSONDecoder().decode(ComparisonRule.self, from: Data(#"{"threshold": 0.05}"#.utf8))
        XCTAssertEqual(r.threshold, 0.05)
        XCTAssertEqual(r.alpha, 0.05)
        XCTAssertEqual(r.minSamples, 3)
        // a wider threshold turns a 3% change from regressed into unchanged for constants
        // (rule.threshold is the default of metrics outside the catalog; catalog metrics take theirs unless overridden)
        let c = Compare.metric("my_wall_s", baseline: [10, 10, 10], candidate: [10.3, 10.3, 10.3], rule: r)
        XCTAssertEqual(Compare.metric("wall_s", baseline: [10, 10, 10], candidate: [10.3, 10.3, 10.3], threshold: .relative(0.05)).verdict, .unchanged)
        XCTAssertEqual(c.verdict, .unchanged)
        XCTAssertEqual(Compare.metric("wall_s", baseline: [10, 10, 10], candidate: [10.3, 10.3, 10.3]).verdict, .regressed)
    }
}
