import RecContract
import Foundation

/// Descriptive statistics of one configuration's samples of one metric.
public struct Summary: Sendable, Codable {
    /// Number of finite samples used.
    public var n: Int
    /// Arithmetic mean.
    public var mean: Double
    /// Median.
    public var median: Double
    /// Sample standard deviation (n - 1).
    public var stddev: Double
    /// Smallest sample.
    public var min: Double
    /// Largest sample.
    public var max: Double
    /// Percentile-bootstrap CI of the mean; nil when n < 2.
    public var meanCI: ConfidenceInterval?
    /// Percentile-bootstrap CI of the median; nil when n < 2.
    public var medianCI: ConfidenceInterval?
    /// Coefficient of variation stddev / |mean| (0 when every sample is equal, infinity when the mean is 0 but
    /// the samples vary).
    public var cv: Double
    /// Robust coefficient of variation: 1.4826 · MAD / |median| (the normal-consistent scale over the
    /// median; 0 when at least half the samples equal the median, infinity when the median is 0 but the
    /// samples vary). Unlike `cv` one outlying repeat does not dominate it.
    public var robustCV: Double = 0
    /// Whether `robustCV` exceeds the noise limit the summary was built with.
    public var isNoisy: Bool
    /// Number of NaN or infinite inputs left out of every statistic above (0 for clean data).
    public var rejected: Int

    /// A summary from its parts (for tests and for callers that load stored statistics).
    public init(n: Int, mean: Double, median: Double, stddev: Double, min: Double, max: Double,
                meanCI: ConfidenceInterval?, medianCI: ConfidenceInterval?, cv: Double, isNoisy: Bool, rejected: Int = 0) {
        self.n = n
        self.mean = mean
        self.median = median
        self.stddev = stddev
        self.min = min
        self.max = max
        self.meanCI = meanCI
        self.medianCI = medianCI
        self.cv = cv
        self.isNoisy = isNoisy
        self.rejected = rejected
    }

    /// Summarises `samples`.
    ///
    /// Non-finite values are left out and counted in `rejected` (use `StatsError.validate` to refuse them
    /// instead). An empty (or all non-finite) input gives n = 0 and NaN statistics.
    /// - Parameters:
    ///   - level: confidence level of the bootstrap intervals.
    ///   - resamples: bootstrap resamples.
    ///   - seed: bootstrap seed (the median CI uses `seed`, the mean CI `seed + 1`).
    ///   - noisyCV: `isNoisy` is `robustCV > noisyCV` (0.05 suits wall-time metrics).
    public static func of(_ samples: [Double], level: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 1,
                          noisyCV: Double = 0.05) -> Summary {
        let xs = samples.filter(\.isFinite)
        let rejected = samples.count - xs.count
        guard !xs.isEmpty else {
            return Summary(n: 0, mean: .nan, median: .nan, stddev: .nan, min: .nan, max: .nan, meanCI: nil, medianCI: nil,
                           cv: .nan, isNoisy: false, rejected: rejected)
        }
        let sorted = xs.sorted()
        let mean = Descriptive.mean(xs)
        let sd = Descriptive.stddev(xs)
        let cv: Double = sd == 0 ? 0 : (mean == 0 ? .infinity : sd / abs(mean))
        var medianCI: ConfidenceInterval?
        var meanCI: ConfidenceInterval?
        if xs.count > 1 {
            medianCI = Bootstrap.sortedPercentileCI(xs, level: level, resamples: resamples, seed: seed,
                                                    statisticOfSorted: Descriptive.medianOfSorted)
            meanCI = Bootstrap.percentileCI(xs, level: level, resamples: resamples, seed: seed &+ 1, statistic: Descriptive.mean)
        }
        let median = Descriptive.medianOfSorted(sorted), mad = Descriptive.mad(xs)
        let robust: Double = mad == 0 ? 0 : (median == 0 ? .infinity : 1.4826 * mad / abs(median))
        var s = Summary(n: xs.count, mean: mean, median: median, stddev: sd,
                        min: sorted[0], max: sorted[sorted.count - 1], meanCI: meanCI, medianCI: medianCI,
                        cv: cv, isNoisy: robust > noisyCV, rejected: rejected)
        s.robustCV = robust
        return s
    }

    /// Summarises `samples` from bootstrap `draws` already made of its finite values (see `Bootstrap.draws`),
    /// so one bootstrap serves the summary and every comparison. `isNoisy` is `robustCV > noisyCV`.
    public static func of(_ samples: [Double], draws: Bootstrap.Draws, level: Double = 0.95, noisyCV: Double = 0.05) -> Summary {
        let xs = samples.filter(\.isFinite)
        let rejected = samples.count - xs.count
        guard !xs.isEmpty else {
            return Summary(n: 0, mean: .nan, median: .nan, stddev: .nan, min: .nan, max: .nan, meanCI: nil, medianCI: nil,
                           cv: .nan, isNoisy: false, rejected: rejected)
        }
        let sorted = xs.sorted()
        let mean = Descriptive.mean(xs)
        let sd = Descriptive.stddev(xs)
        let median = Descriptive.medianOfSorted(sorted)
        let cv: Double = sd == 0 ? 0 : (mean == 0 ? .infinity : sd / abs(mean))
        let mad = Descriptive.mad(xs)
        let robust: Double = mad == 0 ? 0 : (median == 0 ? .infinity : 1.4826 * mad / abs(median))
        var medianCI: ConfidenceInterval?, meanCI: ConfidenceInterval?
        if xs.count > 1 {
            medianCI = Bootstrap.percentileInterval(draws.medians, level: level)
            meanCI = Bootstrap.percentileInterval(draws.means, level: level)
        }
        var s = Summary(n: xs.count, mean: mean, median: median, stddev: sd, min: sorted[0], max: sorted[sorted.count - 1],
                        meanCI: meanCI, medianCI: medianCI, cv: cv, isNoisy: robust > noisyCV, rejected: rejected)
        s.robustCV = robust
        return s
    }

    /// Whether every sample is identical (zero spread), as for a deterministic counter. False when n < 2.
    public var isConstant: Bool { n >= 2 && min == max }
}
