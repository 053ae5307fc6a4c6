import Foundation
import RecSystem
import Synchronization
import XCTest
@testable import RecEngine

final class ExecutorPoolTests: XCTestCase {
    private func executors() -> [(String, any StepExecutor)] {
        [("inline", InlineExecutor()),
         ("pool1", PoolExecutor(threads: 1)),
         ("pool2", PoolExecutor(threads: 2)),
         ("pool4", PoolExecutor(threads: 4)),
         ("costmodel2", CostModelExecutor(threads: 2, profileStart: 2, profileStop: 5)),
         ("costmodel3", CostModelExecutor(threads: 3, profileStart: 0, profileStop: 3, batchThresholdMicros: 50))]
    }

    func testEveryNodeRunsOnceAfterItsDependencies() throws {
        for (shapeName, shape) in [("diamond", TestGraphs.diamond()), ("wide", TestGraphs.wide()), ("ctr", TestGraphs.ctr(denseWork: 20_000))] {
            let model = try SyntheticModel(shape)
            for (name, executor) in executors() {
                let alloc = CountingAllocator()
                runSteps(model, executor, allocator: alloc, steps: 0..<12) { step in
                    model.assertRanOnceInOrder("\(shapeName)/\(name) step \(step)")
                    XCTAssertEqual(alloc.live.load(ordering: .relaxed), 0, "\(shapeName)/\(name): tensors live after step \(step)")
                }
                XCTAssertEqual(alloc.total.load(ordering: .relaxed), 12 * shape.count, "\(shapeName)/\(name): one tensor per node per step")
                XCTAssertEqual(executor.counters.nodes, 12 * shape.count, "\(shapeName)/\(name)")
                XCTAssertEqual(model.patternErrors.load(ordering: .relaxed), 0, "\(shapeName)/\(name): corrupted tensors")
                executor.shutdown()
            }
        }
    }

    func testResultsAreIdenticalAcrossExecutors() throws {
        var reference: (outputs: [[Float]], params: [Float])?
        for (name, executor) in executors() {
            let model = try SyntheticModel(TestGraphs.ctr(denseWork: 10_000))
            var outputs: [[Float]] = []
            runSteps(model, executor, allocator: SystemAllocator(), steps: 0..<25) { _ in outputs.append(model.outputSnapshot) }
            executor.shutdown()
            if let reference {
                XCTAssertEqual(outputs, reference.outputs, "\(name): node outputs differ from inline")
                XCTAssertEqual(model.paramSnapshot, reference.params, "\(name): parameters differ from inline")
            } else {
                XCTAssertTrue(model.paramSnapshot.contains { $0 != 0 }, "updates must change parameters")
                reference = (outputs, model.paramSnapshot)
            }
        }
    }

    func testPoolStealsOnWideGraph() throws {
        let model = try SyntheticModel(TestGraphs.wide(width: 200, work: 5_000))
        let pool = PoolExecutor(threads: 2)
        defer { pool.shutdown() }
        runSteps(model, pool, allocator: SystemAllocator(), steps: 0..<20)
        let c = pool.counters
        XCTAssertGreaterThan(c.steals, 0, "a second worker must steal from a 200-wide fan-out: \(c)")
        XCTAssertEqual(c.tasks, 20 * model.spec.count, "pool dispatches one task per node")
        XCTAssertEqual(c.nodes, 20 * model.spec.count)
        XCTAssertEqual(c.batchedNodes, 0)
    }

    func testWorkerStartCallbackNamesAndShutdown() throws {
        let seen = Mutex<[Int: Int]>([:])
        let pool = PoolExecutor(threads: 3, pinThreads: false) { w in seen.withLock { $0[w, default: 0] += 1 } }
        let model = try SyntheticModel(TestGraphs.wide(width: 40, work: 1_000))
        runSteps(model, pool, allocator: SystemAllocator(), steps: 0..<3)
        // Pool threads name themselves, then call onWorkerStart, when the OS first runs them.
        let deadline = Date().addingTimeInterval(10)
        while seen.withLock({ $0.count }) < 3 && Date() < deadline { usleep(1_000) }
        let names = Self.threadNames()
        XCTAssertTrue(names.contains("rectune-pool-1") && names.contains("rectune-pool-2"), "thread names: \(names)")
        pool.shutdown()
        pool.shutdown()   // idempotent
        XCTAssertEqual(seen.withLock { $0 }, [0: 1, 1: 1, 2: 1], "onWorkerStart once per worker")
        XCTAssertFalse(Self.threadNames().contains("rectune-pool-1"), "pool threads joined by shutdown()")
    }

    func testPinnedPoolRunsCorrectly() throws {
        let allowed = CPUAffinity.allowedCPUs()
        let pool = PoolExecutor(threads: 2, pinThreads: true)
        let model = try SyntheticModel(TestGraphs.diamond())
        runSteps(model, pool, allocator: SystemAllocator(), steps: 0..<5) { model.assertRanOnceInOrder("pinned step \($0)") }
        XCTAssertEqual(CPUAffinity.allowedCPUs(), [allowed[0]], "worker 0 (the caller) is pinned to the first allowed CPU")
        pool.shutdown()
        // Undo worker 0's pin on the test thread.
        try CPUAffinity.setCurrentThread(toCPUs: allowed)
    }

    func testManyShortStepsDoNotLoseWakeups() throws {
        // Thousands of tiny steps exercise the park / unpark / completion hand-off.
        let model = try SyntheticModel(TestGraphs.diamond(work: 10))
        for threads in [2, 3] {
            let pool = PoolExecutor(threads: threads)
            runSteps(model, pool, allocator: SystemAllocator(), steps: 0..<3_000)
            XCTAssertEqual(pool.counters.nodes, 3_000 * 4)
            pool.shutdown()
        }
    }

    func testIdleWorkersStayAwakeAcrossTheGapBetweenSteps() throws {
        // The caller's work between two steps (~20 µs here, as in training) must not put the other
        // worker to sleep: waking it costs a futex wake-up (20–100 µs on these VMs) at the start of
        // every step. With the former spin of 2048 scans, this test parked once per step.
        guard CPUAffinity.allowedCPUs().count >= 2 else { throw XCTSkip("needs 2 CPUs: with fewer, idle workers park at once") }
        let model = try SyntheticModel(TestGraphs.wide(width: 40, work: 2_000))
        let steps = 300
        func gap(_ micros: Double) {
            let until = WorkStealingScheduler.monotonicMicros() + micros
            while WorkStealingScheduler.monotonicMicros() < until {}
        }
        let pool = PoolExecutor(threads: 2)
        runSteps(model, pool, allocator: SystemAllocator(), steps: 0..<steps) { _ in gap(20) }
        let awake = pool.counters
        pool.shutdown()
        XCTAssertLessThan(awake.parks, steps / 10, "a 20 µs gap between steps parked the idle worker: \(awake)")
        XCTAssertGreaterThan(awake.steals, 0, "worker 1 must take part in the steps: \(awake)")
        // More threads than CPUs (2 workers × 2 OpenMP threads each): idle workers yield the CPU
        // after a short spin, so a 1 ms gap parks them.
        let crowded = PoolExecutor(threads: 2, intraThreads: CPUAffinity.allowedCPUs().count)
        runSteps(model, crowded, allocator: SystemAllocator(), steps: 0..<50) { _ in gap(1_000) }
        let parked = crowded.counters
        crowded.shutdown()
        XCTAssertGreaterThanOrEqual(parked.parks, 25, "with more threads than CPUs an idle worker must park: \(parked)")
    }

    static func threadNames() -> Set<String> {
        let dir = "/proc/self/task"
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return Set(tids.compactMap { try? String(contentsOfFile: "\(dir)/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
    }
}
