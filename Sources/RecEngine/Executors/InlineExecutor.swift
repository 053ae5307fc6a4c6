/// `--executor inline` (DeepRec's Inline Executor): the whole step on the calling thread in
/// topological order. No tasks are handed to other threads, so steals are 0 by construction.
public final class InlineExecutor: StepExecutor {
    public let name = "inline"
    public let workerCount = 1
    public private(set) var counters = ExecutorCounters()

    public init() {}

    public func run(_ graph: StepGraph, memory: StepMemory, step: Int) {
        memory.beginStep()
        for id in graph.topologicalOrder {
            graph.execute(id, worker: 0, memory: memory, step: step)
        }
        counters.tasks += graph.nodeCount
        counters.nodes += graph.nodeCount
    }

    public func shutdown() {}
}
