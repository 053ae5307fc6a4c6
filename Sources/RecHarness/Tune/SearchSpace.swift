import Foundation
import RecContract

/// One configuration the tuner considers: the searched knobs that apply in it, with canonical
/// values (a knob that has no effect under the others, e.g. `alloc_warmup_steps` with
/// `allocator: system`, is left out, so two configurations differing only there are one).
public struct TuneConfig: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let values: [String: String]
    /// `knob=value` pairs sorted by knob: the identity of the configuration.
    public let key: String

    public init(_ values: [String: String]) {
        self.values = values
        key = values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    public subscript(knob: String) -> String? { values[knob] }
    public var description: String { key.isEmpty ? "(defaults)" : key }
    public static func < (a: TuneConfig, b: TuneConfig) -> Bool { a.key < b.key }
    public static func == (a: TuneConfig, b: TuneConfig) -> Bool { a.key == b.key }
    public func hash(into h: inout Hasher) { h.combine(key) }

    /// The knobs that differ from `base`, as `executor=costmodel bf16=on`, or `baseline`.
    public func label(relativeTo base: TuneConfig) -> String {
        let names = Set(values.keys).union(base.values.keys).sorted()
        let changed = names.filter { values[$0] != base.values[$0] }.compactMap { k in values[k].map { "\(k)=\($0)" } }
        return changed.isEmpty ? "baseline" : changed.joined(separator: " ")
    }
}

/// One searched knob: its values (the baseline's first) and when it applies.
public struct TuneDimension: Sendable, Equatable {
    public var name: String
    /// Values to try, the baseline value first.
    public var values: [String]
    /// The registry's condition (nil: always applies; external commands: nil).
    public var condition: KnobCondition?
    public var baseline: String { values[0] }

    public init(name: String, values: [String], condition: KnobCondition? = nil) {
        self.name = name; self.values = values; self.condition = condition
    }
}

/// A knob named in `tune:` that cannot be searched for this model.
public struct TuneSpaceError: Error, Sendable, CustomStringConvertible {
    public var knob: String
    public var message: String
    public var description: String { "tune.knobs.\(knob): \(message)" }
}

/// The tuner's search space: knob dimensions from the registry (or a spec's `tune.knobs`),
/// restricted to the knobs that can apply to the model, with the registry's dependencies.
public struct SearchSpace: Sendable {
    public var model: String
    public var dimensions: [TuneDimension]
    /// Values of knobs and settings that are not searched (the spec's `fixed` and `baseline`), for
    /// deciding whether a knob applies.
    public var context: [String: String]

    public init(model: String, dimensions: [TuneDimension], context: [String: String] = [:]) {
        self.model = model; self.dimensions = dimensions; self.context = context
    }

    /// The space of `spec` narrowed by `settings`. For `engine: rectune`: the named knobs (or every
    /// runtime knob with a default list, minus `exclude` and `TuneDefaults.notSearchedByDefault`),
    /// each with its values (baseline value first), dropping knobs that can never apply to the model;
    /// a knob the spec names explicitly that can never apply is an error. External commands: the
    /// named knobs with their values, no dependencies.
    public init(spec: ExperimentSpec, settings: TuneSettings) throws {
        model = spec.model
        context = spec.fixed.merging(spec.baseline) { fixed, _ in fixed }
        guard case .rectune = spec.engine else {
            dimensions = settings.knobs.map { c in
                let values = c.values ?? []
                let base = spec.baseline[c.name] ?? spec.fixed[c.name] ?? values[0]
                return TuneDimension(name: c.name, values: [base] + values.filter { $0 != base }, condition: nil)
            }
            for d in dimensions { context.removeValue(forKey: d.name) }
            return
        }
        let explicit = !settings.knobs.isEmpty
        let chosen: [(Knob, [String]?)] = explicit
            ? settings.knobs.compactMap { c in Knob(name: c.name).map { ($0, c.values) } }
            : KnobSpec.runtime.map(\.knob).filter { !TuneDefaults.notSearchedByDefault.contains($0) && TuneDefaults.values($0) != nil }
                .filter { !settings.exclude.contains($0.name) }.map { ($0, nil) }
        var dims: [TuneDimension] = []
        for (knob, given) in chosen {
            let spec = knob.spec
            let base = (try? spec.canonical(context[knob.name] ?? spec.defaultValue)) ?? spec.defaultValue
            var values = given ?? TuneDefaults.values(knob) ?? [base]
            // The baseline's value is always a level (first), so every effect is relative to it.
            values = [base] + values.filter { $0 != base }
            dims.append(TuneDimension(name: knob.name, values: values, condition: spec.appliesWhen))
        }
        for d in dims { context.removeValue(forKey: d.name) }
        var kept: [TuneDimension] = []
        for d in dims {
            if let c = d.condition, !Self.satisfiable(c, model: model, dims: dims, context: context) {
                if explicit { throw TuneSpaceError(knob: d.name, message: "never applies to model \(model) here: it applies only when \(c.description)") }
                continue
            }
            if d.values.count < 2 && !explicit { continue }
            kept.append(d)
        }
        dimensions = kept
    }

    /// Whether some choice of the searched values makes `condition` hold (knobs not searched take
    /// their context or default value).
    static func satisfiable(_ condition: KnobCondition, model: String, dims: [TuneDimension], context: [String: String]) -> Bool {
        func fixedValue(_ k: Knob) -> String {
            let raw = context[k.name] ?? k.spec.defaultValue
            return (try? k.spec.canonical(raw)) ?? raw
        }
        switch condition {
        case .when(let k, let values):
            if let d = dims.first(where: { $0.name == k.name }) { return d.values.contains(where: values.contains) }
            return values.contains(fixedValue(k))
        case .unless(let k, let values):
            if let d = dims.first(where: { $0.name == k.name }) { return d.values.contains { !values.contains($0) } }
            return !values.contains(fixedValue(k))
        case .models(let models): return models.contains(model)
        case .all(let conditions): return conditions.allSatisfy { satisfiable($0, model: model, dims: dims, context: context) }
        }
    }

    public var names: [String] { dimensions.map(\.name) }

    public func dimension(_ name: String) -> TuneDimension? { dimensions.first { $0.name == name } }

    /// The configuration with every knob at its baseline value (inapplicable ones left out).
    public var baseline: TuneConfig { effective([:]) }

    /// `assignment` (knob → value; missing knobs at their baseline) as the engine runs it: knobs
    /// whose registry condition does not hold are left out.
    public func effective(_ assignment: [String: String]) -> TuneConfig {
        var full: [String: String] = [:]
        for d in dimensions { full[d.name] = assignment[d.name] ?? d.baseline }
        // Drop inapplicable knobs until nothing changes (a dropped knob reads as its default).
        var changed = true
        while changed {
            changed = false
            for d in dimensions {
                guard full[d.name] != nil, let c = d.condition else { continue }
                if !c.holds(model: model, value: { k in self.value(k, in: full) }) {
                    full.removeValue(forKey: d.name)
                    changed = true
                }
            }
        }
        return TuneConfig(full)
    }

    /// Whether `knob` applies in `config` (registry condition).
    public func applies(_ name: String, in config: TuneConfig) -> Bool {
        guard let d = dimension(name) else { return false }
        guard let c = d.condition else { return true }
        return c.holds(model: model, value: { k in self.value(k, in: config.values) })
    }

    private func value(_ k: Knob, in assignment: [String: String]) -> String {
        if let v = assignment[k.name] { return v }
        let raw = context[k.name] ?? k.spec.defaultValue
        return (try? k.spec.canonical(raw)) ?? raw
    }

    /// Number of distinct effective configurations (an upper bound when dependencies collapse some).
    public var size: Int { dimensions.reduce(1) { n, d in n.multipliedReportingOverflow(by: d.values.count).overflow ? Int.max : n * d.values.count } }

    /// The largest space the tuner enumerates to pick the screening model's best predictions.
    public static let enumerationLimit = 50_000

    /// Every distinct effective configuration, or nil when the space has more than `limit` assignments.
    public func allConfigs(limit: Int = SearchSpace.enumerationLimit) -> [TuneConfig]? {
        guard size <= limit else { return nil }
        var assignments: [[String: String]] = [[:]]
        for d in dimensions { assignments = assignments.flatMap { a in d.values.map { a.merging([d.name: $0]) { _, n in n } } } }
        var seen = Set<TuneConfig>()
        return assignments.map(effective).filter { seen.insert($0).inserted }
    }

    /// The space as text: one line per knob with its values (baseline first) and its condition.
    public func render() -> String {
        dimensions.map { d in
            "  \(d.name): \(d.values.joined(separator: ", "))" + (d.condition.map { "   (only when \($0.description))" } ?? "")
        }.joined(separator: "\n")
    }
}
