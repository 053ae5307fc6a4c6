#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic synthetic contest data (Ele.me and Taobao layouts) with a learnable label.
///
/// `write(format:trainRows:evalRows:seed:to:)` writes the format's two files into a directory,
/// exactly as the contest's loaders expect them. Ids are Zipf-distributed; list columns have
/// realistic lengths (some empty, up to 50); some fields are empty (and Taobao's `brand` is
/// sometimes `NULL`). The label comes from a hidden logistic model — see `SyntheticEleme` and
/// `SyntheticTaobao` — and the `Summary` reports that model's own AUC on the evaluation file
/// (the oracle AUC: what a perfect learner would reach, up to sampling noise).
public enum SyntheticContest {
    /// What a generation produced.
    public struct Summary: Sendable {
        public var trainRows: Int
        public var evalRows: Int
        public var trainBytes: Int
        public var evalBytes: Int
        /// Per label (Ele.me: clicked; Taobao: clk, buy): positives in the training file.
        public var positives: [Int]
        /// Per label: the hidden model's AUC on the evaluation file.
        public var oracleAUC: [Double]
        /// Taobao: the oracle's AUC pooled over both labels (the contest's metric); Ele.me: = oracleAUC[0].
        public var oraclePooledAUC: Double
    }

    /// Writes `trainRows` + `evalRows` rows of `format` into `directory` (which must exist).
    /// Throws `DataError.io` for a failing `open`/`write`/`close`, `.invalidParameter` for counts < 1.
    @discardableResult
    public static func write(format: ContestFormat, trainRows: Int, evalRows: Int, seed: UInt64, to directory: String) throws -> Summary {
        guard trainRows > 0, evalRows > 0 else {
            throw DataError.invalidParameter(name: "rows", value: "\(trainRows)/\(evalRows)", allowed: "training and evaluation rows must be > 0")
        }
        guard format != .amazonBooks else {
            throw DataError.invalidParameter(name: "format", value: format.rawValue, allowed: "eleme or taobao (amazon-books: SyntheticAmazonBooks.write)")
        }
        let schema = format.schema
        var gen = ContestRowGenerator(format: format, seed: seed)
        var summary = Summary(trainRows: trainRows, evalRows: evalRows, trainBytes: 0, evalBytes: 0,
                              positives: Array(repeating: 0, count: schema.labels.count), oracleAUC: [], oraclePooledAUC: .nan)
        summary.trainBytes = try writeFile(directory + "/" + schema.trainFile, rows: trainRows, gen: &gen) { labels, _ in
            for (t, y) in labels.enumerated() where y { summary.positives[t] += 1 }
        }
        var scores = [[Double]](repeating: [], count: schema.labels.count)
        var truth = [[Bool]](repeating: [], count: schema.labels.count)
        summary.evalBytes = try writeFile(directory + "/" + schema.evalFile, rows: evalRows, gen: &gen) { labels, probs in
            for t in labels.indices { scores[t].append(probs[t]); truth[t].append(labels[t]) }
        }
        summary.oracleAUC = (0..<scores.count).map { SyntheticCriteo.rankAUC(scores: scores[$0], labels: truth[$0]) }
        summary.oraclePooledAUC = SyntheticCriteo.rankAUC(scores: scores.flatMap { $0 }, labels: truth.flatMap { $0 })
        return summary
    }

    /// The summary `write` would report for the same arguments (positives and oracle AUCs), without writing.
    public static func summary(format: ContestFormat, trainRows: Int, evalRows: Int, seed: UInt64) -> Summary {
        let schema = format.schema
        var gen = ContestRowGenerator(format: format, seed: seed)
        var summary = Summary(trainRows: trainRows, evalRows: evalRows, trainBytes: 0, evalBytes: 0,
                              positives: Array(repeating: 0, count: schema.labels.count), oracleAUC: [], oraclePooledAUC: .nan)
        var scratch: [UInt8] = []
        for _ in 0..<trainRows {
            scratch.removeAll(keepingCapacity: true)
            let r = gen.row(into: &scratch)
            summary.trainBytes += scratch.count
            for (t, y) in r.labels.enumerated() where y { summary.positives[t] += 1 }
        }
        var scores = [[Double]](repeating: [], count: schema.labels.count), truth = [[Bool]](repeating: [], count: schema.labels.count)
        for _ in 0..<evalRows {
            scratch.removeAll(keepingCapacity: true)
            let r = gen.row(into: &scratch)
            summary.evalBytes += scratch.count
            for t in r.labels.indices { scores[t].append(r.probabilities[t]); truth[t].append(r.labels[t]) }
        }
        summary.oracleAUC = (0..<scores.count).map { SyntheticCriteo.rankAUC(scores: scores[$0], labels: truth[$0]) }
        summary.oraclePooledAUC = SyntheticCriteo.rankAUC(scores: scores.flatMap { $0 }, labels: truth.flatMap { $0 })
        return summary
    }

    /// The two files' bytes in memory (training, evaluation) — for tests and in-memory runs.
    public static func bytes(format: ContestFormat, trainRows: Int, evalRows: Int, seed: UInt64) -> (train: [UInt8], eval: [UInt8]) {
        var gen = ContestRowGenerator(format: format, seed: seed)
        var train: [UInt8] = [], eval: [UInt8] = []
        for _ in 0..<trainRows { _ = gen.row(into: &train) }
        for _ in 0..<evalRows { _ = gen.row(into: &eval) }
        return (train, eval)
    }

    private static func writeFile(_ path: String, rows: Int, gen: inout ContestRowGenerator,
                                  observe: ([Bool], [Double]) -> Void) throws -> Int {
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw DataError.io(path: path, call: "open", errno: errno) }
        var closed = false
        defer { if !closed { _ = close(fd) } }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(5 << 20)
        var total = 0
        func flush() throws {
            try buffer.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw DataError.io(path: path, call: "write", errno: errno)
                    }
                    done += n
                }
            }
            total += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        for _ in 0..<rows {
            let r = gen.row(into: &buffer)
            observe(r.labels, r.probabilities)
            if buffer.count >= 4 << 20 { try flush() }
        }
        try flush()
        closed = true
        guard close(fd) == 0 else { throw DataError.io(path: path, call: "close", errno: errno) }
        return total
    }
}

/// write(2), named apart from `SyntheticContest.write`.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Text output helpers and the random source shared by the two row generators.
struct ContestRowGenerator {
    let format: ContestFormat
    var rng: SplitMix64
    let seed: UInt64

    init(format: ContestFormat, seed: UInt64) {
        self.format = format
        self.seed = seed
        rng = SplitMix64(seed: seed ^ (format == .eleme ? 0xE1E3 : 0x7A0B))
    }

    /// Appends one line (with `\n`); returns its labels and the hidden model's probability per label.
    mutating func row(into out: inout [UInt8]) -> (labels: [Bool], probabilities: [Double]) {
        switch format {
        case .eleme: return SyntheticEleme.row(&self, into: &out)
        case .taobao: return SyntheticTaobao.row(&self, into: &out)
        case .amazonBooks: preconditionFailure("amazon-books is written in (negative, positive) pairs by SyntheticAmazonBooks")
        }
    }

    // MARK: randomness

    @inline(__always) mutating func unit() -> Double { rng.nextUnit() }
    @inline(__always) mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    @inline(__always) mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// A Zipf-like rank in `[0, n)` (continuous power law with exponent ≈ 1.1, inverse CDF).
    mutating func zipf(_ n: Int) -> Int {
        let s = 1.1
        let u = unit()
        let a = pow(Double(n) + 1, 1 - s)
        let x = pow(1 + u * (a - 1), 1 / (1 - s)) - 1
        return min(max(Int(x), 0), n - 1)
    }

    /// A list length: empty with probability `empty`, else 1 + geometric with mean `mean`, at most 50.
    mutating func listLength(empty: Double, mean: Double) -> Int {
        if chance(empty) { return 0 }
        let u = max(unit(), 1e-12)
        return min(1 + Int(-log(u) * (mean - 1)), 50)
    }

    /// A fixed pseudo-random value in [-1, 1)-ish (sum of two uniforms) for `(tag, key)`: the hidden weights.
    func weight(_ tag: UInt64, _ key: Int) -> Double {
        let h1 = SyntheticCriteoGenerator.splitmix(seed &+ tag &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: key))
        let h2 = SyntheticCriteoGenerator.splitmix(h1)
        return Double(h1 >> 11) * 0x1p-53 + Double(h2 >> 11) * 0x1p-53 - 1
    }

    /// A fixed hash of `(tag, key)` in `[0, n)`.
    func pick(_ tag: UInt64, _ key: Int, _ n: Int) -> Int {
        Int(SyntheticCriteoGenerator.splitmix(seed &+ tag &* 0xD1B5_4A32_D192_ED03 &+ UInt64(truncatingIfNeeded: key)) % UInt64(n))
    }

    // MARK: text

    static func put(_ s: StaticString, _ out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    static func put(_ v: Int, _ out: inout [UInt8]) {
        if v < 0 { out.append(45); put(-v, &out); return }
        if v >= 10 { put(v / 10, &out) }
        out.append(UInt8(48 + v % 10))
    }

    /// `v` with two decimals.
    static func put(fixed v: Double, _ out: inout [UInt8]) {
        let c = Int((abs(v) * 100).rounded())
        if v < 0 && c > 0 { out.append(45) }
        put(c / 100, &out)
        out.append(46)
        out.append(UInt8(48 + (c / 10) % 10))
        out.append(UInt8(48 + c % 10))
    }

    static let base32: [UInt8] = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)

    /// A geohash-like string of `length` characters derived from `key`.
    static func geohash(_ key: UInt64, length: Int, _ out: inout [UInt8]) {
        var h = SyntheticCriteoGenerator.splitmix(key)
        out.append(119) // 'w': all in one region, like a city
        for _ in 1..<length { out.append(base32[Int(h & 31)]); h >>= 5 }
    }

    @inline(__always) static func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
}
