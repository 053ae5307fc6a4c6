#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic synthetic Criteo-format data whose label really depends on the features.
///
/// Lines are `label \t I1…I13 \t C1…C26` exactly as in the Kaggle Criteo files (empty fields
/// for missing values, categoricals as 8 lowercase hex digits). The label is drawn from a hidden
/// logistic model over some integer features (after `log1p`) and per-id weights of some
/// categorical columns (drawn from the seed); ids are Zipf-distributed over per-column
/// cardinalities from 10 to 10^6; ~25% of labels are 1. See `SyntheticCriteoModel` for the
/// exact recipe. The hidden model's own AUC (the best any model can reach) is ≈ 0.80:
/// `oracleAUC(rows:seed:)` measures it.
public enum SyntheticCriteo {
    /// What a generation produced.
    public struct Summary: Sendable, Equatable {
        /// Rows written.
        public var rows: Int
        /// Rows with label 1.
        public var positives: Int
        /// Bytes written.
        public var bytes: Int
        /// `positives / rows`.
        public var positiveRate: Double { rows > 0 ? Double(positives) / Double(rows) : 0 }
    }

    /// Generates `rows` rows in chunks of about `chunkBytes`, handing each chunk to `sink`.
    /// `score` (if given) receives the hidden logit and the label of every row.
    static func generate(rows: Int, seed: UInt64, chunkBytes: Int = 1 << 20,
                         sink: (UnsafeBufferPointer<UInt8>) throws -> Void,
                         score: ((Double, Bool) -> Void)? = nil) rethrows -> Summary {
        var gen = SyntheticCriteoGenerator(seed: seed)
        let capacity = max(chunkBytes, SyntheticCriteoGenerator.maxRowBytes * 4)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var summary = Summary(rows: 0, positives: 0, bytes: 0)
        var used = 0
        for _ in 0..<max(rows, 0) {
            if capacity - used < SyntheticCriteoGenerator.maxRowBytes {
                try sink(UnsafeBufferPointer(start: buffer, count: used))
                summary.bytes += used
                used = 0
            }
            let r = gen.row(into: buffer + used)
            used += r.count
            summary.rows += 1
            if r.label { summary.positives += 1 }
            score?(r.logit, r.label)
        }
        if used > 0 {
            try sink(UnsafeBufferPointer(start: buffer, count: used))
            summary.bytes += used
        }
        return summary
    }

    /// The Criteo TSV bytes of `rows` generated rows (for in-memory training data).
    public static func bytes(rows: Int, seed: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rows * 160)
        _ = generate(rows: rows, seed: seed, sink: { out.append(contentsOf: $0) })
        return out
    }

    /// Writes `rows` generated rows to `path` (created or truncated) and returns the summary.
    /// Throws `DataError.io` naming `open` or `write` and the errno, or `.invalidParameter`
    /// for `rows < 1`.
    @discardableResult
    public static func write(rows: Int, seed: UInt64, to path: String) throws -> Summary {
        guard rows > 0 else { throw DataError.invalidParameter(name: "rows", value: "\(rows)", allowed: "must be > 0") }
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw DataError.io(path: path, call: "open", errno: errno) }
        var closed = false
        defer { if !closed { _ = close(fd) } }
        let summary = try generate(rows: rows, seed: seed, chunkBytes: 4 << 20, sink: { chunk in
            var done = 0
            while done < chunk.count {
                let n = posixWrite(fd, chunk.baseAddress! + done, chunk.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataError.io(path: path, call: "write", errno: errno)
                }
                done += n
            }
        })
        closed = true
        guard close(fd) == 0 else { throw DataError.io(path: path, call: "close", errno: errno) }
        return summary
    }

    /// The AUC of the hidden model itself on `rows` generated rows: the Bayes-optimal AUC that
    /// no model trained on this data can exceed (up to sampling noise). ≈ 0.80 by design.
    public static func oracleAUC(rows: Int, seed: UInt64) -> Double {
        var scores: [Double] = []
        var labels: [Bool] = []
        scores.reserveCapacity(rows)
        labels.reserveCapacity(rows)
        _ = generate(rows: rows, seed: seed, sink: { _ in }, score: { scores.append($0); labels.append($1) })
        return rankAUC(scores: scores, labels: labels)
    }

    /// Exact AUC by ranks (Mann–Whitney), ties counted as one half. NaN if a class is absent.
    static func rankAUC(scores: [Double], labels: [Bool]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positives = 0.0, rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let midRank = Double(i + j) / 2 + 1
            for k in i...j where labels[order[k]] { positives += 1; rankSum += midRank }
            i = j + 1
        }
        let negatives = Double(order.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }
}

/// write(2), named apart from `SyntheticCriteo.write`.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
