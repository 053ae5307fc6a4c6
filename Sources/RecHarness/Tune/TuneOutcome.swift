import Foundation
import RecStats

/// The effect of one knob level against the knob's baseline level, from the screening stage.
public struct KnobEffect: Sendable, Codable, Equatable {
    public var knob: String
    public var level: String
    public var baselineLevel: String
    /// Objective at this level / objective at the baseline level (geometric, from log values).
    public var ratio: Double
    public var ratioCI: ConfidenceInterval?
    /// Constraint metric at this level − at the baseline level (nil without a constraint).
    public var constraintShift: Double?
    public var constraintCI: ConfidenceInterval?
    /// Screening configurations that had this level.
    public var configs: Int
    /// The registry condition under which the knob applies (its effect is estimated there only).
    public var condition: String?
}

/// One stage of a tune: what ran, what was dropped and why, what went on.
public struct TuneStage: Sendable, Codable, Equatable {
    public var name: String
    public var scale: Double
    public var configs: Int
    /// Trials run or reused in the stage.
    public var trials: Int
    public var dropped: [Dropped]
    public var survivors: [String]

    public struct Dropped: Sendable, Codable, Equatable {
        public var config: String
        public var reason: String
    }

    init(name: String, scale: Double, configs: Int, trials: Int, dropped: [(String, String)], survivors: [String]) {
        self.name = name; self.scale = scale; self.configs = configs; self.trials = trials
        self.dropped = dropped.map { Dropped(config: $0.0, reason: $0.1) }; self.survivors = survivors
    }
}

/// A configuration confirmed at full scale against the baseline.
public struct FinalistReport: Sendable, Codable, Equatable {
    public var config: TuneConfigValues
    public var label: String
    public var objective: [Double]
    public var constraint: [Double]
    /// Baseline / finalist for a lower-is-better objective (finalist / baseline otherwise): >1 is better.
    public var speedup: Double? = nil
    public var speedupCI: ConfidenceInterval? = nil
    /// One-sided Mann–Whitney p-value of "the finalist is better than the baseline".
    public var pValue: Double? = nil
    /// One-sided 95% confidence bound of the constraint metric's mean (lower for `>=`).
    public var constraintBound: Double? = nil
    public var feasible = false
    public var verdict = ""

    init(config: TuneConfig, label: String, objective: [Double], constraint: [Double]) {
        self.config = TuneConfigValues(config.values); self.label = label; self.objective = objective; self.constraint = constraint
    }
}

/// A configuration's knob values (Codable form of `TuneConfig`).
public struct TuneConfigValues: Sendable, Codable, Equatable {
    public var values: [String: String]
    public init(_ values: [String: String]) { self.values = values }
    public var config: TuneConfig { TuneConfig(values) }
}

/// What a tune found: the chosen configuration (the baseline when nothing beat it), its speedup
/// with a CI, the finalists, the screening effects, the stages and the budget spent.
public struct TuneOutcome: Sendable {
    public var space: SearchSpace
    public var settings: TuneSettings
    public var baseline: TuneConfig
    public var chosen: TuneConfig
    /// Speedup of the chosen configuration (nil when it is the baseline).
    public var speedup: Double? = nil
    public var speedupCI: ConfidenceInterval? = nil
    /// Why the baseline was kept; nil when a finalist was chosen.
    public var fallbackReason: String? = nil
    public var finalists: [FinalistReport] = []
    public var effects: [KnobEffect] = []
    public var stages: [TuneStage] = []
    public var baselineObjective: [Double] = []
    public var baselineConstraint: [Double] = []
    public var spentSeconds = 0.0
    public var budgetSeconds: Double? = nil
    public var executedTrials = 0
    public var reusedTrials = 0
    public var interrupted = false
    /// A note on how the budget shaped the tune.
    public var note: String? = nil

    init(space: SearchSpace, settings: TuneSettings, baseline: TuneConfig, chosen: TuneConfig) {
        self.space = space; self.settings = settings; self.baseline = baseline; self.chosen = chosen
    }

    public var improved: Bool { chosen != baseline }

    /// The knobs of the chosen configuration that differ from the baseline, with their screening effects.
    public var contributions: [(knob: String, value: String, effect: KnobEffect?)] {
        chosen.values.keys.sorted().compactMap { k in
            let v = chosen[k]!
            guard v != baseline[k] else { return nil }
            return (k, v, effects.first { $0.knob == k && $0.level == v })
        }
    }

    // MARK: Text

    /// The human summary: result, speedup with CI, finalists, knob contributions, effects, stages, budget.
    public func render() -> String {
        var lines: [String] = []
        let objective = settings.objective + (settings.minimize ? " (lower is better)" : " (higher is better)")
        lines.append("tune: \(space.dimensions.count) knobs, \(space.size) combinations; objective \(objective)"
                     + (settings.constraint.map { "; constraint \($0)" } ?? ""))
        if interrupted { lines.append("INTERRUPTED: re-run with --resume to continue; finished trials are kept") }
        if improved, let s = speedup {
            lines.append("result: \(chosen.label(relativeTo: baseline))")
            lines.append("  speedup \(TuneFormat.number(s))× vs baseline" + (speedupCI.map { " (95% CI \(TuneFormat.number($0.lower))–\(TuneFormat.number($0.upper)))" } ?? ""))
        } else {
            lines.append("result: baseline kept — \(fallbackReason ?? "no better configuration")")
        }
        if !baselineObjective.isEmpty {
            lines.append("  baseline \(settings.objective) median \(TuneFormat.number(Descriptive.median(baselineObjective))) (n=\(baselineObjective.count))"
                         + (baselineConstraint.isEmpty ? "" : ", \(settings.constraint?.metric ?? "") mean \(TuneFormat.number(Descriptive.mean(baselineConstraint)))"))
        }
        if !finalists.isEmpty {
            lines.append("finalists at full scale:")
            for f in finalists {
                var t = "  [\(f.label)] "
                if !f.objective.isEmpty { t += "\(settings.objective) median \(TuneFormat.number(Descriptive.median(f.objective))) (n=\(f.objective.count))" }
                if let s = f.speedup { t += ", \(TuneFormat.number(s))×" + (f.speedupCI.map { " [\(TuneFormat.number($0.lower))–\(TuneFormat.number($0.upper))]" } ?? "") }
                if let p = f.pValue { t += ", p=\(TuneFormat.number(p))" }
                if let c = settings.constraint, !f.constraint.isEmpty {
                    t += ", \(c.metric) mean \(TuneFormat.number(Descriptive.mean(f.constraint)))"
                    if let b = f.constraintBound { t += " (\(c.atLeast ? "lower" : "upper") 95% bound \(TuneFormat.number(b)) vs \(TuneFormat.number(c.required)))" }
                }
                lines.append(t + ": \(f.verdict)")
            }
        }
        if improved {
            lines.append("what each winning knob contributed (screening main effect, ratio of \(settings.objective) vs the baseline level):")
            for c in contributions {
                let e = c.effect.map { e in
                    "\(TuneFormat.percent(e.ratio))" + (e.ratioCI.map { " [\(TuneFormat.percent($0.lower)), \(TuneFormat.percent($0.upper))]" } ?? "")
                        + (e.constraintShift.map { ", \(settings.constraint?.metric ?? "") \(String(format: "%+.4f", $0))" } ?? "")
                } ?? (space.dimension(c.knob)?.baseline == c.value
                      ? "the knob's baseline value, set because \(space.dimension(c.knob)?.condition?.description ?? "it applies") here"
                      : "not estimated in screening (came with the combination)")
                lines.append("  \(c.knob)=\(c.value) (baseline \(baseline[c.knob] ?? "not set: does not apply")): \(e)")
            }
        }
        if !effects.isEmpty {
            lines.append("main effects (screening at scale \(TuneFormat.number(settings.scales[0])); objective ratio vs the knob's baseline level, 95% CI):")
            for e in effects {
                var t = "  \(e.knob)=\(e.level) vs \(e.baselineLevel): \(TuneFormat.percent(e.ratio))"
                if let ci = e.ratioCI { t += " [\(TuneFormat.percent(ci.lower)), \(TuneFormat.percent(ci.upper))]" }
                if let s = e.constraintShift {
                    t += "; \(settings.constraint?.metric ?? "") \(String(format: "%+.4f", s))"
                    if let ci = e.constraintCI { t += String(format: " [%+.4f, %+.4f]", ci.lower, ci.upper) }
                }
                t += "  (\(e.configs) configs\(e.condition.map { ", only when \($0)" } ?? ""))"
                lines.append(t)
            }
        }
        lines.append("stages:")
        for s in stages {
            lines.append("  \(s.name) at scale \(TuneFormat.number(s.scale)): \(s.configs) configs, \(s.trials) trials"
                         + (s.survivors.isEmpty ? "" : "; kept \(s.survivors.count)") + (s.dropped.isEmpty ? "" : ", dropped \(s.dropped.count)"))
            for d in s.dropped.prefix(12) { lines.append("    - [\(d.config)] \(d.reason)") }
            if s.dropped.count > 12 { lines.append("    … \(s.dropped.count - 12) more") }
        }
        lines.append("trials: \(executedTrials) run, \(reusedTrials) reused from the store; trial time \(TuneFormat.number(spentSeconds / 60)) min"
                     + (budgetSeconds.map { " of a \(TuneFormat.number($0 / 60)) min budget" } ?? ""))
        if let note { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    // MARK: Files

    /// The contest submission YAML (README, "Submissions"): the chosen knob values of
    /// `model` (every searched knob that applies; nothing when the baseline was kept).
    public func submissionYAML(name: String, model: String, source: String) -> String {
        var lines = ["# rectune contest submission, written by `rectune tune \(source)`"]
        lines.append("name: \(Self.quoted(name))")
        var description = "rectune tune: \(settings.objective)"
        if let s = speedup, improved {
            description += " \(TuneFormat.number(s))x vs baseline"
            if let ci = speedupCI { description += " (95% CI \(TuneFormat.number(ci.lower))-\(TuneFormat.number(ci.upper)))" }
        } else {
            description += ": baseline kept (\(fallbackReason ?? "no better configuration"))"
        }
        if let c = settings.constraint { description += "; \(c)" }
        lines.append("description: \(Self.quoted(description))")
        lines.append("models:")
        let settingsText = chosen.values.keys.sorted().map { "\($0): \(Self.quoted(chosen[$0]!))" }.joined(separator: ", ")
        lines.append("  \(model): {\(improved ? settingsText : "")}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A submission of several models' settings (e.g. one tune per contest model), in the format of
    /// the README's "Submissions"; `models` maps a model key to its knob values.
    public static func submissionYAML(name: String, description: String, models: [(model: String, settings: [String: String])]) -> String {
        var lines = ["# rectune contest submission", "name: \(quoted(name))", "description: \(quoted(description))", "models:"]
        for m in models {
            lines.append("  \(m.model): {" + m.settings.keys.sorted().map { "\($0): \(quoted(m.settings[$0]!))" }.joined(separator: ", ") + "}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The outcome as JSON (`--json`): chosen settings, speedup and CI, finalists, effects, stages, budget.
    public func json() -> String {
        struct Out: Encodable {
            var objective: String; var minimize: Bool; var constraint: String?
            var baseline: [String: String]; var chosen: [String: String]; var improved: Bool
            var speedup: Double?; var speedup_ci: [Double]?; var fallback_reason: String?
            var finalists: [FinalistReport]; var effects: [KnobEffect]; var stages: [TuneStage]
            var spent_seconds: Double; var budget_seconds: Double?; var executed_trials: Int; var reused_trials: Int
            var interrupted: Bool; var note: String?
        }
        let out = Out(objective: settings.objective, minimize: settings.minimize, constraint: settings.constraint?.description,
                      baseline: baseline.values, chosen: chosen.values, improved: improved, speedup: speedup,
                      speedup_ci: speedupCI.map { [$0.lower, $0.upper] }, fallback_reason: fallbackReason,
                      finalists: finalists, effects: effects, stages: stages, spent_seconds: spentSeconds, budget_seconds: budgetSeconds,
                      executed_trials: executedTrials, reused_trials: reusedTrials, interrupted: interrupted, note: note)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? encoder.encode(out)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
