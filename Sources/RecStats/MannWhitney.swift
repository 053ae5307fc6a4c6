import RecContract
import Foundation

/// Result of a Mann–Whitney U test.
public struct MannWhitneyResult: Sendable, Codable {
    /// U statistic of the first sample `x`: the number of pairs (x_i, y_j) with x_i > y_j, ties counting ½.
    public var u: Double
    /// p-value for the requested alternative.
    public var pValue: Double
    /// `"permutation"` (exact conditional distribution of U given the pooled sample, ties included), `"exact"`
    /// (null distribution of U without ties) or `"asymptotic"` (normal approximation with tie and
    /// continuity corrections); `"invalid"` when an input was empty or non-finite (then `pValue` is NaN).
    public var method: String

    /// A result from its parts.
    public init(u: Double, pValue: Double, method: String) {
        self.u = u
        self.pValue = pValue
        self.method = method
    }
}

/// The Mann–Whitney U (Wilcoxon rank-sum) test.
///
/// - U is U of `x`: R_x - n_x(n_x+1)/2 from average ranks of the pooled sample.
/// - Method choice (`auto`): without ties the exact null distribution (`MannWhitneyExact`, as long as the
///   counts fit 128 bits and the smaller sample has at most 100 values); with ties the exact conditional
///   permutation distribution of U given the pooled sample (`MannWhitneyPermutation`) whenever it is cheap
///   enough (up to about 30 values per side); the normal approximation only beyond. So a small sample with ties never gets a p-value below the exact
///   permutation minimum 2 / C(N, n_x) (0.0079 at 5 vs 5), as the normal approximation can give.
///   Without ties `auto` equals SciPy's `method="exact"`; `scipyAuto` reproduces SciPy 1.17's own choice
///   (asymptotic when both samples have more than 8 values or when there is any tie).
/// - Exact: P(U ≥ u) from the null distribution of U, whose counts are the coefficients of the Gaussian
///   binomial [n_x+n_y choose n_x]_q (computed in exact 128-bit integers). `greater` uses U_x, `less` uses
///   U_y = n_x·n_y - U_x, `two-sided` doubles the tail of max(U_x, U_y), clipped to 1.
/// - Asymptotic: z = (U - n_x·n_y/2 - ½) / σ with σ² = n_x·n_y/12 · ((n+1) - Σ(t³-t)/(n(n-1))), p = Φ(-z)
///   (doubled for two-sided, clipped to 1).
public enum MannWhitney {
    /// Alternative hypothesis, about the distribution of `x` relative to `y`.
    public enum Alternative: String, Sendable {
        /// x and y differ in either direction.
        case twoSided
        /// x is stochastically less than y.
        case less
        /// x is stochastically greater than y.
        case greater
    }

    /// How the p-value is computed.
    public enum Method: String, Sendable {
        /// Exact conditional permutation distribution (ties included) when feasible, asymptotic otherwise.
        case auto
        /// SciPy 1.17's `method="auto"` rule: exact for small samples without ties, asymptotic otherwise.
        case scipyAuto
        /// The exact conditional permutation distribution of U given the pooled sample (handles ties);
        /// falls back to asymptotic beyond `MannWhitneyPermutation.fits`.
        case permutation
        /// Exact null distribution (ties are ignored, as in SciPy). Falls back to asymptotic beyond
        /// C(n_x+n_y, n_x) ≥ 2^120, where exact counting would overflow.
        case exact
        /// Normal approximation with tie and continuity corrections.
        case asymptotic
    }

    /// Tests `x` against `y`. NaN, infinite or empty inputs give `method == "invalid"` and a NaN p-value
    /// (SciPy raises instead); validate with `StatsError.validate` to get an error naming the value.
    public static func test(_ x: [Double], _ y: [Double], alternative: Alternative = .twoSided) -> MannWhitneyResult {
        test(x, y, alternative: alternative, method: .auto)
    }

    /// Tests `x` against `y` with an explicit `method`.
    public static func test(_ x: [Double], _ y: [Double], alternative: Alternative, method: Method) -> MannWhitneyResult {
        guard !x.isEmpty, !y.isEmpty, x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else {
            return MannWhitneyResult(u: .nan, pValue: .nan, method: "invalid")
        }
        let n1 = x.count, n2 = y.count
        let (ranks, ties) = Descriptive.averageRanks(x + y)
        var r1 = 0.0
        for i in 0..<n1 { r1 += ranks[i] }
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let u2 = Double(n1 * n2) - u1
        let (u, factor): (Double, Double)
        switch alternative {
        case .greater: (u, factor) = (u1, 1)
        case .less: (u, factor) = (u2, 1)
        case .twoSided: (u, factor) = (Swift.max(u1, u2), 2)
        }
        let hasTies = ties.contains { $0 > 1 }
        var chosen = method
        if chosen == .scipyAuto { chosen = (n1 > 8 && n2 > 8) || hasTies ? .asymptotic : .exact }
        if chosen == .auto {
            // without ties the permutation distribution is the classical exact one (cheaper to count)
            chosen = hasTies ? .permutation : (MannWhitneyExact.fits(n1, n2) && Swift.min(n1, n2) <= 100 ? .exact : .asymptotic)
        }
        if chosen == .exact, !MannWhitneyExact.fits(n1, n2) { chosen = .asymptotic }
        if chosen == .permutation, !MannWhitneyPermutation.fits(n1, n2) { chosen = .asymptotic }
        let p: Double
        if chosen == .permutation {
            let sorted = (x + y).sorted()
            var doubled: [Int] = [], sizes: [Int] = []
            var i = 0
            while i < sorted.count {
                var j = i
                while j + 1 < sorted.count && sorted[j + 1] == sorted[i] { j += 1 }
                doubled.append(i + j + 2)  // 2 × mean of the 1-based ranks i+1 … j+1
                sizes.append(j - i + 1)
                i = j + 1
            }
            let t = MannWhitneyPermutation.tails(u: u1, n1: n1, doubledRanks: doubled, groupSizes: sizes)
            let raw: Double
            switch alternative {
            case .greater: raw = t.greater
            case .less: raw = t.less
            case .twoSided: raw = 2 * Swift.min(t.greater, t.less)
            }
            return MannWhitneyResult(u: u1, pValue: Swift.min(Swift.max(raw, 0), 1), method: chosen.rawValue)
        } else if chosen == .exact {
            p = MannWhitneyExact.sf(Int(u.rounded(.down)), n1, n2)
        } else {
            p = NormalDistribution.cdf(-zScore(u: u, n1: n1, n2: n2, ties: ties))
        }
        return MannWhitneyResult(u: u1, pValue: Swift.min(Swift.max(p * factor, 0), 1), method: chosen.rawValue)
    }

    /// Standardised U with tie correction and a ½ continuity correction toward the mean (SciPy `_get_mwu_z`).
    static func zScore(u: Double, n1: Int, n2: Int, ties: [Int]) -> Double {
        let a = Double(n1), b = Double(n2), n = a + b
        var tieTerm = 0.0
        for t in ties where t > 1 { let d = Double(t); tieTerm += d * d * d - d }
        let variance = a * b / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        let numerator = u - a * b / 2 - 0.5
        let s = Swift.max(variance, 0).squareRoot()
        if s == 0 { return numerator == 0 ? .nan : (numerator > 0 ? .infinity : -.infinity) }
        return numerator / s
    }
}
