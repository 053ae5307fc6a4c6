import XCTest
@testable import RecEngine

final class GraphBuilderTests: XCTestCase {
    func testTopologicalOrderRespectsDependencies() throws {
        let b = GraphBuilder()
        let a = b.node("a", kind: .forward) { _ in }
        let c = b.node("c", kind: .forward, after: [a]) { _ in }
        let d = b.node("d", kind: .forward, after: [a]) { _ in }
        let e = b.node("e", kind: .update, after: [c, d]) { _ in }
        let g = try b.build()
        let position = Dictionary(uniqueKeysWithValues: g.topologicalOrder.enumerated().map { ($1, $0) })
        XCTAssertLessThan(position[a]!, position[c]!)
        XCTAssertLessThan(position[d]!, position[e]!)
        XCTAssertEqual(g.roots, [a])
        XCTAssertEqual(Set(g.successors[a.index]), [c, d])
    }

    /// A prologue runs before every node of the graph; the graph keeps its nodes, dependencies,
    /// order and tensors (a body's tensor IDs still name its tensors).
    func testPrefixedGraphRunsThePrologueFirstAndKeepsTheGraph() throws {
        let b = GraphBuilder()
        let t = b.floats("x", count: 4)
        let a = b.node("a", kind: .forward, allocates: [t]) { ctx in ctx.memory.floats(t)[0] = 1 }
        let r = b.node("r", kind: .forward) { _ in }
        b.node("c", kind: .backward, after: [a, r], uses: [t], flops: 8) { _ in }
        let graph = try b.build()
        let prefixed = try graph.prefixed { p in
            let x = p.node("p0", kind: .input) { _ in }
            let y = p.node("p1", kind: .input) { _ in }
            return [p.node("join", kind: .input, after: [x, y]) { _ in }]
        }
        XCTAssertEqual(prefixed.nodes.map(\.name), ["p0", "p1", "join", "a", "r", "c"])
        XCTAssertEqual(prefixed.roots.map(\.index), [0, 1])
        XCTAssertEqual(prefixed.nodes.map { $0.dependencies.map(\.index) }, [[], [], [0, 1], [2], [2], [3, 4]])
        XCTAssertEqual(prefixed.topologicalOrder.map(\.index), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(prefixed.tensors.map(\.name), ["x"])
        XCTAssertEqual(prefixed.nodes[3].allocates, [t])
        XCTAssertEqual(prefixed.nodes[5].uses, [t])
        XCTAssertEqual(prefixed.denseFLOPs, 8)
        let memory = StepMemory(graph: prefixed, allocator: SystemAllocator())
        InlineExecutor().run(prefixed, memory: memory, step: 0)
    }

    func testRejectsTensorAllocatedTwice() {
        let b = GraphBuilder()
        let t = b.floats("x", count: 4)
        let a = b.node("a", kind: .forward, allocates: [t]) { _ in }
        b.node("b", kind: .forward, after: [a], allocates: [t]) { _ in }
        XCTAssertThrowsError(try b.build()) { XCTAssertEqual($0 as? GraphError, .tensorAllocatedTwice(tensor: "x", nodes: ["a", "b"])) }
    }

    func testRejectsUseNotOrderedAfterAllocation() {
        let b = GraphBuilder()
        let t = b.floats("x", count: 4)
        b.node("alloc", kind: .forward, allocates: [t]) { _ in }
        b.node("user", kind: .forward, uses: [t]) { _ in }
        XCTAssertThrowsError(try b.build()) {
            XCTAssertEqual($0 as? GraphError, .useBeforeAllocation(tensor: "x", node: "user", allocator: "alloc"))
        }
    }

    func testRejectsUnallocatedTensor() {
        let b = GraphBuilder()
        let t = b.floats("orphan", count: 4)
        b.node("user", kind: .forward, uses: [t]) { _ in }
        XCTAssertThrowsError(try b.build()) { XCTAssertEqual($0 as? GraphError, .tensorNeverAllocated(tensor: "orphan")) }
    }

    /// Tensors are freed after their last user, every step, through the allocator.
    func testStepMemoryReleasesAfterLastUser() throws {
        let b = GraphBuilder()
        let t = b.floats("x", count: 1024)
        let a = b.node("a", kind: .forward, allocates: [t]) { ctx in ctx.memory.floats(t)[0] = 1 }
        b.node("b", kind: .forward, after: [a], uses: [t]) { ctx in ctx.memory.floats(t)[0] += 1 }
        let g = try b.build()
        let allocator = SystemAllocator()
        let memory = StepMemory(graph: g, allocator: allocator)
        let executor = InlineExecutor()
        for step in 0..<3 { executor.run(g, memory: memory, step: step) }
        XCTAssertEqual(allocator.counters.allocations, 3)
        XCTAssertEqual(allocator.counters.peakLiveBytes, 4096)
    }

    func testMicroBatchSplit() {
        XCTAssertEqual(MicroBatch.split(batch: 10, count: 3).map(\.rows), [4, 3, 3])
        XCTAssertEqual(MicroBatch.split(batch: 10, count: 3).map(\.start), [0, 4, 7])
        XCTAssertEqual(MicroBatch.split(batch: 512, count: 1), [MicroBatch(start: 0, rows: 512)])
    }

    func testNodeProfilerFoldsNames() {
        XCTAssertEqual(NodeProfiler.fold("wdl.emb.gather.C7.m1"), "wdl.emb.gather.*")
        XCTAssertEqual(NodeProfiler.fold("wdl.dnn.0.fwd"), "wdl.dnn.0.fwd")
    }
}
