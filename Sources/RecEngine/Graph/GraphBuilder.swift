/// Builds a `StepGraph`: declare tensors, then nodes with their dependencies and tensors.
public final class GraphBuilder {
    private var nodes: [StepGraph.Node] = []
    private var tensorNames: [String] = []
    private var tensorBytes: [Int] = []

    public init() {}

    /// Declares a step tensor of `bytes` bytes.
    public func tensor(_ name: String, bytes: Int) -> TensorID {
        precondition(bytes > 0, "tensor \(name) must have a positive size")
        tensorNames.append(name)
        tensorBytes.append(bytes)
        return TensorID(index: tensorNames.count - 1)
    }

    /// Declares a step tensor of `count` floats.
    public func floats(_ name: String, count: Int) -> TensorID {
        tensor(name, bytes: count * MemoryLayout<Float>.stride)
    }

    /// Adds a node. `after` are its dependencies; `allocates` the tensors it creates;
    /// `uses` the tensors (allocated upstream) it reads or writes; `flops` the floating-point
    /// operations of its dense matrix product (0 unless the node runs a oneDNN dense layer).
    @discardableResult
    public func node(_ name: String, kind: NodeKind, after: [NodeID] = [], allocates: [TensorID] = [],
                     uses: [TensorID] = [], flops: Double = 0, body: @escaping NodeBody) -> NodeID {
        let id = NodeID(index: nodes.count)
        var deps: [NodeID] = []
        for d in after where !deps.contains(d) { deps.append(d) }
        nodes.append(StepGraph.Node(id: id, name: name, kind: kind, dependencies: deps,
                                    allocates: allocates, uses: uses, flops: flops, body: body))
        return id
    }

    /// Nodes added so far.
    public var nodeCount: Int { nodes.count }

    /// Validates and freezes the graph.
    /// - Throws: `GraphError` for cycles, tensors allocated twice or never, and uses not ordered after the allocation.
    public func build() throws -> StepGraph {
        let n = nodes.count
        var successors = [[NodeID]](repeating: [], count: n)
        var indegree = [Int](repeating: 0, count: n)
        for node in nodes {
            for d in node.dependencies {
                precondition(d.index < n && d.index != node.id.index, "bad dependency of \(node.name)")
                successors[d.index].append(node.id)
                indegree[node.id.index] += 1
            }
        }
        // Kahn's algorithm, stable in builder order.
        var order: [NodeID] = []
        order.reserveCapacity(n)
        var remaining = indegree
        var ready = (0..<n).filter { indegree[$0] == 0 }
        let roots = ready.map { NodeID(index: $0) }
        var head = 0
        while head < ready.count {
            let i = ready[head]; head += 1
            order.append(NodeID(index: i))
            for s in successors[i] {
                remaining[s.index] -= 1
                if remaining[s.index] == 0 { ready.append(s.index) }
            }
        }
        if order.count != n {
            let stuck = (0..<n).first { remaining[$0] > 0 }!
            throw GraphError.cycle(involving: nodes[stuck].name)
        }
        // Tensor ownership and ordering.
        var allocator = [Int?](repeating: nil, count: tensorNames.count)
        var users = [Int](repeating: 0, count: tensorNames.count)
        for node in nodes {
            for t in node.allocates {
                if let other = allocator[t.index] {
                    throw GraphError.tensorAllocatedTwice(tensor: tensorNames[t.index], nodes: [nodes[other].name, node.name])
                }
                allocator[t.index] = node.id.index
                users[t.index] += 1
            }
            for t in node.uses { users[t.index] += 1 }
        }
        let ancestors = Self.ancestorSets(order: order, nodes: nodes)
        for node in nodes {
            for t in node.uses {
                guard let a = allocator[t.index] else {
                    throw GraphError.tensorNeverAllocated(tensor: tensorNames[t.index])
                }
                if !ancestors[node.id.index].contains(a) {
                    throw GraphError.useBeforeAllocation(tensor: tensorNames[t.index], node: node.name, allocator: nodes[a].name)
                }
            }
        }
        let tensors = (0..<tensorNames.count).map {
            StepGraph.Tensor(id: TensorID(index: $0), name: tensorNames[$0], bytes: tensorBytes[$0], userCount: users[$0])
        }
        return StepGraph(nodes: nodes, tensors: tensors, successors: successors, roots: roots, topologicalOrder: order)
    }

    private static func ancestorSets(order: [NodeID], nodes: [StepGraph.Node]) -> [Set<Int>] {
        var sets = [Set<Int>](repeating: [], count: nodes.count)
        for id in order {
            var s = Set<Int>()
            for d in nodes[id.index].dependencies {
                s.insert(d.index)
                s.formUnion(sets[d.index])
            }
            sets[id.index] = s
        }
        return sets
    }
}

extension StepGraph {
    /// This graph with a prologue in front. `prologue` adds nodes to a builder in which this
    /// graph's tensors are already declared (so the tensor IDs its bodies hold stay valid) and
    /// returns the nodes every root of this graph then waits for. This graph's nodes follow, with
    /// their dependencies, tensors and order unchanged. Throws as `GraphBuilder.build()`.
    public func prefixed(by prologue: (GraphBuilder) -> [NodeID]) throws -> StepGraph {
        let b = GraphBuilder()
        for t in tensors { _ = b.tensor(t.name, bytes: t.bytes) }
        let gate = prologue(b)
        let shift = b.nodeCount
        let isRoot = Set(roots.map(\.index))
        for n in nodes {
            let after = n.dependencies.map { NodeID(index: $0.index + shift) }
            b.node(n.name, kind: n.kind, after: isRoot.contains(n.id.index) ? gate + after : after,
                   allocates: n.allocates, uses: n.uses, flops: n.flops, body: n.body)
        }
        return try b.build()
    }
}
