import Foundation

/// Speed of the sequence models (DIN, DIEN) on pre-generated `SyntheticSequenceBatches` served
/// round-robin from memory: the same executors and allocators as training, timing only (a
/// benchmark, never a test). Until the Amazon Books reader is merged this is how `rectune bench`
/// times din/dien and both `rnn` settings.
public enum SequenceBench {
    public struct Result: Sendable {
        public var samplesPerSec: Double
        public var stepP50Ms: Double
        public var stepP99Ms: Double
        public var graphNodes: Int
        /// Per node group (step indices folded to `t*`), inline order; empty unless asked for.
        public var profile: [NodeProfiler.Entry]
    }

    /// Runs `warmup + steps` training steps of `config.model` (batch `config.batch`) and, with
    /// `profile`, `profileSteps` more inline steps timed node by node.
    public static func run(config c: TrainConfig, data: SyntheticSequenceBatches = SyntheticSequenceBatches(), steps: Int, warmup: Int,
                           profile: Bool, profileSteps: Int = 10) throws -> Result {
        let context = try Trainer.makeContext(c, workers: c.interThreads)
        let feed = ContestFeed(schema: SyntheticSequenceBatches.schema, capacity: c.batch)
        let model = try makeSequenceModel(config: c, context: context, feed: feed, buckets: data.buckets)
        let graph = try model.trainingGraph(microBatches: MicroBatch.split(batch: c.batch, count: c.microBatch))
        let allocator = Trainer.makeAllocator(c)
        let memory = StepMemory(graph: graph, allocator: allocator)
        let executor = Trainer.makeExecutor(c, context: context)
        defer { executor.shutdown() }
        let batches = (0..<16).map { data.batch($0, size: c.batch, capacity: c.batch) }
        var times: [UInt64] = []
        times.reserveCapacity(steps)
        var samples = 0
        var steadyNs: UInt64 = 0
        for step in 0..<(warmup + steps) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            feed.stage(batches[step % batches.count])
            allocator.stepBegan(step)
            executor.run(graph, memory: memory, step: step)
            allocator.stepEnded(step)
            let dt = DispatchTime.now().uptimeNanoseconds - t0
            if step >= warmup { times.append(dt); samples += feed.validRows; steadyNs += dt }
        }
        times.sort()
        func pct(_ p: Double) -> Double { times.isEmpty ? .nan : Double(times[min(times.count - 1, Int(p * Double(times.count)))]) / 1e6 }
        var entries: [NodeProfiler.Entry] = []
        if profile {
            var totals = [UInt64](repeating: 0, count: graph.nodeCount)
            for k in 0..<profileSteps {
                let step = warmup + steps + k
                feed.stage(batches[step % batches.count])
                allocator.stepBegan(step)
                memory.beginStep()
                for id in graph.topologicalOrder {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    graph.execute(id, worker: 0, memory: memory, step: step)
                    totals[id.index] += DispatchTime.now().uptimeNanoseconds - t0
                }
                allocator.stepEnded(step)
            }
            var groups: [String: (kind: String, nodes: Int, ns: UInt64)] = [:]
            for node in graph.nodes {
                let key = NodeProfiler.fold(node.name).split(separator: ".").map { p in
                    p.count >= 2 && p.first == "t" && Int(p.dropFirst()) != nil ? "t*" : String(p)
                }.joined(separator: ".")
                var g = groups[key] ?? (node.kind.rawValue, 0, 0)
                g.nodes += 1; g.ns += totals[node.id.index]
                groups[key] = g
            }
            entries = groups.map { NodeProfiler.Entry(group: $0.key, kind: $0.value.kind, nodes: $0.value.nodes,
                                                      microsPerStep: Double($0.value.ns) / Double(profileSteps) / 1e3) }
                .sorted { $0.microsPerStep > $1.microsPerStep }
        }
        return Result(samplesPerSec: Double(samples) / max(Double(steadyNs) / 1e9, 1e-9), stepP50Ms: pct(0.5), stepP99Ms: pct(0.99),
                      graphNodes: graph.nodeCount, profile: entries)
    }
}
