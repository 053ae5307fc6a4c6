import Foundation

/// The Wilcoxon signed-rank confidence interval for the center of paired differences.
public enum SignedRank {
    /// The Hodges–Lehmann estimate of the center of `d` (median of the n(n+1)/2 Walsh averages
    /// (d_i + d_j)/2, i ≤ j) with its distribution-free interval at two-sided `level`: [W_(k), W_(N+1−k)]
    /// of the ascending Walsh averages, k the largest integer with P(T⁺ ≤ k − 1) ≤ (1 − level)/2 under the
    /// exact null distribution of the signed-rank statistic (each end a one-sided (1 + level)/2 bound for
    /// differences symmetric about their center). Nil when `d` is empty, not finite, or too short for the
    /// level (e.g. fewer than 6 pairs at 0.95).
    public static func interval(_ d: [Double], level: Double) -> (center: Double, ci: ConfidenceInterval)? {
        let n = d.count
        guard n > 0, n <= 500, d.allSatisfy(\.isFinite) else { return nil }
        var walsh: [Double] = []
        walsh.reserveCapacity(n * (n + 1) / 2)
        for i in 0..<n { for j in i..<n { walsh.append((d[i] + d[j]) / 2) } }
        walsh.sort()
        let total = n * (n + 1) / 2
        // counts[t] = number of sign patterns with T⁺ = t (subset sums of 1…n)
        var counts = [Double](repeating: 0, count: total + 1)
        counts[0] = 1
        var top = 0
        for r in 1...n {
            top += r
            for t in stride(from: top, through: r, by: -1) { counts[t] += counts[t - r] }
        }
        let all = pow(2.0, Double(n)), tail = (1 - level) / 2
        var k = 0, cumulative = 0.0
        for t in 0...total {
            cumulative += counts[t]
            if cumulative / all <= tail { k = t + 1 } else { break }
        }
        guard k >= 1 else { return nil }
        return (Descriptive.medianOfSorted(walsh), ConfidenceInterval(lower: walsh[k - 1], upper: walsh[total - k], level: level))
    }
}
