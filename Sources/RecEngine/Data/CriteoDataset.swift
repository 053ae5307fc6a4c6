/// A Criteo-format data set held in memory (a file mapped read-only, or a byte array), split
/// into a training stream and a held-out evaluation slice.
///
/// - The LAST `evalRows` lines are the evaluation slice, parsed once at init into `evalSet`.
/// - The lines before are the training stream. Training batch `k` of size `B` is training
///   lines `[k·B, (k+1)·B)` taken modulo the training line count, so batches wrap into the
///   next epoch and every batch covers `B` lines; `batch.firstSample == k·B`.
/// - Parsing follows `CriteoRowParser` (dense `log(1 + max(x, 0))`, categoricals hashed by
///   `CriteoHash`). Malformed lines are skipped and counted once each (`.skip`, the batch then has
///   fewer than `B` rows) or throw `DataError.malformedRow` (`.fail`).
///
/// Thread-safe: `fill` may be called from several threads at once (each with its own `Batch`).
public final class CriteoDataset: Sendable {
    /// Name used in error messages (the file path, or a label for in-memory data).
    public let name: String
    /// Rows per categorical hash table.
    public let hashBuckets: Int
    /// What a malformed row does.
    public let badRows: BadRowPolicy
    /// Number of lines in the training stream.
    public let trainingRows: Int
    /// Bytes of the training lines, their newlines included.
    public var trainingBytes: Int { lines.start(trainingRows) }
    /// The parsed evaluation slice (`size` = its valid rows) — empty when `evalRows` is 0.
    public let evalSet: Batch

    private let bytes: CriteoBytes
    private let lines: CriteoLineIndex
    private let parser: CriteoRowParser
    private let skipped: SkippedLines

    /// Maps the file at `path` and indexes its lines.
    /// Throws `DataError.io` if it cannot be read, `.notEnoughRows` if it has at most `evalRows`
    /// lines, `.invalidParameter` for `hashBuckets < 2` or `evalRows < 0`, and
    /// `.malformedRow` for a bad evaluation row under `.fail`.
    public convenience init(path: String, hashBuckets: Int = 10_000, evalRows: Int, badRows: BadRowPolicy) throws {
        try self.init(storage: CriteoBytes(mapping: path), name: path, hashBuckets: hashBuckets, evalRows: evalRows, badRows: badRows)
    }

    /// Uses in-memory Criteo TSV bytes (for example `SyntheticCriteo.bytes(rows:seed:)`);
    /// `name` stands for the file in error messages. Throws as `init(path:...)`.
    public convenience init(bytes: [UInt8], name: String, hashBuckets: Int = 10_000, evalRows: Int, badRows: BadRowPolicy) throws {
        try self.init(storage: CriteoBytes(array: bytes), name: name, hashBuckets: hashBuckets, evalRows: evalRows, badRows: badRows)
    }

    private init(storage: CriteoBytes, name: String, hashBuckets: Int, evalRows: Int, badRows: BadRowPolicy) throws {
        guard hashBuckets >= 2, hashBuckets <= Int(Int32.max) else {
            throw DataError.invalidParameter(name: "hash buckets", value: "\(hashBuckets)", allowed: "must be in 2...\(Int32.max)")
        }
        guard evalRows >= 0 else {
            throw DataError.invalidParameter(name: "eval rows", value: "\(evalRows)", allowed: "must be >= 0")
        }
        self.name = name
        self.hashBuckets = hashBuckets
        self.badRows = badRows
        self.bytes = storage
        self.parser = CriteoRowParser(buckets: hashBuckets)
        let lines = storage.withBytes { CriteoLineIndex($0) }
        self.lines = lines
        guard lines.count > evalRows else {
            throw DataError.notEnoughRows(file: name, rows: lines.count, evalRows: evalRows)
        }
        self.trainingRows = lines.count - evalRows
        let skipped = SkippedLines(lineCount: lines.count)
        self.skipped = skipped
        var eval = Batch(capacity: evalRows)
        try Self.parse(lines: trainingRows..<lines.count, wrap: lines.count, into: &eval, storage: storage,
                       lines: lines, parser: parser, policy: badRows, name: name, skipped: skipped)
        eval.firstSample = trainingRows
        self.evalSet = eval
    }

    /// Malformed lines skipped so far: the evaluation slice's and the training lines' that the
    /// batches parsed so far reached, each line once however many epochs pass over it. Thread-safe.
    public var skippedRows: Int { skipped.count }

    /// Total lines (training + evaluation).
    public var totalRows: Int { lines.count }

    /// The evaluation slice in consecutive chunks of at most `size` rows (copies; `size` < 1 counts as 1).
    public func evalBatches(size requested: Int) -> [Batch] {
        let size = max(requested, 1)
        var out: [Batch] = []
        var first = 0
        let d = CriteoSchema.denseCount, c = CriteoSchema.categoricalCount
        while first < evalSet.size {
            let n = min(size, evalSet.size - first)
            var b = Batch(capacity: n)
            b.size = n
            b.firstSample = evalSet.firstSample + first
            b.labels.replaceSubrange(0..<n, with: evalSet.labels[first..<first + n])
            b.dense.replaceSubrange(0..<n * d, with: evalSet.dense[first * d..<(first + n) * d])
            b.categorical.replaceSubrange(0..<n * c, with: evalSet.categorical[first * c..<(first + n) * c])
            out.append(b)
            first += n
        }
        return out
    }

    /// Parses training batch `k` (lines `[k·B, (k+1)·B)` modulo `trainingRows`) into `batch`,
    /// reusing its storage (no allocation when `batch` is uniquely referenced and
    /// `batch.capacity >= batchSize`). Throws `DataError.malformedRow` under `.fail`, and
    /// `.invalidParameter` for `k < 0` or `batchSize < 1`.
    public func fill(_ batch: inout Batch, index k: Int, batchSize: Int) throws {
        let range = try trainingLines(batch: k, batchSize: batchSize, part: 0..<max(batchSize, 0), trainingRows: trainingRows)
        if batch.capacity < batchSize { batch = Batch(capacity: batchSize) }
        try Self.parse(lines: range, wrap: trainingRows, into: &batch, storage: bytes,
                       lines: lines, parser: parser, policy: badRows, name: name, skipped: skipped)
        batch.firstSample = k * batchSize
    }

    /// Parses training lines `[k·B + part.lowerBound, k·B + part.upperBound)` of batch `k` (size `B`,
    /// lines taken modulo the training line count) into `rows`, which must have room for
    /// `part.count` rows; a skipped line leaves no gap, so the rows parsed come first. Returns how many
    /// rows were parsed; skipped lines are counted as in `fill`. Under `.fail` it throws
    /// `DataError.malformedRow` at the first malformed line (the rows before it are parsed).
    /// `fill(_:index:batchSize:)` is this over the whole batch, so a batch parsed in parts (each at
    /// its own rows) and then closed up holds exactly the batch `fill` would. Thread-safe: parts
    /// may be parsed at once on several threads, each into its own rows.
    public func parse(batch k: Int, batchSize: Int, lines part: Range<Int>, into rows: CriteoRows) throws -> Int {
        let range = try trainingLines(batch: k, batchSize: batchSize, part: part, trainingRows: trainingRows)
        return try Self.parse(lines: range, wrap: trainingRows, into: rows, storage: bytes,
                              lines: lines, parser: parser, policy: badRows, name: name, skipped: skipped)
    }

    /// Parses lines `range` (each taken modulo `wrap`) into `batch` rows 0…; sets `batch.size`.
    private static func parse(lines range: Range<Int>, wrap: Int, into batch: inout Batch, storage: CriteoBytes,
                              lines: CriteoLineIndex, parser: CriteoRowParser, policy: BadRowPolicy,
                              name: String, skipped: SkippedLines) throws {
        batch.size = try batch.labels.withUnsafeMutableBufferPointer { labels in
            try batch.dense.withUnsafeMutableBufferPointer { dense in
                try batch.categorical.withUnsafeMutableBufferPointer { cats in
                    let rows = CriteoRows(labels: labels.baseAddress!, dense: dense.baseAddress!, categorical: cats.baseAddress!)
                    return try parse(lines: range, wrap: wrap, into: rows, storage: storage, lines: lines, parser: parser,
                                     policy: policy, name: name, skipped: skipped)
                }
            }
        }
    }

    /// Parses lines `range` (each taken modulo `wrap`) into `rows` 0…; returns the rows parsed.
    private static func parse(lines range: Range<Int>, wrap: Int, into rows: CriteoRows, storage: CriteoBytes,
                              lines: CriteoLineIndex, parser: CriteoRowParser, policy: BadRowPolicy,
                              name: String, skipped: SkippedLines) throws -> Int {
        let d = CriteoSchema.denseCount, c = CriteoSchema.categoricalCount
        var size = 0
        try storage.withBytes { bytes in
            try parser.withTables { tables in
                var line = range.lowerBound % wrap
                for _ in range {
                    let row = CriteoRowParser.Row(label: rows.labels + size, dense: rows.dense + size * d,
                                                  categorical: rows.categorical + size * c)
                    if let fault = parser.parse(bytes, start: lines.start(line), end: lines.end(line), into: row, tables: tables) {
                        if policy == .fail {
                            throw DataError.malformedRow(file: name, line: line + 1, reason: fault.reason(in: bytes))
                        }
                        skipped.record(line)
                    } else {
                        size += 1
                    }
                    line += 1
                    if line == wrap { line = 0 }
                }
            }
        }
        return size
    }
}

/// Where parsed Criteo rows go, in `Batch`'s struct-of-arrays layout: row `i`'s label at
/// `labels[i]`, its dense features at `dense[i·13…]`, its categorical ids at `categorical[i·26…]`.
public struct CriteoRows: @unchecked Sendable {
    // @unchecked Sendable: raw pointers into buffers whose owner orders the writes (each parse
    // part writes only its own rows).
    public let labels: UnsafeMutablePointer<Float>
    public let dense: UnsafeMutablePointer<Float>
    public let categorical: UnsafeMutablePointer<Int32>

    public init(labels: UnsafeMutablePointer<Float>, dense: UnsafeMutablePointer<Float>, categorical: UnsafeMutablePointer<Int32>) {
        self.labels = labels; self.dense = dense; self.categorical = categorical
    }

    /// The rows from row `offset` on.
    public func advanced(by offset: Int) -> CriteoRows {
        CriteoRows(labels: labels + offset, dense: dense + offset * CriteoSchema.denseCount,
                   categorical: categorical + offset * CriteoSchema.categoricalCount)
    }
}
