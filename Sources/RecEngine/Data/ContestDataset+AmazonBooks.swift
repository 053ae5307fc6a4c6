import Foundation

/// The seven files of an Amazon Books directory held in memory (generated data, tests).
public struct AmazonBooksFiles: Sendable {
    public var train: [UInt8]
    public var eval: [UInt8]
    /// `local_train_splitByUser_neg` / `local_test_splitByUser_neg`; nil when absent.
    public var trainNegative: [UInt8]?
    public var evalNegative: [UInt8]?
    public var uidVocabulary: [UInt8]
    public var midVocabulary: [UInt8]
    public var catVocabulary: [UInt8]

    public init(train: [UInt8], eval: [UInt8], trainNegative: [UInt8]?, evalNegative: [UInt8]?, uidVocabulary: [UInt8],
                midVocabulary: [UInt8], catVocabulary: [UInt8]) {
        self.train = train
        self.eval = eval
        self.trainNegative = trainNegative
        self.evalNegative = evalNegative
        self.uidVocabulary = uidVocabulary
        self.midVocabulary = midVocabulary
        self.catVocabulary = catVocabulary
    }

    /// Writes the files into `directory` under the layout's names (absent `_neg` files are not written).
    /// Throws `DataError.io` naming the file.
    public func write(to directory: String) throws {
        var files: [(String, [UInt8])] = [(AmazonBooks.trainFile, train), (AmazonBooks.evalFile, eval),
                                          (AmazonBooks.uidVocabulary, uidVocabulary), (AmazonBooks.midVocabulary, midVocabulary),
                                          (AmazonBooks.catVocabulary, catVocabulary)]
        if let trainNegative { files.append((AmazonBooks.trainFile + AmazonBooks.negativeSuffix, trainNegative)) }
        if let evalNegative { files.append((AmazonBooks.evalFile + AmazonBooks.negativeSuffix, evalNegative)) }
        for (name, bytes) in files {
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw DataError.io(path: path, call: "write", errno: errno)
            }
        }
    }
}

/// A `_neg` file: its bytes, line index and name (for errors).
struct NegativeFile: Sendable {
    let bytes: CriteoBytes
    let lines: CriteoLineIndex
    let name: String

    init(bytes: CriteoBytes, name: String) {
        self.bytes = bytes
        self.lines = bytes.withBytes { CriteoLineIndex($0) }
        self.name = name
    }
}

/// What an Amazon Books data set reads besides its two main files.
final class AmazonSource: Sendable {
    let parser: AmazonRowParser
    let trainNegative: NegativeFile?
    let evalNegative: NegativeFile?

    init(parser: AmazonRowParser, trainNegative: NegativeFile?, evalNegative: NegativeFile?) {
        self.parser = parser
        self.trainNegative = trainNegative
        self.evalNegative = evalNegative
    }

    /// A `_neg` file must have exactly its main file's lines. Under `.fail` a difference throws
    /// `DataError.malformedRow` naming the `_neg` file and the first line without a partner; under
    /// `.skip` rows without a `_neg` line are skipped when read, and the `_neg` lines without a row are
    /// returned (counted once as skipped). Rows are never re-paired with another line.
    func checkAlignment(trainLines: Int, trainName: String, evalLines: Int, evalName: String, policy: BadRowPolicy) throws -> Int {
        var unpaired = 0
        for (negative, mainLines, mainName) in [(trainNegative, trainLines, trainName), (evalNegative, evalLines, evalName)] {
            guard let negative, negative.lines.count != mainLines else { continue }
            let n = negative.lines.count
            if policy == .fail {
                let reason = n < mainLines
                    ? "the file ends after \(n) lines but \(mainName) has \(mainLines): row \(n + 1) has no non-clicked history (rows and negative histories would misalign)"
                    : "line \(mainLines + 1) has no row: \(mainName) has \(mainLines) lines, this file \(n) (rows and negative histories would misalign)"
                throw DataError.malformedRow(file: negative.name, line: min(n, mainLines) + 1, reason: reason)
            }
            unpaired += max(n - mainLines, 0)
        }
        return unpaired
    }
}

extension ContestDataset {
    /// Reads an Amazon Books directory: `local_{train,test}_splitByUser`, the vocabularies
    /// `uid_voc.txt`, `mid_voc.txt`, `cat_voc.txt` (table sizes = their line counts) and, as `negatives`
    /// says, the `_neg` files. Throws `DataError.io` for a missing or unreadable file,
    /// `.malformedRow` for a bad vocabulary or (under `.fail`) a `_neg` file whose line count differs
    /// from its main file's, `.invalidParameter` for one `_neg` file without the other (`.ifPresent`).
    public convenience init(amazonBooksDirectory directory: String, negatives: AmazonNegatives, evalRows: Int? = nil,
                            badRows: BadRowPolicy) throws {
        let path = { (name: String) in directory + "/" + name }
        let vocabularies = try (AmazonVocabulary(path: path(AmazonBooks.uidVocabulary)), AmazonVocabulary(path: path(AmazonBooks.midVocabulary)),
                                AmazonVocabulary(path: path(AmazonBooks.catVocabulary)))
        let negNames = [AmazonBooks.trainFile, AmazonBooks.evalFile].map { path($0 + AmazonBooks.negativeSuffix) }
        let present = negNames.map { FileManager.default.fileExists(atPath: $0) }
        let read = try Self.readsNegatives(negatives, present: present, names: negNames)
        var negativeFiles: [NegativeFile]? = nil
        if read { negativeFiles = try negNames.map { name in NegativeFile(bytes: try CriteoBytes(mapping: name), name: name) } }
        let trainPath = path(AmazonBooks.trainFile), evalPath = path(AmazonBooks.evalFile)
        try self.init(amazon: vocabularies, negatives: negativeFiles, train: CriteoBytes(mapping: trainPath), trainName: trainPath,
                      eval: CriteoBytes(mapping: evalPath), evalName: evalPath, evalRows: evalRows, badRows: badRows)
    }

    /// In-memory Amazon Books files; `name` stands for their directory in errors. Throws as
    /// `init(amazonBooksDirectory:…)`.
    public convenience init(amazonBooks files: AmazonBooksFiles, negatives: AmazonNegatives, evalRows: Int? = nil,
                            badRows: BadRowPolicy, name: String = "memory") throws {
        let path = { (file: String) in name + "/" + file }
        let vocabularies = try (AmazonVocabulary(contents: files.uidVocabulary, name: path(AmazonBooks.uidVocabulary)),
                                AmazonVocabulary(contents: files.midVocabulary, name: path(AmazonBooks.midVocabulary)),
                                AmazonVocabulary(contents: files.catVocabulary, name: path(AmazonBooks.catVocabulary)))
        let negNames = [AmazonBooks.trainFile, AmazonBooks.evalFile].map { path($0 + AmazonBooks.negativeSuffix) }
        let contents = [files.trainNegative, files.evalNegative]
        let read = try Self.readsNegatives(negatives, present: contents.map { $0 != nil }, names: negNames)
        let negativeFiles = read ? zip(contents, negNames).map { NegativeFile(bytes: CriteoBytes(array: $0!), name: $1) } : nil
        try self.init(amazon: vocabularies, negatives: negativeFiles, train: CriteoBytes(array: files.train),
                      trainName: path(AmazonBooks.trainFile), eval: CriteoBytes(array: files.eval), evalName: path(AmazonBooks.evalFile),
                      evalRows: evalRows, badRows: badRows)
    }

    private convenience init(amazon vocabularies: (AmazonVocabulary, AmazonVocabulary, AmazonVocabulary), negatives: [NegativeFile]?,
                             train: CriteoBytes, trainName: String, eval: CriteoBytes, evalName: String, evalRows: Int?,
                             badRows: BadRowPolicy) throws {
        let parser = AmazonRowParser(uid: vocabularies.0, mid: vocabularies.1, cat: vocabularies.2)
        let source = AmazonSource(parser: parser, trainNegative: negatives?[0], evalNegative: negatives?[1])
        try self.init(schema: .amazonBooks, buckets: parser.buckets, train: train, trainName: trainName, eval: eval, evalName: evalName,
                      evalRows: evalRows, badRows: badRows, amazon: source)
    }

    /// Whether to read the `_neg` files under `policy`, given which exist.
    private static func readsNegatives(_ policy: AmazonNegatives, present: [Bool], names: [String]) throws -> Bool {
        switch policy {
        case .ignored: return false
        case .required:
            if let missing = zip(present, names).first(where: { !$0.0 }) {
                throw DataError.io(path: missing.1, call: "open (DIEN reads the non-clicked histories)", errno: ENOENT)
            }
            return true
        case .ifPresent:
            if present[0] != present[1] {
                let (have, lack) = present[0] ? (names[0], names[1]) : (names[1], names[0])
                throw DataError.invalidParameter(name: "_neg files", value: "\(have) without \(lack)", allowed: "both or neither")
            }
            return present[0]
        }
    }

    /// Amazon Books: the vocabularies (uid, mid, cat), nil for the CSV formats.
    public var amazonVocabularies: (uid: AmazonVocabulary, mid: AmazonVocabulary, cat: AmazonVocabulary)? {
        amazon.map { ($0.parser.uid, $0.parser.mid, $0.parser.cat) }
    }

    /// Amazon Books: whether the non-clicked histories (slots 5, 6) are read; false for the other formats.
    public var readsNegativeHistories: Bool { amazon?.trainNegative != nil }

    /// The Amazon Books row loop over raw rows: lines `range` (each modulo `wrap`) and their `_neg`
    /// lines into `rows` 0…, ids from `idCursor` on (room for `AmazonRowParser.idRoom` per line).
    /// Returns the rows parsed and the end of the ids written. A row's ids come from its own line and
    /// its own `_neg` line only, so lines can be parsed in parts, each into its own rows and ids.
    func parseAmazon(_ source: AmazonSource, _ storage: CriteoBytes, _ lines: CriteoLineIndex, name: String, negative: NegativeFile?,
                     lines range: Range<Int>, wrap: Int, into rows: ContestRows, idCursor: Int,
                     skipped: SkippedLines) throws -> (rows: Int, idEnd: Int) {
        let parser = source.parser
        let negativeLines = negative?.lines.count ?? 0
        return try storage.withBytes { bytes in
            try Self.withOptionalBytes(negative?.bytes) { negBytes in
                try fillRows(rows, lines: range, wrap: wrap, idCursor: idCursor, skipped: skipped) { line, row, cursor in
                    let result: Result<Int, AmazonRowFault>
                    if negative != nil && line >= negativeLines {
                        result = .failure(AmazonRowFault(kind: .noNegativeLine(negativeLines: negativeLines), inNegativeFile: true,
                                                         column: 0, start: 0, end: 0))
                    } else if let negative, let nb = negBytes?.baseAddress {
                        result = parser.parse(bytes.baseAddress!, start: lines.start(line), end: lines.end(line),
                                              negative: (nb, negative.lines.start(line), negative.lines.end(line)),
                                              into: row, idCursor: cursor)
                    } else {
                        result = parser.parse(bytes.baseAddress!, start: lines.start(line), end: lines.end(line),
                                              negative: nil, into: row, idCursor: cursor)
                    }
                    switch result {
                    case .success(let written): return .row(idsWritten: written)
                    case .failure(let fault):
                        let file = fault.inNegativeFile ? negative?.name ?? name : name
                        let text = fault.inNegativeFile ? negBytes ?? bytes : bytes
                        return .malformed(file: file, reason: { fault.reason(in: text) })
                    }
                }
            }
        }
    }

    private static func withOptionalBytes<R>(_ storage: CriteoBytes?, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        guard let storage else { return try body(nil) }
        return try storage.withBytes { try body($0) }
    }
}
