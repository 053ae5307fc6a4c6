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

    /// - Parameter workers: executor workers (per-worker oneDNN streams and scratchpads).
    init(config c: TrainConfig, workers: Int) throws {
        context = try Trainer.makeContext(c, workers: workers)
        feed = StepFeed(capacity: c.batch)
        model = try makeModel(config: c, context: context, feed: feed)
        microBatches = MicroBatch.split(batch: c.batch, count: c.microBatch)
        graph = try model.trainingGraph(microBatches: microBatches)
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
}
