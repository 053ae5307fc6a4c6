/// Which direction of change is good for a metric.
public enum Polarity: String, Sendable, Codable {
    /// Larger values are better (throughput, AUC).
    case higherIsBetter
    /// Smaller values are better (step time, page faults, steals, loss).
    case lowerIsBetter

    /// The polarity implied by a metric's name.
    ///
    /// `samples_per_sec`, `auc`, `accuracy`, `*throughput*` and other `*_per_sec` rates are higher-is-better;
    /// `step_ms.*`, `*_per_step`, `*faults*`, `*steals*`, `logloss`, `wall_s` and anything unknown are
    /// lower-is-better. Names containing `fault`, `steal`, `miss`, `wait` or `switch` are lower-is-better
    /// even when they are rates (`minor_faults_per_sec`).
    public static func forMetric(_ name: String) -> Polarity {
        let n = name.lowercased()
        for bad in ["fault", "steal", "miss", "wait", "switch", "migration", "logloss", "loss"] where n.contains(bad) {
            return .lowerIsBetter
        }
        if n.hasPrefix("step_ms") || n.hasSuffix("_per_step") || n == "wall_s" { return .lowerIsBetter }
        if n == "auc" || n.hasSuffix(".auc") || n.hasSuffix("_auc") || n.contains("accuracy") { return .higherIsBetter }
        if n.contains("samples_per_sec") || n.contains("throughput") || n.hasSuffix("_per_sec") || n.hasSuffix("_per_s") {
            return .higherIsBetter
        }
        return .lowerIsBetter
    }

    /// Whether moving from ratio 1 to `ratio` (candidate / baseline) is an improvement.
    public func isImprovement(ratio: Double) -> Bool {
        switch self {
        case .higherIsBetter: return ratio > 1
        case .lowerIsBetter: return ratio < 1
        }
    }
}

/// The outcome of comparing a candidate with a baseline on one metric.
public enum Verdict: String, Sendable, Codable {
    /// A significant change beyond the noise threshold, in the good direction.
    case improved
    /// A significant change beyond the noise threshold, in the bad direction.
    case regressed
    /// The data rule out a change as large as the threshold.
    case unchanged
    /// Too few samples or too much noise to tell.
    case inconclusive
}

/// A two-sided confidence interval `[lower, upper]` at confidence `level` (e.g. 0.95).
public struct ConfidenceInterval: Sendable, Equatable, Codable {
    /// Lower end.
    public var lower: Double
    /// Upper end.
    public var upper: Double
    /// Confidence level in (0, 1).
    public var level: Double

    /// An interval from its ends and level.
    public init(lower: Double, upper: Double, level: Double) {
        self.lower = lower
        self.upper = upper
        self.level = level
    }

    /// `upper - lower`.
    public var width: Double { upper - lower }

    /// Whether `value` lies inside the closed interval.
    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
}
