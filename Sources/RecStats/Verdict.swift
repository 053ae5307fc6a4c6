import RecContract

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
    /// A neutral diagnostic (steals, tasks, allocator hits) changed beyond its threshold: reported, but
    /// neither good nor bad, so never a badge, never in the gate's verdict or in multiplicity correction.
    case changed
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
