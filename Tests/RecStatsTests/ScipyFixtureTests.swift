import Foundation
import RecStats
import TestSupport
import XCTest

/// Compares RecStats with reference values computed once by SciPy/NumPy (scripts/stats_fixtures.py →
/// Fixtures/scipy_expected.json).
final class RecStatsScipyFixtureTests: XCTestCase {
    struct Fixtures: Decodable {
        struct MWU: Decodable { var name: String; var x: [Double]; var y: [Double]; var alternative: String
            var u: Double; var pvalue: Double; var method: String }
        struct Boot: Decodable { var name: String; var statistic: String; var samples: [[Double]]; var level: Double
            var n_resamples: Int; var lower: Double; var upper: Double; var tol_lower: Double; var tol_upper: Double
            var exact_lower: Double?; var exact_upper: Double? }
        struct HL: Decodable { var x: [Double]; var y: [Double]; var shift: Double }
        struct Perm: Decodable { var name: String; var x: [Double]; var y: [Double]; var alternative: String
            var u: Double; var pvalue: Double; var n_splits: Int }
        struct BH: Decodable { var p: [Double]; var q: [Double] }
        var scipy: String
        var mannwhitney: [MWU]
        var bootstrap: [Boot]
        var hodges_lehmann: [HL]
        var mannwhitney_permutation: [Perm]
        var benjamini_hochberg: [BH]
    }

    func load() throws -> Fixtures {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "scipy_expected", withExtension: "json", subdirectory: "Fixtures"),
                                "Fixtures/scipy_expected.json missing from the test bundle")
        return try JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: url))
    }

    func testMannWhitneyMatchesScipy() throws {
        let f = try load()
        XCTAssertGreaterThanOrEqual(f.mannwhitney.count, 10)
        var methods = Set<String>()
        for c in f.mannwhitney {
            let alt: MannWhitney.Alternative = c.alternative == "less" ? .less : c.alternative == "greater" ? .greater : .twoSided
            // SciPy's own method choice (the default `auto` is exact at small n with ties: see the permutation fixtures)
            let r = MannWhitney.test(c.x, c.y, alternative: alt, method: .scipyAuto)
            XCTAssertEqual(r.u, c.u, "U for \(c.name)")
            XCTAssertEqual(r.method, c.method, "method for \(c.name)")
            // exact: counts are exact integers, only the final division rounds; asymptotic: erfc vs ndtr.
            assertClose(r.pValue, c.pvalue, rtol: 1e-9, atol: 1e-14, "p-value for \(c.name)")
            methods.insert(r.method)
        }
        XCTAssertEqual(methods, ["exact", "asymptotic"], "fixtures must cover both methods")
    }

    func testBootstrapPercentileCIsMatchScipyWithinMonteCarloError() throws {
        let f = try load()
        for c in f.bootstrap {
            let ci: ConfidenceInterval
            switch c.statistic {
            case "median":
                ci = Bootstrap.percentileCI(c.samples[0], level: c.level, resamples: c.n_resamples, seed: 11) { Descriptive.median($0) }
            case "mean":
                ci = Bootstrap.percentileCI(c.samples[0], level: c.level, resamples: c.n_resamples, seed: 11) { Descriptive.mean($0) }
            case "ratio_of_medians":
                ci = Bootstrap.ratioCI(candidate: c.samples[0], baseline: c.samples[1], level: c.level,
                                       resamples: c.n_resamples, seed: 11)
            default:
                XCTFail("unknown statistic \(c.statistic)"); continue
            }
            assertClose(ci.lower, c.lower, rtol: 0, atol: c.tol_lower, "lower end, \(c.name)")
            assertClose(ci.upper, c.upper, rtol: 0, atol: c.tol_upper, "upper end, \(c.name)")
            if let el = c.exact_lower, let eu = c.exact_upper {
                // the infinite-resample percentile interval of the median is a pair of order statistics
                XCTAssertEqual(ci.lower, el, "exact bootstrap lower end, \(c.name)")
                XCTAssertEqual(ci.upper, eu, "exact bootstrap upper end, \(c.name)")
            }
        }
    }

    func testHodgesLehmannMatchesNumpy() throws {
        let f = try load()
        for c in f.hodges_lehmann {
            assertClose(HodgesLehmann.shift(c.x, c.y), c.shift, rtol: 1e-12, atol: 1e-12)
        }
    }

    /// The default Mann–Whitney p at small n with ties is the exact conditional permutation p (SciPy's
    /// permutation_test enumerating every split, cross-checked by brute force in the script), never the
    /// normal approximation, so it is never below the smallest attainable p, 2 / C(N, n_x).
    func testPermutationPValuesMatchScipyEnumeration() throws {
        let f = try load()
        XCTAssertGreaterThanOrEqual(f.mannwhitney_permutation.count, 8)
        for c in f.mannwhitney_permutation {
            let alt: MannWhitney.Alternative = c.alternative == "less" ? .less : c.alternative == "greater" ? .greater : .twoSided
            let r = MannWhitney.test(c.x, c.y, alternative: alt)
            XCTAssertEqual(r.u, c.u, "U for \(c.name)")
            let hasTies = Set(c.x + c.y).count < c.x.count + c.y.count
            XCTAssertEqual(r.method, hasTies ? "permutation" : "exact", c.name)
            assertClose(r.pValue, c.pvalue, rtol: 1e-12, atol: 1e-15, "p-value for \(c.name)")
            let forced = MannWhitney.test(c.x, c.y, alternative: alt, method: .permutation)
            assertClose(forced.pValue, c.pvalue, rtol: 1e-12, atol: 1e-15, "forced permutation p for \(c.name)")
            XCTAssertGreaterThanOrEqual(r.pValue, (alt == .twoSided ? 2.0 : 1.0) / Double(c.n_splits) - 1e-15,
                                        "\(c.name): p below the permutation minimum")
        }
        // 5 vs 5 completely separated with ties: exactly the minimum 2/252 = 0.0079
        let sep = MannWhitney.test([1, 1, 2, 2, 3], [4, 5, 5, 6, 6])
        assertClose(sep.pValue, 2.0 / 252, rtol: 1e-12)
    }

    func testBenjaminiHochbergMatchesScipy() throws {
        let f = try load()
        XCTAssertGreaterThanOrEqual(f.benjamini_hochberg.count, 4)
        for c in f.benjamini_hochberg {
            let q = MultipleTesting.benjaminiHochberg(c.p)
            XCTAssertEqual(q.count, c.q.count)
            for (a, b) in zip(q, c.q) { assertClose(a, b, rtol: 1e-12, atol: 1e-15, "q for p = \(c.p)") }
        }
    }
}
