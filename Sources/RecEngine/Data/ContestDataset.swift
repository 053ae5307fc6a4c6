/// A contest data set (Ele.me, Taobao or Amazon Books) in the contest's directory layout: the training
/// file (`train.csv` / `taobao_train_data` / `local_train_splitByUser`) and the evaluation file
/// (`eval.csv` / `taobao_test_data` / `local_test_splitByUser`), each mapped read-only and
/// line-indexed once. Amazon Books adds the vocabularies and DIEN's line-aligned `_neg` files
/// (`ContestDataset+AmazonBooks.swift`).
///
/// - Training batch `k` of size `B` is training lines `[k·B, (k+1)·B)` modulo the line count
///   (batches wrap into the next epoch); `batch.firstSample == k·B`.
/// - Evaluation reads the first `evalRows` lines of the evaluation file (all of them when nil),
///   in chunks (`evalBatchCount(size:)`, `fillEval`), parsed on demand.
/// - Malformed lines are skipped and counted once each (`.skip`) or throw `DataError.malformedRow`
///   naming the file, 1-based line and the field (`.fail`).
///
/// Thread-safe: `fill` may be called from several threads at once (each with its own batch).
public final class ContestDataset: Sendable {
    /// The format and its schema.
    public let schema: ContestSchema
    /// Buckets per slot.
    public let buckets: [Int]
    /// What a malformed row does.
    public let badRows: BadRowPolicy
    /// Lines in the training file.
    public let trainingRows: Int
    /// Lines of the evaluation file that evaluation reads.
    public let evalRows: Int
    /// Names of the two files (paths, or labels for in-memory data).
    public let trainName: String
    public let evalName: String

    private let train: CriteoBytes
    private let eval: CriteoBytes
    private let trainLines: CriteoLineIndex
    private let evalLines: CriteoLineIndex
    private let parser: ContestRowParser?
    /// Amazon Books: vocabularies, row parser and `_neg` files (nil for the CSV formats).
    let amazon: AmazonSource?
    /// The distinct malformed lines skipped in each file, and the Amazon Books `_neg` lines without
    /// a row (found once, at init).
    private let trainSkipped: SkippedLines
    private let evalSkipped: SkippedLines
    private let unpairedLines: Int

    /// Maps `directory/<train file>` and `directory/<eval file>` of `format`.
    /// Throws `DataError.io` if a file cannot be read, `.notEnoughRows` if the training file is
    /// empty or the evaluation file has no lines, `.invalidParameter` for bad bucket counts.
    public convenience init(directory: String, format: ContestFormat, buckets: [Int], evalRows: Int? = nil,
                            badRows: BadRowPolicy) throws {
        let schema = format.schema
        let trainPath = directory + "/" + schema.trainFile, evalPath = directory + "/" + schema.evalFile
        try self.init(schema: schema, buckets: buckets, train: CriteoBytes(mapping: trainPath), trainName: trainPath,
                      eval: CriteoBytes(mapping: evalPath), evalName: evalPath, evalRows: evalRows, badRows: badRows)
    }

    /// In-memory files (for generated data and tests); the names stand for the files in errors.
    public convenience init(format: ContestFormat, train: [UInt8], eval: [UInt8], buckets: [Int], evalRows: Int? = nil,
                            badRows: BadRowPolicy, name: String = "memory") throws {
        let schema = format.schema
        try self.init(schema: schema, buckets: buckets, train: CriteoBytes(array: train), trainName: "\(name)/\(schema.trainFile)",
                      eval: CriteoBytes(array: eval), evalName: "\(name)/\(schema.evalFile)", evalRows: evalRows, badRows: badRows)
    }

    init(schema: ContestSchema, buckets: [Int], train: CriteoBytes, trainName: String, eval: CriteoBytes,
         evalName: String, evalRows: Int?, badRows: BadRowPolicy, amazon: AmazonSource? = nil) throws {
        guard buckets.count == schema.slots.count else {
            throw DataError.invalidParameter(name: "bucket counts", value: "\(buckets.count)", allowed: "\(schema.format) has \(schema.slots.count) slots")
        }
        if let bad = buckets.first(where: { $0 < 1 || $0 > Int(Int32.max) }) {
            throw DataError.invalidParameter(name: "buckets", value: "\(bad)", allowed: "must be in 1...\(Int32.max)")
        }
        if schema.format == .amazonBooks && amazon == nil {
            throw DataError.invalidParameter(name: "format", value: schema.format.rawValue,
                                             allowed: "Amazon Books is read with ContestDataset(amazonBooksDirectory:negatives:…) (vocabularies, _neg files)")
        }
        if let e = evalRows, e < 1 {
            throw DataError.invalidParameter(name: "eval rows", value: "\(e)", allowed: "must be >= 1")
        }
        self.schema = schema
        self.buckets = buckets
        self.badRows = badRows
        self.train = train
        self.eval = eval
        self.trainName = trainName
        self.evalName = evalName
        self.amazon = amazon
        parser = amazon == nil ? ContestRowParser(schema: schema, buckets: buckets) : nil
        trainLines = train.withBytes { CriteoLineIndex($0) }
        evalLines = eval.withBytes { CriteoLineIndex($0) }
        guard trainLines.count > 0 else { throw DataError.notEnoughRows(file: trainName, rows: 0, evalRows: 0) }
        guard evalLines.count > 0 else { throw DataError.notEnoughRows(file: evalName, rows: 0, evalRows: evalRows ?? 1) }
        trainingRows = trainLines.count
        self.evalRows = min(evalRows ?? evalLines.count, evalLines.count)
        trainSkipped = SkippedLines(lineCount: trainLines.count)
        evalSkipped = SkippedLines(lineCount: evalLines.count)
        if let amazon {
            unpairedLines = try amazon.checkAlignment(trainLines: trainLines.count, trainName: trainName, evalLines: evalLines.count,
                                                      evalName: evalName, policy: badRows)
        } else {
            unpairedLines = 0
        }
    }

    /// Malformed rows skipped so far: the distinct lines of the training and evaluation files that
    /// were skipped when read (each once, however many epochs pass over it), plus the Amazon Books
    /// `_neg` lines without a row. Thread-safe.
    public var skippedRows: Int { unpairedLines + trainSkipped.count + evalSkipped.count }

    /// Bytes of the training file (and of its `_neg` file when the negative histories are read).
    public var trainingBytes: Int { train.count + (amazon?.trainNegative?.bytes.count ?? 0) }

    /// Parses training batch `k` (lines `[k·B, (k+1)·B)` modulo `trainingRows`) into `batch`
    /// (replaced by a new one if its capacity is not `batchSize`). Throws `DataError.malformedRow`
    /// under `.fail`, `.invalidParameter` for `k < 0` or `batchSize < 1`.
    public func fill(_ batch: inout ContestBatch, index k: Int, batchSize: Int) throws {
        let range = try trainingLines(batch: k, batchSize: batchSize, part: 0..<max(batchSize, 0), trainingRows: trainingRows)
        if batch.capacity != batchSize { batch = ContestBatch(schema: schema, capacity: batchSize) }
        try fill(&batch, from: trainingFile, lines: range)
        batch.firstSample = k * batchSize
    }

    /// Number of evaluation chunks of `size` rows (the last may be shorter).
    public func evalBatchCount(size: Int) -> Int { (evalRows + max(size, 1) - 1) / max(size, 1) }

    /// Parses evaluation chunk `k` (lines `[k·size, min((k+1)·size, evalRows))`) into `batch`
    /// (capacity `size`; the tail past the chunk is padding). Throws as `fill`.
    public func fillEval(_ batch: inout ContestBatch, index k: Int, size: Int) throws {
        guard size > 0, k >= 0, k < evalBatchCount(size: size) else {
            throw DataError.invalidParameter(name: "eval chunk", value: "\(k) of size \(size)", allowed: "must be in 0..<\(evalBatchCount(size: size))")
        }
        if batch.capacity != size { batch = ContestBatch(schema: schema, capacity: size) }
        let lo = k * size, hi = min(lo + size, evalRows)
        try fill(&batch, from: evaluationFile, lines: lo..<hi)
        batch.firstSample = lo
    }

    /// A file the data set reads rows from (the training or the evaluation file), with its `_neg`
    /// file when Amazon Books negative histories are read.
    private struct RowFile {
        let bytes: CriteoBytes
        let lines: CriteoLineIndex
        let name: String
        let negative: NegativeFile?
        /// Where this file's skipped lines are counted.
        let skipped: SkippedLines
    }

    private var trainingFile: RowFile {
        RowFile(bytes: train, lines: trainLines, name: trainName, negative: amazon?.trainNegative, skipped: trainSkipped)
    }
    private var evaluationFile: RowFile {
        RowFile(bytes: eval, lines: evalLines, name: evalName, negative: amazon?.evalNegative, skipped: evalSkipped)
    }

    /// Parses lines `range` of `file` (each modulo its line count) into `batch` rows 0…; sets `size`, pads the tail.
    private func fill(_ batch: inout ContestBatch, from file: RowFile, lines range: Range<Int>) throws {
        // Room for every id the lines can produce, so the parser writes through a raw pointer.
        try fillBatch(&batch, idRoom: idRoom(file, lines: range)) { rows in
            try parseRows(file, lines: range, into: rows, idCursor: 0)
        }
    }

    /// An upper bound on the ids lines `range` of `file` (each modulo its line count) can produce:
    /// a fixed room per row for Amazon Books, a bound from each line's length for the CSV formats.
    private func idRoom(_ file: RowFile, lines range: Range<Int>) -> Int {
        guard let parser = self.parser else { return range.count * AmazonRowParser.idRoom }
        let lines = file.lines, wrap = lines.count
        var room = 0
        var line = range.lowerBound % wrap
        for _ in range {
            room += parser.idRoom(lineBytes: lines.end(line) - lines.start(line))
            line += 1
            if line == wrap { line = 0 }
        }
        return room
    }

    /// Parses lines `range` of `file` (each modulo its line count) into `rows` 0…, ids from `idCursor`
    /// on, with the data set's reader. Returns the rows parsed and the end of the ids written.
    private func parseRows(_ file: RowFile, lines range: Range<Int>, into rows: ContestRows, idCursor: Int) throws -> (rows: Int, idEnd: Int) {
        if let amazon {
            return try parseAmazon(amazon, file.bytes, file.lines, name: file.name, negative: file.negative, lines: range,
                                   wrap: file.lines.count, into: rows, idCursor: idCursor, skipped: file.skipped)
        }
        return try parseCSV(file.bytes, file.lines, name: file.name, lines: range, wrap: file.lines.count, into: rows, idCursor: idCursor,
                            skipped: file.skipped)
    }

    /// The CSV row loop over raw rows: lines `range` (each modulo `wrap`) into `rows` 0…, ids from
    /// `idCursor` on. Returns the rows parsed and the end of the ids written.
    private func parseCSV(_ storage: CriteoBytes, _ lines: CriteoLineIndex, name: String, lines range: Range<Int>, wrap: Int,
                          into rows: ContestRows, idCursor: Int, skipped: SkippedLines) throws -> (rows: Int, idEnd: Int) {
        guard let parser = self.parser else { preconditionFailure("CSV parse of an Amazon Books data set") }
        let schema = self.schema
        return try storage.withBytes { bytes in
            try fillRows(rows, lines: range, wrap: wrap, idCursor: idCursor, skipped: skipped) { line, row, cursor in
                switch parser.parse(bytes, start: lines.start(line), end: lines.end(line), into: row, idCursor: cursor) {
                case .success(let written): return .row(idsWritten: written)
                case .failure(let fault): return .malformed(file: name, reason: { fault.reason(in: bytes, schema: schema) })
                }
            }
        }
    }

    /// An upper bound on the ids training lines `part` of batch `k` can produce: the room
    /// `parse(batch:batchSize:lines:into:idCursor:)` needs from `idCursor` on.
    public func idRoom(batch k: Int, batchSize: Int, lines part: Range<Int>) throws -> Int {
        idRoom(trainingFile, lines: try trainingLines(batch: k, batchSize: batchSize, part: part, trainingRows: trainingRows))
    }

    /// Parses training lines `part` of batch `k` into `rows` 0… (a skipped line leaves no gap),
    /// writing ids from `idCursor` on (each bag's start is an index into `rows.ids`); returns the
    /// rows parsed. Skipped lines are counted as in `fill`; under `.fail` it throws
    /// `DataError.malformedRow` at the first malformed line. `fill` is this over the whole batch
    /// (then padded), so parts parsed into their own rows and id ranges and then closed up hold the
    /// rows, bags and ids `fill` would. Thread-safe for parts with their own rows and ids. Every
    /// format: an Amazon Books row reads its line and the same line of the `_neg` file.
    public func parse(batch k: Int, batchSize: Int, lines part: Range<Int>, into rows: ContestRows, idCursor: Int) throws -> Int {
        try parseRows(trainingFile, lines: try trainingLines(batch: k, batchSize: batchSize, part: part, trainingRows: trainingRows),
                      into: rows, idCursor: idCursor).rows
    }

    /// What parsing one line gave: the ids it wrote, or that it is malformed (`file` names the file
    /// at fault; `reason` is built only when `--bad-rows fail` reports it).
    enum LineOutcome {
        case row(idsWritten: Int)
        case malformed(file: String, reason: () -> String)
    }

    /// Fills `batch` with what `parseRows` parses into its raw rows from row 0 and id 0 (the batch's
    /// ids grown to `room` first), then sets its size and id count and pads the rest.
    func fillBatch(_ batch: inout ContestBatch, idRoom room: Int, _ parseRows: (ContestRows) throws -> (rows: Int, idEnd: Int)) rethrows {
        if batch.ids.count < room { batch.ids.append(contentsOf: repeatElement(0, count: room - batch.ids.count)) }
        let (size, idEnd) = try batch.withRows(parseRows)
        batch.size = size
        batch.idCount = idEnd
        batch.padTail()
    }

    /// The row loop both readers share: lines `range` of a file of `wrap` lines (wrapping to line 0)
    /// become consecutive rows of `rows`, one `parseLine(line, row, idCursor)` per line, ids from
    /// `idCursor` on; a malformed line is skipped (and recorded in `skipped`) or, under `--bad-rows fail`, an error
    /// naming its file and line. `rows.ids` must have room for every id the lines can produce.
    /// Returns the rows parsed and the end of the ids written.
    func fillRows(_ rows: ContestRows, lines range: Range<Int>, wrap: Int, idCursor: Int, skipped: SkippedLines,
                  parseLine: (_ line: Int, _ row: ContestRowParser.Row, _ idCursor: Int) -> LineOutcome) throws -> (rows: Int, idEnd: Int) {
        var size = 0, cursor = idCursor
        let policy = badRows
        var line = range.lowerBound % wrap
        for _ in range {
            let row = rows.advanced(by: size)
            switch parseLine(line, ContestRowParser.Row(labels: row.labels, numeric: row.numeric, bagStart: row.bagStart,
                                                        bagCount: row.bagCount, ids: rows.ids), cursor) {
            case .row(let written):
                cursor += written
                size += 1
            case .malformed(let file, let reason):
                if policy == .fail { throw DataError.malformedRow(file: file, line: line + 1, reason: reason()) }
                skipped.record(line)
            }
            line += 1
            if line == wrap { line = 0 }
        }
        return (size, cursor)
    }
}
