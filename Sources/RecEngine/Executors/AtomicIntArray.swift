import Synchronization

/// A fixed-size array of atomic integers (one per graph node): the per-step dependency counters
/// of the concurrent executors. `Atomic` is non-copyable, so the elements live in one manually
/// managed buffer owned by this class.
///
/// `Sendable`: every element is an `Atomic`; the buffer pointer itself never changes.
final class AtomicIntArray: @unchecked Sendable {
    let count: Int
    private let base: UnsafeMutablePointer<Atomic<Int>>

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        for i in 0..<max(count, 1) { (base + i).initialize(to: Atomic<Int>(0)) }
    }

    deinit {
        base.deinitialize(count: max(count, 1))
        base.deallocate()
    }

    /// Sets element `i` (relaxed; callers publish the reset through a later release operation).
    @inline(__always)
    func store(_ value: Int, at i: Int) {
        base[i].store(value, ordering: .relaxed)
    }

    /// Reads element `i`.
    @inline(__always)
    func load(at i: Int) -> Int {
        base[i].load(ordering: .acquiring)
    }

    /// Decrements element `i` and returns the new value. Acquire-release: the thread that sees 0
    /// also sees every write made by the threads that decremented before it.
    @inline(__always)
    func decrement(at i: Int) -> Int {
        base[i].subtract(1, ordering: .acquiringAndReleasing).newValue
    }
}

/// Cumulative counters of one worker. Each field has exactly one writer (its worker), so updates
/// are a relaxed load and store rather than a locked read-modify-write; readers sum all workers.
final class WorkerStats: Sendable {
    let tasks = Atomic<Int>(0)
    let steals = Atomic<Int>(0)
    let failedSteals = Atomic<Int>(0)
    let parks = Atomic<Int>(0)
    let batchedNodes = Atomic<Int>(0)
    let nodes = Atomic<Int>(0)
    let boostedNodes = Atomic<Int>(0)

    /// Single-writer increment.
    @inline(__always)
    static func bump(_ a: borrowing Atomic<Int>, by n: Int = 1) {
        a.store(a.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Sum of the counters of several workers.
    static func sum(_ all: [WorkerStats]) -> ExecutorCounters {
        var c = ExecutorCounters()
        for s in all {
            c.tasks += s.tasks.load(ordering: .relaxed)
            c.steals += s.steals.load(ordering: .relaxed)
            c.failedSteals += s.failedSteals.load(ordering: .relaxed)
            c.parks += s.parks.load(ordering: .relaxed)
            c.batchedNodes += s.batchedNodes.load(ordering: .relaxed)
            c.nodes += s.nodes.load(ordering: .relaxed)
            c.boostedNodes += s.boostedNodes.load(ordering: .relaxed)
        }
        return c
    }
}
