import DequeModule
import HeapModule
import Synchronization

/// A unit of work handed between workers: one node, or (under `costmodel`) a batch of cheap
/// nodes run back to back. `priority` is the node's critical-path cost (the batch's largest);
/// it is 0 under `pool`, where only the deque order matters.
struct WorkItem: Comparable, Sendable {
    var priority: Double
    /// The node, or the first node of the batch.
    var node: Int
    /// All nodes of a batch, empty for a single node.
    var batch: [Int]

    init(node: Int, priority: Double = 0) {
        self.node = node
        self.priority = priority
        self.batch = []
    }

    init(batch: [Int], priority: Double) {
        self.node = batch[0]
        self.priority = priority
        self.batch = batch
    }

    /// Higher priority first; among equal priorities the lower node index (builder order) first.
    static func < (a: WorkItem, b: WorkItem) -> Bool {
        a.priority != b.priority ? a.priority < b.priority : a.node > b.node
    }

    static func == (a: WorkItem, b: WorkItem) -> Bool {
        a.priority == b.priority && a.node == b.node
    }
}

/// One worker's ready queue, one lock per queue. Under `pool` it is a deque: the owner pushes and
/// pops the newest end (LIFO, cache-warm), thieves take the oldest end (FIFO, the largest
/// remaining subgraphs). Under `costmodel` it is a max-heap on critical-path cost: owner and
/// thieves both take the most critical item. A step uses one of the two; pops try the heap
/// first, so no mode needs to be shared with the thieves.
final class WorkQueue: Sendable {
    private struct Storage {
        var deque = Deque<WorkItem>()
        var heap = Heap<WorkItem>()
    }

    private let storage = Mutex(Storage())

    init() {}

    /// Appends items at the newest end of the deque.
    func pushLIFO<S: Sequence>(_ items: S) where S.Element == WorkItem {
        storage.withLock { $0.deque.append(contentsOf: items) }
    }

    /// Inserts items into the priority heap.
    func pushPrioritized<S: Sequence>(_ items: S) where S.Element == WorkItem {
        storage.withLock { s in for item in items { s.heap.insert(item) } }
    }

    /// The owner's pop: most critical heap item, else the newest deque item.
    func popOwn() -> WorkItem? {
        storage.withLock { s in
            if let item = s.heap.popMax() { return item }
            return s.deque.popLast()
        }
    }

    /// A thief's pop: most critical heap item, else the oldest deque item.
    func steal() -> WorkItem? {
        storage.withLock { s in
            if let item = s.heap.popMax() { return item }
            return s.deque.popFirst()
        }
    }

    /// Number of queued items (tests and assertions).
    var count: Int { storage.withLock { $0.deque.count + $0.heap.count } }
}
