import RecContract
/// The thresholds `Compare.metric` uses to turn statistics into a verdict.
///
/// Decodes from partial JSON/YAML: every missing key takes its default, so a spec may say only
/// `{threshold: 0.05}`.
public struct ComparisonRule: Sendable, Codable, Equatable {
    /// Significance level for the Mann–Whitney p-value.
    public var alpha: Double = 0.05
    /// Relative change of the median that matters (0.02 = 2%) for metrics outside the catalog; catalog
    /// metrics use their own `ChangeThreshold` unless the caller passes one (spec `thresholds:`, `--metric NAME:T`).
    public var threshold: Double = 0.02
    /// Fewer samples than this on either side gives an inconclusive verdict.
    public var minSamples: Int = 3
    /// Confidence level of the bootstrap intervals.
    public var level: Double = 0.95
    /// Bootstrap resamples.
    public var resamples: Int = 2000
    /// Bootstrap seed (results are deterministic for a given seed).
    public var seed: UInt64 = 1
    /// Robust coefficient of variation (1.4826 · MAD / |median|) above which `Summary.isNoisy` is set.
    /// (Reports flag noisy configs by the median CI's half-width against the metric's threshold instead.)
    public var noisyCV: Double = 0.05

    /// A rule; every parameter has the default documented on its property.
    public init(alpha: Double = 0.05, threshold: Double = 0.02, minSamples: Int = 3, level: Double = 0.95,
                resamples: Int = 2000, seed: UInt64 = 1, noisyCV: Double = 0.05) {
        self.alpha = alpha
        self.threshold = threshold
        self.minSamples = minSamples
        self.level = level
        self.resamples = resamples
        self.seed = seed
        self.noisyCV = noisyCV
    }

    private enum CodingKeys: String, CodingKey { case alpha, threshold, minSamples, level, resamples, seed, noisyCV }

    /// Decodes a rule, taking the default for each missing key.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ComparisonRule()
        alpha = try c.decodeIfPresent(Double.self, forKey: .alpha) ?? d.alpha
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold) ?? d.threshold
        minSamples = try c.decodeIfPresent(Int.self, forKey: .minSamples) ?? d.minSamples
        level = try c.decodeIfPresent(Double.self, forKey: .level) ?? d.level
        resamples = try c.decodeIfPresent(Int.self, forKey: .resamples) ?? d.resamples
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        noisyCV = try c.decodeIfPresent(Double.self, forKey: .noisyCV) ?? d.noisyCV
    }
}

/// One metric compared between a baseline and a candidate set of runs.
public struct Comparison: Sendable, Codable {
    /// Metric name.
    public var metric: String
    /// Direction that counts as better.
    public var polarity: Polarity
    /// Baseline summary.
    public var baseline: Summary
    /// Candidate summary.
    public var candidate: Summary
    /// candidate median / baseline median (1 when both are 0, ±infinity when only the baseline is 0).
    public var ratio: Double
    /// Percentile-bootstrap CI of the ratio of medians; nil with fewer than two samples on a side.
    public var ratioCI: ConfidenceInterval?
    /// Two-sided Mann–Whitney p-value; nil when it could not be computed (empty or non-finite input).
    public var pValue: Double?
    /// Hodges–Lehmann shift, candidate minus baseline, in the metric's unit.
    public var shift: Double
    /// The verdict.
    public var verdict: Verdict
    /// One line a human can read: why this verdict.
    public var reason: String
    /// candidate median − baseline median, in the metric's unit.
    public var difference: Double = .nan
    /// Percentile-bootstrap CI of the difference of medians (same resamples as `ratioCI`); nil when
    /// deterministic or with fewer than two samples on a side.
    public var differenceCI: ConfidenceInterval?
    /// The change that matters for this metric (relative to the baseline median, or absolute).
    public var threshold: ChangeThreshold = .relative(0.02)
    /// True when the metric is treated as deterministic (no p, no CI, n_eff = 1): seed-deterministic
    /// repeats, or zero variance on both sides.
    public var deterministic = false
    /// True when deterministic because the metric only depends on the seed (not because of zero variance).
    public var seedDeterministic = false
    /// Benjamini–Hochberg q-value within the report or gate check (nil when not tested: deterministic,
    /// neutral or without a p-value).
    public var qValue: Double?
    /// Set when a sample is NaN or infinite (names it); such a comparison is not tested.
    public var nonFinite: String?

    /// A comparison from its parts (for tests and for callers that compute their own statistics).
    public init(metric: String, polarity: Polarity, baseline: Summary, candidate: Summary, ratio: Double,
                ratioCI: ConfidenceInterval?, pValue: Double?, shift: Double, verdict: Verdict, reason: String) {
        self.metric = metric
        self.polarity = polarity
        self.baseline = baseline
        self.candidate = candidate
        self.ratio = ratio
        self.ratioCI = ratioCI
        self.pValue = pValue
        self.shift = shift
        self.verdict = verdict
        self.reason = reason
    }
}
