import RecContract
import Foundation

/// Plain descriptive statistics on `[Double]`, shared by the rest of RecStats.
///
/// Conventions follow NumPy/SciPy so results can be checked against them: `median` averages the two middle
/// values, `stddev` is the sample standard deviation (ddof = 1), `quantile` is linear interpolation
/// (Hyndman–Fan type 7, NumPy's default).
public enum Descriptive {
    /// Arithmetic mean; NaN for an empty array.
    public static func mean(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        var s = 0.0
        for x in xs { s += x }
        return s / Double(xs.count)
    }

    /// Median (mean of the two middle values for even counts); NaN for an empty array.
    public static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        return medianOfSorted(xs.sorted())
    }

    /// Median of an already ascending array.
    public static func medianOfSorted(_ s: [Double]) -> Double {
        guard !s.isEmpty else { return .nan }
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }

    /// Median by selection (Hoare's quickselect, O(n) expected) rather than sorting; reorders `buf`.
    /// Same value as `median`; NaN for an empty array.
    public static func medianBySelection(_ buf: inout [Double]) -> Double {
        let n = buf.count
        guard n > 0 else { return .nan }
        let k = n / 2
        buf.withUnsafeMutableBufferPointer { select(k, in: $0) }
        if n % 2 == 1 { return buf[k] }
        // the lower middle is the largest value left of k once k is in place
        var lower = buf[0]
        for i in 1..<k { if buf[i] > lower { lower = buf[i] } }
        return (lower + buf[k]) / 2
    }

    /// Puts the k-th smallest value at index k, smaller-or-equal values before it, larger-or-equal after.
    static func select(_ k: Int, in a: UnsafeMutableBufferPointer<Double>) {
        var lo = 0, hi = a.count - 1
        while hi > lo {
            // median of three as the pivot
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return }
        }
    }

    /// Median absolute deviation from the median (unscaled); NaN for an empty array.
    public static func mad(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let m = median(xs)
        var d = xs.map { abs($0 - m) }
        return medianBySelection(&d)
    }

    /// Sample standard deviation (n - 1 denominator); 0 for fewer than two values.
    public static func stddev(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let m = mean(xs)
        var ss = 0.0
        for x in xs { ss += (x - m) * (x - m) }
        return (ss / Double(xs.count - 1)).squareRoot()
    }

    /// The `p`-quantile (0 ≤ p ≤ 1) of an ascending array by linear interpolation between order statistics.
    ///
    /// Infinite neighbours are handled without producing NaN: an exact hit returns the order statistic itself.
    public static func quantileOfSorted(_ s: [Double], _ p: Double) -> Double {
        guard !s.isEmpty else { return .nan }
        let h = Double(s.count - 1) * min(max(p, 0), 1)
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, s.count - 1)
        let frac = h - Double(lo)
        if frac == 0 || s[lo] == s[hi] { return s[lo] }
        return s[lo] + frac * (s[hi] - s[lo])
    }

    /// Average ranks (1-based; tied values share the mean of their ranks) and the sizes of the tie groups
    /// (every group, including singletons), as `scipy.stats.rankdata(method="average")` does.
    public static func averageRanks(_ xs: [Double]) -> (ranks: [Double], tieCounts: [Int]) {
        let order = xs.indices.sorted { xs[$0] < xs[$1] }
        var ranks = [Double](repeating: 0, count: xs.count)
        var ties: [Int] = []
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && xs[order[j + 1]] == xs[order[i]] { j += 1 }
            let r = Double(i + j + 2) / 2  // mean of 1-based ranks i+1 ... j+1
            for k in i...j { ranks[order[k]] = r }
            ties.append(j - i + 1)
            i = j + 1
        }
        return (ranks, ties)
    }
}

/// Input that RecStats cannot use, with the offending position and value.
public enum StatsError: Error, Equatable, CustomStringConvertible {
    /// A NaN or infinite sample at `index` in the sample called `label`.
    case nonFinite(label: String, index: Int, value: Double)
    /// An empty sample called `label`.
    case empty(label: String)

    /// A one-line human-readable message naming the sample, index and value.
    public var description: String {
        switch self {
        case let .nonFinite(label, index, value): return "\(label): sample \(index) is \(value); statistics need finite values"
        case let .empty(label): return "\(label): no samples"
        }
    }

    /// Throws if `samples` is empty or holds a NaN or infinite value.
    public static func validate(_ samples: [Double], label: String) throws(StatsError) {
        guard !samples.isEmpty else { throw .empty(label: label) }
        if let i = samples.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(label: label, index: i, value: samples[i])
        }
    }
}
