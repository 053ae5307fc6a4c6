import Foundation
@testable import RecStats
import TestSupport
import XCTest

final class RecStatsMannWhitneyTests: XCTestCase {
    func testExactCountsAreGaussianBinomialCoefficients() {
        // [6 choose 3]_q = 1 + q + 2q² + 3q³ + 3q⁴ + 3q⁵ + 3q⁶ + 2q⁷ + q⁸ + q⁹
        XCTAssertEqual(MannWhitneyExact.counts(3, 3), [1, 1, 2, 3, 3, 3, 3, 2, 1, 1])
        for (m, n) in [(1, 1), (2, 7), (5, 5), (8, 8), (4, 700)] {
            let c = MannWhitneyExact.counts(m, n)
            XCTAssertEqual(c.count, m * n + 1)
            XCTAssertEqual(c, Array(c.reversed()), "symmetry for (\(m), \(n))")
            XCTAssertTrue(c.allSatisfy { $0 > 0 }, "all positive for (\(m), \(n))")
            var total: Int128 = 0
            for v in c { total += v }
            var binom: Int128 = 1
            for i in 1...m { binom = binom * Int128(n + i) / Int128(i) }
            XCTAssertEqual(total, binom, "sum is C(m+n, m) for (\(m), \(n))")
        }
    }

    func testUIsOfFirstSampleAndSidesAreConsistent() {
        let x = [1.0, 2, 3, 4], y = [5.0, 6, 7, 8]
        let less = MannWhitney.test(x, y, alternative: .less)
        let greater = MannWhitney.test(x, y, alternative: .greater)
        XCTAssertEqual(less.u, 0)
        XCTAssertEqual(MannWhitney.test(y, x).u, 16)
        assertClose(less.pValue, 1.0 / 70, rtol: 1e-12)      // one arrangement of C(8, 4) = 70
        assertClose(greater.pValue, 1.0, rtol: 1e-12)
        assertClose(MannWhitney.test(x, y).pValue, 2.0 / 70, rtol: 1e-12)
    }

    func testForcedMethodsAndOverflowFallback() {
        let x = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], y = [2.5, 4.5, 6.5, 8.5, 10.5, 11, 12, 13, 14, 15]
        XCTAssertEqual(MannWhitney.test(x, y, alternative: .twoSided, method: .scipyAuto).method, "asymptotic")
        XCTAssertEqual(MannWhitney.test(x, y).method, "exact", "small samples without ties: exact, not the normal approximation")
        let exact = MannWhitney.test(x, y, alternative: .twoSided, method: .exact)
        let asym = MannWhitney.test(x, y, alternative: .twoSided, method: .asymptotic)
        XCTAssertEqual(exact.method, "exact")
        // scipy.stats.mannwhitneyu(x, y, method="exact" / "asymptotic"), SciPy 1.17.1
        assertClose(exact.pValue, 0.023230639329710537, rtol: 1e-12)
        assertClose(asym.pValue, 0.025748080821108063, rtol: 1e-12)
        let big = (0..<100).map(Double.init), big2 = (0..<100).map { Double($0) + 0.5 }
        XCTAssertEqual(MannWhitney.test(big, big2, alternative: .twoSided, method: .exact).method, "asymptotic",
                       "C(200, 100) does not fit in 128 bits: fall back")
    }

    func testInvalidInputGivesNaNNotACrash() {
        let r = MannWhitney.test([1, .nan, 3], [4, 5, 6])
        XCTAssertEqual(r.method, "invalid")
        XCTAssertTrue(r.pValue.isNaN)
        XCTAssertEqual(MannWhitney.test([], [1]).method, "invalid")
    }

    func testNormalCDFTails() {
        assertClose(NormalDistribution.cdf(0), 0.5, rtol: 1e-15)
        assertClose(NormalDistribution.cdf(-1.959963984540054), 0.025, rtol: 1e-12)
        // far tail keeps relative accuracy (1 - Φ would give 0 here): Φ(-10) = 7.619853024160527e-24
        assertClose(NormalDistribution.cdf(-10), 7.619853024160527e-24, rtol: 1e-12)
    }
}
