import Glibc

/// The current step's input batch in fixed, persistent buffers that graph nodes read.
///
/// The trainer hands a `Batch` to `stage(_:)` before running the step; the graph's input nodes copy
/// their micro-batch rows out of it (batch assembly). Rows past `validRows` are padding: their
/// features repeat row 0 and their loss weight is 0, so a short batch (skipped malformed rows)
/// runs through the same cached primitives without changing the math.
///
/// `@unchecked Sendable`: written by the trainer between steps, read by input nodes during a step;
/// the executor's step boundary orders the two.
public final class StepFeed: @unchecked Sendable {
    public let capacity: Int
    public let labels: UnsafeMutablePointer<Float>
    public let dense: UnsafeMutablePointer<Float>
    public let categorical: UnsafeMutablePointer<Int32>
    /// Rows of real data in the current batch.
    public private(set) var validRows: Int = 0

    public init(capacity: Int) {
        self.capacity = capacity
        labels = .allocate(capacity: capacity)
        dense = .allocate(capacity: capacity * CriteoSchema.denseCount)
        categorical = .allocate(capacity: capacity * CriteoSchema.categoricalCount)
        labels.initialize(repeating: 0, count: capacity)
        dense.initialize(repeating: 0, count: capacity * CriteoSchema.denseCount)
        categorical.initialize(repeating: 0, count: capacity * CriteoSchema.categoricalCount)
    }

    deinit {
        labels.deallocate(); dense.deallocate(); categorical.deallocate()
    }

    /// The feed's rows, for parsing a batch straight into them (`setValidRows` afterwards).
    public var rows: CriteoRows { CriteoRows(labels: labels, dense: dense, categorical: categorical) }

    /// Copies `batch` in (padding short batches by repeating row 0).
    public func stage(_ batch: Batch) {
        let n = min(batch.size, capacity)
        let d = CriteoSchema.denseCount, c = CriteoSchema.categoricalCount
        batch.labels.withUnsafeBufferPointer { labels.update(from: $0.baseAddress!, count: n) }
        batch.dense.withUnsafeBufferPointer { dense.update(from: $0.baseAddress!, count: n * d) }
        batch.categorical.withUnsafeBufferPointer { categorical.update(from: $0.baseAddress!, count: n * c) }
        setValidRows(n)
    }

    /// Marks rows `0..<n` (`n` in `0...capacity`) as this step's batch, written into `rows`
    /// beforehand, and pads the rest by repeating row 0 (as `stage` does).
    public func setValidRows(_ n: Int) {
        validRows = n
        let d = CriteoSchema.denseCount, c = CriteoSchema.categoricalCount
        if n < capacity && n > 0 {
            for row in n..<capacity {
                labels[row] = 0
                (dense + row * d).update(from: dense, count: d)
                (categorical + row * c).update(from: categorical, count: c)
            }
        }
    }

    /// Valid rows within the micro-batch covering rows `[start, start + count)`.
    @inline(__always)
    public func validRows(start: Int, count: Int) -> Int {
        max(0, min(count, validRows - start))
    }
}
