import Foundation
import RecContract
import RecEngine
import Yams

extension SpecParser {
    /// Keys of the `tune:` section.
    public static let tuneKeys = ["knobs", "exclude", "objective", "goal", "constraint", "margin", "budget_minutes", "scales",
                                  "screen_configs", "screen_repeats", "race_repeats", "confirm_repeats", "confirm_candidates",
                                  "eta", "alpha", "seed", "prune_factor"]

    /// Parses the `tune:` section (after the model, engine and fixed settings are known). For
    /// `engine: rectune` every knob must be in the registry, every value in its domain, and the knob
    /// must be able to apply to the spec's model (`appliesWhen`); external commands need explicit
    /// value lists. Errors name file, line, column, key path and the value.
    static func parseTune(_ node: Node?, spec: ExperimentSpec, _ r: SpecReader) throws -> TuneSettings? {
        guard let node else { return nil }
        var t = TuneSettings()
        // `tune:` with nothing after it (null) or `tune: {}`: all defaults.
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return t }
        let entries = try r.entries(node, "tune", allowed: tuneKeys)
        let map = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
        let isRectune: Bool = { if case .rectune = spec.engine { return true } else { return false } }()
        let knobNames = Knob.allCases.map(\.name)

        if let n = map["knobs"] {
            var choices: [TuneKnobChoice] = []
            // `knobs: [executor, bf16]` or `knobs: {executor: [pool, costmodel], bf16: }`.
            if case .sequence = n {
                for (i, item) in try r.sequence(n, "tune.knobs").enumerated() {
                    choices.append(TuneKnobChoice(name: try r.scalar(item, "tune.knobs[\(i)]")))
                }
            } else {
                for e in try r.entries(n, "tune.knobs") {
                    let kp = "tune.knobs.\(e.key)"
                    var values: [String]? = nil
                    if case .scalar(let s) = e.value, s.string.isEmpty || s.string == "~" || s.string == "null" {
                        values = nil
                    } else {
                        values = try r.strings(e.value, kp)
                        if values!.isEmpty { throw r.error(e.value, kp, "needs at least one value") }
                    }
                    choices.append(TuneKnobChoice(name: e.key, values: values))
                }
            }
            if choices.isEmpty { throw r.error(n, "tune.knobs", "lists no knob; leave `knobs` out to search every knob that applies") }
            let nodesByName: [String: (key: Node?, value: Node?)] = {
                var out: [String: (Node?, Node?)] = [:]
                if case .sequence(let seq) = n { for item in seq { out[item.scalar?.string ?? ""] = (item, nil) } }
                else if let es = try? r.entries(n, "tune.knobs") { for e in es { out[e.key] = (e.keyNode, e.value) } }
                return out
            }()
            var seen = Set<String>()
            for (i, c) in choices.enumerated() {
                let keyNode = nodesByName[c.name]?.key ?? n
                let kp = "tune.knobs.\(c.name)"
                guard seen.insert(c.name).inserted else { throw r.error(keyNode, kp, "knob listed twice", value: c.name) }
                guard isRectune else {
                    if c.values == nil {
                        throw r.error(keyNode, kp, "an external command's knob needs its values, e.g. `\(c.name): [a, b]`")
                    }
                    continue
                }
                guard let knob = Knob(name: c.name) else {
                    throw r.error(keyNode, kp, "unknown knob", value: c.name, allowed: knobNames)
                }
                if let values = c.values {
                    var canonical: [String] = []
                    let items: [Node] = { if case .sequence(let s)? = nodesByName[c.name]?.value { return Array(s) } else { return [] } }()
                    for (j, v) in values.enumerated() {
                        let valueNode = j < items.count ? items[j] : keyNode
                        do { canonical.append(try knob.spec.canonical(v)) } catch {
                            throw r.error(valueNode, "\(kp)[\(j)]", "not an allowed value", value: v,
                                          allowed: knob.spec.domain.words.isEmpty ? [knob.spec.domain.description] : knob.spec.domain.words)
                        }
                    }
                    if let dup = Dictionary(grouping: canonical, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                        throw r.error(keyNode, kp, "value listed twice", value: dup)
                    }
                    choices[i].values = canonical
                } else if TuneDefaults.values(knob) == nil {
                    throw r.error(keyNode, kp, "has no default value list; give the values to try, e.g. `\(c.name): [\(knob.spec.defaultValue), …]`")
                }
                if knob == .seed || knob == .dataset {
                    throw r.error(keyNode, kp, "is a data setting, not a knob to tune", value: c.name)
                }
            }
            t.knobs = choices
        }
        if let n = map["exclude"] {
            t.exclude = try r.strings(n, "tune.exclude", allowSingle: true)
            if isRectune {
                for (i, name) in t.exclude.enumerated() where Knob(name: name) == nil {
                    throw r.error(n, "tune.exclude[\(i)]", "unknown knob", value: name, allowed: knobNames)
                }
            }
        }
        if let n = map["objective"] { t.objective = try r.scalar(n, "tune.objective") }
        let polarity = MetricCatalog.specOrGuess(t.objective).polarity
        if let n = map["goal"] {
            switch try r.scalar(n, "tune.goal") {
            case "minimize", "min": t.minimize = true
            case "maximize", "max": t.minimize = false
            case let other: throw r.error(n, "tune.goal", "unknown goal", value: other, allowed: ["minimize", "maximize"])
            }
        } else {
            guard polarity != .neutral else {
                throw r.error(map["objective"] ?? node, "tune.objective",
                              "has no known direction; add `goal: minimize` or `goal: maximize` for", value: t.objective)
            }
            t.minimize = polarity == .lowerIsBetter
        }
        if isRectune, map["objective"] != nil, MetricCatalog.spec(t.objective) == nil {
            let near = MetricCatalog.suggestions(for: t.objective)
            throw r.error(map["objective"], "tune.objective", "unknown metric" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: " or "))?"),
                          value: t.objective)
        }
        var margin = 0.0
        if let n = map["margin"] {
            let text = try r.scalar(n, "tune.margin")
            guard let v = Double(text), v.isFinite, v >= 0 else { throw r.error(n, "tune.margin", "must be a number ≥ 0, got", value: text) }
            margin = v
        }
        if let n = map["constraint"] {
            let text = try r.scalar(n, "tune.constraint")
            guard let c = TuneConstraint(parsing: text, margin: margin) else {
                throw r.error(n, "tune.constraint", "expected `metric >= number` or `metric <= number`, e.g. \"auc >= 0.70\", got", value: text)
            }
            if isRectune, MetricCatalog.spec(c.metric) == nil {
                let near = MetricCatalog.suggestions(for: c.metric)
                throw r.error(n, "tune.constraint", "unknown metric" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: " or "))?"),
                              value: c.metric)
            }
            t.constraint = c
        } else if map["margin"] != nil {
            throw r.error(map["margin"], "tune.margin", "a margin needs a `constraint:` to apply to")
        }
        if let n = map["budget_minutes"] { t.budgetMinutes = try r.double(n, "tune.budget_minutes", minExclusive: 0) }
        if let n = map["scales"] {
            let items = try r.sequence(n, "tune.scales")
            var scales: [Double] = []
            for (i, item) in items.enumerated() {
                let v = try r.double(item, "tune.scales[\(i)]", minExclusive: 0)
                guard v <= 1 else { throw r.error(item, "tune.scales[\(i)]", "must be at most 1 (full scale), got", value: TuneFormat.number(v)) }
                if let last = scales.last, v <= last {
                    throw r.error(item, "tune.scales[\(i)]", "scales must increase; \(TuneFormat.number(v)) is not above", value: TuneFormat.number(last))
                }
                scales.append(v)
            }
            guard scales.count >= 2 else { throw r.error(n, "tune.scales", "needs a screening scale and full scale, e.g. [0.1, 1]") }
            guard scales.last == 1 else { throw r.error(n, "tune.scales", "must end with 1 (the confirmation at full scale)") }
            t.scales = scales
        }
        if let n = map["screen_configs"] { t.screenConfigs = try r.int(n, "tune.screen_configs", min: 2) }
        if let n = map["screen_repeats"] { t.screenRepeats = try r.int(n, "tune.screen_repeats", min: 1) }
        if let n = map["race_repeats"] { t.raceRepeats = try r.int(n, "tune.race_repeats", min: 1) }
        if let n = map["confirm_repeats"] { t.confirmRepeats = try r.int(n, "tune.confirm_repeats", min: Tuner.minimumConfirmRepeats) }
        if let n = map["confirm_candidates"] { t.confirmCandidates = try r.int(n, "tune.confirm_candidates", min: 1) }
        if let n = map["eta"] { t.eta = try r.int(n, "tune.eta", min: 2) }
        if let n = map["alpha"] {
            let v = try r.double(n, "tune.alpha", minExclusive: 0)
            guard v < 0.5 else { throw r.error(n, "tune.alpha", "must be below 0.5, got", value: TuneFormat.number(v)) }
            t.alpha = v
        }
        if let n = map["seed"] { t.seed = UInt64(try r.int(n, "tune.seed", min: 0)) }
        if let n = map["prune_factor"] {
            let v = try r.double(n, "tune.prune_factor", minExclusive: -.infinity)
            guard v == 0 || v >= 1 else { throw r.error(n, "tune.prune_factor", "must be 0 (no pruning) or at least 1, got", value: TuneFormat.number(v)) }
            t.pruneFactor = v
        }
        if isRectune {
            // Every named knob must be able to apply to this model (registry `appliesWhen`).
            do { _ = try SearchSpace(spec: spec, settings: t) } catch let e as TuneSpaceError {
                let keyNode: Node? = {
                    guard let kn = map["knobs"], let es = try? r.entries(kn, "tune.knobs") else { return map["knobs"] ?? node }
                    return es.first { $0.key == e.knob }?.keyNode ?? kn
                }()
                throw r.error(keyNode, "tune.knobs.\(e.knob)", e.message, value: e.knob)
            }
        }
        return t
    }
}
