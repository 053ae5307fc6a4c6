import Foundation
import RecContract

/// The `tune:` section of an experiment spec: what `rectune tune` searches, what it optimises,
/// the constraint it must keep, and how it spends its budget. Every key is optional; an empty
/// `tune: {}` searches every runtime knob that applies to the model for `samples_per_sec`.
public struct TuneSettings: Sendable, Equatable, Codable {
    /// Knobs to search, in order, each with its value list (nil: the default list for the knob,
    /// `TuneDefaults.values`). Empty: every runtime knob of the registry that applies to the model.
    public var knobs: [TuneKnobChoice] = []
    /// Knobs left out of the automatic search space.
    public var exclude: [String] = []
    /// The metric to optimise (a catalog metric such as `samples_per_sec`, `step_ms.mean`, `wall_s`,
    /// or a result key of an external command such as `train_seconds`).
    public var objective: String = "samples_per_sec"
    /// True: lower objective is better. From the catalog's polarity (or the name) unless `goal:` says.
    public var minimize: Bool = false
    /// The metric every chosen configuration must keep above (or below) a bound, e.g. `auc >= 0.70`.
    public var constraint: TuneConstraint? = nil
    /// Wall-time budget in minutes (trial time); nil: no budget (every planned trial runs).
    public var budgetMinutes: Double? = nil
    /// Step-count multipliers of the stages, ascending, the last 1: screening at the first,
    /// racing at the middle ones, confirmation at full scale.
    public var scales: [Double] = [0.1, 0.3, 1]
    /// Configurations in the screening design (nil: automatic, `Tuner.screeningSize`).
    public var screenConfigs: Int? = nil
    /// Repeats of each configuration in screening and in each racing round.
    public var screenRepeats: Int = 2
    public var raceRepeats: Int = 3
    /// Repeats of each finalist and of the baseline at full scale (fewer when the budget is short, never under 4: with 3 per side a one-sided Mann–Whitney test cannot reach p < 0.05).
    public var confirmRepeats: Int = 5
    /// Finalists confirmed at full scale.
    public var confirmCandidates: Int = 2
    /// Successive-halving rate: each racing round keeps 1/eta of the candidates (at least `confirmCandidates`).
    public var eta: Int = 2
    /// Significance level of the racing drops and of the final comparison with the baseline.
    public var alpha: Double = 0.05
    /// Seed of the screening design and the run order.
    public var seed: UInt64 = 1
    /// Pruning: a trial (other than the baseline's) is stopped once it has run `pruneFactor` times
    /// the baseline's cost at its scale plus `pruneSlackSeconds`, and counts as failed ("pruned"),
    /// so one pathological configuration (e.g. oversubscribed OpenMP teams, 40× slower) cannot eat
    /// the budget. 0 disables pruning (the spec's `timeout` still applies).
    public var pruneFactor: Double = 3
    /// Seconds added to every pruning limit (process start and data loading do not scale with steps).
    public var pruneSlackSeconds: Double = 10

    public init() {}
}

/// One knob to search and, optionally, the values to try.
public struct TuneKnobChoice: Sendable, Equatable, Codable {
    public var name: String
    public var values: [String]?
    public init(name: String, values: [String]? = nil) { self.name = name; self.values = values }
}

/// `metric >= bound` (or `<=`), with a safety margin the chosen configuration must clear.
public struct TuneConstraint: Sendable, Equatable, Codable, CustomStringConvertible {
    public var metric: String
    /// True for `>=` (the metric must stay above the bound), false for `<=`.
    public var atLeast: Bool
    public var bound: Double
    /// The lower confidence bound of the metric must clear `bound + margin` (`bound − margin` for `<=`).
    public var margin: Double

    public init(metric: String, atLeast: Bool, bound: Double, margin: Double = 0) {
        self.metric = metric; self.atLeast = atLeast; self.bound = bound; self.margin = margin
    }

    /// Parses `auc >= 0.70` / `logloss <= 0.5`; nil when the text is not of that form.
    public init?(parsing text: String, margin: Double = 0) {
        for (op, atLeast) in [(">=", true), ("<=", false)] {
            let parts = text.components(separatedBy: op)
            guard parts.count == 2 else { continue }
            let metric = parts[0].trimmingCharacters(in: .whitespaces)
            guard !metric.isEmpty, !metric.contains(" "), let bound = Double(parts[1].trimmingCharacters(in: .whitespaces)),
                  bound.isFinite else { return nil }
            self.init(metric: metric, atLeast: atLeast, bound: bound, margin: margin)
            return
        }
        return nil
    }

    /// Whether `value` is on the allowed side of `bound` (no margin).
    public func allows(_ value: Double) -> Bool { atLeast ? value >= bound : value <= bound }

    /// The bound the confidence bound must clear: `bound ± margin`.
    public var required: Double { atLeast ? bound + margin : bound - margin }

    public var description: String {
        "\(metric) \(atLeast ? ">=" : "<=") \(TuneFormat.number(bound))" + (margin > 0 ? " (margin \(TuneFormat.number(margin)))" : "")
    }
}

/// Default value lists of integer knobs when a spec names a knob without values (or the search
/// space is automatic). Word knobs (choices, on/off) use their whole domain. Integer knobs not
/// listed here are searched only when a spec gives their values.
public enum TuneDefaults {
    public static let integerValues: [Knob: [String]] = [
        .interThreads: ["1", "2", "4"],
        .intraThreads: ["1", "2"],
        .allocWarmupSteps: ["5", "10", "20"],
        .stageCapacity: ["2", "4", "8"],
        .stageThreads: ["1", "2"],
        .microBatch: ["1", "2", "4"],
    ]

    /// Runtime knobs left out of the automatic space: `numa` does nothing on a one-node machine and
    /// needs libnuma; `malloc_mmap_threshold` and the cost-model/allocator windows are fine-tuning
    /// a spec can name explicitly.
    public static let notSearchedByDefault: Set<Knob> = [.numa, .mallocMmapThreshold, .costmodelStart, .costmodelStop, .allocWarmupStart]

    /// The default values of `knob` to search, or nil when it has no default list.
    public static func values(_ knob: Knob) -> [String]? {
        switch knob.spec.domain {
        case .choice(let words): return words
        case .onOff: return ["off", "on"]
        case .integer: return integerValues[knob]
        }
    }
}

/// Number formatting shared by the tuner's summary and files.
public enum TuneFormat {
    /// Up to 4 significant digits without trailing zeros.
    public static func number(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "n/a" : (x > 0 ? "inf" : "-inf") }
        var s = String(format: "%.4g", x)
        if s.contains(".") && !s.contains("e") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    /// `+12.3%` for a ratio of 1.123.
    public static func percent(_ ratio: Double) -> String {
        guard ratio.isFinite else { return "n/a" }
        return String(format: "%+.1f%%", (ratio - 1) * 100)
    }
}
