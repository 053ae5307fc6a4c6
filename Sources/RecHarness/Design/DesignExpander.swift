/// Expands a spec's factors and design into configurations (no repeats, no order; see `RunPlan`).
///
/// Every configuration holds the baseline's knobs overridden by the design's factor values, so
/// all configurations have the same keys: the factors in declaration order, then baseline-only
/// knobs sorted by name.
public enum DesignExpander {
    /// The baseline configuration of `spec` (every factor at its baseline level).
    public static func baseline(of spec: ExperimentSpec) -> RunConfig {
        let factorNames = spec.factors.map(\.name)
        let extra = spec.baseline.keys.filter { !factorNames.contains($0) }.sorted()
        var values = spec.baseline
        for f in spec.factors where values[f.name] == nil { values[f.name] = f.levels[0] }
        return RunConfig(keys: factorNames + extra, values: values)
    }

    /// The distinct configurations of the spec's design, in a stable order (baseline first for
    /// ablation and random; all-on first for leave-one-out; standard order for full and fractional).
    /// Throws `DesignError` when a fractional design is impossible (levels ≠ 2, too many factors), or
    /// when a crossed design varies a knob where it has no effect (`KnobApplicability`).
    public static func configurations(of spec: ExperimentSpec) throws -> [RunConfig] {
        let base = baseline(of: spec)
        let factors = spec.factors
        guard !factors.isEmpty else { return [base] }
        var configs: [RunConfig]
        switch spec.design {
        case .full:
            configs = fullFactorial(factors, base: base)
        case .ablation:
            configs = [base]
            for f in factors {
                for level in f.levels where level != base[f.name] { configs.append(base.setting(f.name, to: level)) }
            }
        case .leaveOneOut:
            var allOn = base
            for f in factors { allOn = allOn.setting(f.name, to: f.levels.last!) }
            configs = [allOn]
            for f in factors { configs.append(allOn.setting(f.name, to: base[f.name]!)) }
        case .fractional(let resolution):
            configs = try fractional(factors, base: base, resolution: resolution)
        case .random(let count, let seed):
            configs = random(factors, base: base, count: count, seed: seed)
        }
        return try KnobApplicability.apply(unique(configs), spec: spec, base: base)
    }

    static func fullFactorial(_ factors: [Factor], base: RunConfig) -> [RunConfig] {
        var configs = [base]
        for f in factors {
            configs = configs.flatMap { c in f.levels.map { c.setting(f.name, to: $0) } }
        }
        return configs
    }

    static func fractional(_ factors: [Factor], base: RunConfig, resolution: Int) throws -> [RunConfig] {
        if let f = factors.first(where: { $0.levels.count != 2 }) {
            throw DesignError(message: "fractional design: factor '\(f.name)' has \(f.levels.count) levels, needs exactly 2")
        }
        guard let matrix = FractionalDesign.make(factors: factors.count, resolution: resolution) else {
            throw DesignError(message: "fractional design: \(factors.count) factors is more than the \(FractionalDesign.maxFactors) supported")
        }
        // Low (−1) is the baseline level when the baseline is one of the two levels, else the first level.
        let lowHigh = factors.map { f -> (String, String) in
            let low = f.levels.contains(base[f.name]!) ? base[f.name]! : f.levels[0]
            return (low, f.levels.first { $0 != low }!)
        }
        return matrix.rows.map { row in
            var c = base
            for (j, f) in factors.enumerated() { c = c.setting(f.name, to: row[j] < 0 ? lowHigh[j].0 : lowHigh[j].1) }
            return c
        }
    }

    static func random(_ factors: [Factor], base: RunConfig, count: Int, seed: UInt64) -> [RunConfig] {
        let total = factors.reduce(1) { $0 * $1.levels.count }
        var rng = SeededGenerator(seed: seed)
        var configs = [base]
        var seen: Set<RunConfig> = [base]
        // Draw without replacement from the full space (by index), so the loop always terminates.
        var remaining = Array(0..<total)
        while configs.count < count, !remaining.isEmpty {
            var index = remaining.remove(at: Int(rng.next() % UInt64(remaining.count)))
            var c = base
            for f in factors.reversed() {
                c = c.setting(f.name, to: f.levels[index % f.levels.count])
                index /= f.levels.count
            }
            if seen.insert(c).inserted { configs.append(c) }
        }
        return configs
    }

    private static func unique(_ configs: [RunConfig]) -> [RunConfig] {
        var seen = Set<RunConfig>()
        return configs.filter { seen.insert($0).inserted }
    }
}

/// A design that cannot be built from the given factors.
public struct DesignError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
