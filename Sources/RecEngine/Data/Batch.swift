/// The Criteo column layout: a label, 13 integer ("dense") features and 26 categorical features.
public enum CriteoSchema {
    public static let denseCount = 13
    public static let categoricalCount = 26
    /// Fields per line: label + dense + categorical.
    public static let fieldCount = 1 + denseCount + categoricalCount
}

/// One training batch in struct-of-arrays form, ready for the model.
///
/// - `labels[i]` is 0 or 1.
/// - `dense[i * denseCount + j]` is `log(1 + max(x, 0))` of integer feature j (0 when empty).
/// - `categorical[i * categoricalCount + c]` is the hashed id of categorical column c, already
///   reduced to `[0, buckets(c))` — an index into that column's own embedding table.
///
/// Batches are reused through `BatchPool`-style recycling by the data pipeline; `size` may be
/// smaller than the capacity for the last batch of an epoch.
public struct Batch: Sendable {
    public var size: Int
    public var labels: [Float]
    public var dense: [Float]
    public var categorical: [Int32]
    /// Index (0-based, within the training stream) of the first sample of this batch.
    public var firstSample: Int

    public init(capacity: Int) {
        size = 0
        labels = [Float](repeating: 0, count: capacity)
        dense = [Float](repeating: 0, count: capacity * CriteoSchema.denseCount)
        categorical = [Int32](repeating: 0, count: capacity * CriteoSchema.categoricalCount)
        firstSample = 0
    }

    public var capacity: Int { labels.count }
}
