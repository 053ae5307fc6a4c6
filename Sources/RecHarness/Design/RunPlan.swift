import Foundation

/// One run to execute: a configuration, its repeat index, and its key in the store.
public struct PlannedRun: Sendable, Equatable {
    /// 1-based position in the plan.
    public var number: Int
    public var config: RunConfig
    /// 0-based repeat of this configuration.
    public var repeatIndex: Int
    /// SHA-256 of the effective config: the knobs plus everything else that shapes the run
    /// (engine, model, data, batch, steps, warm-up, fixed settings).
    public var configHash: String
    /// The store key of this run.
    public var key: RunKey { RunKey(configHash: configHash, repeatIndex: repeatIndex) }
}

/// A spec expanded into ordered runs: configurations × repeats in the spec's `order`.
public struct RunPlan: Sendable {
    public var configs: [RunConfig]
    public var baseline: RunConfig
    public var runs: [PlannedRun]

    /// Expands `spec`; throws `DesignError` when the design cannot be built.
    public init(spec: ExperimentSpec) throws {
        let maxRuns = SpecParser.limits.maxRuns
        if case .full = spec.design {
            // Count before expanding: a full design's size is the product of the level counts.
            let count = spec.factors.reduce(1) { n, f in n.multipliedReportingOverflow(by: f.levels.count).overflow ? Int.max : n * f.levels.count }
            if count > maxRuns || count.multipliedReportingOverflow(by: spec.repeats).overflow || count * spec.repeats > maxRuns {
                throw DesignError(message: "the full design has \(count == Int.max ? "too many" : String(count)) configurations × \(spec.repeats) repeats, "
                                  + "more than the \(maxRuns) runs a spec may plan; use design: ablation, fractional or random(N)")
            }
        }
        configs = try DesignExpander.configurations(of: spec)
        guard configs.count * spec.repeats <= maxRuns else {
            throw DesignError(message: "\(configs.count) configurations × \(spec.repeats) repeats = \(configs.count * spec.repeats) runs, "
                              + "more than the \(maxRuns) runs a spec may plan")
        }
        baseline = DesignExpander.baseline(of: spec)
        let hashes = configs.map { Self.configHash($0, spec: spec) }
        var pairs: [(Int, Int)] = []          // (config index, repeat)
        switch spec.order {
        case .sequential:
            for c in configs.indices { for r in 0..<spec.repeats { pairs.append((c, r)) } }
        case .interleaved(let seed):
            var rng = SeededGenerator(seed: seed)
            for r in 0..<spec.repeats {
                // Every round runs each config once; the order within a round is shuffled (after
                // the first) so a drift in machine state does not always favour the same config.
                let round = r == 0 ? Array(configs.indices) : Array(configs.indices).shuffled(using: &rng)
                for c in round { pairs.append((c, r)) }
            }
        case .random(let seed):
            var rng = SeededGenerator(seed: seed)
            for c in configs.indices { for r in 0..<spec.repeats { pairs.append((c, r)) } }
            pairs.shuffle(using: &rng)
        }
        let configs = self.configs
        runs = pairs.enumerated().map { i, p in
            PlannedRun(number: i + 1, config: configs[p.0], repeatIndex: p.1, configHash: hashes[p.0])
        }
    }

    /// The effective config of a run as a flat map (what `configHash` hashes).
    public static func effectiveConfig(_ config: RunConfig, spec: ExperimentSpec) -> [String: String] {
        var e = config.values
        for (k, v) in spec.fixed { e["fixed." + k] = v }
        e["@model"] = spec.model
        e["@batch"] = String(spec.batch)
        e["@steps"] = String(spec.steps)
        e["@warmup_steps"] = String(spec.warmupSteps)
        switch spec.data {
        case .synthetic(let rows, let seed): e["@data"] = "synthetic:\(rows):\(seed)"
        case .file(let path): e["@data"] = "file:\(path)"
        }
        switch spec.engine {
        case .rectune: e["@engine"] = "rectune"
        case .command(let c): e["@engine"] = CanonicalJSON.string(c)
        }
        // With `repeat_seed: vary` the seed of repeat r is base + r: a function of (config, repeat), which is
        // the run key, so only the mode enters the hash (repeats of a config still share it, and a vary
        // sweep never reuses fixed-seed runs).
        if spec.repeatSeed == .vary { e["@repeat_seed"] = "vary" }
        return e
    }

    /// The spec's fixed settings for repeat `repeatIndex`: `spec.fixed`, with `seed` = base + repeat when
    /// `repeat_seed: vary` (base = the spec's `fixed.seed`, else the seed knob's default 1).
    public static func settings(spec: ExperimentSpec, repeatIndex: Int) -> [String: String] {
        guard spec.repeatSeed == .vary else { return spec.fixed }
        var out = spec.fixed
        out["seed"] = String(baseSeed(spec) &+ UInt64(max(repeatIndex, 0)))
        return out
    }

    /// The base training seed of `spec` (`fixed.seed`, else 1).
    public static func baseSeed(_ spec: ExperimentSpec) -> UInt64 { spec.fixed["seed"].flatMap { UInt64($0) } ?? 1 }

    /// SHA-256 (hex) of the canonical JSON of the effective config.
    public static func configHash(_ config: RunConfig, spec: ExperimentSpec) -> String {
        SHA256Digest.hex(CanonicalJSON.string(effectiveConfig(config, spec: spec)))
    }

    /// The plan as text: numbered runs with config and repeat, then counts (what `rectune plan` prints).
    public func render(spec: ExperimentSpec) -> String {
        var lines: [String] = []
        let width = String(runs.count).count
        for r in runs {
            let n = String(r.number).leftPadded(to: width)
            lines.append("\(n). [\(r.config.label(relativeTo: baseline))] repeat \(r.repeatIndex + 1)/\(spec.repeats)  {\(r.config)}")
        }
        lines.append("")
        lines.append("\(configs.count) configurations × \(spec.repeats) repeats = \(runs.count) runs (design \(spec.design.name), order \(spec.order.name))")
        return lines.joined(separator: "\n")
    }
}

extension DesignKind {
    /// The design as written in a spec, e.g. `fractional(4)`, `random(8)`.
    public var name: String {
        switch self {
        case .full: "full"
        case .ablation: "ablation"
        case .leaveOneOut: "leave-one-out"
        case .fractional(let r): "fractional(\(r))"
        case .random(let n, _): "random(\(n))"
        }
    }
}

extension RunOrder {
    /// The order as written in a spec.
    public var name: String {
        switch self {
        case .interleaved: "interleaved"
        case .random: "random"
        case .sequential: "sequential"
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
