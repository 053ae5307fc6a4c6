/// What every training step needs, built once from a config: the oneDNN context, the input feed,
/// the model, its step graph and the graph's step memory. Shared by `Trainer` and `NodeProfiler`
/// so both run the same step the same way.
struct StepRig {
    let context: DNNLContext
    let feed: StepFeed
    let model: any CTRModel
    let microBatches: [MicroBatch]
    let graph: StepGraph
    let allocator: any TensorAllocator
    let memory: StepMemory
    /// With `parseInStep`: the graph's first nodes, which parse each step's batch into the feed.
    let inStepParse: InStepParse?

    /// - Parameters:
    ///   - workers: executor workers (per-worker oneDNN streams and scratchpads).
    ///   - parseInStep: stage off, end to end: the data set whose batches the step parses itself
    ///     (`InStepParse`, in `Trainer.parseParts(c)` slices) and `step(parsing:execute:)` runs; nil when the
    ///     trainer hands each step a parsed `Batch` (`step(_:index:execute:)`).
    init(config c: TrainConfig, workers: Int, parseInStep dataset: CriteoDataset? = nil) throws {
        context = try Trainer.makeContext(c, workers: workers)
        feed = StepFeed(capacity: c.batch)
        model = try makeModel(config: c, context: context, feed: feed)
        microBatches = MicroBatch.split(batch: c.batch, count: c.microBatch)
        let training = try model.trainingGraph(microBatches: microBatches)
        if let dataset {
            let parse = InStepParse(CriteoFeedParsing(dataset: dataset, feed: feed), batchSize: c.batch, parts: Trainer.parseParts(c))
            inStepParse = parse
            graph = try training.prefixed(by: parse.addNodes(to:))
        } else {
            inStepParse = nil
            graph = training
        }
        allocator = Trainer.makeAllocator(c)
        memory = StepMemory(graph: graph, allocator: allocator)
    }

    /// Stages `batch` and runs step `index` through `execute`, bracketed for the allocator
    /// (whose recording window and plan are driven by step boundaries).
    func step(_ batch: Batch, index: Int, execute: () -> Void) {
        feed.stage(batch)
        allocator.stepBegan(index)
        execute()
        allocator.stepEnded(index)
    }

    /// Runs step `index` through `execute` on training batch `index`, which the step's first nodes
    /// parse (`inStepParse`, required); throws that batch's malformed-row error under `bad_rows: fail`.
    func step(parsing index: Int, execute: () -> Void) throws {
        guard let parse = inStepParse else { preconditionFailure("StepRig.step(parsing:) needs a rig built with parseInStep") }
        try parse.prepare(batch: index)
        allocator.stepBegan(index)
        execute()
        allocator.stepEnded(index)
        try parse.finish()
    }
}
