import Foundation
import RecStats
import Synchronization

/// Effects of the factors on each metric.
///
/// - `full` and `fractional` designs: main effects and two-factor interactions from
///   `FactorialEffects`, with each factor's baseline level as the reference level (so an effect reads
///   "changing the factor from its baseline value to this level changes the metric by …").
/// - other designs (ablation, leave-one-out, random): per non-baseline config, the change of the median
///   from the baseline (candidate − baseline, with the percentile-bootstrap CI of that difference from
///   the same paired resamples as the ratio), attributed to the knobs that differ from the baseline.
struct EffectsBuilder {
    var rule: ComparisonRule

    /// - Parameter samples: config hash → metric → the report's prepared sample; when given, factorial
    ///   CIs reuse its bootstrap draws (one bootstrap per config and metric) instead of drawing again.
    func effects(spec: ExperimentSpec, configs: [ConfigAnalysis], values: [String: [String: [Double]]],
                 metrics: [String], samples: [String: [String: Sample]]? = nil) -> [EffectEstimate] {
        switch spec.design {
        case .full, .fractional:
            return factorial(spec: spec, configs: configs, values: values, metrics: metrics, samples: samples)
        case .ablation, .leaveOneOut, .random:
            return versusBaseline(configs: configs, metrics: metrics)
        }
    }

    /// Factor levels with the baseline level first; factors with fewer than two observed levels are dropped.
    static func levels(spec: ExperimentSpec, configs: [ConfigAnalysis]) -> [(factor: String, levels: [String])] {
        spec.factors.compactMap { f in
            let seen = Set(configs.compactMap { $0.knobs[f.name] })
            var ls = f.levels.filter(seen.contains)
            if let b = spec.baseline[f.name], let i = ls.firstIndex(of: b) { ls.remove(at: i); ls.insert(b, at: 0) }
            return ls.count >= 2 ? (f.name, ls) : nil
        }
    }

    func factorial(spec: ExperimentSpec, configs: [ConfigAnalysis], values: [String: [String: [Double]]],
                   metrics: [String], samples: [String: [String: Sample]]? = nil) -> [EffectEstimate] {
        let levels = Self.levels(spec: spec, configs: configs)
        guard !levels.isEmpty else { return [] }
        let levelMap = Dictionary(uniqueKeysWithValues: levels.map { ($0.factor, $0.levels) })
        let perMetric = Mutex([[EffectEstimate]](repeating: [], count: metrics.count))
        DispatchQueue.concurrentPerform(iterations: metrics.count) { k in
            let m = metrics[k]
            var out: [EffectEstimate] = []
            defer { perMetric.withLock { $0[k] = out } }
            let obs: [(config: [String: String], value: Double)] = configs.flatMap { c in
                (values[c.configHash]?[m] ?? []).map { (c.knobs, $0) }
            }
            guard !obs.isEmpty else { return }
            let main: [Effect], inter: [Effect]
            if let samples {
                let cells = configs.compactMap { c -> FactorialEffects.Cell? in
                    guard let s = samples[c.configHash]?[m] else { return nil }
                    return FactorialEffects.Cell(config: c.knobs, values: s.values, meanDraws: s.draws.means)
                }
                (main, inter) = FactorialEffects.effects(cells: cells, levels: levels, level: rule.level)
            } else {
                main = FactorialEffects.mainEffects(obs, levels: levels, level: rule.level, seed: rule.seed, resamples: rule.resamples)
                inter = FactorialEffects.interactions(obs, levels: levels, level: rule.level, seed: rule.seed, resamples: rule.resamples)
            }
            for e in main + inter where e.estimate.isFinite {
                let first = levelMap[e.factor] ?? []
                let level = e.level ?? (first.count == 2 ? "\(first[0])→\(first[1])" : "")
                var secondLevel: String?
                if let s = e.secondFactor, let sl = levelMap[s], sl.count == 2 { secondLevel = "\(sl[0])→\(sl[1])" }
                out.append(EffectEstimate(
                    metric: m, factor: e.factor, level: level, secondFactor: e.secondFactor, secondLevel: secondLevel,
                    estimate: Interval(value: e.estimate, low: e.ci?.lower ?? e.estimate, high: e.ci?.upper ?? e.estimate),
                    relative: e.relative))
            }
        }
        return perMetric.withLock { $0 }.flatMap { $0 }
    }

    func versusBaseline(configs: [ConfigAnalysis], metrics: [String]) -> [EffectEstimate] {
        guard let base = configs.first(where: \.isBaseline) else { return [] }
        var out: [EffectEstimate] = []
        for m in metrics {
            for c in configs where !c.isBaseline {
                guard let cmp = c.comparison(m), let d = cmp.difference else { continue }
                let diff = c.knobs.keys.filter { c.knobs[$0] != base.knobs[$0] }.sorted()
                guard !diff.isEmpty else { continue }
                // The difference of medians and its CI come straight from the comparison's paired bootstrap
                // resamples (baseline uncertainty included); a deterministic metric has no interval.
                let relative = cmp.ratio.flatMap { $0.value.isFinite ? $0.value - 1 : nil }
                out.append(EffectEstimate(
                    metric: m, factor: diff.joined(separator: " + "),
                    level: diff.map { "\(base.knobs[$0] ?? "–")→\(c.knobs[$0] ?? "–")" }.joined(separator: ", "),
                    estimate: d, relative: relative))
            }
        }
        return out
    }
}
