import RecContract
import Foundation

/// The standard normal distribution, computed through the C library's `erfc` so that far tails keep their
/// relative accuracy (as `scipy.special.ndtr` does).
public enum NormalDistribution {
    /// Φ(x) = P(Z ≤ x) = erfc(-x/√2) / 2.
    public static func cdf(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        return 0.5 * erfc(-x / 2.0.squareRoot())
    }

    /// 1 - Φ(x), accurate in the upper tail.
    public static func sf(_ x: Double) -> Double { cdf(-x) }
}
