/// Random Amazon-Books-shaped batches in memory for the DIN/DIEN unit tests and `rectune bench
/// --sequence` (no files, no parsing): the Amazon Books batch layout (label `clk`; slots uid, item,
/// cat, hist_item, hist_cat, neg_hist_item, neg_hist_cat), item `k` has category `k % cats`.
///
/// The label needs the history item by item: a candidate of category c is clicked iff some history
/// item has category `related(c) = (7c + 3) mod cats` (a fixed permutation). Half the rows take a
/// candidate related to one random history item (label 1), the other half one related to none
/// (label 0). The history is 2…`maxHistory` items (uniform). Attention's query is a learned
/// linear map of the candidate, so q·f expresses "f is related to c" for any permutation; the
/// pooled sum only offers item·Σhist (same coordinates), which matches c with itself, not with
/// related(c). Deterministic in (seed, batch index); the oracle AUC is 1.
public struct SyntheticSequenceBatches: Sendable {
    /// The schema (its `format` is a placeholder: these batches never come from a file).
    public static let schema: ContestSchema = {
        var columns = [ContestColumn(name: "clk", kind: .label(0))]
        for (s, name) in ["uid", "item", "cat", "hist_item", "hist_cat", "neg_hist_item", "neg_hist_cat"].enumerated() {
            columns.append(ContestColumn(name: name, kind: .hashedList(slot: s, separator: 2, defaultToken: "")))
        }
        return ContestSchema(format: .amazonBooks, trainFile: "local_train_splitByUser", evalFile: "local_test_splitByUser", columns: columns)
    }()

    public var users = 200, items = 2_000, cats = 100, maxHistory = 24, seed: UInt64 = 1

    public init() {}

    /// Table size per slot.
    public var buckets: [Int] { [users, items, cats, items, cats, items, cats] }

    /// The category a candidate of category `c` is clicked for (needs gcd(7, cats) = 1).
    public func related(_ c: Int) -> Int { (relMul * c + relAdd) % cats }
    public var relMul = 7, relAdd = 3
    /// The inverse of `related`.
    public func unrelated(_ r: Int) -> Int { (0..<cats).first { related($0) == r }! }

    /// Batch `index` of `size` rows (`capacity` rows with padding).
    public func batch(_ index: Int, size: Int, capacity: Int) -> ContestBatch {
        var b = ContestBatch(schema: Self.schema, capacity: capacity)
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(index) &* 7_919 &+ 13)
        func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var ids: [Int32] = []
        let slots = b.slotCount
        for i in 0..<size {
            let length = 2 + int(maxHistory - 1)
            let hist = (0..<length).map { _ in 1 + int(items - 1) }
            let histCats = Set(hist.map { $0 % cats })
            let positive = int(2) == 0
            var candidate: Int
            if positive {
                let c = unrelated(hist[int(length)] % cats)
                candidate = c + cats * (1 + int(items / cats - 1))
                if candidate >= items { candidate -= cats }
            } else {
                repeat { candidate = 1 + int(items - 1) } while histCats.contains(related(candidate % cats))
            }
            let negs = (0..<length).map { _ in 1 + int(items - 1) }
            let bags: [[Int]] = [[int(users)], [candidate], [candidate % cats], hist, hist.map { $0 % cats }, negs, negs.map { $0 % cats }]
            for (s, bag) in bags.enumerated() {
                b.bagStart[i * slots + s] = Int32(ids.count)
                b.bagCount[i * slots + s] = Int32(bag.count)
                ids += bag.map { Int32($0) }
            }
            b.labels[i] = positive ? 1 : 0
        }
        b.size = size
        b.ids = ids + [Int32](repeating: 0, count: max(0, b.ids.count - ids.count))
        b.idCount = ids.count
        return b
    }
}

