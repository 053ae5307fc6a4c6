import Synchronization

/// Identifies a step tensor (an activation, gradient or scratch buffer that lives within one step).
public struct TensorID: Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public var description: String { "t\(index)" }
}

/// Identifies a node of a step graph.
public struct NodeID: Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public var description: String { "n\(index)" }
}

/// What a node does, for profiles and for the cost model.
public enum NodeKind: String, Sendable, CaseIterable {
    case input, forward, backward, reduce, update
}

/// What a node body gets when it runs.
public struct NodeContext {
    /// Index of the executing worker, in `[0, executor.workerCount)`; selects per-thread resources
    /// such as the oneDNN stream.
    public let worker: Int
    /// The current step's tensors.
    public let memory: StepMemory
    /// The step number (0-based over the whole run, warm-up included).
    public let step: Int
}

/// A node's work. Bodies only touch tensors they declared and state that the graph's
/// dependencies order; that is what makes them safe to run on any worker.
public typealias NodeBody = @Sendable (NodeContext) -> Void

/// A training step as a dataflow graph: nodes with dependencies, and the step tensors each node
/// allocates or uses. Built once per model configuration (`GraphBuilder`), executed every step by
/// a `StepExecutor`. Immutable after building.
public final class StepGraph: Sendable {
    public struct Node: Sendable {
        public let id: NodeID
        public let name: String
        public let kind: NodeKind
        /// Nodes that must finish before this one starts.
        public let dependencies: [NodeID]
        /// Tensors this node allocates (from the step allocator) before its body runs.
        public let allocates: [TensorID]
        /// Tensors this node reads or writes, allocated by an upstream node.
        public let uses: [TensorID]
        /// Floating-point operations of the node's dense (oneDNN) matrix product, 0 for other nodes:
        /// `2·rows·inputs·outputs` for a dense layer's forward, backward-data or backward-weights.
        public let flops: Double
        public let body: NodeBody
    }

    public struct Tensor: Sendable {
        public let id: TensorID
        public let name: String
        public let bytes: Int
        /// Number of nodes that allocate or use the tensor; it is freed after the last of them finishes.
        public let userCount: Int
    }

    public let nodes: [Node]
    public let tensors: [Tensor]
    /// successors[i]: nodes that depend on node i.
    public let successors: [[NodeID]]
    /// Nodes with no dependencies.
    public let roots: [NodeID]
    /// A topological order (stable: builder order among ready nodes).
    public let topologicalOrder: [NodeID]

    /// What `execute` and `StepMemory` read every step, flat: copying a `Node` or `Tensor` value
    /// retains and releases its name, arrays and body (atomic reference counts on objects both
    /// workers touch). Node i allocates `nodeTensors[nodeTensorStart[i] ..< +nodeAllocations[i]]`,
    /// then uses the rest up to `nodeTensorStart[i + 1]`.
    let nodeTensors: ContiguousArray<TensorID>
    let nodeTensorStart: ContiguousArray<Int>
    let nodeAllocations: ContiguousArray<Int>
    let bodies: ContiguousArray<NodeBody>
    /// `tensors[t].bytes`.
    let tensorBytes: ContiguousArray<Int>
    /// `successors[i]` is `successorList[successorStart[i] ..< successorStart[i + 1]]`.
    let successorList: ContiguousArray<Int>
    let successorStart: ContiguousArray<Int>

    init(nodes: [Node], tensors: [Tensor], successors: [[NodeID]], roots: [NodeID], topologicalOrder: [NodeID]) {
        self.nodes = nodes
        self.tensors = tensors
        self.successors = successors
        self.roots = roots
        self.topologicalOrder = topologicalOrder
        var flat = ContiguousArray<TensorID>(), starts = ContiguousArray<Int>([0])
        for node in nodes {
            flat.append(contentsOf: node.allocates)
            flat.append(contentsOf: node.uses)
            starts.append(flat.count)
        }
        nodeTensors = flat
        nodeTensorStart = starts
        nodeAllocations = ContiguousArray(nodes.map(\.allocates.count))
        bodies = ContiguousArray(nodes.map(\.body))
        tensorBytes = ContiguousArray(tensors.map(\.bytes))
        successorList = ContiguousArray(successors.flatMap { $0.map(\.index) })
        var successorStarts = ContiguousArray<Int>([0])
        for s in successors { successorStarts.append(successorStarts.last! + s.count) }
        successorStart = successorStarts
    }

    public var nodeCount: Int { nodes.count }

    /// Floating-point operations of the step's dense matrix products (sum of the nodes' `flops`).
    public var denseFLOPs: Double { nodes.reduce(0) { $0 + $1.flops } }

    /// Runs one node as every executor must: allocate its tensors, run the body, release tensors
    /// whose last user it was.
    @inline(__always)
    public func execute(_ id: NodeID, worker: Int, memory: StepMemory, step: Int) {
        let i = id.index
        let start = nodeTensorStart[i], end = nodeTensorStart[i + 1]
        for k in start..<(start + nodeAllocations[i]) { memory.allocate(nodeTensors[k]) }
        bodies[i](NodeContext(worker: worker, memory: memory, step: step))
        for k in start..<end { memory.release(nodeTensors[k]) }
    }
}

/// Errors found while building a graph.
public enum GraphError: Error, CustomStringConvertible, Equatable {
    case cycle(involving: String)
    case tensorAllocatedTwice(tensor: String, nodes: [String])
    case tensorNeverAllocated(tensor: String)
    case useBeforeAllocation(tensor: String, node: String, allocator: String)

    public var description: String {
        switch self {
        case .cycle(let n): "step graph has a cycle through node '\(n)'"
        case .tensorAllocatedTwice(let t, let ns): "tensor '\(t)' is allocated by more than one node: \(ns.joined(separator: ", "))"
        case .tensorNeverAllocated(let t): "tensor '\(t)' is used but no node allocates it"
        case .useBeforeAllocation(let t, let n, let a): "node '\(n)' uses tensor '\(t)' but does not depend on its allocator '\(a)'"
        }
    }
}
