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

    /// Φ⁻¹(p) for p in (0, 1) (bisection on `cdf` to 1e-12; ±infinity at 0 and 1, NaN outside).
    public static func quantile(_ p: Double) -> Double {
        guard p > 0 && p < 1 else { return p == 0 ? -.infinity : (p == 1 ? .infinity : .nan) }
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 where hi - lo > 1e-12 {
            let mid = (lo + hi) / 2
            if cdf(mid) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// 1 - Φ(x), accurate in the upper tail.
    public static func sf(_ x: Double) -> Double { cdf(-x) }
}
