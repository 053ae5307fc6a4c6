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

    /// Makes rows `size..<capacity` padding (empty bags, zeros).
    mutating func padTail() {
        guard size < capacity else { return }
        let (l, n, s) = (labelCount, numericCount, slotCount)
        for i in size * l..<capacity * l { labels[i] = 0 }
        for i in size * n..<capacity * n { numeric[i] = 0 }
        for i in size * s..<capacity * s { bagStart[i] = 0; bagCount[i] = 0 }
    }
}
