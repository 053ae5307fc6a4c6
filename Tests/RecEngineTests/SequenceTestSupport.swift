import XCTest
@testable import RecEngine

/// Random Amazon-Books-shaped batches for the DIN/DIEN tests (the real reader and generator live on
/// another branch): the seq-contract's schema (label `clk`; slots uid, item, cat, hist_item,
/// hist_cat, neg_hist_item, neg_hist_cat), item `k` has category `k % cats`.
///
/// The label needs the history item by item: half the rows take a candidate whose category is
/// that of one history item (label 1), the other half a candidate whose category is in none of
/// them (label 0). The history is 2…`maxHistory` items (uniform), so a pooled sum dilutes the one
/// item that matters while attention can pick it out. Deterministic in (seed, batch index).
struct SeqData {
    static let schema: ContestSchema = {
        var columns = [ContestColumn(name: "clk", kind: .label(0))]
        for (s, name) in ["uid", "item", "cat", "hist_item", "hist_cat", "neg_hist_item", "neg_hist_cat"].enumerated() {
            columns.append(ContestColumn(name: name, kind: .hashedList(slot: s, separator: 2, defaultToken: "")))
        }
        return ContestSchema(format: .eleme, trainFile: "local_train_splitByUser", evalFile: "local_test_splitByUser", columns: columns)
    }()

    var users = 200, items = 2_000, cats = 100, maxHistory = 24, seed: UInt64 = 1
    var buckets: [Int] { [users, items, cats, items, cats, items, cats] }

    /// Batch `index` of `size` rows (`capacity` rows with padding).
    func batch(_ index: Int, size: Int, capacity: Int) -> ContestBatch {
        var b = ContestBatch(schema: Self.schema, capacity: capacity)
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(index) &* 7_919 &+ 13)
        func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var ids: [Int32] = []
        let slots = b.slotCount
        for i in 0..<size {
            let length = 2 + int(maxHistory - 1)
            let hist = (0..<length).map { _ in 1 + int(items - 1) }
            let histCats = Set(hist.map { $0 % cats })
            let positive = int(2) == 0
            var candidate: Int
            if positive {
                let c = hist[int(length)] % cats
                candidate = c + cats * (1 + int(items / cats - 1))
                if candidate >= items { candidate -= cats }
            } else {
                repeat { candidate = 1 + int(items - 1) } while histCats.contains(candidate % cats)
            }
            let negs = (0..<length).map { _ in 1 + int(items - 1) }
            let bags: [[Int]] = [[int(users)], [candidate], [candidate % cats], hist, hist.map { $0 % cats }, negs, negs.map { $0 % cats }]
            for (s, bag) in bags.enumerated() {
                b.bagStart[i * slots + s] = Int32(ids.count)
                b.bagCount[i * slots + s] = Int32(bag.count)
                ids += bag.map { Int32($0) }
            }
            b.labels[i] = positive ? 1 : 0
        }
        b.size = size
        b.ids = ids + [Int32](repeating: 0, count: max(0, b.ids.count - ids.count))
        b.idCount = ids.count
        return b
    }
}

/// Trains a sequence model on `SeqData` with the engine's executors and allocators (the contest
/// trainer's loop, on the in-test source) and evaluates AUC on held-out batches.
enum SeqRig {
    struct Run {
        var params: [[Float]]
        var losses: [Double]
        var nodes: Int
        var auc: Double
        var allocator: AllocatorCounters
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
                    evalBatches: Int = 0, batchSize: Int? = nil) throws -> Run {
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
        for step in 0..<steps {
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
        return Run(params: model.parameters.map { $0.snapshot() }, losses: losses, nodes: graph.nodeCount, auc: auc,
                   allocator: allocator.counters)
    }
}
