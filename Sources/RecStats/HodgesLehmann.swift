import RecContract
import Foundation

/// The Hodges–Lehmann estimator of the shift between two samples, and its distribution-free CI.
public enum HodgesLehmann {
    /// Median of all n_x·n_y pairwise differences x_i - y_j (the location shift of x relative to y that the
    /// Mann–Whitney test is about). NaN if either sample is empty.
    public static func shift(_ x: [Double], _ y: [Double]) -> Double {
        guard !x.isEmpty, !y.isEmpty else { return .nan }
        var d = [Double]()
        d.reserveCapacity(x.count * y.count)
        for a in x { for b in y { d.append(a - b) } }
        return Descriptive.medianBySelection(&d)
    }

    /// The shift with its Mann–Whitney (Moses) confidence interval at two-sided `level`:
    /// [D_(k), D_(mn+1−k)] of the ascending pairwise differences D, with k the largest integer such that
    /// P(U ≤ k − 1) ≤ (1 − level)/2 under the exact null distribution of U (normal approximation when it
    /// does not fit 128 bits). Each end is a one-sided bound at (1 + level)/2 for a pure location shift,
    /// whatever the distribution (exactly without ties); applied to log values it bounds the ratio.
    /// Nil when a sample is empty or the level is unreachable with these sizes (then k < 1).
    public static func interval(_ x: [Double], _ y: [Double], level: Double) -> (shift: Double, ci: ConfidenceInterval)? {
        let m = x.count, n = y.count
        guard m > 0, n > 0 else { return nil }
        var d = [Double]()
        d.reserveCapacity(m * n)
        for a in x { for b in y { d.append(a - b) } }
        d.sort()
        let tail = (1 - level) / 2
        var k = 0
        if MannWhitneyExact.fits(m, n) && min(m, n) <= 100 {
            let counts = MannWhitneyExact.counts(m, n)
            var total: Int128 = 0
            for c in counts { total += c }
            var cumulative: Int128 = 0
            // k − 1 = the largest u with P(U ≤ u) ≤ tail
            for u in counts.indices {
                cumulative += counts[u]
                if Double(cumulative) / Double(total) <= tail { k = u + 1 } else { break }
            }
            if k == 0 { return nil }
        } else {
            let mu = Double(m * n) / 2, sd = (Double(m * n) * Double(m + n + 1) / 12).squareRoot()
            k = Int((mu - NormalDistribution.quantile(1 - tail) * sd).rounded(.down))
            if k < 1 { return nil }
        }
        let lo = d[k - 1], hi = d[m * n - k]
        return (Descriptive.medianOfSorted(d), ConfidenceInterval(lower: lo, upper: hi, level: level))
    }
}
