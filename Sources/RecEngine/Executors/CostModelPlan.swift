/// The schedule `CostModelExecutor` derives from its profiling window: each node's measured cost,
/// its critical-path cost (own cost plus the longest path from it to a sink), the successor that
/// continues its critical path, and which nodes are cheap enough to batch.
public final class CostModelPlan: Sendable {
    /// Average wall time of each node over the profiling window, in microseconds.
    public let nodeCostMicros: [Double]
    /// Critical-path cost of each node, in microseconds.
    public let criticalPathCost: [Double]
    /// For each node, the successor with the largest critical-path cost (-1 for sinks).
    public let criticalSuccessor: [Int]
    /// Nodes whose cost is below the batching threshold.
    public let cheap: [Bool]

    /// Builds the plan for `graph` from measured node costs (µs); nodes cheaper than
    /// `batchThresholdMicros` are batched.
    public init(graph: StepGraph, nodeCostMicros: [Double], batchThresholdMicros: Double) {
        precondition(nodeCostMicros.count == graph.nodeCount,
                     "cost vector has \(nodeCostMicros.count) entries for a graph of \(graph.nodeCount) nodes")
        self.nodeCostMicros = nodeCostMicros
        let (cp, next) = Self.criticalPaths(graph: graph, cost: nodeCostMicros)
        criticalPathCost = cp
        criticalSuccessor = next
        cheap = nodeCostMicros.map { $0 < batchThresholdMicros }
    }

    /// Longest-path costs to the sinks, by one pass over the reverse topological order:
    /// `cp[n] = cost[n] + max(cp[s] for s in successors(n))` (0 when n has no successor).
    /// Ties pick the successor that comes first in builder order.
    public static func criticalPaths(graph: StepGraph, cost: [Double]) -> (cost: [Double], successor: [Int]) {
        var cp = [Double](repeating: 0, count: graph.nodeCount)
        var next = [Int](repeating: -1, count: graph.nodeCount)
        for id in graph.topologicalOrder.reversed() {
            var best = 0.0
            var bestSucc = -1
            for s in graph.successors[id.index] where bestSucc == -1 || cp[s.index] > best {
                best = cp[s.index]
                bestSucc = s.index
            }
            cp[id.index] = cost[id.index] + best
            next[id.index] = bestSucc
        }
        return (cp, next)
    }

    /// A queue item for one node, prioritized by its critical-path cost.
    @inline(__always)
    func item(_ node: Int) -> WorkItem {
        WorkItem(node: node, priority: criticalPathCost[node])
    }

    /// A queue item for a batch of cheap nodes, run most critical first, prioritized by its
    /// most critical member.
    func item(batch: [Int]) -> WorkItem {
        let sorted = batch.sorted { criticalPathCost[$0] != criticalPathCost[$1] ? criticalPathCost[$0] > criticalPathCost[$1] : $0 < $1 }
        return WorkItem(batch: sorted, priority: criticalPathCost[sorted[0]])
    }
}
