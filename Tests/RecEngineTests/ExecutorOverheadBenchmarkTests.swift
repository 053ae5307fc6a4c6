import Foundation
import Synchronization
import XCTest
@testable import RecEngine

/// A shared atomic count captured by node bodies.
final class Tally: Sendable {
    let value = Atomic<Int>(0)
}

/// Prints per-step scheduling overhead of each executor on a 300-node graph of trivial nodes
/// (a figure for the report, not a timing assertion). Steps: `RECTUNE_BENCH_STEPS` (default 500).
final class ExecutorOverheadBenchmarkTests: XCTestCase {
    /// A seeded random DAG: node i depends on 1–3 of the 24 nodes before it (nodes 0..<8 are roots).
    static func trivialGraph(nodes: Int = 300, seed: UInt64 = 42, counter: Tally) throws -> StepGraph {
        let b = GraphBuilder()
        var state = seed
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var ids: [NodeID] = []
        for i in 0..<nodes {
            var deps: [NodeID] = []
            if i >= 8 {
                for _ in 0..<(1 + next() % 3) { deps.append(ids[max(0, i - 1 - next() % 24)]) }
            }
            ids.append(b.node("n\(i)", kind: .forward, after: deps) { _ in
                counter.value.add(1, ordering: .relaxed)
            })
        }
        return try b.build()
    }

    func testPrintPerStepOverheadFigures() throws {
        let steps = ProcessInfo.processInfo.environment["RECTUNE_BENCH_STEPS"].flatMap(Int.init) ?? 500
        let executors: [any StepExecutor] = [InlineExecutor(), PoolExecutor(threads: 2),
                                             CostModelExecutor(threads: 2, profileStart: 10, profileStop: 50)]
        for e in executors {
            let counter = Tally()
            let graph = try Self.trivialGraph(counter: counter)
            let memory = StepMemory(graph: graph, allocator: SystemAllocator())
            let warm = 100
            for s in 0..<warm { e.run(graph, memory: memory, step: s) }
            let before = e.counters
            let t0 = WorkStealingScheduler.monotonicMicros()
            for s in warm..<(warm + steps) { e.run(graph, memory: memory, step: s) }
            let micros = WorkStealingScheduler.monotonicMicros() - t0
            let c = e.counters - before
            e.shutdown()
            let n = Double(steps)
            print(String(format: "overhead %@ (%d nodes, %d steps): %.1f µs/step, %.3f µs/node, tasks/step %.1f, steals/step %.2f, failed steals/step %.2f, parks/step %.2f, batched/step %.1f",
                         e.name, graph.nodeCount, steps, micros / n, micros / n / Double(graph.nodeCount),
                         Double(c.tasks) / n, Double(c.steals) / n, Double(c.failedSteals) / n, Double(c.parks) / n, Double(c.batchedNodes) / n))
            XCTAssertEqual(counter.value.load(ordering: .relaxed), (warm + steps) * graph.nodeCount, "\(e.name): every node ran once per step")
            XCTAssertEqual(c.nodes, steps * graph.nodeCount)
        }
    }
}
