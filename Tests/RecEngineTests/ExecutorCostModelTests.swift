import XCTest
@testable import RecEngine

final class ExecutorCostModelTests: XCTestCase {
    /// a(1) → b(2) → d(1) → e(3); a → c(5) → d; a → e.
    func testCriticalPathMatchesHandComputedValues() throws {
        let b = GraphBuilder()
        let a = b.node("a", kind: .input) { _ in }
        let nb = b.node("b", kind: .forward, after: [a]) { _ in }
        let c = b.node("c", kind: .forward, after: [a]) { _ in }
        let d = b.node("d", kind: .backward, after: [nb, c]) { _ in }
        b.node("e", kind: .update, after: [d, a]) { _ in }
        let graph = try b.build()
        let plan = CostModelPlan(graph: graph, nodeCostMicros: [1, 2, 5, 1, 3], batchThresholdMicros: 1.5)
        // e = 3; d = 1 + 3; c = 5 + 4; b = 2 + 4; a = 1 + max(6, 9, 3).
        XCTAssertEqual(plan.criticalPathCost, [10, 6, 9, 4, 3])
        XCTAssertEqual(plan.criticalSuccessor, [2, 3, 3, 4, -1])
        XCTAssertEqual(plan.cheap, [true, false, false, true, false])
        let batch = plan.item(batch: [3, 0])
        XCTAssertEqual(batch.batch, [0, 3], "a batch runs its most critical node first")
        XCTAssertEqual(batch.priority, 10)
    }

    func testProfilesInWindowThenPlans() throws {
        let model = try SyntheticModel(TestGraphs.ctr(denseWork: 40_000))
        let cm = CostModelExecutor(threads: 2, profileStart: 2, profileStop: 6)
        defer { cm.shutdown() }
        runSteps(model, cm, allocator: SystemAllocator(), steps: 0..<6)
        XCTAssertNil(cm.criticalPathCost, "no plan before the first step at profileStop")
        XCTAssertEqual(cm.counters.batchedNodes, 0, "profiling steps run like pool")
        runSteps(model, cm, allocator: SystemAllocator(), steps: 6..<12) { model.assertRanOnceInOrder("costmodel step \($0)") }
        let cost = try XCTUnwrap(cm.nodeCostMicros)
        let cp = try XCTUnwrap(cm.criticalPathCost)
        let idx = { (name: String) in model.spec.firstIndex { $0.name == name }! }
        XCTAssertGreaterThan(cost[idx("fwd0")], cost[idx("gather0")], "a dense layer costs more than a gather")
        XCTAssertGreaterThan(cp[idx("input")], cp[idx("loss")], "the input heads the critical path")
        XCTAssertGreaterThanOrEqual(cp[idx("input")], cost.reduce(0, +) * 0.5, "most of the work is on one chain")
        XCTAssertGreaterThan(cm.counters.batchedNodes, 0, "cheap gathers and sparse updates are batched")
    }

    /// Issue 3: after its profiling window, costmodel records fewer tasks and fewer steals per
    /// step than pool on a graph with parallel branches.
    func testCostModelHasFewerTasksAndStealsThanPool() throws {
        var spec = [SyntheticNode(name: "root", kind: .input, deps: [], work: 500)]
        var tails: [Int] = []
        for i in 0..<150 {
            spec.append(SyntheticNode(name: "cheap\(i)", kind: .forward, deps: [0], work: 200))
            tails.append(spec.count - 1)
        }
        for c in 0..<3 {
            var prev = 0
            for k in 0..<4 {
                spec.append(SyntheticNode(name: "chain\(c).\(k)", kind: .forward, deps: [prev], work: 80_000))
                prev = spec.count - 1
            }
            tails.append(prev)
        }
        spec.append(SyntheticNode(name: "sink", kind: .update, deps: tails, work: 500))
        let steps = 30, window = 0..<8
        func perStep(_ e: any StepExecutor) throws -> ExecutorCounters {
            let model = try SyntheticModel(spec)
            runSteps(model, e, allocator: SystemAllocator(), steps: window)
            let before = e.counters
            runSteps(model, e, allocator: SystemAllocator(), steps: window.upperBound..<steps) { model.assertRanOnceInOrder("\(e.name) step \($0)") }
            e.shutdown()
            return e.counters - before
        }
        let pool = try perStep(PoolExecutor(threads: 2))
        let cm = try perStep(CostModelExecutor(threads: 2, profileStart: 2, profileStop: window.upperBound))
        let n = Double(steps - window.upperBound)
        print("pool: tasks/step \(Double(pool.tasks) / n) steals/step \(Double(pool.steals) / n); " +
              "costmodel: tasks/step \(Double(cm.tasks) / n) steals/step \(Double(cm.steals) / n) batched/step \(Double(cm.batchedNodes) / n)")
        XCTAssertEqual(pool.nodes, cm.nodes)
        XCTAssertLessThan(cm.tasks, pool.tasks, "costmodel must dispatch fewer tasks: pool \(pool), costmodel \(cm)")
        XCTAssertLessThan(cm.steals, pool.steals, "costmodel must steal less: pool \(pool), costmodel \(cm)")
        XCTAssertGreaterThan(cm.batchedNodes, 0)
    }

    func testNoPlanWithoutProfilingWindow() throws {
        let model = try SyntheticModel(TestGraphs.diamond())
        let cm = CostModelExecutor(threads: 2, profileStart: 5, profileStop: 5)
        defer { cm.shutdown() }
        runSteps(model, cm, allocator: SystemAllocator(), steps: 0..<10) { model.assertRanOnceInOrder("step \($0)") }
        XCTAssertNil(cm.criticalPathCost, "an empty window leaves costmodel scheduling like pool")
    }
}
