import XCTest
@testable import RecEngine

typealias SeqData = SyntheticSequenceBatches

/// Trains a sequence model on `SeqData` with the engine's executors and allocators (the contest
/// trainer's loop, on the in-test source) and evaluates AUC on held-out batches.
enum SeqRig {
    struct Run {
        var params: [[Float]]
        var losses: [Double]
        var nodes: Int
        var auc: Double
        /// Allocator counters from step `steadyFrom` on.
        var allocator: AllocatorCounters
        /// bf16 weight copies, and how many of them differ from their master rounded to bf16 after the run.
        var lowCopies: Int
        var staleLowCopies: Int
    }

    static func config(_ model: ModelKind, batch: Int = 128) -> TrainConfig {
        var c = TrainConfig()
        c.model = model
        c.batch = batch
        c.seed = 7
        c.interThreads = 2
        c.intraThreads = 1
        c.executor = .inline
        return c
    }

    static func run(_ c: TrainConfig, steps: Int, data: SeqData = SeqData(), pooling: ContestSequenceModel.Pooling = .attention,
                    evalBatches: Int = 0, batchSize: Int? = nil, steadyFrom: Int = 0) throws -> Run {
        let context = try DNNLContext(workers: max(c.interThreads, 1))
        context.setIntraOpThreads(c.intraThreads)
        let feed = ContestFeed(schema: SeqData.schema, capacity: c.batch)
        let model = try ContestSequenceModel(config: c, context: context, feed: feed, buckets: data.buckets, pooling: pooling)
        let graph = try model.trainingGraph(microBatches: MicroBatch.split(batch: c.batch, count: c.microBatch))
        let allocator = Trainer.makeAllocator(c)
        let memory = StepMemory(graph: graph, allocator: allocator)
        let intra = c.intraThreads
        let executor = Trainer.makeExecutor(c) { _ in context.setIntraOpThreads(intra) }
        defer { executor.shutdown() }
        var losses: [Double] = []
        var steadyStart = allocator.counters
        for step in 0..<steps {
            if step == steadyFrom { steadyStart = allocator.counters }
            feed.stage(data.batch(step, size: batchSize ?? c.batch, capacity: c.batch))
            allocator.stepBegan(step)
            executor.run(graph, memory: memory, step: step)
            allocator.stepEnded(step)
            losses.append(model.head.lastStepLoss(microBatches: c.microBatch))
        }
        var auc = Double.nan
        if evalBatches > 0 {
            let eval = try model.evaluationGraph(rows: c.batch)
            let evalMemory = StepMemory(graph: eval, allocator: SystemAllocator())
            let inline = InlineExecutor()
            var scores: [Float] = [], labels: [Float] = []
            for k in 0..<evalBatches {
                let b = data.batch(1_000_000 + k, size: c.batch, capacity: c.batch)
                feed.stage(b)
                inline.run(eval, memory: evalMemory, step: 0)
                for i in 0..<b.size { scores.append(model.head.scores[i]); labels.append(b.labels[i]) }
            }
            auc = scores.withUnsafeBufferPointer { s in labels.withUnsafeBufferPointer { Metrics.auc(scores: s, labels: $0) } }
        }
        let stale = model.lowCopies.filter { c in (0..<c.master.count).contains { c.bits[$0] != SeqKernels.bf16Bits(c.master.values[$0]) } }
        return Run(params: model.parameters.map { $0.snapshot() }, losses: losses, nodes: graph.nodeCount, auc: auc,
                   allocator: {
                       var a = allocator.counters
                       a.misses -= steadyStart.misses; a.hits -= steadyStart.hits; a.allocations -= steadyStart.allocations
                       return a
                   }(), lowCopies: model.lowCopies.count, staleLowCopies: stale.count)
    }
}
