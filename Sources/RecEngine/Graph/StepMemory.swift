import Synchronization

/// The step tensors of one graph: allocated from a `TensorAllocator` when their allocating node
/// is about to run, released when their last user finished. Reused across steps.
///
/// `@unchecked Sendable`: `pointers[i]` is written only by tensor i's allocating node before any
/// user can run (graph order) and cleared only by the last user (the atomic countdown elects it);
/// the countdown itself is atomic.
public final class StepMemory: @unchecked Sendable {
    public let graph: StepGraph
    public let allocator: any TensorAllocator
    private let pointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let remaining: [Countdown]

    private final class Countdown: Sendable {
        let value = Atomic<Int>(0)
    }

    public init(graph: StepGraph, allocator: any TensorAllocator) {
        self.graph = graph
        self.allocator = allocator
        pointers = .allocate(capacity: max(graph.tensors.count, 1))
        pointers.initialize(repeating: nil, count: max(graph.tensors.count, 1))
        remaining = graph.tensors.map { _ in Countdown() }
    }

    deinit {
        for t in graph.tensors {
            if let p = pointers[t.id.index] { allocator.deallocate(p, bytes: t.bytes, tensor: t.id) }
        }
        pointers.deallocate()
    }

    /// Resets use counts; called by the executor before each step.
    public func beginStep() {
        for t in graph.tensors {
            precondition(pointers[t.id.index] == nil, "tensor \(t.name) was not released in the previous step")
            remaining[t.id.index].value.store(t.userCount, ordering: .relaxed)
        }
    }

    /// Allocates tensor `t` (called by its allocating node only).
    @inline(__always)
    public func allocate(_ t: TensorID) {
        pointers[t.index] = allocator.allocate(bytes: graph.tensorBytes[t.index], tensor: t)
    }

    /// One user of `t` is done; the last one frees it.
    @inline(__always)
    public func release(_ t: TensorID) {
        if remaining[t.index].value.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            let p = pointers[t.index]!
            pointers[t.index] = nil
            allocator.deallocate(p, bytes: graph.tensorBytes[t.index], tensor: t)
        }
    }

    /// The raw memory of a live tensor.
    @inline(__always)
    public func raw(_ t: TensorID) -> UnsafeMutableRawPointer {
        pointers[t.index]!
    }

    /// The memory of a live tensor as floats.
    @inline(__always)
    public func floats(_ t: TensorID) -> UnsafeMutablePointer<Float> {
        pointers[t.index]!.assumingMemoryBound(to: Float.self)
    }

    /// Size in bytes of tensor `t`.
    public func bytes(_ t: TensorID) -> Int { graph.tensorBytes[t.index] }
}
