import Synchronization
import XCTest
@testable import RecEngine

/// A node of a synthetic test graph: its dependencies, how much real work it does (iterations
/// of a dependent floating-point loop, ~1 ns each) and whether it owns a persistent parameter.
struct SyntheticNode {
    var name: String
    var kind: NodeKind
    var deps: [Int]
    var work: Int
    var floats: Int = 64
}

/// A step graph whose nodes do real, deterministic work and record how they were run:
/// each node allocates one tensor, fills it with its computed value (element 0) and a pattern
/// unique to (node, step) (the rest), checks the pattern of every input tensor, stamps its run
/// order with an atomic clock, and sinks/updates write persistent outputs.
///
/// `@unchecked Sendable`: `outputs[i]` and `params[i]` are written only by node i, which runs
/// once per step, and read by the test between steps; everything else is atomic or immutable.
final class SyntheticModel: @unchecked Sendable {
    let spec: [SyntheticNode]
    private(set) var graph: StepGraph!
    private(set) var tensors: [TensorID] = []
    let runs: AtomicIntArray
    let stamps: AtomicIntArray
    let clock = Atomic<Int>(0)
    let patternErrors = Atomic<Int>(0)
    let outputs: UnsafeMutablePointer<Float>
    let params: UnsafeMutablePointer<Float>

    init(_ spec: [SyntheticNode]) throws {
        self.spec = spec
        runs = AtomicIntArray(count: spec.count)
        stamps = AtomicIntArray(count: spec.count)
        outputs = .allocate(capacity: spec.count)
        outputs.initialize(repeating: 0, count: spec.count)
        params = .allocate(capacity: spec.count)
        params.initialize(repeating: 0, count: spec.count)
        let b = GraphBuilder()
        tensors = spec.indices.map { b.floats("t\($0)", count: spec[$0].floats) }
        for (i, n) in spec.enumerated() {
            let own = tensors[i]
            let inputs = n.deps.map { tensors[$0] }
            let depIndices = n.deps, work = n.work
            b.node(n.name, kind: n.kind, after: n.deps.map { NodeID(index: $0) }, allocates: [own], uses: inputs) {
                [unowned self] ctx in
                self.body(node: i, deps: depIndices, work: work, ctx: ctx)
            }
        }
        graph = try b.build()
    }

    deinit {
        outputs.deallocate()
        params.deallocate()
    }

    static func pattern(node: Int, step: Int, element: Int) -> Float {
        Float((node &* 31 &+ element &+ step &* 7) % 4096)
    }

    private func body(node: Int, deps: [Int], work: Int, ctx: NodeContext) {
        runs.store(runs.load(at: node) + 1, at: node)
        stamps.store(clock.add(1, ordering: .relaxed).newValue, at: node)
        var v = Float(node % 13) + Float(ctx.step % 5) * 0.25
        for (k, d) in deps.enumerated() {
            let t = tensors[d]
            let p = ctx.memory.floats(t)
            let n = ctx.memory.bytes(t) / 4
            var bad = 0
            for e in 1..<n where p[e] != Self.pattern(node: d, step: ctx.step, element: e) { bad += 1 }
            if bad > 0 { patternErrors.add(1, ordering: .relaxed) }
            v = v * 0.75 + p[0] * Float(k + 1) * 0.125
        }
        var acc: Float = 1
        for j in 0..<work { acc = acc * 0.999_9 + Float(j & 7) * 1e-4 }
        v += acc * 1e-3
        let out = ctx.memory.floats(tensors[node])
        let n = ctx.memory.bytes(tensors[node]) / 4
        out[0] = v
        for e in 1..<n { out[e] = Self.pattern(node: node, step: ctx.step, element: e) }
        if spec[node].kind == .update { params[node] = params[node] * 0.5 + v }
        outputs[node] = v
    }

    /// Clears the per-step run records.
    func resetRecords() {
        for i in spec.indices { runs.store(0, at: i); stamps.store(0, at: i) }
    }

    /// Checks that every node ran exactly once and after all of its dependencies.
    func assertRanOnceInOrder(_ label: String, file: StaticString = #filePath, line: UInt = #line) {
        for i in spec.indices {
            XCTAssertEqual(runs.load(at: i), 1, "\(label): node \(spec[i].name) ran \(runs.load(at: i)) times", file: file, line: line)
            for d in spec[i].deps where stamps.load(at: d) >= stamps.load(at: i) {
                XCTFail("\(label): node \(spec[i].name) (stamp \(stamps.load(at: i))) ran before its dependency \(spec[d].name) (stamp \(stamps.load(at: d)))", file: file, line: line)
            }
        }
    }

    var outputSnapshot: [Float] { Array(UnsafeBufferPointer(start: outputs, count: spec.count)) }
    var paramSnapshot: [Float] { Array(UnsafeBufferPointer(start: params, count: spec.count)) }
}

/// Test graph shapes.
enum TestGraphs {
    /// a → {b, c} → d.
    static func diamond(work: Int = 2_000) -> [SyntheticNode] {
        [SyntheticNode(name: "a", kind: .input, deps: [], work: work),
         SyntheticNode(name: "b", kind: .forward, deps: [0], work: work * 3),
         SyntheticNode(name: "c", kind: .forward, deps: [0], work: work),
         SyntheticNode(name: "d", kind: .update, deps: [1, 2], work: work)]
    }

    /// A root fanning out to `width` nodes whose costs vary, then fanning in through a tree of
    /// reducers (~`width * 2` nodes in all).
    static func wide(width: Int = 100, work: Int = 3_000) -> [SyntheticNode] {
        var nodes = [SyntheticNode(name: "root", kind: .input, deps: [], work: work)]
        var level = (0..<width).map { i -> Int in
            nodes.append(SyntheticNode(name: "leaf\(i)", kind: .forward, deps: [0], work: work * (1 + i % 4)))
            return nodes.count - 1
        }
        var r = 0
        while level.count > 1 {
            var next: [Int] = []
            for pair in stride(from: 0, to: level.count, by: 2) {
                let deps = Array(level[pair..<min(pair + 2, level.count)])
                nodes.append(SyntheticNode(name: "reduce\(r)", kind: .reduce, deps: deps, work: work / 2))
                r += 1
                next.append(nodes.count - 1)
            }
            level = next
        }
        nodes.append(SyntheticNode(name: "sink", kind: .update, deps: [level[0]], work: work))
        return nodes
    }

    /// A CTR-like training step: an input, 26 cheap gathers, a concat, an MLP of `layers`
    /// expensive forward layers, a loss, backward-data and backward-weights per layer, a
    /// concat gradient, 26 cheap sparse updates and one dense update per layer.
    static func ctr(layers: Int = 3, cheapWork: Int = 300, denseWork: Int = 60_000) -> [SyntheticNode] {
        var n: [SyntheticNode] = [SyntheticNode(name: "input", kind: .input, deps: [], work: cheapWork)]
        let gathers = (0..<26).map { i -> Int in
            n.append(SyntheticNode(name: "gather\(i)", kind: .forward, deps: [0], work: cheapWork))
            return n.count - 1
        }
        n.append(SyntheticNode(name: "concat", kind: .forward, deps: gathers, work: cheapWork, floats: 256))
        var prev = n.count - 1
        var forwards: [Int] = []
        for l in 0..<layers {
            n.append(SyntheticNode(name: "fwd\(l)", kind: .forward, deps: [prev], work: denseWork, floats: 1024))
            prev = n.count - 1
            forwards.append(prev)
        }
        n.append(SyntheticNode(name: "loss", kind: .forward, deps: [prev], work: cheapWork))
        var grad = n.count - 1
        var dense: [Int] = []
        for l in (0..<layers).reversed() {
            n.append(SyntheticNode(name: "bwdW\(l)", kind: .backward, deps: [grad, forwards[l]], work: denseWork, floats: 1024))
            dense.append(n.count - 1)
            n.append(SyntheticNode(name: "bwdD\(l)", kind: .backward, deps: [grad], work: denseWork, floats: 1024))
            grad = n.count - 1
        }
        n.append(SyntheticNode(name: "concatGrad", kind: .backward, deps: [grad], work: cheapWork, floats: 256))
        let cg = n.count - 1
        for i in 0..<26 {
            n.append(SyntheticNode(name: "sparseUpdate\(i)", kind: .update, deps: [cg, gathers[i]], work: cheapWork))
        }
        for (k, d) in dense.enumerated() {
            n.append(SyntheticNode(name: "denseUpdate\(k)", kind: .update, deps: [d], work: cheapWork * 4))
        }
        return n
    }
}

/// An allocator that counts live allocations, to check that every step releases its tensors.
final class CountingAllocator: TensorAllocator {
    let name = "counting"
    private let inner = SystemAllocator()
    let live = Atomic<Int>(0)
    let total = Atomic<Int>(0)
    func allocate(bytes: Int, tensor: TensorID) -> UnsafeMutableRawPointer {
        live.add(1, ordering: .relaxed); total.add(1, ordering: .relaxed)
        return inner.allocate(bytes: bytes, tensor: tensor)
    }
    func deallocate(_ pointer: UnsafeMutableRawPointer, bytes: Int, tensor: TensorID) {
        live.subtract(1, ordering: .relaxed)
        inner.deallocate(pointer, bytes: bytes, tensor: tensor)
    }
    func stepBegan(_ step: Int) {}
    func stepEnded(_ step: Int) {}
    var counters: AllocatorCounters { inner.counters }
}

/// Runs `steps` steps of `model` on `executor` with `allocator`, calling the allocator's step
/// hooks like the trainer does; `check` runs after every step.
func runSteps(_ model: SyntheticModel, _ executor: any StepExecutor, allocator: any TensorAllocator,
              steps: Range<Int>, check: (Int) -> Void = { _ in }) {
    let memory = StepMemory(graph: model.graph, allocator: allocator)
    for step in steps {
        model.resetRecords()
        allocator.stepBegan(step)
        executor.run(model.graph, memory: memory, step: step)
        allocator.stepEnded(step)
        check(step)
    }
}
