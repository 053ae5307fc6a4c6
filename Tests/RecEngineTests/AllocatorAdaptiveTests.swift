import Foundation
import Glibc
import Synchronization
import XCTest
@testable import RecEngine

final class AllocatorAdaptiveTests: XCTestCase {
    func testSizeClassBoundaries() {
        XCTAssertEqual(SizeClass.index(for: 1), 0)
        XCTAssertEqual(SizeClass.index(for: 64), 0)
        XCTAssertEqual(SizeClass.index(for: 65), 1)
        XCTAssertEqual(SizeClass.index(for: 4096), 63)
        XCTAssertEqual(SizeClass.size(of: SizeClass.index(for: 4097)), 5120)
        XCTAssertEqual(SizeClass.size(of: SizeClass.index(for: 8192)), 8192)
        XCTAssertEqual(SizeClass.size(of: SizeClass.index(for: 8193)), 10240)
        XCTAssertEqual(SizeClass.size(of: SizeClass.index(for: 3_000_000)), 3_145_728)
        // Every size fits its class, within 25% (large) or 64 bytes (small), classes increase.
        var last = -1
        for bytes in stride(from: 1, through: 5_000_000, by: 977) {
            let c = SizeClass.index(for: bytes), s = SizeClass.size(of: c)
            XCTAssertGreaterThanOrEqual(s, bytes)
            XCTAssertTrue(bytes <= 4096 ? s - bytes < 64 : Double(s) <= Double(bytes) * 1.25 + 1, "\(bytes) → \(s)")
            XCTAssertEqual(s % 64, 0)
            XCTAssertGreaterThanOrEqual(c, last)
            last = c
            XCTAssertEqual(SizeClass.index(for: s), c, "a class's own size maps back to it")
        }
    }

    func testSteadyStateHasNoMissesAndReusesBlocks() throws {
        let model = try SyntheticModel(TestGraphs.ctr(denseWork: 2_000))
        let alloc = AdaptiveAllocator(warmupStart: 2, warmupSteps: 3)
        var bytesPerStep = 0
        runSteps(model, InlineExecutor(), allocator: alloc, steps: 0..<5)
        XCTAssertTrue(alloc.isPlanned)
        let planned = alloc.counters
        XCTAssertEqual(planned.hits, 0, "no hits before the plan")
        XCTAssertEqual(planned.misses, 5 * model.spec.count)
        bytesPerStep = model.graph.tensors.reduce(0) { $0 + $1.bytes }
        runSteps(model, InlineExecutor(), allocator: alloc, steps: 5..<15) { model.assertRanOnceInOrder("step \($0)") }
        let steady = alloc.counters
        XCTAssertEqual(steady.misses - planned.misses, 0, "steady-state steps fall back nowhere")
        XCTAssertEqual(steady.hits, 10 * model.spec.count)
        XCTAssertGreaterThan(steady.plannedBytes, 0)
        XCTAssertLessThan(steady.plannedBytes, bytesPerStep, "blocks of non-overlapping tensors are shared")
        XCTAssertLessThanOrEqual(steady.peakLiveBytes, bytesPerStep)
        XCTAssertEqual(model.patternErrors.load(ordering: .relaxed), 0)
    }

    /// A chain whose tensors never overlap more than two at a time needs 2 blocks (+ slack), not 40.
    func testChainReusesTheSameBlocks() throws {
        let spec = (0..<40).map { SyntheticNode(name: "n\($0)", kind: .forward, deps: $0 == 0 ? [] : [$0 - 1], work: 10, floats: 1024) }
        let model = try SyntheticModel(spec)
        let alloc = AdaptiveAllocator(warmupStart: 0, warmupSteps: 1, slackFraction: 0)
        runSteps(model, InlineExecutor(), allocator: alloc, steps: 0..<4)
        XCTAssertEqual(alloc.plannedBlocks, [SizeClass.index(for: 4096): 2])
        XCTAssertEqual(alloc.counters.plannedBytes, 2 * 4096)
        XCTAssertEqual(alloc.counters.hits, 3 * 40)
        XCTAssertEqual(model.patternErrors.load(ordering: .relaxed), 0)
    }

    /// Under concurrent executors, simultaneously live tensors never share memory: each node writes
    /// a (node, step) pattern and its users verify it.
    func testNoTwoLiveTensorsShareMemoryUnderConcurrentExecutors() throws {
        for make in [{ PoolExecutor(threads: 2) as any StepExecutor },
                     { CostModelExecutor(threads: 3, profileStart: 0, profileStop: 4) as any StepExecutor }] {
            let model = try SyntheticModel(TestGraphs.wide(width: 120, work: 2_000))
            let executor = make()
            let alloc = AdaptiveAllocator(warmupStart: 1, warmupSteps: 4)
            runSteps(model, executor, allocator: alloc, steps: 0..<40) { model.assertRanOnceInOrder("\(executor.name) step \($0)") }
            executor.shutdown()
            XCTAssertEqual(model.patternErrors.load(ordering: .relaxed), 0, "\(executor.name): a live tensor was overwritten")
            let c = alloc.counters
            XCTAssertGreaterThan(c.hits, 30 * model.spec.count, "\(executor.name): most steady-state allocations hit: \(c)")
            XCTAssertLessThanOrEqual(alloc.growths, alloc.maxGrowths)
            print("adaptive under \(executor.name): \(c)")
        }
    }

    func testChangedAndExhaustedSizesFallBackAsMisses() throws {
        let alloc = AdaptiveAllocator(warmupStart: 0, warmupSteps: 1, slackFraction: 0)
        let t = TensorID(index: 0)
        alloc.stepBegan(0)
        let a = alloc.allocate(bytes: 1000, tensor: t), b = alloc.allocate(bytes: 1000, tensor: t)
        alloc.deallocate(a, bytes: 1000, tensor: t); alloc.deallocate(b, bytes: 1000, tensor: t)
        alloc.stepEnded(0)
        XCTAssertEqual(alloc.plannedBlocks, [SizeClass.index(for: 1000): 2])
        alloc.stepBegan(1)
        let base = alloc.counters
        let p1 = alloc.allocate(bytes: 1000, tensor: t), p2 = alloc.allocate(bytes: 990, tensor: t)
        XCTAssertEqual(alloc.counters.hits - base.hits, 2, "same class (1024-byte blocks) hits")
        XCTAssertNotEqual(p1, p2)
        let p3 = alloc.allocate(bytes: 1000, tensor: t)      // class exhausted
        let p4 = alloc.allocate(bytes: 200_000, tensor: t)   // size never seen
        XCTAssertEqual(alloc.counters.misses - base.misses, 2, "exhausted and unplanned sizes are misses")
        for p in [p1, p2, p3, p4] { XCTAssertEqual(Int(bitPattern: p) % 64, 0, "64-byte alignment") }
        memset(p4, 0xAB, 200_000)   // fallback memory is real and writable
        alloc.deallocate(p3, bytes: 1000, tensor: t)           // to free(), not to the pool
        alloc.deallocate(p4, bytes: 200_000, tensor: t)
        alloc.deallocate(p2, bytes: 990, tensor: t)
        let p5 = alloc.allocate(bytes: 1000, tensor: t)
        XCTAssertEqual(p5, p2, "a released block is reused")
        alloc.deallocate(p5, bytes: 1000, tensor: t); alloc.deallocate(p1, bytes: 1000, tensor: t)
        alloc.stepEnded(1)
        XCTAssertEqual(alloc.counters.allocations, 2 + 5)
    }

    /// A class exhausted after the plan misses once, then a grown region serves it.
    func testExhaustedClassGrowsAfterTheStep() {
        let alloc = AdaptiveAllocator(warmupStart: 0, warmupSteps: 1, slackFraction: 0)
        let t = TensorID(index: 0)
        func step(_ n: Int, live: Int) {
            alloc.stepBegan(n)
            let ps = (0..<live).map { _ in alloc.allocate(bytes: 3000, tensor: t) }
            XCTAssertEqual(Set(ps).count, live, "distinct blocks")
            for p in ps { alloc.deallocate(p, bytes: 3000, tensor: t) }
            alloc.stepEnded(n)
        }
        step(0, live: 2)
        XCTAssertEqual(alloc.plannedBlocks, [SizeClass.index(for: 3000): 2])
        XCTAssertGreaterThanOrEqual(alloc.counters.plannedBytes, 2 * 3008)
        step(1, live: 5)
        XCTAssertEqual(alloc.counters.misses, 2 + 3, "three beyond the plan")
        XCTAssertEqual(alloc.growths, 1)
        XCTAssertEqual(alloc.plannedBlocks, [SizeClass.index(for: 3000): 5])
        step(2, live: 5)
        XCTAssertEqual(alloc.counters.misses, 5, "the grown region serves the next step")
        XCTAssertEqual(alloc.counters.hits, 2 + 5)
        alloc.stepBegan(3)
        let odd = alloc.allocate(bytes: 100_000, tensor: t)
        alloc.deallocate(odd, bytes: 100_000, tensor: t)
        alloc.stepEnded(3)
        XCTAssertEqual(alloc.growths, 1, "sizes never seen in the window are not grown")
    }

    func testExhaustedClassBorrowsFromALargerPlannedClass() {
        let alloc = AdaptiveAllocator(warmupStart: 0, warmupSteps: 1, slackFraction: 0)
        let t = TensorID(index: 0)
        alloc.stepBegan(0)
        let a = alloc.allocate(bytes: 1000, tensor: t), b = alloc.allocate(bytes: 1500, tensor: t)
        alloc.deallocate(a, bytes: 1000, tensor: t); alloc.deallocate(b, bytes: 1500, tensor: t)
        alloc.stepEnded(0)
        let base = alloc.counters
        let x = alloc.allocate(bytes: 1000, tensor: t), y = alloc.allocate(bytes: 1000, tensor: t)
        XCTAssertEqual(alloc.counters.hits - base.hits, 2, "the second 1000-byte tensor borrows the 1536-byte block")
        XCTAssertEqual(abs(x - y), 1024)
        alloc.deallocate(x, bytes: 1000, tensor: t); alloc.deallocate(y, bytes: 1000, tensor: t)
        let z = alloc.allocate(bytes: 1500, tensor: t)
        XCTAssertEqual(alloc.counters.hits - base.hits, 3, "the borrowed block went back to its own class")
        alloc.deallocate(z, bytes: 1500, tensor: t)
    }

    /// Two threads hammering one class: checks exclusivity (no block handed out twice) and prints
    /// the cost per allocate/free pair, to show the single Mutex is no bottleneck.
    func testConcurrentAllocationsNeverShareABlock() {
        let alloc = AdaptiveAllocator(warmupStart: 0, warmupSteps: 1, slackFraction: 0)
        let t = TensorID(index: 0)
        alloc.stepBegan(0)
        let held = (0..<8).map { _ in alloc.allocate(bytes: 256, tensor: t) }
        for p in held { alloc.deallocate(p, bytes: 256, tensor: t) }
        alloc.stepEnded(0)
        let rounds = 100_000
        let clashes = Atomic<Int>(0)
        let t0 = WorkStealingScheduler.monotonicMicros()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            let tag = UInt64(worker + 1)
            for _ in 0..<rounds {
                let p = alloc.allocate(bytes: 256, tensor: t).assumingMemoryBound(to: UInt64.self)
                p[0] = tag
                for _ in 0..<4 where p[0] != tag { clashes.add(1, ordering: .relaxed) }
                alloc.deallocate(UnsafeMutableRawPointer(p), bytes: 256, tensor: t)
            }
        }
        let micros = WorkStealingScheduler.monotonicMicros() - t0
        print(String(format: "adaptive allocator: %.0f ns per allocate+free pair, 2 threads contending", micros * 1000 / Double(2 * rounds)))
        XCTAssertEqual(clashes.load(ordering: .relaxed), 0)
        XCTAssertEqual(alloc.counters.hits, 2 * rounds)
    }
}
