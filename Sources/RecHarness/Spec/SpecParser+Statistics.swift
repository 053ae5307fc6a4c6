import Foundation
import RecContract
import Yams

extension SpecParser {
    /// `metrics:` names, `thresholds:` (metric → `3%`, `0.03`, `abs:0.001`) and `repeat_seed: fixed|vary`.
    ///
    /// Every metric named in `metrics:` or `thresholds:` must be in the metric catalog (the error lists the
    /// closest names), except: the metrics an external command's `result: {regex: …}` declares, and any
    /// name for an external command whose result is JSON (its keys are only known once it runs).
    static func parseStatistics(_ nodes: [String: Node], into spec: inout ExperimentSpec, _ r: SpecReader) throws {
        var declared: Set<String>? = []
        if case .command(let c) = spec.engine {
            switch c.result {
            case .regex(let patterns): declared = Set(patterns.keys)
            case .linesFile(_, let metrics): declared = Set(metrics)
            default: declared = nil
            }
        }
        func check(_ name: String, _ node: Node, _ keyPath: String) throws {
            guard let known = declared, MetricCatalog.spec(name) == nil, !known.contains(name) else { return }
            let near = MetricCatalog.suggestions(for: name, among: MetricCatalog.all.map(\.name) + known.sorted())
            throw r.error(node, keyPath, "unknown metric" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: " or "))?"),
                          value: name)
        }
        if let n = nodes["metrics"] {
            let items = try r.sequence(n, "metrics")
            for (i, item) in items.enumerated() { try check(try r.scalar(item, "metrics[\(i)]"), item, "metrics[\(i)]") }
        }
        if let n = nodes["thresholds"] {
            for e in try r.stringMap(n, "thresholds") {
                try check(e.key, e.node, "thresholds.\(e.key)")
                guard let t = ChangeThreshold(parsing: e.value) else {
                    throw r.error(e.node, "thresholds.\(e.key)", "not a threshold", value: e.value,
                                  allowed: ["3% (relative)", "0.03 (relative)", "abs:0.001 (absolute)"])
                }
                spec.thresholds[e.key] = t
            }
        }
        if let n = nodes["repeat_seed"] {
            let v = try r.scalar(n, "repeat_seed")
            guard let mode = RepeatSeed(rawValue: v) else {
                throw r.error(n, "repeat_seed", "unknown repeat seed mode", value: v, allowed: ["fixed", "vary"])
            }
            spec.repeatSeed = mode
        }
    }
}
