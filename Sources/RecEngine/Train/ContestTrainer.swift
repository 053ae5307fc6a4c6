import Foundation
import RecContract
import RecSystem

/// The result of a contest-model run: the common contract plus what only contest runs have.
public struct ContestRunResult: Sendable {
    /// The `train` result contract (`auc` is the contest's: pooled over all tasks).
    public var result: TrainResult
    /// Per-task evaluation AUC (`clicked`; `clk`, `buy`).
    public var aucByTask: [String: Double]
    /// Mean squared error of the evaluation probabilities (the Brier score; DeepFM's training loss).
    public var evalMSE: Double

}

/// Trains a contest model (WDL, DeepFM, DLRM on Ele.me; MMoE on Taobao; DIN, DIEN on Amazon Books) under one knob
/// configuration: the contest path of `Trainer` (same executors, allocators, counters, phases).
public enum ContestTrainer {
    /// Contest-specific checks. Throws `EngineError.invalidConfiguration`.
    static func validate(_ c: TrainConfig) throws {
        func fail(_ s: String) throws -> Never { throw EngineError.invalidConfiguration(s) }
        switch (c.dataset, c.model) {
        case (.eleme, .wdl), (.eleme, .deepfm), (.eleme, .dlrm), (.taobao, .mmoe), (.amazonBooks, .din), (.amazonBooks, .dien): break
        default: try fail("--model \(c.model.rawValue) does not run on --dataset \(c.dataset.rawValue) (eleme: wdl, deepfm, dlrm; taobao: mmoe; amazon-books: din, dien)")
        }
        if c.dataset == .amazonBooks && c.dataPath == nil && (c.syntheticRows % 2 != 0 || c.evalRows % 2 != 0) {
            try fail("--dataset amazon-books generates (negative, positive) pairs: --synthetic-rows and --eval-rows must be even, got \(c.syntheticRows), \(c.evalRows)")
        }
        if c.evalRows < 0 || (c.evalRows == 0 && c.dataPath == nil) {
            try fail("--eval-rows must be >= 1 (0 = the whole evaluation file, with --data), got \(c.evalRows)")
        }
        if c.dataPath == nil && c.syntheticRows < 1 { try fail("--synthetic-rows must be at least 1, got \(c.syntheticRows)") }
        if c.hashBuckets < 1 { try fail("--hash-buckets must be at least 1, got \(c.hashBuckets)") }
    }

    /// Bucket counts per slot: the MMoE script's for Taobao, `hashBuckets` (and 5 vocabulary rows) for Ele.me;
    /// nil for Amazon Books, whose table sizes are its vocabularies' line counts (`ContestDataset.buckets`:
    /// uid → uid_voc.txt; item, hist_item, neg_hist_item → mid_voc.txt; cat, hist_cat, neg_hist_cat → cat_voc.txt).
    public static func buckets(_ c: TrainConfig) -> [Int]? {
        switch c.dataset {
        case .taobao: ContestSchema.taobaoBuckets
        case .amazonBooks: nil
        default: ContestSchema.elemeBuckets(hashBuckets: c.hashBuckets)
        }
    }

    /// Whether an Amazon Books run reads DIEN's `_neg` files: DIN's script never opens them
    /// (`.ignored`), DIEN's refuses to start without them (`.required`).
    public static func amazonNegatives(for model: ModelKind) -> AmazonNegatives {
        switch model {
        case .din: .ignored
        case .dien: .required
        default: .ifPresent
        }
    }

    /// The data set: the directory at `dataPath`, or generated in memory (`syntheticRows`
    /// training rows, `evalRows` evaluation rows).
    public static func loadDataset(_ c: TrainConfig) throws -> ContestDataset {
        guard let format = c.dataset.contestFormat else { throw EngineError.invalidConfiguration("not a contest data set: \(c.dataset.rawValue)") }
        if format == .amazonBooks {
            let negatives = amazonNegatives(for: c.model)
            if let dir = c.dataPath {
                return try ContestDataset(amazonBooksDirectory: dir, negatives: negatives, evalRows: c.evalRows == 0 ? nil : c.evalRows,
                                          badRows: c.badRows)
            }
            let files = try SyntheticAmazonBooks.generate(trainRows: c.syntheticRows, evalRows: c.evalRows, seed: c.seed).files
            return try ContestDataset(amazonBooks: files, negatives: negatives, badRows: c.badRows,
                                      name: "synthetic(\(c.syntheticRows)+\(c.evalRows), seed \(c.seed))")
        }
        guard let buckets = buckets(c) else { throw EngineError.invalidConfiguration("no bucket counts for \(c.dataset.rawValue)") }
        if let dir = c.dataPath {
            return try ContestDataset(directory: dir, format: format, buckets: buckets, evalRows: c.evalRows == 0 ? nil : c.evalRows,
                                      badRows: c.badRows)
        }
        let data = SyntheticContest.bytes(format: format, trainRows: c.syntheticRows, evalRows: c.evalRows, seed: c.seed)
        return try ContestDataset(format: format, train: data.train, eval: data.eval, buckets: buckets, badRows: c.badRows,
                                  name: "synthetic(\(c.syntheticRows)+\(c.evalRows), seed \(c.seed))")
    }

    /// Runs warm-up and steady-state steps, evaluates on the evaluation file, returns the result.
    ///
    /// The contest's timed window (`contest_seconds`) is the scripts' session lifetime: creating and
    /// initialising the parameters and tables, setting up the executor and the batch source,
    /// restoring (`restoreFrom`), the start checkpoint, every step, and the end checkpoint
    /// (`checkpointDirectory`); reading/counting the data, building the step graph and evaluation
    /// are outside it. With `restoreFrom`, training continues at the checkpoint's global step (the
    /// optimizers' step counter and the batch index), so N steps + restore + N steps equal 2N steps.
    /// - Parameters:
    ///   - inMemory: serve 64 pre-parsed batches round-robin (the in-memory speed benchmark).
    ///   - hooks: the window's clock and observation points (tests).
    ///   - inspect: called with the trained model before evaluation (tests compare parameters).
    /// - Throws: `EngineError`, `DataError`, `CheckpointError`.
    public static func run(config c: TrainConfig, counterEvents: [String], dataset preloaded: ContestDataset? = nil, inMemory: Bool = false,
                           progress: (@Sendable (TrainProgress) -> Void)? = nil, hooks: WindowHooks = WindowHooks(),
                           inspect: ((any ContestModel) -> Void)? = nil) throws -> ContestRunResult {
        try Trainer.validate(c)
        let wallStart = DispatchTime.now().uptimeNanoseconds
        if c.mallocMmapThreshold > 0 { MallocTuning.setMmapThreshold(bytes: c.mallocMmapThreshold) }
        let numaEffect = (try? NUMAControl.apply(policy: c.numa.rawValue)) ?? "numa policy \(c.numa.rawValue) not applied"
        let counters = PhaseCounters(events: counterEvents)
        let dataset = try preloaded ?? loadDataset(c)
        // Amazon Books: the table sizes are whatever the data set's vocabularies hold.
        guard dataset.schema.format == c.dataset.contestFormat, buckets(c).map({ $0 == dataset.buckets }) ?? true else {
            throw EngineError.invalidConfiguration("the data set was read for \(dataset.schema.format) with other bucket counts than --dataset \(c.dataset.rawValue) --hash-buckets \(c.hashBuckets)")
        }
        let context = try Trainer.makeContext(c, workers: c.interThreads)
        let feed = ContestFeed(schema: dataset.schema, capacity: c.batch, buckets: dataset.buckets)
        // Timed window, part 1: parameters and tables created and initialised.
        let windowStart = hooks.clock()
        let model = try makeContestModel(config: c, context: context, feed: feed)
        var windowNs = hooks.clock() &- windowStart
        let micros = MicroBatch.split(batch: c.batch, count: c.microBatch)
        // Stage off, end to end: the step parses its own batch, one slice per inter-op worker
        // (`InStepParse`); otherwise the batch source hands each step a parsed batch.
        let inStepParse = !inMemory && !c.stage
            ? InStepParse(ContestFeedParsing(dataset: dataset, feed: feed), batchSize: c.batch,
                          parts: Trainer.parseParts(c))
            : nil
        let modelGraph = try model.trainingGraph(microBatches: micros)
        let graph = try inStepParse.map { try modelGraph.prefixed(by: $0.addNodes(to:)) } ?? modelGraph
        // Timed window, part 2: session setup, restore, start checkpoint, the steps, end checkpoint.
        let window2Start = hooks.clock()
        let allocator = Trainer.makeAllocator(c)
        let memory = StepMemory(graph: graph, allocator: allocator)
        let executor = Trainer.makeExecutor(c, context: context)
        defer { executor.shutdown() }
        var checkpointNs: UInt64 = 0
        var firstStep = 0
        if let from = c.restoreFrom {
            firstStep = try Checkpoint.restore(from: from, model: c.model.rawValue, dataset: c.dataset.rawValue, parameters: model.parameters)
        }
        func saveCheckpoint(step: Int) throws {
            guard let dir = c.checkpointDirectory else { return }
            let t0 = hooks.clock()
            let path = try Checkpoint.save(model: c.model.rawValue, dataset: c.dataset.rawValue, globalStep: step,
                                           parameters: model.parameters, to: dir)
            hooks.checkpointSaved?(path)
            checkpointNs &+= hooks.clock() &- t0
        }
        let source = inStepParse != nil ? nil
            : try ContestBatchSource(dataset: dataset, batchSize: c.batch, inMemory: inMemory ? 64 : 0,
                                     stage: c.stage ? (c.stageCapacity, c.stageThreads) : nil, startIndex: firstStep)
        defer { source?.shutdown() }
        let stageCounters = { source?.counters ?? inStepParse?.counters ?? StageCounters() }
        try saveCheckpoint(step: firstStep)

        let loop = try StepLoop.run(
            first: firstStep, warmup: c.warmupSteps, steps: c.steps, progress: progress,
            snapshot: { counters.snapshot(executor: executor, allocator: allocator, stage: stageCounters()) },
            loss: { model.head.lastStepLoss(microBatches: micros.count) }
        ) { step in
            let batch = try source?.next()
            if let batch { feed.stage(batch) } else { try inStepParse?.prepare(batch: step) }
            allocator.stepBegan(step)
            executor.run(graph, memory: memory, step: step)
            allocator.stepEnded(step)
            try inStepParse?.finish()
            let rows = feed.validRows
            if let batch { source?.recycle(batch) }
            return rows
        }
        try saveCheckpoint(step: firstStep + c.warmupSteps + c.steps)
        // Every training row malformed (and skipped): 0 samples/s is not a measurement.
        guard loop.steadySamples > 0 else { throw DataError.noUsableRows(file: dataset.trainName, skipped: dataset.skippedRows) }
        windowNs &+= hooks.clock() &- window2Start
        let end = counters.snapshot(executor: executor, allocator: allocator, stage: stageCounters())
        // The multi-hot bytes each DeepFM training step materializes (0 with --indicator scatter).
        let indicatorBytes = (model as? ContestDeepFM).map { [Counter.indicatorBytesPerStep: Double($0.indicatorBytesPerStep(batch: c.batch))] }

        inspect?(model)
        hooks.evaluationStarts?()
        let eval = try evaluate(model: model, dataset: dataset, feed: feed, batch: c.batch)
        var echo: [String: ConfigValue] = ["numa_effect": .string(numaEffect)]
        if c.dataPath == nil { echo["data"] = .string("synthetic:\(c.syntheticRows)+\(c.evalRows)") }
        var result = loop.result(c, extraEcho: echo, counters: counters, end: end,
                                 extraSteady: context.weightLayoutCounters.merging(indicatorBytes ?? [:]) { a, _ in a },
                                 graphNodes: graph.nodeCount, auc: eval.pooledAUC, logloss: eval.logloss, evalRows: eval.rows,
                                 skippedRows: dataset.skippedRows, wallStartNs: wallStart, interThreads: executor.workerCount)
        result.aucByTask = eval.aucByTask
        result.contestSeconds = Double(windowNs) / 1e9
        result.checkpointSeconds = Double(checkpointNs) / 1e9
        return ContestRunResult(result: result, aucByTask: eval.aucByTask, evalMSE: eval.mse)
    }

    /// The timed window's clock and observation points. The default clock is the monotonic clock;
    /// a test passes one it can advance from the hooks to prove what lies inside the window.
    public struct WindowHooks {
        public var clock: () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }
        /// Called after each checkpoint file is written, inside the window.
        public var checkpointSaved: ((String) -> Void)? = nil
        /// Called just before evaluation, after the window closed.
        public var evaluationStarts: (() -> Void)? = nil
        public init() {}
    }

    /// Evaluation figures: AUC pooled over tasks (the contest's metric), per task, and logloss over all tasks.
    struct Evaluation {
        var pooledAUC: Double
        var aucByTask: [String: Double]
        var logloss: Double
        var mse: Double
        var rows: Int
    }

    /// One forward pass over the evaluation rows in chunks of `batch`.
    static func evaluate(model: any ContestModel, dataset: ContestDataset, feed: ContestFeed, batch: Int) throws -> Evaluation {
        let graph = try model.evaluationGraph(rows: batch)
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        let executor = InlineExecutor()
        let tasks = feed.labelCount
        var scores = [[Float]](repeating: [], count: tasks), labels = scores
        var chunk = ContestBatch(schema: dataset.schema, capacity: batch)
        for k in 0..<dataset.evalBatchCount(size: batch) {
            try dataset.fillEval(&chunk, index: k, size: batch)
            guard chunk.size > 0 else { continue }
            feed.stage(chunk)
            executor.run(graph, memory: memory, step: 0)
            for i in 0..<chunk.size {
                for t in 0..<tasks {
                    scores[t].append(model.head.scores[i * tasks + t])
                    labels[t].append(chunk.labels[i * tasks + t])
                }
            }
        }
        func auc(_ s: [Float], _ l: [Float]) -> Double {
            s.withUnsafeBufferPointer { sp in l.withUnsafeBufferPointer { Metrics.auc(scores: sp, labels: $0) } }
        }
        let allScores = scores.flatMap { $0 }, allLabels = labels.flatMap { $0 }
        let logloss = allScores.withUnsafeBufferPointer { s in allLabels.withUnsafeBufferPointer { Metrics.logloss(probabilities: s, labels: $0) } }
        var byTask: [String: Double] = [:]
        for (t, name) in dataset.schema.labels.enumerated() { byTask[name] = auc(scores[t], labels[t]) }
        var se = 0.0
        for (p, y) in zip(allScores, allLabels) { se += Double(p - y) * Double(p - y) }
        return Evaluation(pooledAUC: auc(allScores, allLabels), aucByTask: byTask, logloss: logloss, mse: se / Double(max(allScores.count, 1)),
                          rows: scores[0].count)
    }
}

extension ContestTrainer {
    /// Per-node-group timing of a contest training step (inline order, like `NodeProfiler`):
    /// `steps` timed steps after `warmup` untimed ones, on pre-parsed batches.
    public static func profile(config: TrainConfig, dataset: ContestDataset, warmup: Int = 3, steps: Int = 10) throws -> [NodeProfiler.Entry] {
        var c = config
        c.executor = .inline
        let context = try Trainer.makeContext(c, workers: 1)
        let rig = try ContestStepRig(config: c, dataset: dataset, context: context)
        defer { rig.source.shutdown() }
        let graph = rig.graph
        var totals = [UInt64](repeating: 0, count: graph.nodeCount)
        for step in 0..<(warmup + steps) {
            try rig.beginStep(step)
            rig.memory.beginStep()
            for id in graph.topologicalOrder {
                let t0 = DispatchTime.now().uptimeNanoseconds
                graph.execute(id, worker: 0, memory: rig.memory, step: step)
                if step >= warmup { totals[id.index] += DispatchTime.now().uptimeNanoseconds - t0 }
            }
            rig.allocator.stepEnded(step)
        }
        var groups: [String: (kind: String, nodes: Int, ns: UInt64)] = [:]
        for node in graph.nodes {
            let key = NodeProfiler.fold(node.name)
            var g = groups[key] ?? (node.kind.rawValue, 0, 0)
            g.nodes += 1; g.ns += totals[node.id.index]
            groups[key] = g
        }
        return groups.map { NodeProfiler.Entry(group: $0.key, kind: $0.value.kind, nodes: $0.value.nodes,
                                               microsPerStep: Double($0.value.ns) / Double(steps) / 1e3) }
            .sorted { $0.microsPerStep > $1.microsPerStep }
    }

    /// Single-thread parse speed of the training file: `batches` batches of `batchSize` rows parsed
    /// into one reused batch. Returns rows/s and MB/s (bytes estimated from the file's mean line length).
    public static func parseThroughput(dataset: ContestDataset, batchSize: Int, batches: Int) throws -> (rowsPerSec: Double, mbPerSec: Double) {
        var b = ContestBatch(schema: dataset.schema, capacity: batchSize)
        return try ParseThroughput.measure(batches: batches, batchSize: batchSize,
                                           bytesPerRow: Double(dataset.trainingBytes) / Double(dataset.trainingRows)) {
            try dataset.fill(&b, index: $0, batchSize: batchSize)
        }
    }
}

/// A contest model's step graph fed from pre-parsed in-memory batches: what the bench's node
/// profile (`ContestTrainer.profile`) and critical path (`StepAnalysis.criticalPath`) run.
struct ContestStepRig {
    let feed: ContestFeed
    /// Kept alive with its graph.
    let model: any ContestModel
    let graph: StepGraph
    let allocator: any TensorAllocator
    let memory: StepMemory
    let source: ContestBatchSource

    init(config c: TrainConfig, dataset: ContestDataset, context: DNNLContext) throws {
        feed = ContestFeed(schema: dataset.schema, capacity: c.batch, buckets: dataset.buckets)
        model = try makeContestModel(config: c, context: context, feed: feed)
        graph = try model.trainingGraph(microBatches: MicroBatch.split(batch: c.batch, count: c.microBatch))
        allocator = Trainer.makeAllocator(c)
        memory = StepMemory(graph: graph, allocator: allocator)
        source = try ContestBatchSource(dataset: dataset, batchSize: c.batch, inMemory: 4)
    }

    /// Stages the next batch and opens step `step` of the allocator (the caller runs the graph,
    /// then calls `allocator.stepEnded(step)`).
    func beginStep(_ step: Int) throws {
        feed.stage(try source.next())
        allocator.stepBegan(step)
    }
}
