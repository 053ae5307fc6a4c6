import RecContract
import Foundation
import RecSystem

/// What the trainer reports while it runs.
public struct TrainProgress: Sendable {
    public let step: Int
    public let totalSteps: Int
    public let warmup: Bool
    /// Mean training loss over the last reporting interval.
    public let loss: Double
    /// Throughput over the last reporting interval.
    public let samplesPerSec: Double
}

/// Trains one model under one knob configuration and measures it: the engine behind
/// `rectune train`. Counters are opened before any engine thread starts (so `inherit` covers
/// them) and read at the warm-up/steady boundary and at the end.
public final class Trainer {
    public let config: TrainConfig
    private let progress: (@Sendable (TrainProgress) -> Void)?
    private let counterEvents: [String]

    /// - Parameters:
    ///   - counterEvents: perf events to count (default `CounterSession.defaultEvents`); empty disables perf counters.
    ///   - progress: called every few steps from the training thread.
    /// The progress callback given at init.
    public var progressHandler: (@Sendable (TrainProgress) -> Void)? { progress }

    public init(config: TrainConfig, counterEvents: [String] = CounterSession.defaultEvents,
                progress: (@Sendable (TrainProgress) -> Void)? = nil) {
        self.config = config
        self.counterEvents = counterEvents
        self.progress = progress
    }

    /// Checks knob values before anything is built, and that the host can run them
    /// (`bf16Unsupported`: why oneDNN cannot run bf16 here, nil when it can).
    /// - Throws: `EngineError.invalidConfiguration` naming the knob and value;
    ///   `EngineError.unsupportedOnThisHost` for `bf16: on` where oneDNN has no bf16 GEMM.
    public static func validate(_ c: TrainConfig, bf16Unsupported: String? = OneDNNInfo.bf16Unsupported) throws {
        func fail(_ s: String) throws -> Never { throw EngineError.invalidConfiguration(s) }
        if c.batch < 1 { try fail("--batch must be at least 1, got \(c.batch)") }
        if c.steps < 1 { try fail("--steps must be at least 1, got \(c.steps)") }
        if c.warmupSteps < 0 { try fail("--warmup-steps must be >= 0, got \(c.warmupSteps)") }
        if c.microBatch < 1 || c.microBatch > c.batch || c.microBatch > LossHead.maxMicroBatches {
            try fail("--micro-batch must be in 1...\(min(c.batch, LossHead.maxMicroBatches)), got \(c.microBatch)")
        }
        if c.interThreads < 1 { try fail("--inter-threads must be at least 1, got \(c.interThreads)") }
        if c.intraThreads < 1 { try fail("--intra-threads must be at least 1, got \(c.intraThreads)") }
        if c.embeddingDim < 1 { try fail("--embedding-dim must be at least 1, got \(c.embeddingDim)") }
        if c.hashBuckets < 1 { try fail("--hash-buckets must be at least 1, got \(c.hashBuckets)") }
        if c.dataset != .criteo {
            try ContestTrainer.validate(c)
        } else if c.model == .mmoe {
            try fail("--model mmoe runs on --dataset taobao only")
        }
        if c.dataset == .criteo && c.evalRows < 1 { try fail("--eval-rows must be at least 1, got \(c.evalRows)") }
        if c.stageCapacity < 1 { try fail("--stage-capacity must be at least 1, got \(c.stageCapacity)") }
        if c.stageThreads < 1 { try fail("--stage-threads must be at least 1, got \(c.stageThreads)") }
        if c.allocWarmupStart < 0 || c.allocWarmupSteps < 1 {
            try fail("--alloc-warmup-start must be >= 0 and --alloc-warmup-steps >= 1, got \(c.allocWarmupStart), \(c.allocWarmupSteps)")
        }
        if c.costmodelStart < 0 || c.costmodelStop <= c.costmodelStart {
            try fail("--costmodel-start must be >= 0 and below --costmodel-stop, got \(c.costmodelStart), \(c.costmodelStop)")
        }
        if c.mallocMmapThreshold < 0 || c.mallocMmapThreshold > 32 << 20 {
            try fail("--malloc-mmap-threshold must be in 0...\(32 << 20) bytes, got \(c.mallocMmapThreshold)")
        }
        if c.dataset == .criteo && c.dataPath == nil && c.syntheticRows <= c.evalRows {
            try fail("--synthetic-rows (\(c.syntheticRows)) must exceed --eval-rows (\(c.evalRows))")
        }
        if c.bf16, let bf16Unsupported { throw EngineError.unsupportedOnThisHost("--bf16 on: \(bf16Unsupported)") }
    }

    /// Builds the executor named by the config; `onWorkerStart` sets per-thread oneDNN state.
    static func makeExecutor(_ c: TrainConfig, boost: IntraOpBoost? = nil,
                             onWorkerStart: @escaping @Sendable (Int) -> Void) -> any StepExecutor {
        switch c.executor {
        case .inline: InlineExecutor()
        case .pool: PoolExecutor(threads: c.interThreads, pinThreads: c.pinThreads, onWorkerStart: onWorkerStart, boost: boost,
                                 intraThreads: c.intraThreads)
        case .costmodel: CostModelExecutor(threads: c.interThreads, pinThreads: c.pinThreads, profileStart: c.costmodelStart,
                                           profileStop: c.costmodelStop, onWorkerStart: onWorkerStart, boost: boost,
                                           intraThreads: c.intraThreads)
        }
    }

    /// The executor for a model built on `context` (from `makeContext`): each worker starts with
    /// `intra_threads` OpenMP threads; with `intra_boost` the context's boost brackets lone dense nodes.
    static func makeExecutor(_ c: TrainConfig, context: DNNLContext) -> any StepExecutor {
        let intra = c.intraThreads
        let boost = context.boostThreads > 1
            ? IntraOpBoost(begin: { context.beginBoost(worker: $0) }, end: { context.endBoost(worker: $0) }) : nil
        return makeExecutor(c, boost: boost) { _ in
            context.setIntraOpThreads(intra)
            context.startBoostTeam()
        }
    }

    /// The OpenMP team of a boosted node under `c` with `workers` inter-op workers: the whole
    /// budget `workers × intra_threads`, at most the CPUs the process may use; 1 (no boosting)
    /// when `intra_boost` is off, the executor is inline, or the budget is not above `intra_threads`.
    public static func boostThreads(_ c: TrainConfig, workers: Int) -> Int {
        guard c.intraBoost, c.executor != .inline else { return 1 }
        let team = DenseRoofline.cores(inter: workers, intra: c.intraThreads)
        return team > c.intraThreads ? team : 1
    }

    /// The oneDNN context of a training run with `workers` workers: boosting as `boostThreads`
    /// says, weight layouts as `weight_layout` says (timed at the largest micro-batch's rows), and
    /// the calling thread (which prepares the primitives and times the layouts) at `intra_threads`.
    static func makeContext(_ c: TrainConfig, workers: Int) throws -> DNNLContext {
        let rows = MicroBatch.largestRows(batch: c.batch, count: max(c.microBatch, 1))
        let layout: WeightLayoutPolicy = c.weightLayout == .timed && !c.bf16 ? .timed(batch: max(rows, 1)) : .onednn
        let context = try DNNLContext(workers: max(workers, 1), boostThreads: boostThreads(c, workers: max(workers, 1)),
                                      weightLayout: layout)
        context.setIntraOpThreads(c.intraThreads)
        return context
    }

    static func makeAllocator(_ c: TrainConfig) -> any TensorAllocator {
        switch c.allocator {
        case .system: SystemAllocator()
        case .adaptive: AdaptiveAllocator(warmupStart: c.allocWarmupStart, warmupSteps: c.allocWarmupSteps)
        }
    }

    /// Loads the data set: the file at `dataPath`, or `syntheticRows` generated rows.
    public static func loadDataset(_ c: TrainConfig) throws -> CriteoDataset {
        if let path = c.dataPath {
            return try CriteoDataset(path: path, hashBuckets: c.hashBuckets, evalRows: c.evalRows, badRows: c.badRows)
        }
        let bytes = SyntheticCriteo.bytes(rows: c.syntheticRows, seed: c.seed)
        return try CriteoDataset(bytes: bytes, name: "synthetic(\(c.syntheticRows), seed \(c.seed))", hashBuckets: c.hashBuckets,
                                 evalRows: c.evalRows, badRows: c.badRows)
    }

    /// Runs warm-up and steady-state steps, evaluates, and returns the result contract.
    /// - Parameter dataset: pre-loaded data (e.g. shared by `bench`); loaded from the config when nil.
    /// - Parameter inMemory: serve pre-parsed batches (the in-memory speed benchmark) instead of parsing per step.
    /// - Parameter inspect: called with the trained model before evaluation (tests compare parameters).
    public func run(dataset preloaded: CriteoDataset? = nil, inMemory: Bool = false,
                    inspect: ((any CTRModel) -> Void)? = nil) throws -> TrainResult {
        let c = config
        try c.validate()
        if c.dataset != .criteo {
            return try ContestTrainer.run(config: c, counterEvents: counterEvents, progress: progress).result
        }
        let wallStart = DispatchTime.now().uptimeNanoseconds
        if c.mallocMmapThreshold > 0 {
            // Fixes glibc's threshold (and so disables its dynamic adjustment) for this process.
            MallocTuning.setMmapThreshold(bytes: c.mallocMmapThreshold)
        }
        let numaEffect = (try? NUMAControl.apply(policy: c.numa.rawValue)) ?? "numa policy \(c.numa.rawValue) not applied"
        // Counters first: every engine thread created after this point is inherited.
        let counters = PhaseCounters(events: counterEvents)
        let dataset = try preloaded ?? Self.loadDataset(c)
        // Stage off, end to end: the step parses its own batch, one slice per inter-op worker.
        let parsesInStep = !inMemory && !c.stage
        let rig = try StepRig(config: c, workers: c.interThreads, parseInStep: parsesInStep ? dataset : nil)
        let executor = Self.makeExecutor(c, context: rig.context)
        defer { executor.shutdown() }
        let (feed, model, graph, memory, allocator) = (rig.feed, rig.model, rig.graph, rig.memory, rig.allocator)
        let micros = rig.microBatches
        // Checkpoints as the contest models have them (no contest window here: the rig builds the
        // parameters and the graph together). A restored run continues at the checkpoint's step.
        var firstStep = 0
        if let from = c.restoreFrom {
            firstStep = try Checkpoint.restore(from: from, model: c.model.rawValue, dataset: c.dataset.rawValue, parameters: model.parameters)
        }
        func saveCheckpoint(step: Int) throws {
            guard let dir = c.checkpointDirectory else { return }
            try Checkpoint.save(model: c.model.rawValue, dataset: c.dataset.rawValue, globalStep: step, parameters: model.parameters, to: dir)
        }
        // The batches of the other modes; with the parse in the step, none.
        let source: (any BatchSource)?
        if inMemory {
            source = try InMemoryBatchSource(dataset: dataset, batchSize: c.batch, count: 64)
        } else if c.stage {
            source = try StagedBatchSource(dataset: dataset, batchSize: c.batch, capacity: c.stageCapacity, threads: c.stageThreads,
                                           startIndex: firstStep)
        } else {
            source = nil
        }
        defer { (source as? StagedBatchSource)?.shutdown() }
        let stageCounters = { source?.counters ?? rig.inStepParse?.counters ?? StageCounters() }
        try saveCheckpoint(step: firstStep)

        let loop = try StepLoop.run(
            first: firstStep, warmup: c.warmupSteps, steps: c.steps, progress: progress,
            snapshot: { counters.snapshot(executor: executor, allocator: allocator, stage: stageCounters()) },
            loss: { model.head.lastStepLoss(microBatches: micros.count) }
        ) { step in
            if let source {
                let batch = try source.next()
                rig.step(batch, index: step) { executor.run(graph, memory: memory, step: step) }
                source.recycle(batch)
            } else {
                try rig.step(parsing: step) { executor.run(graph, memory: memory, step: step) }
            }
            return feed.validRows
        }
        try saveCheckpoint(step: firstStep + c.warmupSteps + c.steps)
        // Every training row malformed (and skipped): 0 samples/s is not a measurement.
        guard loop.steadySamples > 0 else { throw DataError.noUsableRows(file: dataset.name, skipped: dataset.skippedRows) }
        let end = counters.snapshot(executor: executor, allocator: allocator, stage: stageCounters())

        inspect?(model)
        let (auc, logloss, evalRows) = try Self.evaluate(model: model, dataset: dataset, feed: feed, batch: c.batch)
        return loop.result(c, extraEcho: ["numa_effect": .string(numaEffect)], counters: counters, end: end,
                           extraSteady: rig.context.weightLayoutCounters, graphNodes: graph.nodeCount,
                           auc: auc, logloss: logloss, evalRows: evalRows, skippedRows: dataset.skippedRows, wallStartNs: wallStart,
                           interThreads: executor.workerCount)
    }

    /// The slices a stage-off step parses its batch in: one per inter-op worker (one with the inline
    /// executor), at most one per row.
    public static func parseParts(_ c: TrainConfig) -> Int {
        min(c.executor == .inline ? 1 : max(c.interThreads, 1), max(c.batch, 1))
    }

    /// Single-thread parse speed of the training file: `batches` batches of `batchSize` rows parsed
    /// into one reused batch. Returns rows/s and MB/s (bytes from the file's mean line length).
    public static func parseThroughput(dataset: CriteoDataset, batchSize: Int, batches: Int) throws -> (rowsPerSec: Double, mbPerSec: Double) {
        var b = Batch(capacity: batchSize)
        return try ParseThroughput.measure(batches: batches, batchSize: batchSize,
                                           bytesPerRow: Double(dataset.trainingBytes) / Double(dataset.trainingRows)) {
            try dataset.fill(&b, index: $0, batchSize: batchSize)
        }
    }

    /// Forward passes over the held-out rows: exact AUC and logloss.
    static func evaluate(model: any CTRModel, dataset: CriteoDataset, feed: StepFeed, batch: Int) throws -> (Double, Double, Int) {
        let graph = try model.evaluationGraph(rows: batch)
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        let executor = InlineExecutor()
        var scores: [Float] = []
        var labels: [Float] = []
        for b in try dataset.evalBatches(size: batch) where b.size > 0 {
            feed.stage(b)
            executor.run(graph, memory: memory, step: 0)
            scores.append(contentsOf: UnsafeBufferPointer(start: model.head.scores, count: b.size))
            labels.append(contentsOf: b.labels[0..<b.size])
        }
        let auc = scores.withUnsafeBufferPointer { s in labels.withUnsafeBufferPointer { Metrics.auc(scores: s, labels: $0) } }
        let logloss = scores.withUnsafeBufferPointer { s in labels.withUnsafeBufferPointer { Metrics.logloss(probabilities: s, labels: $0) } }
        return (auc, logloss, scores.count)
    }
}
