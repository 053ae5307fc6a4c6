/// The current step's contest batch in persistent buffers that graph nodes read (the contest
/// counterpart of `StepFeed`).
///
/// The trainer hands a `ContestBatch` to `stage(_:)` before running a step. Rows past `validRows`
/// are padding (empty bags, zeros) and carry loss weight 0; ops with batch statistics (BatchNorm,
/// the whole-tensor L2 normalization) use only the valid rows.
///
/// `@unchecked Sendable`: written by the trainer between steps, read by nodes during a step; the
/// executor's step boundary orders the two.
public final class ContestFeed: @unchecked Sendable {
    public let schema: ContestSchema
    public let capacity: Int
    /// Table size per slot of the data set feeding it (`ContestDataset.buckets`; empty when not given).
    /// Amazon Books models size their tables from it: the vocabularies' line counts.
    public let buckets: [Int]
    public let labels: UnsafeMutablePointer<Float>
    public let numeric: UnsafeMutablePointer<Float>
    public let bagStart: UnsafeMutablePointer<Int32>
    public let bagCount: UnsafeMutablePointer<Int32>
    /// All bags' ids; grows (between steps) when a batch needs more room.
    public private(set) var ids: UnsafeMutablePointer<Int32>
    private var idCapacity: Int
    /// Rows of real data in the current batch.
    public private(set) var validRows: Int = 0

    public var labelCount: Int { schema.labels.count }
    public var numericCount: Int { schema.numerics.count }
    public var slotCount: Int { schema.slots.count }

    public init(schema: ContestSchema, capacity: Int, buckets: [Int] = []) {
        precondition(buckets.isEmpty || buckets.count == schema.slots.count, "ContestFeed: \(buckets.count) bucket counts for \(schema.slots.count) slots")
        self.schema = schema
        self.capacity = capacity
        self.buckets = buckets
        labels = .allocate(capacity: capacity * schema.labels.count)
        numeric = .allocate(capacity: capacity * schema.numerics.count)
        bagStart = .allocate(capacity: capacity * schema.slots.count)
        bagCount = .allocate(capacity: capacity * schema.slots.count)
        labels.initialize(repeating: 0, count: capacity * schema.labels.count)
        numeric.initialize(repeating: 0, count: capacity * schema.numerics.count)
        bagStart.initialize(repeating: 0, count: capacity * schema.slots.count)
        bagCount.initialize(repeating: 0, count: capacity * schema.slots.count)
        idCapacity = max(capacity * schema.slots.count * 8, 1)
        ids = .allocate(capacity: idCapacity)
        ids.initialize(repeating: 0, count: idCapacity)
    }

    deinit {
        labels.deallocate(); numeric.deallocate(); bagStart.deallocate(); bagCount.deallocate(); ids.deallocate()
    }

    /// Copies `batch` in (its padding rows included). Call between steps only.
    public func stage(_ batch: ContestBatch) {
        precondition(batch.capacity == capacity && batch.slotCount == slotCount, "ContestFeed: batch of \(batch.capacity) rows for a feed of \(capacity)")
        validRows = min(batch.size, capacity)
        reserveIDs(batch.idCount)
        batch.labels.withUnsafeBufferPointer { labels.update(from: $0.baseAddress!, count: $0.count) }
        batch.numeric.withUnsafeBufferPointer { numeric.update(from: $0.baseAddress!, count: $0.count) }
        batch.bagStart.withUnsafeBufferPointer { bagStart.update(from: $0.baseAddress!, count: $0.count) }
        batch.bagCount.withUnsafeBufferPointer { bagCount.update(from: $0.baseAddress!, count: $0.count) }
        batch.ids.withUnsafeBufferPointer { ids.update(from: $0.baseAddress!, count: batch.idCount) }
    }

    /// Makes room for `count` ids (their values are then undefined). Call between steps only:
    /// the id buffer may move.
    public func reserveIDs(_ count: Int) {
        guard count > idCapacity else { return }
        ids.deallocate()
        idCapacity = count * 2
        ids = .allocate(capacity: idCapacity)
        ids.initialize(repeating: 0, count: idCapacity)
    }

    /// The feed's rows and ids, for parsing a batch straight into them (`setValidRows` afterwards;
    /// `reserveIDs` first).
    public var rows: ContestRows {
        ContestRows(labels: labels, numeric: numeric, bagStart: bagStart, bagCount: bagCount, ids: ids,
                    labelCount: labelCount, numericCount: numericCount, slotCount: slotCount)
    }

    /// Marks rows `0..<n` (`n` in `0...capacity`) as this step's batch, written into `rows`
    /// beforehand, and makes the rest padding (zeros, empty bags) as `ContestBatch` pads.
    public func setValidRows(_ n: Int) {
        validRows = n
        rows.advanced(by: n).pad(rows: capacity - n)
    }

    /// Slot `slot`'s bags for rows `[rowStart, …)`.
    @inline(__always)
    public func bags(slot: Int, rowStart: Int) -> BagView {
        let off = rowStart * slotCount
        return BagView(ids: ids, start: bagStart + off, count: bagCount + off, stride: slotCount, slot: slot)
    }

    /// Valid rows within the micro-batch covering rows `[start, start + count)`.
    @inline(__always)
    public func validRows(start: Int, count: Int) -> Int {
        max(0, min(count, validRows - start))
    }
}
