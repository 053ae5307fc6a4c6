import RecContract
import Foundation

/// Percentile bootstrap confidence intervals (Efron), seeded and deterministic.
///
/// The interval is the linear-interpolated `(1-level)/2` and `(1+level)/2` quantiles of the statistic over
/// `resamples` resamples drawn with replacement — the same definition as
/// `scipy.stats.bootstrap(method="percentile")`. Results differ from SciPy's only by Monte-Carlo error,
/// because the random streams differ.
public enum Bootstrap {
    /// Percentile CI of `statistic` over resamples of `samples`.
    ///
    /// With fewer than two samples the interval collapses to the statistic of the sample itself. Non-finite
    /// samples propagate into the statistic (validate first with `StatsError.validate`).
    public static func percentileCI(_ samples: [Double], level: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 1,
                                    statistic: ([Double]) -> Double) -> ConfidenceInterval {
        guard samples.count > 1, resamples > 0 else {
            let v = samples.isEmpty ? Double.nan : statistic(samples)
            return ConfidenceInterval(lower: v, upper: v, level: level)
        }
        var rng = Xoshiro256(seed: seed)
        var buffer = samples
        var stats = [Double]()
        stats.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for i in buffer.indices { buffer[i] = samples[rng.nextIndex(samples.count)] }
            stats.append(statistic(buffer))
        }
        return interval(of: &stats, level: level)
    }

    /// `percentileCI` for a statistic of an ascending array: each resample is sorted in place before
    /// `statisticOfSorted` sees it, which saves a copy per resample. Same resamples as `percentileCI` for a seed.
    static func sortedPercentileCI(_ samples: [Double], level: Double, resamples: Int, seed: UInt64,
                                   statisticOfSorted: ([Double]) -> Double) -> ConfidenceInterval {
        guard samples.count > 1, resamples > 0 else {
            let v = samples.isEmpty ? Double.nan : statisticOfSorted(samples.sorted())
            return ConfidenceInterval(lower: v, upper: v, level: level)
        }
        var rng = Xoshiro256(seed: seed)
        var buffer = samples
        var stats = [Double]()
        stats.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for i in buffer.indices { buffer[i] = samples[rng.nextIndex(samples.count)] }
            buffer.sort()
            stats.append(statisticOfSorted(buffer))
        }
        return interval(of: &stats, level: level)
    }

    /// Percentile CI of median(candidate) / median(baseline), resampling the two groups independently.
    ///
    /// When a resampled baseline median is 0 the ratio is ±infinity (or NaN for 0/0, counted as 1: both
    /// medians equal); the interval then reports that honestly rather than dropping the resample.
    public static func ratioCI(candidate: [Double], baseline: [Double], level: Double = 0.95, resamples: Int = 2000,
                               seed: UInt64 = 1) -> ConfidenceInterval {
        var rng = Xoshiro256(seed: seed)
        var c = candidate, b = baseline
        var stats = [Double]()
        stats.reserveCapacity(resamples)
        for _ in 0..<max(resamples, 1) {
            for i in c.indices { c[i] = candidate[rng.nextIndex(candidate.count)] }
            for i in b.indices { b[i] = baseline[rng.nextIndex(baseline.count)] }
            c.sort(); b.sort()
            stats.append(ratio(Descriptive.medianOfSorted(c), Descriptive.medianOfSorted(b)))
        }
        return interval(of: &stats, level: level)
    }

    /// Percentile CI of a statistic of several groups, each resampled independently (used by factorial effects).
    static func groupedCI(_ groups: [[Double]], level: Double, resamples: Int, seed: UInt64,
                          statistics: ([[Double]]) -> [Double]) -> [ConfidenceInterval] {
        var rng = Xoshiro256(seed: seed)
        var work = groups
        var columns: [[Double]] = []
        for _ in 0..<max(resamples, 1) {
            for g in groups.indices where groups[g].count > 1 {
                for i in work[g].indices { work[g][i] = groups[g][rng.nextIndex(groups[g].count)] }
            }
            let values = statistics(work)
            if columns.isEmpty { columns = Array(repeating: [], count: values.count) }
            for (k, v) in values.enumerated() { columns[k].append(v) }
        }
        return columns.indices.map { interval(of: &columns[$0], level: level) }
    }

    /// `a / b` with 0/0 read as 1 (no change) and x/0 as ±infinity.
    static func ratio(_ a: Double, _ b: Double) -> Double {
        if b == 0 { return a == 0 ? 1 : (a > 0 ? .infinity : -.infinity) }
        return a / b
    }

    /// Resample medians and means of one sample: `resamples` resamples drawn with replacement from one
    /// seeded stream, each giving its median and its mean. Computed once per configuration and metric and
    /// reused for the median and mean CIs and, paired index by index with another sample's draws (the two
    /// streams are independent), for the CIs of the ratio and the difference of medians.
    ///
    /// The sample is sorted once; a resample is then a vector of counts over the sorted positions, and its
    /// median is found by selection — walking the cumulative counts to the middle rank — in O(n) without
    /// moving or comparing any value (no per-resample sort).
    public static func draws(_ samples: [Double], resamples: Int, seed: UInt64) -> Draws {
        guard samples.count > 1, resamples > 0 else {
            let m = Descriptive.median(samples), a = Descriptive.mean(samples)
            return Draws(medians: [m], means: [a])
        }
        var rng = Xoshiro256(seed: seed)
        let sorted = samples.sorted()
        let n = sorted.count
        var medians = [Double](repeating: 0, count: resamples), means = medians
        var counts = [Int32](repeating: 0, count: n)
        // 0-based ranks of the middle value(s)
        let upperRank = n / 2, lowerRank = n % 2 == 1 ? n / 2 : n / 2 - 1
        sorted.withUnsafeBufferPointer { v in
            counts.withUnsafeMutableBufferPointer { c in
                for r in 0..<resamples {
                    var sum = 0.0
                    for _ in 0..<n { let j = rng.nextIndex(n); c[j] &+= 1; sum += v[j] }
                    means[r] = sum / Double(n)
                    var cumulative = 0, lower = Double.nan, upper = Double.nan
                    for p in 0..<n where c[p] != 0 {
                        cumulative += Int(c[p])
                        if lower.isNaN && cumulative > lowerRank { lower = v[p] }
                        if cumulative > upperRank { upper = v[p]; break }
                    }
                    medians[r] = (lower + upper) / 2
                    for p in 0..<n { c[p] = 0 }
                }
            }
        }
        return Draws(medians: medians, means: means)
    }

    /// Bootstrap resample statistics of one sample (see `draws`).
    public struct Draws: Sendable {
        /// Median of each resample, in draw order.
        public var medians: [Double]
        /// Mean of each resample, in draw order.
        public var means: [Double]
        /// Creates draws from their parts.
        public init(medians: [Double], means: [Double]) { self.medians = medians; self.means = means }
    }

    /// Percentile interval of the values `f(candidate[k], baseline[k])` over paired draws.
    public static func pairedCI(_ candidate: [Double], _ baseline: [Double], level: Double,
                                _ f: (Double, Double) -> Double) -> ConfidenceInterval {
        let k = min(candidate.count, baseline.count)
        var stats = [Double](repeating: 0, count: k)
        for i in 0..<k { stats[i] = f(candidate[i], baseline[i]) }
        return interval(of: &stats, level: level)
    }

    /// Percentile interval of already computed resample statistics (reorders `stats`).
    public static func percentileInterval(_ stats: [Double], level: Double) -> ConfidenceInterval {
        var s = stats
        return interval(of: &s, level: level)
    }

    /// The `p`-quantile of resample statistics.
    public static func quantile(_ stats: [Double], _ p: Double) -> Double {
        var s = stats
        s.sort()
        return Descriptive.quantileOfSorted(s, p)
    }

    static func interval(of stats: inout [Double], level: Double) -> ConfidenceInterval {
        let alpha = (1 - level) / 2
        // Two quantiles need four order statistics, found by selection rather than a full sort; the
        // values are those of `Descriptive.quantileOfSorted` on the sorted array.
        return ConfidenceInterval(lower: quantileBySelection(&stats, alpha), upper: quantileBySelection(&stats, 1 - alpha),
                                  level: level)
    }

    /// The linear-interpolated `p`-quantile (as `Descriptive.quantileOfSorted` of the sorted array), by selection.
    static func quantileBySelection(_ s: inout [Double], _ p: Double) -> Double {
        guard !s.isEmpty else { return .nan }
        if s.contains(where: \.isNaN) {  // selection needs a total order; keep the sort's NaN placement
            s.sort()
            return Descriptive.quantileOfSorted(s, p)
        }
        let h = Double(s.count - 1) * min(max(p, 0), 1)
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, s.count - 1)
        let frac = h - Double(lo)
        return s.withUnsafeMutableBufferPointer { b -> Double in
            Descriptive.select(lo, in: b)
            let a = b[lo]
            var next = a
            if hi > lo {
                next = b[hi]
                for i in (lo + 1)..<b.count where b[i] < next { next = b[i] }
            }
            if frac == 0 || a == next { return a }
            return a + frac * (next - a)
        }
    }
}
