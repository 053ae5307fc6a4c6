import Foundation

/// The outcome of comparing one metric of a candidate with a baseline, in the metric's polarity.
public enum MetricVerdict: String, Sendable, Codable, CaseIterable {
    case improved, regressed, unchanged, inconclusive
    /// A neutral diagnostic moved beyond its threshold: reported, neither good nor bad (no badge).
    case changed

    /// A short marker for terminal and Markdown tables.
    public var marker: String {
        switch self {
        case .improved: "+ improved"
        case .regressed: "- REGRESSED"
        case .unchanged: "= unchanged"
        case .inconclusive: "? inconclusive"
        case .changed: "~ changed"
        }
    }

    /// The verdicts that judge a metric as good or bad (the others are neutral statements).
    public var isJudgement: Bool { self == .improved || self == .regressed }
}

/// A point estimate with a confidence interval.
public struct Interval: Sendable, Codable, Equatable {
    public var value: Double
    public var low: Double
    public var high: Double
    /// Creates an estimate `value` in `[low, high]`.
    public init(value: Double, low: Double, high: Double) { self.value = value; self.low = low; self.high = high }
}

/// Descriptive statistics of one metric over the ok runs of one configuration.
public struct MetricStats: Sendable, Codable, Equatable {
    public var n: Int
    public var median: Interval
    public var mean: Interval
    public var stddev: Double
    public var min: Double
    public var max: Double
    /// Coefficient of variation (stddev / mean).
    public var cv: Double
    /// Robust coefficient of variation: 1.4826 · MAD / |median|.
    public var robustCV: Double = 0
    /// True when the half-width of the median's 95% CI exceeds the metric's change threshold (relative to the
    /// median for a relative threshold): the repeats cannot pin the median down to the change that matters.
    /// Never set for a deterministic metric.
    public var isNoisy: Bool
    /// The raw values, in run order (for strip plots).
    public var values: [Double]
    /// Creates a summary; see the field docs.
    public init(n: Int, median: Interval, mean: Interval, stddev: Double, min: Double, max: Double,
                cv: Double, isNoisy: Bool, values: [Double]) {
        self.n = n; self.median = median; self.mean = mean; self.stddev = stddev
        self.min = min; self.max = max; self.cv = cv; self.isNoisy = isNoisy; self.values = values
    }
}

/// One metric of one configuration: measured, or not available and why (never shown as 0).
public struct MetricResult: Sendable, Codable, Equatable {
    public var metric: String
    public var unit: String
    public var stats: MetricStats?
    /// Why the metric has no value (e.g. the counter is unavailable on this machine).
    public var unavailableReason: String?
    /// Creates a metric result; exactly one of `stats` and `unavailableReason` should be set.
    public init(metric: String, unit: String = "", stats: MetricStats?, unavailableReason: String? = nil) {
        self.metric = metric; self.unit = unit; self.stats = stats; self.unavailableReason = unavailableReason
    }
}

/// A metric of a candidate set compared with a baseline set.
public struct MetricComparison: Sendable, Codable, Equatable {
    public var metric: String
    /// True when higher values are better for this metric.
    public var higherIsBetter: Bool
    public var baselineMedian: Double?
    public var candidateMedian: Double?
    /// candidate / baseline (medians) with a bootstrap CI; nil when either side has no data.
    public var ratio: Interval?
    /// Two-sided Mann–Whitney U p-value.
    public var pValue: Double?
    /// Hodges–Lehmann shift (candidate − baseline).
    public var shift: Double?
    public var verdict: MetricVerdict
    /// Why this verdict (e.g. "p=0.008 < 0.05 and +12% beyond 5%", or "n/a (counter unavailable)").
    public var reason: String
    /// candidate − baseline (medians) with a bootstrap CI from the same resamples as `ratio`.
    public var difference: Interval?
    /// Benjamini–Hochberg q-value over the tested comparisons of the report (or gate check); nil when the
    /// comparison is not tested (deterministic, neutral or no p-value). Verdicts use q; `pValue` stays raw.
    public var qValue: Double?
    /// Deterministic metric (seed-fixed or zero variance): no p, no CI, n_eff = 1.
    public var deterministic = false
    /// The metric is a neutral diagnostic: its change is shown, never judged.
    public var neutral = false
    /// The change threshold used, e.g. `±2%` or `±0.001`.
    public var threshold = ""
    /// Creates a comparison; see the field docs.
    public init(metric: String, higherIsBetter: Bool, baselineMedian: Double?, candidateMedian: Double?, ratio: Interval?,
                pValue: Double?, shift: Double?, verdict: MetricVerdict, reason: String) {
        self.metric = metric; self.higherIsBetter = higherIsBetter; self.baselineMedian = baselineMedian
        self.candidateMedian = candidateMedian; self.ratio = ratio; self.pValue = pValue; self.shift = shift
        self.verdict = verdict; self.reason = reason
    }
}

/// One configuration (one config hash) of an experiment with its statistics.
public struct ConfigAnalysis: Sendable, Codable, Equatable {
    public var configHash: String
    /// Short name built from the knobs that vary, e.g. `executor=inline stage=on`, or `baseline`.
    public var label: String
    /// Every knob value of the configuration.
    public var knobs: [String: String]
    public var isBaseline: Bool
    /// Ids of the runs that count (status ok).
    public var okRunIDs: [Int64]
    public var failedCount: Int
    /// One entry per analysed metric, in the experiment's metric order.
    public var metrics: [MetricResult]
    /// One entry per analysed metric against the baseline config (empty for the baseline itself).
    public var comparisons: [MetricComparison]
    /// Creates a configuration analysis; see the field docs.
    public init(configHash: String, label: String, knobs: [String: String], isBaseline: Bool, okRunIDs: [Int64],
                failedCount: Int, metrics: [MetricResult], comparisons: [MetricComparison]) {
        self.configHash = configHash; self.label = label; self.knobs = knobs; self.isBaseline = isBaseline
        self.okRunIDs = okRunIDs; self.failedCount = failedCount; self.metrics = metrics; self.comparisons = comparisons
    }

    /// The result for `metric`, if analysed.
    public func result(_ metric: String) -> MetricResult? { metrics.first { $0.metric == metric } }
    /// The comparison for `metric` against the baseline, if any.
    public func comparison(_ metric: String) -> MetricComparison? { comparisons.first { $0.metric == metric } }
}

/// A main effect (`secondFactor == nil`) or a two-factor interaction of a factorial design.
public struct EffectEstimate: Sendable, Codable, Equatable {
    public var metric: String
    public var factor: String
    public var level: String
    public var secondFactor: String?
    public var secondLevel: String?
    /// Effect in the metric's unit, with CI.
    public var estimate: Interval
    /// Effect relative to the baseline level's mean (e.g. 0.12 = +12%), if defined.
    public var relative: Double?
    /// Creates an effect estimate; see the field docs.
    public init(metric: String, factor: String, level: String, secondFactor: String? = nil, secondLevel: String? = nil,
                estimate: Interval, relative: Double?) {
        self.metric = metric; self.factor = factor; self.level = level; self.secondFactor = secondFactor
        self.secondLevel = secondLevel; self.estimate = estimate; self.relative = relative
    }
}

/// Whether a published claim was reproduced.
public enum ClaimStatus: String, Sendable, Codable {
    /// The whole CI satisfies the expectation.
    case reproduced
    /// The whole CI violates the expectation.
    case notReproduced = "not reproduced"
    /// The CI straddles the expectation.
    case inconclusive
    /// No configuration or no measurement matched the claim.
    case noData = "no data"
}

/// A spec claim checked against one matching configuration.
public struct ClaimResult: Sendable, Codable, Equatable {
    public var claim: Claim
    /// Label of the configuration checked (nil when none matched).
    public var configLabel: String?
    /// The measured ratio vs baseline (relative claims) or the measured median (absolute claims), with CI.
    public var measured: Interval?
    /// True when `measured` is a ratio to the baseline.
    public var isRatio: Bool
    public var status: ClaimStatus
    public var note: String
    /// Creates a claim result; see the field docs.
    public init(claim: Claim, configLabel: String?, measured: Interval?, isRatio: Bool, status: ClaimStatus, note: String) {
        self.claim = claim; self.configLabel = configLabel; self.measured = measured; self.isRatio = isRatio
        self.status = status; self.note = note
    }
}

/// A run that did not count, with the reason.
public struct FailedRun: Sendable, Codable, Equatable {
    public var runID: Int64
    public var configLabel: String
    public var repeatIndex: Int
    public var status: String
    public var reason: String
    /// Creates a failed-run entry.
    public init(runID: Int64, configLabel: String, repeatIndex: Int, status: String, reason: String) {
        self.runID = runID; self.configLabel = configLabel; self.repeatIndex = repeatIndex; self.status = status; self.reason = reason
    }
}

/// Everything the reports show about one experiment, computed once by `ExperimentAnalyzer`.
public struct ExperimentAnalysis: Sendable, Codable {
    public var experimentName: String
    public var experimentID: Int64
    public var created: Date
    public var host: HostFingerprint
    public var specText: String
    /// The design as text (`full`, `ablation`, …).
    public var design: String
    /// Analysed metrics, in order.
    public var metrics: [String]
    /// Knobs whose value differs between configurations, in factor order.
    public var varyingKnobs: [String]
    public var configs: [ConfigAnalysis]
    /// Main effects and interactions (factorial designs), or per-factor effects vs baseline (ablation).
    public var effects: [EffectEstimate]
    public var claims: [ClaimResult]
    public var failedRuns: [FailedRun]
    public var totalRuns: Int
    /// Creates an analysis; see the field docs.
    public init(experimentName: String, experimentID: Int64, created: Date, host: HostFingerprint, specText: String,
                design: String, metrics: [String], varyingKnobs: [String], configs: [ConfigAnalysis],
                effects: [EffectEstimate], claims: [ClaimResult], failedRuns: [FailedRun], totalRuns: Int) {
        self.experimentName = experimentName; self.experimentID = experimentID; self.created = created
        self.host = host; self.specText = specText; self.design = design; self.metrics = metrics
        self.varyingKnobs = varyingKnobs; self.configs = configs; self.effects = effects; self.claims = claims
        self.failedRuns = failedRuns; self.totalRuns = totalRuns
    }

    /// The baseline configuration, if the experiment has any ok config.
    public var baseline: ConfigAnalysis? { configs.first { $0.isBaseline } }
}
