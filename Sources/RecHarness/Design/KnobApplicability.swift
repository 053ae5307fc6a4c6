import RecContract

/// Keeps designs from varying a knob where it has no effect (the registry's `appliesWhen`):
/// `alloc_warmup_steps` under `allocator: system`, `costmodel_*` under another executor,
/// `stage_*` with the stage off, `inter_threads` with the inline executor.
///
/// Two configurations that differ only in knobs that apply in neither are the same run. One-factor
/// designs (ablation, leave-one-out) expand such a factor jointly with its prerequisite (the
/// ablation run for `alloc_warmup_steps: 50` also sets `allocator: adaptive`); designs that cross
/// factors (full, fractional, random) refuse with the fix. Only `engine: rectune` specs are checked:
/// external commands' knobs are not in the registry.
enum KnobApplicability {
    /// `configs` with jointly expanded one-factor runs, or a `DesignError` naming the knob, its
    /// condition, the colliding runs and how to fix the spec.
    static func apply(_ configs: [RunConfig], spec: ExperimentSpec, base: RunConfig) throws -> [RunConfig] {
        guard case .rectune = spec.engine else { return configs }
        let oneFactor: Bool
        switch spec.design {
        case .ablation, .leaveOneOut: oneFactor = true
        case .full, .fractional, .random: oneFactor = false
        }
        var seen: [[String: String]: RunConfig] = [:]
        var result: [RunConfig] = []
        for config in configs {
            var c = config
            if let earlier = seen[effectiveKey(c, spec: spec)] {
                let inert = inapplicable(in: c, spec: spec).filter { c[$0.name] != earlier[$0.name] }
                guard let knob = inert.first, let condition = knob.spec.appliesWhen else { continue }  // a plain duplicate
                if oneFactor, let (prerequisite, value) = condition.prerequisite, c[prerequisite.name] != value {
                    c = c.setting(prerequisite.name, to: value)
                    if seen[effectiveKey(c, spec: spec)] != nil { continue }
                } else {
                    throw DesignError(message: """
                        factors: '\(knob.name)' varies where it has no effect: it applies only when \(condition.description), \
                        so '\(earlier.label(relativeTo: base))' and '\(c.label(relativeTo: base))' would be the same run. \
                        Fix: set \(condition.prerequisite.map { "\($0.0.name): \($0.1)" } ?? "the prerequisite") in `fixed:` \
                        or `baseline:` so it applies in every run, use `design: ablation` (which sets it jointly), \
                        or drop the factor '\(knob.name)'
                        """)
                }
            }
            seen[effectiveKey(c, spec: spec)] = c
            result.append(c)
        }
        return result
    }

    /// The registry knobs set in `config` (or `fixed`) that have no effect in it.
    static func inapplicable(in config: RunConfig, spec: ExperimentSpec) -> [Knob] {
        let value = effectiveValue(config, spec: spec)
        return Knob.allCases.filter { (config[$0.name] ?? spec.fixed[$0.name]) != nil && !$0.spec.applies(model: spec.model, value: value) }
    }

    /// The config as the engine will run it: knobs without effect left out, values canonical.
    static func effectiveKey(_ config: RunConfig, spec: ExperimentSpec) -> [String: String] {
        let inert = Set(inapplicable(in: config, spec: spec).map(\.name))
        var key: [String: String] = [:]
        for (name, raw) in config.values where !inert.contains(name) {
            key[name] = Knob(name: name).flatMap { try? $0.spec.canonical(raw) } ?? raw
        }
        return key
    }

    private static func effectiveValue(_ config: RunConfig, spec: ExperimentSpec) -> (Knob) -> String {
        { knob in
            let raw = config[knob.name] ?? spec.fixed[knob.name] ?? knob.spec.defaultValue
            return (try? knob.spec.canonical(raw)) ?? raw
        }
    }
}
