/// One batch of a contest data set (Ele.me or Taobao), decoded into struct-of-arrays form.
///
/// - `labels[i * labelCount + t]`: label t of row i (0 or 1).
/// - `numeric[i * numericCount + j]`: numeric value j (list columns already reduced to their mean).
/// - Categorical slot s of row i is a bag of ids `ids[bagStart[i*slotCount+s] ..< + bagCount[i*slotCount+s]]`,
///   each in `[0, buckets(s))`. A scalar column has 0 or 1 id, a list column any number (duplicates kept).
///
/// Rows past `size` (up to `capacity`) are padding: empty bags, zero numerics and labels, so a
/// short batch (skipped malformed rows) runs through the same fixed-size graph; their loss weight is 0.
public struct ContestBatch: Sendable {
    public let labelCount: Int
    public let numericCount: Int
    public let slotCount: Int
    public let capacity: Int
    /// Rows of real data.
    public var size: Int
    public var labels: [Float]
    public var numeric: [Float]
    public var bagStart: [Int32]
    public var bagCount: [Int32]
    /// Every bag's ids, bag after bag; grows to the largest batch seen and is then reused.
    public var ids: [Int32]
    /// Ids in use in `ids`.
    public var idCount: Int
    /// Index (0-based, within the training stream) of the first sample of this batch.
    public var firstSample: Int

    /// An empty batch of `capacity` rows for `schema`.
    public init(schema: ContestSchema, capacity: Int) {
        labelCount = schema.labels.count
        numericCount = schema.numerics.count
        slotCount = schema.slots.count
        self.capacity = capacity
        size = 0
        labels = [Float](repeating: 0, count: capacity * labelCount)
        numeric = [Float](repeating: 0, count: capacity * numericCount)
        bagStart = [Int32](repeating: 0, count: capacity * slotCount)
        bagCount = [Int32](repeating: 0, count: capacity * slotCount)
        ids = [Int32](repeating: 0, count: capacity * slotCount * 4)
        idCount = 0
        firstSample = 0
    }

    /// The ids of slot `slot` in row `row` (a copy; for tests and tools, not for hot loops).
    public func bag(row: Int, slot: Int) -> [Int32] {
        let k = row * slotCount + slot
        let s = Int(bagStart[k])
        return Array(ids[s..<s + Int(bagCount[k])])
    }

    /// Labels of row `row`.
    public func labels(row: Int) -> [Float] { Array(labels[row * labelCount..<(row + 1) * labelCount]) }

    /// Numeric values of row `row`.
    public func numerics(row: Int) -> [Float] { Array(numeric[row * numericCount..<(row + 1) * numericCount]) }

    /// Calls `body` with raw views of the batch's rows (row 0 on) and its whole id array.
    mutating func withRows<R>(_ body: (ContestRows) throws -> R) rethrows -> R {
        let (l, n, s) = (labelCount, numericCount, slotCount)
        return try labels.withUnsafeMutableBufferPointer { labels in
            try numeric.withUnsafeMutableBufferPointer { numeric in
                try bagStart.withUnsafeMutableBufferPointer { starts in
                    try bagCount.withUnsafeMutableBufferPointer { counts in
                        try ids.withUnsafeMutableBufferPointer { ids in
                            // A data set without numeric features has an empty numeric array (n = 0).
                            try body(ContestRows(labels: labels.baseAddress!, numeric: numeric.baseAddress ?? labels.baseAddress!,
                                                 bagStart: starts.baseAddress!, bagCount: counts.baseAddress!, ids: ids.baseAddress!,
                                                 labelCount: l, numericCount: n, slotCount: s))
                        }
                    }
                }
            }
        }
    }

    /// Makes rows `size..<capacity` padding (empty bags, zeros).
    mutating func padTail() {
        guard size < capacity else { return }
        let (size, capacity) = (self.size, self.capacity)
        withRows { $0.advanced(by: size).pad(rows: capacity - size) }
    }
}

/// Where parsed contest rows go, in `ContestBatch`'s layout: row i's labels at `labels[i·labelCount…]`,
/// its numerics at `numeric[i·numericCount…]`, its bags at `bagStart`/`bagCount[i·slotCount…]`, each
/// bag's start an index into `ids` (which is not per row: it is the whole id array).
public struct ContestRows: @unchecked Sendable {
    // @unchecked Sendable: raw pointers into buffers whose owner orders the writes (each parse part
    // writes only its own rows and its own range of ids).
    public let labels: UnsafeMutablePointer<Float>
    public let numeric: UnsafeMutablePointer<Float>
    public let bagStart: UnsafeMutablePointer<Int32>
    public let bagCount: UnsafeMutablePointer<Int32>
    public let ids: UnsafeMutablePointer<Int32>
    public let labelCount: Int
    public let numericCount: Int
    public let slotCount: Int

    public init(labels: UnsafeMutablePointer<Float>, numeric: UnsafeMutablePointer<Float>, bagStart: UnsafeMutablePointer<Int32>,
                bagCount: UnsafeMutablePointer<Int32>, ids: UnsafeMutablePointer<Int32>, labelCount: Int, numericCount: Int, slotCount: Int) {
        self.labels = labels; self.numeric = numeric; self.bagStart = bagStart; self.bagCount = bagCount; self.ids = ids
        self.labelCount = labelCount; self.numericCount = numericCount; self.slotCount = slotCount
    }

    /// Makes rows `0..<count` padding: zero labels and numerics, empty bags (what a batch's rows
    /// past its size hold, in `ContestBatch` and in `ContestFeed` alike).
    public func pad(rows count: Int) {
        labels.update(repeating: 0, count: count * labelCount)
        numeric.update(repeating: 0, count: count * numericCount)
        bagStart.update(repeating: 0, count: count * slotCount)
        bagCount.update(repeating: 0, count: count * slotCount)
    }

    /// The rows from row `offset` on (the same ids).
    public func advanced(by offset: Int) -> ContestRows {
        ContestRows(labels: labels + offset * labelCount, numeric: numeric + offset * numericCount,
                    bagStart: bagStart + offset * slotCount, bagCount: bagCount + offset * slotCount, ids: ids,
                    labelCount: labelCount, numericCount: numericCount, slotCount: slotCount)
    }
}
