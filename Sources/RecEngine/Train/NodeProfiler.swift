import Foundation

/// Per-node timing of a training step: runs steps on the calling thread (inline order) and
/// times every node, so a user sees where a step's time goes.
public enum NodeProfiler {
    /// Mean time per step of a group of nodes.
    public struct Entry: Sendable {
        /// Node name with micro-batch tags and per-column suffixes folded (e.g. `wdl.emb.gather.*`).
        public let group: String
        public let kind: String
        public let nodes: Int
        public let microsPerStep: Double
    }

    /// Profiles `steps` steps (after `warmup` untimed ones) of `config`'s model on `dataset`.
    public static func profile(config: TrainConfig, dataset: CriteoDataset, warmup: Int = 5, steps: Int = 20) throws -> [Entry] {
        var c = config
        c.executor = .inline
        let rig = try StepRig(config: c, workers: 1)
        let (graph, memory) = (rig.graph, rig.memory)
        let source = try InMemoryBatchSource(dataset: dataset, batchSize: c.batch, count: 8)
        var totals = [UInt64](repeating: 0, count: graph.nodeCount)
        for step in 0..<(warmup + steps) {
            let batch = try source.next()
            rig.step(batch, index: step) {
                memory.beginStep()
                for id in graph.topologicalOrder {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    graph.execute(id, worker: 0, memory: memory, step: step)
                    if step >= warmup { totals[id.index] += DispatchTime.now().uptimeNanoseconds - t0 }
                }
            }
            source.recycle(batch)
        }
        var groups: [String: (kind: String, nodes: Int, ns: UInt64)] = [:]
        for node in graph.nodes {
            let key = fold(node.name)
            var g = groups[key] ?? (node.kind.rawValue, 0, 0)
            g.nodes += 1; g.ns += totals[node.id.index]
            groups[key] = g
        }
        return groups.map { Entry(group: $0.key, kind: $0.value.kind, nodes: $0.value.nodes,
                                  microsPerStep: Double($0.value.ns) / Double(steps) / 1e3) }
            .sorted { $0.microsPerStep > $1.microsPerStep }
    }

    /// `wdl.emb.gather.C7.m1` → `wdl.emb.gather.*`
    static func fold(_ name: String) -> String {
        var parts = name.split(separator: ".").map(String.init)
        parts.removeAll { $0.count >= 2 && $0.first == "m" && Int($0.dropFirst()) != nil }
        return parts.map { p in (p.first == "C" && Int(p.dropFirst()) != nil) ? "*" : p }.joined(separator: ".")
    }
}
