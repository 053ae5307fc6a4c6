/// Cumulative counters of an executor. Phase figures are differences of two snapshots.
public struct ExecutorCounters: Sendable, Equatable {
    /// Units of work dispatched (a node, or a batch of cheap nodes under `costmodel`).
    public var tasks: Int = 0
    /// Tasks taken from another worker's deque.
    public var steals: Int = 0
    /// Steal attempts that found nothing.
    public var failedSteals: Int = 0
    /// Times a worker went to sleep waiting for work.
    public var parks: Int = 0
    /// Nodes run inside a batch of cheap nodes (`costmodel`).
    public var batchedNodes: Int = 0
    /// Nodes executed.
    public var nodes: Int = 0
    /// Nodes run with a boosted OpenMP team (`IntraOpBoost`).
    public var boostedNodes: Int = 0
    public init() {}

    public static func - (a: Self, b: Self) -> Self {
        var d = ExecutorCounters()
        d.tasks = a.tasks - b.tasks; d.steals = a.steals - b.steals
        d.failedSteals = a.failedSteals - b.failedSteals; d.parks = a.parks - b.parks
        d.batchedNodes = a.batchedNodes - b.batchedNodes; d.nodes = a.nodes - b.nodes
        d.boostedNodes = a.boostedNodes - b.boostedNodes
        return d
    }
}

/// Runs a step graph. One executor instance runs one graph's steps, one step at a time.
public protocol StepExecutor: AnyObject {
    /// Policy name as in `--executor`.
    var name: String { get }
    /// Number of distinct `NodeContext.worker` values it uses (per-worker resources are sized by it).
    var workerCount: Int { get }
    /// Runs every node of `graph` once, respecting dependencies; returns when all finished.
    /// `memory.beginStep()` is called by the executor before the first node.
    func run(_ graph: StepGraph, memory: StepMemory, step: Int)
    /// Cumulative counters.
    var counters: ExecutorCounters { get }
    /// Stops worker threads (idempotent).
    func shutdown()
}
