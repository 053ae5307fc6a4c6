import Foundation
import RecStats
import TestSupport
import XCTest

final class RecStatsSummaryTests: XCTestCase {
    func testDescriptiveValues() {
        let s = Summary.of([4, 1, 3, 2, 10])
        XCTAssertEqual(s.n, 5)
        XCTAssertEqual(s.median, 3)
        XCTAssertEqual(s.mean, 4)
        assertClose(s.stddev, (50.0 / 4).squareRoot(), rtol: 1e-12)  // Σ(x-4)² = 9+0+1+4+36 = 50
        XCTAssertEqual(s.min, 1)
        XCTAssertEqual(s.max, 10)
        assertClose(s.cv, (12.5).squareRoot() / 4, rtol: 1e-12)
        XCTAssertTrue(s.isNoisy)
        let mci = try? XCTUnwrap(s.medianCI), aci = try? XCTUnwrap(s.meanCI)
        XCTAssertTrue(mci?.contains(3) ?? false)
        XCTAssertTrue(aci?.contains(4) ?? false)
        XCTAssertGreaterThanOrEqual(mci?.lower ?? .nan, 1)
        XCTAssertLessThanOrEqual(mci?.upper ?? .nan, 10)
        XCTAssertEqual(Descriptive.median([4, 1, 3, 2]), 2.5)
        // the summary's median CI is the public percentile bootstrap of the median with the same seed
        XCTAssertEqual(s.medianCI, Bootstrap.percentileCI([4, 1, 3, 2, 10], seed: 1) { Descriptive.median($0) })
    }

    func testSingleSampleHasNoIntervals() {
        let s = Summary.of([42])
        XCTAssertEqual(s.n, 1)
        XCTAssertEqual(s.median, 42)
        XCTAssertEqual(s.stddev, 0)
        XCTAssertNil(s.meanCI)
        XCTAssertNil(s.medianCI)
        XCTAssertFalse(s.isNoisy)
        XCTAssertFalse(s.isConstant, "one sample says nothing about spread")
    }

    func testAllTiesAndEmpty() {
        let s = Summary.of([7, 7, 7, 7])
        XCTAssertEqual(s.cv, 0)
        XCTAssertTrue(s.isConstant)
        XCTAssertEqual(s.medianCI, ConfidenceInterval(lower: 7, upper: 7, level: 0.95))
        let e = Summary.of([.nan])
        XCTAssertEqual(e.n, 0)
        XCTAssertEqual(e.rejected, 1)
        XCTAssertTrue(e.median.isNaN)
    }

    func testBootstrapIsDeterministicPerSeedAndSeedMatters() {
        let xs = [3.1, 2.7, 3.9, 3.3, 2.2, 4.8, 3.0, 3.6]
        let a = Bootstrap.percentileCI(xs, seed: 9) { Descriptive.mean($0) }
        XCTAssertEqual(a, Bootstrap.percentileCI(xs, seed: 9) { Descriptive.mean($0) })
        XCTAssertNotEqual(a, Bootstrap.percentileCI(xs, seed: 10) { Descriptive.mean($0) })
        XCTAssertLessThan(a.lower, Descriptive.mean(xs))
        XCTAssertGreaterThan(a.upper, Descriptive.mean(xs))
    }

    func testQuantileAndRanksFollowNumpyConventions() {
        let s = [1.0, 2, 3, 4]
        XCTAssertEqual(Descriptive.quantileOfSorted(s, 0.5), 2.5)
        XCTAssertEqual(Descriptive.quantileOfSorted(s, 0.25), 1.75)   // numpy.percentile(.., 25) = 1.75
        XCTAssertEqual(Descriptive.quantileOfSorted([1, .infinity, .infinity], 0.75), .infinity)
        let (ranks, ties) = Descriptive.averageRanks([10, 20, 10, 30, 20, 20])
        XCTAssertEqual(ranks, [1.5, 4, 1.5, 6, 4, 4])
        XCTAssertEqual(ties, [2, 3, 1])
    }

    func testGeneratorIsUniformEnough() {
        var rng = Xoshiro256(seed: 0)
        var hist = [Int](repeating: 0, count: 5)
        for _ in 0..<50_000 { hist[rng.nextIndex(5)] += 1 }
        for h in hist { XCTAssertEqual(Double(h), 10_000, accuracy: 500) }  // ±5 sd
        var sum = 0.0, sq = 0.0
        for _ in 0..<50_000 { let z = rng.nextNormal(); sum += z; sq += z * z }
        XCTAssertEqual(sum / 50_000, 0, accuracy: 0.02)
        XCTAssertEqual(sq / 50_000, 1, accuracy: 0.03)
    }
}
