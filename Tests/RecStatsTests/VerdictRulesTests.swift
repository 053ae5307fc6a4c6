import Foundation
import RecContract
import RecStats
import TestSupport
import XCTest

/// Neutral polarity, per-metric thresholds, deterministic metrics, multiplicity and the paired difference CI.
final class RecStatsVerdictRulesTests: XCTestCase {
    func testSelectionMedianEqualsSortedMedian() {
        var rng = Xoshiro256(seed: 42)
        for n in 1...40 {
            for _ in 0..<50 {
                var xs = (0..<n).map { _ in Double(rng.nextIndex(7)) + (rng.nextIndex(3) == 0 ? 0.5 : 0) }  // many ties
                let want = Descriptive.median(xs)
                XCTAssertEqual(Descriptive.medianBySelection(&xs), want, "n=\(n)")
            }
        }
    }

    func testNeutralDiagnosticsChangeButAreNeverJudged() {
        // steals/step doubled: a clear change, but neutral — "changed", not improved or regressed
        let b = [100.0, 101, 99, 100.5, 99.5], c = [200.0, 202, 198, 201, 199]
        let cmp = Compare.metric("steals_per_step", baseline: b, candidate: c)
        XCTAssertEqual(cmp.polarity, .neutral)
        XCTAssertEqual(cmp.verdict, .changed, cmp.reason)
        XCTAssertFalse(Compare.isTested(cmp), "neutral comparisons stay out of multiplicity correction")
        // the same numbers on a judged metric are a verdict
        XCTAssertEqual(Compare.metric("samples_per_sec", baseline: b, candidate: c).verdict, .improved)
        // and a neutral metric within its threshold is unchanged, never improved
        let flat = Compare.metric("alloc_hits_per_step", baseline: b, candidate: b)
        XCTAssertEqual(flat.verdict, .unchanged, flat.reason)
    }

    /// The case: AUC 0.7762 → 0.7612 with a fixed seed read "= unchanged" under a 2% relative rule.
    func testSeedDeterministicAUCIsJudgedOnItsAbsoluteThreshold() {
        let b = [0.7762, 0.7762, 0.7762, 0.7762, 0.7762], c = [0.7612, 0.7612, 0.7612, 0.7612, 0.7612]
        let cmp = Compare.metric("auc", baseline: b, candidate: c)
        XCTAssertEqual(cmp.threshold, .absolute(0.001))
        XCTAssertTrue(cmp.deterministic)
        XCTAssertNil(cmp.pValue, "deterministic: no p")
        XCTAssertNil(cmp.ratioCI, "deterministic: no CI")
        XCTAssertNil(cmp.differenceCI)
        XCTAssertEqual(cmp.verdict, .regressed, cmp.reason)
        XCTAssertTrue(cmp.reason.contains("n_eff = 1"), cmp.reason)
        // a 0.0005 move is within ±0.001
        XCTAssertEqual(Compare.metric("auc", baseline: b, candidate: b.map { $0 + 0.0005 }).verdict, .unchanged)
        // seed-deterministic even when repeats wobble a little (threads): still n_eff = 1, no p
        let wobble = Compare.metric("auc", baseline: [0.7762, 0.7763, 0.7762], candidate: [0.7612, 0.7611, 0.7612])
        XCTAssertTrue(wobble.deterministic)
        XCTAssertNil(wobble.pValue)
    }

    func testVariedSeedAUCGetsRealReplicatesAndAbsoluteThreshold() {
        var rng = Xoshiro256(seed: 3)
        let b = (0..<8).map { _ in 0.776 + 0.0004 * rng.nextNormal() }
        let c = (0..<8).map { _ in 0.770 + 0.0004 * rng.nextNormal() }
        let cmp = Compare.metric("auc", baseline: b, candidate: c, deterministic: false)
        XCTAssertFalse(cmp.deterministic)
        XCTAssertNotNil(cmp.pValue)
        let d = try? XCTUnwrap(cmp.differenceCI)
        XCTAssertLessThan(d?.upper ?? 0, -0.001, "difference CI entirely beyond -0.001")
        XCTAssertEqual(cmp.verdict, .regressed, cmp.reason)
        XCTAssertTrue(cmp.reason.contains("difference"), cmp.reason)
        // a shift of 0.0002 with the same noise: the difference CI lies inside ±0.001 → unchanged
        let small = Compare.metric("auc", baseline: b, candidate: b.map { $0 + 0.0002 }, deterministic: false)
        XCTAssertEqual(small.verdict, .unchanged, small.reason)
    }

    func testThresholdOverride() {
        let b = [1000.0, 1001, 999, 1000, 1000.5], c = [1030.0, 1031, 1029, 1030, 1030.5]
        XCTAssertEqual(Compare.metric("samples_per_sec", baseline: b, candidate: c).verdict, .improved, "3% beyond the catalog's 2%")
        let wide = Compare.metric("samples_per_sec", baseline: b, candidate: c, threshold: .relative(0.05))
        XCTAssertEqual(wide.verdict, .unchanged, wide.reason)
        XCTAssertEqual(ChangeThreshold(parsing: "abs:0.001"), .absolute(0.001))
        XCTAssertEqual(ChangeThreshold(parsing: "3%"), .relative(0.03))
    }

    /// The ablation effect CI is the bootstrap CI of the difference of medians (baseline uncertainty
    /// included), not (ratio CI − 1) × baseline median, which collapses when the baseline is noisy.
    func testDifferenceCIIsBootstrappedDirectly() {
        let b = [900.0, 1000, 1100, 950, 1050], c = [700.0, 720, 690, 710, 705]
        let cmp = Compare.metric("samples_per_sec", baseline: b, candidate: c)
        let d = try! XCTUnwrap(cmp.differenceCI), r = try! XCTUnwrap(cmp.ratioCI)
        assertClose(cmp.difference, 705 - 1000, rtol: 1e-12)
        XCTAssertTrue(d.contains(cmp.difference))
        // the baseline's spread widens the difference CI beyond what the ratio-times-median shortcut gives
        let shortcut = ((r.lower - 1) * 1000, (r.upper - 1) * 1000)
        XCTAssertNotEqual(d.lower, shortcut.0)
        // reference: the same paired draws, recomputed by hand
        let rule = ComparisonRule()
        let bd = Bootstrap.draws(b, resamples: rule.resamples, seed: rule.seed), cd = Bootstrap.draws(c, resamples: rule.resamples, seed: rule.seed &+ 2)
        let ref = Bootstrap.percentileInterval(zip(cd.medians, bd.medians).map { $0 - $1 }, level: 0.95)
        XCTAssertEqual(d, ref)
    }

    func testBHOverAReportFamilyUsesQForVerdicts() {
        // five metrics; one strong effect, four at p ≈ 0.03 (significant alone, not after BH with m = 5... )
        let rule = ComparisonRule()
        var rng = Xoshiro256(seed: 11)
        var comparisons: [Comparison] = []
        for k in 0..<6 {
            let b = (0..<5).map { _ in 100 + rng.nextNormal() }
            let shift = k == 0 ? 30.0 : 0
            let c = (0..<5).map { _ in 100 + shift + rng.nextNormal() }
            let bs = Sample(b, rule: rule, seed: UInt64(2 * k + 1)), cs = Sample(c, rule: rule, seed: UInt64(2 * k + 2))
            comparisons.append(Compare.measure("samples_per_sec", baseline: bs, candidate: cs, rule: rule))
        }
        comparisons.append(Compare.measure("steals_per_step", baseline: Sample([1, 2, 3, 2, 1], seed: 90), candidate: Sample([7, 8, 9, 8, 7], seed: 91)))
        MultipleTesting.adjustAndJudge(&comparisons, rule: rule)
        XCTAssertNil(comparisons.last!.qValue, "neutral: no q")
        XCTAssertEqual(comparisons.last!.verdict, .changed)
        for c in comparisons.dropLast() {
            let q = try! XCTUnwrap(c.qValue)
            XCTAssertGreaterThanOrEqual(q, c.pValue!)
        }
        XCTAssertEqual(comparisons[0].verdict, .improved)
        XCTAssertTrue(comparisons[0].reason.contains("q="), comparisons[0].reason)
    }

    func testInfiniteRatioAndZeroBaselineAreExplained() {
        let c = Compare.metric("minor_faults_per_step", baseline: [0, 0, 1, 0, 0], candidate: [10, 12, 11, 13, 9])
        XCTAssertEqual(c.verdict, .regressed, c.reason)
        XCTAssertTrue(c.reason.contains("baseline median is 0"), c.reason)
        XCTAssertTrue(c.reason.contains("difference"), c.reason)
    }
}

final class RecStatsHodgesLehmannIntervalTests: XCTestCase {
    /// The Moses interval at 6 vs 6, level 0.95: k = 6 (P(U ≤ 5) = 19/924 ≤ 0.025 < P(U ≤ 6) = 30/924),
    /// so the ends are the 6th smallest and 6th largest of the 36 pairwise differences.
    func testOrderStatisticsOfTheInterval() throws {
        let x = [10.0, 11, 12, 13, 14, 15], y = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
        let d = x.flatMap { a in y.map { a - $0 } }.sorted()
        let r = try XCTUnwrap(HodgesLehmann.interval(x, y, level: 0.95))
        XCTAssertEqual(r.ci.lower, d[5])
        XCTAssertEqual(r.ci.upper, d[30])
        XCTAssertEqual(r.shift, HodgesLehmann.shift(x, y))
        XCTAssertNil(HodgesLehmann.interval([1, 2, 3], [4, 5, 6], level: 0.95), "3 vs 3 cannot reach 97.5% one-sided")
    }

    /// Coverage by simulation: each end is a one-sided 97.5% bound for a location shift.
    func testOneSidedCoverage() throws {
        var rng = Xoshiro256(seed: 21)
        var missLow = 0, missHigh = 0
        let trials = 2000
        for _ in 0..<trials {
            let x = (0..<7).map { _ in 3 + rng.nextNormal() }, y = (0..<6).map { _ in rng.nextNormal() }
            let r = try XCTUnwrap(HodgesLehmann.interval(x, y, level: 0.95))
            if r.ci.lower > 3 { missLow += 1 }
            if r.ci.upper < 3 { missHigh += 1 }
        }
        // nominal ≤ 2.5% each; allow binomial noise (3.09 sd)
        let bound = 0.025 + 3.09 * (0.025 * 0.975 / Double(trials)).squareRoot()
        XCTAssertLessThanOrEqual(Double(missLow) / Double(trials), bound)
        XCTAssertLessThanOrEqual(Double(missHigh) / Double(trials), bound)
    }
}

final class RecStatsSignedRankIntervalTests: XCTestCase {
    /// 8 pairs at level 0.95: T⁺ null counts over 256 patterns give P(T⁺ ≤ 3) = 5/256 ≤ 0.025 < P(T⁺ ≤ 4) = 7/256,
    /// so k = 4: the 4th smallest and 4th largest of the 36 Walsh averages.
    func testOrderStatisticsOfTheInterval() throws {
        let d = [0.3, -0.1, 0.25, 0.05, 0.12, 0.4, -0.02, 0.18]
        var walsh: [Double] = []
        for i in d.indices { for j in i..<d.count { walsh.append((d[i] + d[j]) / 2) } }
        walsh.sort()
        let r = try XCTUnwrap(SignedRank.interval(d, level: 0.95))
        XCTAssertEqual(r.ci.lower, walsh[3])
        XCTAssertEqual(r.ci.upper, walsh[32])
        XCTAssertEqual(r.center, Descriptive.median(walsh))
        XCTAssertNil(SignedRank.interval([1, 2, 3, 4, 5], level: 0.95), "5 pairs cannot reach one-sided 97.5% (1/32 > 0.025)")
    }

    func testOneSidedCoverage() throws {
        var rng = Xoshiro256(seed: 8)
        var missLow = 0, missHigh = 0
        let trials = 2000
        for _ in 0..<trials {
            let d = (0..<9).map { _ in 0.5 + rng.nextNormal() }
            let r = try XCTUnwrap(SignedRank.interval(d, level: 0.95))
            if r.ci.lower > 0.5 { missLow += 1 }
            if r.ci.upper < 0.5 { missHigh += 1 }
        }
        let bound = 0.025 + 3.09 * (0.025 * 0.975 / Double(trials)).squareRoot()
        XCTAssertLessThanOrEqual(Double(missLow) / Double(trials), bound)
        XCTAssertLessThanOrEqual(Double(missHigh) / Double(trials), bound)
    }
}
