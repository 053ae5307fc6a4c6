import RecSystem

/// What bounds a model's step: the FLOPs of its dense products (for the roofline) and the
/// critical path the cost-model executor measures (for `rectune bench --profile`).
public enum StepAnalysis {
    /// One node of the critical path.
    public struct PathNode: Sendable {
        public let name: String
        public let kind: String
        /// Mean measured time of the node (µs) over the profiling window.
        public let micros: Double
        /// The node's dense FLOPs (0 for nodes without a oneDNN product).
        public let flops: Double
    }

    /// The longest chain of the step graph by measured node times.
    public struct CriticalPath: Sendable {
        public let nodes: [PathNode]
        /// Nodes in the step graph.
        public let graphNodes: Int
        /// Sum of all nodes' measured times (µs): the step's work.
        public let workMicros: Double
        /// Sum of the path's node times (µs): no schedule finishes a step faster.
        public var pathMicros: Double { nodes.reduce(0) { $0 + $1.micros } }
    }

    /// The critical path of `graph` under `plan` (measured costs), most critical root first.
    public static func criticalPath(graph: StepGraph, plan: CostModelPlan) -> CriticalPath {
        let nodes = plan.criticalPath(roots: graph.roots).map { i in
            PathNode(name: graph.nodes[i].name, kind: graph.nodes[i].kind.rawValue, micros: plan.nodeCostMicros[i],
                     flops: graph.nodes[i].flops)
        }
        return CriticalPath(nodes: nodes, graphNodes: graph.nodeCount, workMicros: plan.nodeCostMicros.reduce(0, +))
    }

    /// Runs `warmup` steps, profiles `steps` steps on a cost-model executor with `c`'s threads
    /// (and `intra_boost`), and returns the plan's critical path. `step(i, executor)` stages step
    /// `i`'s batch and runs it on the executor.
    static func measureCriticalPath(_ c: TrainConfig, graph: StepGraph, context: DNNLContext, warmup: Int, steps: Int,
                                    step: (Int, any StepExecutor) throws -> Void) throws -> CriticalPath {
        var cm = c
        cm.executor = .costmodel
        cm.costmodelStart = warmup
        cm.costmodelStop = warmup + steps
        let executor = Trainer.makeExecutor(cm, context: context)
        defer { executor.shutdown() }
        for i in 0...(warmup + steps) { try step(i, executor) }
        guard let plan = (executor as? CostModelExecutor)?.plan else {
            throw EngineError.invalidConfiguration("the cost model made no plan after \(warmup + steps + 1) steps")
        }
        return criticalPath(graph: graph, plan: plan)
    }

    /// A step timeline: which node ran when and on which worker, for `steps` steps after `warmup`,
    /// on `c`'s own executor (`pool` or `costmodel`; a cost-model plan is made in the warm-up when
    /// it is long enough, as in training). The graph comes with it for the node names.
    public struct Timeline: Sendable {
        public let graph: StepGraph
        public let workerCount: Int
        public let steps: [StepTimeline.Step]
        public var summary: TimelineSummary { TimelineSummary(steps: steps, workerCount: workerCount) }
    }

    static func recordTimeline(_ c: TrainConfig, graph: StepGraph, context: DNNLContext, warmup: Int, steps: Int,
                               step: (Int, any StepExecutor) throws -> Void) throws -> Timeline {
        guard c.executor != .inline else {
            throw EngineError.invalidConfiguration("a step timeline needs the pool or costmodel executor (inline runs every node on one thread in order)")
        }
        guard steps >= 1 else { throw EngineError.invalidConfiguration("a step timeline needs at least 1 step, got \(steps)") }
        let executor = Trainer.makeExecutor(c, context: context)
        defer { executor.shutdown() }
        guard let recorder = executor as? any TimelineRecording else {
            throw EngineError.invalidConfiguration("executor \(executor.name) records no timeline")
        }
        for i in 0..<warmup { try step(i, executor) }
        let timeline = StepTimeline(nodeCount: graph.nodeCount)
        recorder.timeline = timeline
        for i in warmup..<(warmup + steps) { try step(i, executor) }
        recorder.timeline = nil
        return Timeline(graph: graph, workerCount: executor.workerCount, steps: timeline.steps)
    }
}

/// The dense roofline: the samples/s a model would reach if its steps did nothing but its dense
/// products, every core running them at the host's measured GEMM rate. Two ceilings: the nominal
/// one multiplies one core's rate alone by the cores; the busy one uses the rate the cores deliver
/// while all of them run dense products at once (`DenseBenchmark.concurrentRate`), which is lower
/// when the cores share FMA units (SMT siblings under a hypervisor), memory bandwidth or a host.
public struct DenseRoofline: Sendable, Equatable {
    /// Cores the run can use (inter-op workers × intra-op threads, at most the CPUs).
    public let cores: Int
    /// Measured GEMM rate of one core, GFLOP/s.
    public let gflopsPerCore: Double
    /// Dense FLOPs of one training sample (forward, backward-data, backward-weights).
    public let flopsPerSample: Double
    /// Measured GEMM rate of all `cores` together while every one runs dense products, GFLOP/s;
    /// nil when not measured.
    public let busyGFLOPS: Double?

    public init(cores: Int, gflopsPerCore: Double, flopsPerSample: Double, busyGFLOPS: Double? = nil) {
        self.cores = cores
        self.gflopsPerCore = gflopsPerCore
        self.flopsPerSample = flopsPerSample
        self.busyGFLOPS = busyGFLOPS
    }

    /// `cores × rate / FLOPs per sample`.
    public var samplesPerSec: Double { Double(cores) * gflopsPerCore * 1e9 / flopsPerSample }

    /// Measured samples/s as a fraction of the roofline.
    public func fraction(_ measuredSamplesPerSec: Double) -> Double { measuredSamplesPerSec / samplesPerSec }

    /// `busy rate / FLOPs per sample`: what the cores can reach together; nil when not measured.
    public var busySamplesPerSec: Double? { busyGFLOPS.map { $0 * 1e9 / flopsPerSample } }

    /// Measured samples/s as a fraction of the busy roofline; nil when not measured.
    public func busyFraction(_ measuredSamplesPerSec: Double) -> Double? { busySamplesPerSec.map { measuredSamplesPerSec / $0 } }

    /// Cores a run with `inter` workers of `intra` OpenMP threads each can use on this host.
    public static func cores(inter: Int, intra: Int) -> Int {
        min(max(inter, 1) * max(intra, 1), max(CPUAffinity.allowedCPUs().count, 1))
    }
}

extension CostModelPlan {
    /// The critical path: from the root with the largest critical-path cost, each node's
    /// critical successor, to a sink (node indices). Empty for an empty graph.
    public func criticalPath(roots: [NodeID]) -> [Int] {
        guard var n = roots.map(\.index).max(by: { criticalPathCost[$0] < criticalPathCost[$1] }) else { return [] }
        var path = [n]
        while criticalSuccessor[n] >= 0 {
            n = criticalSuccessor[n]
            path.append(n)
        }
        return path
    }
}

extension Trainer {
    /// Dense FLOPs per sample of `c`'s training step (the graph's dense nodes / batch).
    public static func denseFLOPsPerSample(_ c: TrainConfig) throws -> Double {
        var one = c
        one.executor = .inline
        let rig = try StepRig(config: one, workers: 1)
        return rig.graph.denseFLOPs / Double(c.batch)
    }

    /// The critical path of `c`'s step on `c.interThreads` cost-model workers, from in-memory batches.
    public static func criticalPath(config c: TrainConfig, dataset: CriteoDataset, warmup: Int = 5,
                                    steps: Int = 20) throws -> StepAnalysis.CriticalPath {
        try withInMemorySteps(c, dataset: dataset) { graph, context, step in
            try StepAnalysis.measureCriticalPath(c, graph: graph, context: context, warmup: warmup, steps: steps, step: step)
        }
    }

    /// The step timeline of `c` on its executor and threads, from in-memory batches (`StepAnalysis.Timeline`).
    public static func timeline(config c: TrainConfig, dataset: CriteoDataset, warmup: Int = 20,
                                steps: Int = 10) throws -> StepAnalysis.Timeline {
        try withInMemorySteps(c, dataset: dataset) { graph, context, step in
            try StepAnalysis.recordTimeline(c, graph: graph, context: context, warmup: warmup, steps: steps, step: step)
        }
    }

    /// Calls `body` with `c`'s step graph, its oneDNN context and a step function that stages
    /// in-memory batch `i` and runs it on the given executor.
    private static func withInMemorySteps<T>(_ c: TrainConfig, dataset: CriteoDataset,
                                             _ body: (StepGraph, DNNLContext, (Int, any StepExecutor) throws -> Void) throws -> T) throws -> T {
        let rig = try StepRig(config: c, workers: c.interThreads)
        let source = try InMemoryBatchSource(dataset: dataset, batchSize: c.batch, count: 8)
        return try body(rig.graph, rig.context) { i, executor in
            let batch = try source.next()
            rig.step(batch, index: i) { executor.run(rig.graph, memory: rig.memory, step: i) }
            source.recycle(batch)
        }
    }
}

extension ContestTrainer {
    /// Dense FLOPs per sample of `c`'s contest training step.
    public static func denseFLOPsPerSample(_ c: TrainConfig, dataset: ContestDataset) throws -> Double {
        let context = try DNNLContext(workers: 1)
        let feed = ContestFeed(schema: dataset.schema, capacity: c.batch, buckets: dataset.buckets)
        let model = try makeContestModel(config: c, context: context, feed: feed)
        let graph = try model.trainingGraph(microBatches: MicroBatch.split(batch: c.batch, count: c.microBatch))
        return graph.denseFLOPs / Double(c.batch)
    }

    /// The critical path of `c`'s contest step on `c.interThreads` cost-model workers, from in-memory batches.
    public static func criticalPath(config c: TrainConfig, dataset: ContestDataset, warmup: Int = 3,
                                    steps: Int = 10) throws -> StepAnalysis.CriticalPath {
        try withSteps(c, dataset: dataset) { graph, context, step in
            try StepAnalysis.measureCriticalPath(c, graph: graph, context: context, warmup: warmup, steps: steps, step: step)
        }
    }

    /// The step timeline of contest model `c` on its executor and threads (`StepAnalysis.Timeline`).
    public static func timeline(config c: TrainConfig, dataset: ContestDataset, warmup: Int = 20,
                                steps: Int = 10) throws -> StepAnalysis.Timeline {
        try withSteps(c, dataset: dataset) { graph, context, step in
            try StepAnalysis.recordTimeline(c, graph: graph, context: context, warmup: warmup, steps: steps, step: step)
        }
    }

    /// Calls `body` with contest model `c`'s step graph, its oneDNN context and a step function
    /// that stages batch `i` and runs it on the given executor.
    private static func withSteps<T>(_ c: TrainConfig, dataset: ContestDataset,
                                     _ body: (StepGraph, DNNLContext, (Int, any StepExecutor) throws -> Void) throws -> T) throws -> T {
        let context = try Trainer.makeContext(c, workers: c.interThreads)
        let rig = try ContestStepRig(config: c, dataset: dataset, context: context)
        defer { rig.source.shutdown() }
        return try body(rig.graph, context) { i, executor in
            try rig.beginStep(i)
            executor.run(rig.graph, memory: rig.memory, step: i)
            rig.allocator.stepEnded(i)
        }
    }
}
