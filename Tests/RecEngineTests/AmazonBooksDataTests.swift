import Foundation
import XCTest
@testable import RecEngine
import TestSupport

/// The Amazon Books reader (DIN, DIEN): hand-written golden rows with known ids, vocabulary files,
/// out-of-vocabulary → 0, first-50 truncation, `_neg` alignment and bad rows under both policies,
/// the generator's layout and signal, and a generated directory staged into a `ContestFeed`.
final class AmazonBooksDataTests: XCTestCase {
    static let sep = "\u{02}"
    static func list(_ tokens: [String]) -> String { tokens.joined(separator: sep) }

    /// A tiny directory: uid U1 U2 U3 → 0 1 2; mid default_mid M1 M2 M3 M4 → 0…4; cat default_cat,
    /// Books, "Sci Fi & Fantasy" → 0…2.
    static func goldenFiles() -> AmazonBooksFiles {
        let train = "0\tU2\tM9\tBooks\t\(list(["M1", "M2"]))\t\(list(["Books", "Sci Fi & Fantasy"]))\n"
            + "1\tU2\tM3\tSci Fi & Fantasy\t\(list(["M1", "M2"]))\t\(list(["Books", "Sci Fi & Fantasy"]))\n"
            + "1\tUX\tM4\tNovels\t\(list(["M2", "", "M4"]))\t\(list(["Books", "Books", "Books"]))\r\n"
        let trainNeg = "\(list(["M2", "M3"]))\t\(list(["Books", "Books"]))\n"
            + "\(list(["M4", "M1"]))\t\(list(["Sci Fi & Fantasy", "Books"]))\n"
            + "\(list(["M1", "M1", "M1"]))\t\(list(["Books", "Books", "Books"]))"
        return AmazonBooksFiles(train: Array(train.utf8), eval: Array("1\tU1\tM1\tBooks\tM2\tBooks\n".utf8),
                                trainNegative: Array(trainNeg.utf8), evalNegative: Array("M3\tBooks".utf8),
                                uidVocabulary: Array("U1\nU2\nU3".utf8), midVocabulary: Array("default_mid\nM1\nM2\nM3\r\nM4\n".utf8),
                                catVocabulary: Array("default_cat\nBooks\nSci Fi & Fantasy\n".utf8))
    }

    func load(_ files: AmazonBooksFiles, negatives: AmazonNegatives = .required, policy: BadRowPolicy = .fail, rows: Int) throws -> (ContestDataset, ContestBatch) {
        let ds = try ContestDataset(amazonBooks: files, negatives: negatives, badRows: policy, name: "mem")
        var b = ContestBatch(schema: ds.schema, capacity: rows)
        try ds.fill(&b, index: 0, batchSize: rows)
        return (ds, b)
    }

    func testSchemaIsTheContractsLayout() {
        let s = ContestSchema.amazonBooks
        XCTAssertEqual(s.labels, ["clk"])
        XCTAssertEqual(s.numerics, [])
        XCTAssertEqual(s.slots, ["uid", "item", "cat", "hist_item", "hist_cat", "neg_hist_item", "neg_hist_cat"])
        XCTAssertEqual(s.separator, 9)
        XCTAssertEqual(ContestFormat(rawValue: "amazon-books"), .amazonBooks)
        XCTAssertEqual(DatasetKind(rawValue: "amazon-books")?.contestFormat, .amazonBooks)
        XCTAssertThrowsError(try ContestDataset(format: .amazonBooks, train: Array("1\n".utf8), eval: Array("1\n".utf8),
                                                buckets: [1, 1, 1, 1, 1, 1, 1], badRows: .fail), "the CSV path refuses amazon-books")
    }

    func testGoldenRowsWithKnownIds() throws {
        let (ds, b) = try load(Self.goldenFiles(), rows: 3)
        let s = ds.schema
        XCTAssertEqual(ds.buckets, [3, 5, 3, 5, 3, 5, 3], "uid, then mid/cat vocabulary sizes for the shared tables")
        XCTAssertTrue(ds.readsNegativeHistories)
        XCTAssertEqual(b.size, 3)
        XCTAssertEqual((0..<3).map { b.labels(row: $0) }, [[0], [1], [1]])
        func bags(_ r: Int) -> [[Int32]] { (0..<7).map { b.bag(row: r, slot: $0) } }
        XCTAssertEqual(bags(0), [[1], [0], [1], [1, 2], [1, 2], [2, 3], [1, 1]], "M9 is out of mid_voc → 0")
        XCTAssertEqual(bags(1), [[1], [3], [2], [1, 2], [1, 2], [4, 1], [2, 1]], "M3\\r in the vocabulary file is M3")
        XCTAssertEqual(bags(2), [[0], [4], [0], [2, 0, 4], [1, 1, 1], [1, 1, 1], [1, 1, 1]],
                       "unknown uid/category → 0; an empty list token is looked up (→ 0); CRLF line")
        XCTAssertEqual(b.bag(row: 1, slot: s.slot("neg_hist_item")), [4, 1])
        var e = ContestBatch(schema: s, capacity: 2)
        try ds.fillEval(&e, index: 0, size: 2)
        XCTAssertEqual(e.size, 1)
        XCTAssertEqual((0..<7).map { e.bag(row: 0, slot: $0) }, [[0], [1], [1], [2], [1], [3], [1]])
        XCTAssertEqual(e.bagCount[7], 0, "padding row")
    }

    func testVocabularyFileParsingAndOOV() throws {
        let v = try AmazonVocabulary(contents: Array("default_mid\nA\r\nB b\n\nC".utf8), name: "v.txt")
        XCTAssertEqual(v.count, 5, "a final line without newline counts, an empty line is the token \"\"")
        XCTAssertEqual(["default_mid", "A", "B b", "", "C"].map { v.id($0) }, [0, 1, 2, 3, 4])
        XCTAssertEqual(v.token(2), "B b")
        XCTAssertEqual(v.id("Z"), 0, "OOV → 0 (default_value=0)")
        XCTAssertEqual(v.id("A\r"), 0)
        XCTAssertEqual(v.id("B"), 0, "no prefix matches")
        let trailing = try AmazonVocabulary(contents: Array("x\ny\n".utf8), name: "t")
        XCTAssertEqual(trailing.count, 2, "a final newline does not add a token")
        let big = try AmazonVocabulary(contents: Array((0..<5_000).map { "tok\($0)" }.joined(separator: "\n").utf8), name: "big")
        XCTAssertEqual(big.count, 5_000)
        XCTAssertTrue((0..<5_000).allSatisfy { big.id("tok\($0)") == Int32($0) })
        XCTAssertEqual(big.id("tok5000"), 0)
        XCTAssertThrowsError(try AmazonVocabulary(contents: Array("a\nb\na\n".utf8), name: "dup.txt")) {
            XCTAssertTrue("\($0)".contains("dup.txt:3:"), "\($0)")
            XCTAssertTrue("\($0)".contains("repeats line 1"), "\($0)")
        }
        XCTAssertThrowsError(try AmazonVocabulary(contents: [], name: "empty.txt")) { XCTAssertTrue("\($0)".contains("empty.txt:1:"), "\($0)") }
    }

    func testHistoriesKeepTheirFirst50Items() throws {
        var f = Self.goldenFiles()
        let tokens = (0..<60).map { "T\($0)" }
        f.midVocabulary = Array((["default_mid"] + tokens).joined(separator: "\n").utf8)
        let cats = [String](repeating: "Books", count: 60)
        let rows = [60, 50, 51, 1].map { n in
            "1\tU1\tT0\tBooks\t\(Self.list(Array(tokens.prefix(n))))\t\(Self.list(Array(cats.prefix(n))))\n"
        }
        let negs = [60, 50, 51, 1].map { n in "\(Self.list(Array(tokens.prefix(n).reversed())))\t\(Self.list(Array(cats.prefix(n))))" }
        f.train = Array(rows.joined().utf8)
        f.trainNegative = Array(negs.joined(separator: "\n").utf8)
        let (_, b) = try load(f, rows: 4)
        XCTAssertEqual(b.size, 4)
        XCTAssertEqual(b.bag(row: 0, slot: 3), (1...50).map(Int32.init), "the first 50, in file order (T0…T49)")
        XCTAssertEqual(b.bag(row: 0, slot: 4).count, 50)
        XCTAssertEqual(b.bag(row: 0, slot: 5), (11...60).reversed().map(Int32.init), "negatives: their first 50 too")
        XCTAssertEqual(b.bag(row: 1, slot: 3).count, 50)
        XCTAssertEqual(b.bag(row: 2, slot: 3), (1...50).map(Int32.init))
        XCTAssertEqual(b.bag(row: 3, slot: 3), [1])
        XCTAssertEqual((0..<4).map { b.bag(row: $0, slot: 6).count }, [50, 50, 50, 1])
    }

    /// Main file of 4 rows whose `_neg` line k lists item M(k+1) once per history position.
    static func alignmentFiles(negLines: Int, badMainRow: Int? = nil) -> AmazonBooksFiles {
        var f = goldenFiles()
        var main = (0..<4).map { "\($0 % 2)\tU1\tM1\tBooks\t\(list(["M1", "M2"]))\t\(list(["Books", "Books"]))" }
        if let badMainRow { main[badMainRow] = "1\tU1\tM1\tBooks\tM1" }
        f.train = Array((main.joined(separator: "\n") + "\n").utf8)
        let neg = (0..<negLines).map { k in "\(list(["M\(k % 4 + 1)", "M\(k % 4 + 1)"]))\t\(list(["Books", "Books"]))" }
        f.trainNegative = Array(neg.joined(separator: "\n").utf8)
        return f
    }

    func testNegativeFileShorterThanMainFile() throws {
        XCTAssertThrowsError(try ContestDataset(amazonBooks: Self.alignmentFiles(negLines: 3), negatives: .required, badRows: .fail, name: "d")) {
            XCTAssertTrue("\($0)".contains("d/local_train_splitByUser_neg:4:"), "\($0)")
            XCTAssertTrue("\($0)".contains("misalign"), "\($0)")
        }
        let (ds, b) = try load(Self.alignmentFiles(negLines: 3), policy: .skip, rows: 4)
        XCTAssertEqual(b.size, 3, "the row without a _neg line is skipped")
        XCTAssertEqual(ds.skippedRows, 1)
        XCTAssertEqual((0..<3).map { b.bag(row: $0, slot: 5) }, [[1, 1], [2, 2], [3, 3]], "row k keeps _neg line k")
    }

    func testNegativeFileLongerThanMainFile() throws {
        XCTAssertThrowsError(try ContestDataset(amazonBooks: Self.alignmentFiles(negLines: 5), negatives: .required, badRows: .fail, name: "d")) {
            XCTAssertTrue("\($0)".contains("d/local_train_splitByUser_neg:5:"), "\($0)")
        }
        let (ds, b) = try load(Self.alignmentFiles(negLines: 5), policy: .skip, rows: 4)
        XCTAssertEqual(b.size, 4)
        XCTAssertEqual(ds.skippedRows, 1, "the unpaired _neg line counts once")
        XCTAssertEqual((0..<4).map { b.bag(row: $0, slot: 5) }, [[1, 1], [2, 2], [3, 3], [4, 4]])
    }

    func testABadRowNeverShiftsTheNegativeLines() throws {
        let files = Self.alignmentFiles(negLines: 4, badMainRow: 1)
        XCTAssertThrowsError(try load(files, rows: 4)) {
            XCTAssertTrue("\($0)".contains("mem/local_train_splitByUser:2:"), "\($0)")
            XCTAssertTrue("\($0)".contains("found 5"), "\($0)")
        }
        let (ds, b) = try load(files, policy: .skip, rows: 4)
        XCTAssertEqual(b.size, 3)
        XCTAssertEqual(ds.skippedRows, 1)
        XCTAssertEqual((0..<3).map { b.bag(row: $0, slot: 5) }, [[1, 1], [3, 3], [4, 4]], "rows 1, 3, 4 with _neg lines 1, 3, 4")
        XCTAssertEqual((0..<3).map { b.labels(row: $0) }, [[0], [0], [1]])
    }

    func testBadRowsNameFileLineAndReason() throws {
        let good = "1\tU1\tM1\tBooks\t\(Self.list(["M1", "M2"]))\t\(Self.list(["Books", "Books"]))"
        let goodNeg = "\(Self.list(["M3", "M4"]))\t\(Self.list(["Books", "Books"]))"
        let cases: [(String, String, String, String)] = [
            ("2\tU1\tM1\tBooks\tM1\tBooks", "M3\tBooks", "local_train_splitByUser:2:", "field 1 (label): \"2\" is not 0 or 1"),
            ("1\tU1\tM1\tBooks\t\tBooks", "M3\tBooks", "local_train_splitByUser:2:", "field 5 (history items): empty history"),
            ("1\tU1\tM1\tBooks\t\(Self.list(["M1", "M2"]))\tBooks", goodNeg, "local_train_splitByUser:2:", "history items (2) and history categories (1)"),
            ("1\tU1\tM1\tBooks\tM1\tBooks\textra", "M3\tBooks", "local_train_splitByUser:2:", "found 7"),
            (good, "M3\tBooks", "local_train_splitByUser_neg:2:", "non-clicked history of 1 items and 1 categories for a history of 2"),
            (good, "\(Self.list(["M3", "M4"]))\tBooks", "local_train_splitByUser_neg:2:", "of 2 items and 1 categories"),
            (good, goodNeg + "\tx", "local_train_splitByUser_neg:2:", "expected 2 TAB-separated fields"),
            (good, "\t", "local_train_splitByUser_neg:2:", "of 0 items"),
        ]
        for (line, neg, place, needle) in cases {
            var f = Self.goldenFiles()
            f.train = Array((good + "\n" + line + "\n" + good + "\n").utf8)
            f.trainNegative = Array((goodNeg + "\n" + neg + "\n" + goodNeg).utf8)
            XCTAssertThrowsError(try load(f, rows: 3), needle) { error in
                XCTAssertTrue("\(error)".contains("mem/" + place), "\(error) should name \(place)")
                XCTAssertTrue("\(error)".contains(needle), "\(error) should say \(needle)")
            }
            let (ds, b) = try load(f, policy: .skip, rows: 3)
            XCTAssertEqual(b.size, 2, needle)
            XCTAssertEqual(ds.skippedRows, 1, needle)
        }
    }

    func testNegativeFilePolicies() throws {
        var f = Self.goldenFiles()
        let (ignored, b) = try load(f, negatives: .ignored, rows: 3)
        XCTAssertFalse(ignored.readsNegativeHistories)
        XCTAssertEqual((0..<3).map { b.bag(row: $0, slot: 5) + b.bag(row: $0, slot: 6) }, [[], [], []], "DIN: negative slots are empty")
        XCTAssertEqual(b.bag(row: 0, slot: 3), [1, 2])
        f.evalNegative = nil
        XCTAssertThrowsError(try load(f, negatives: .required, rows: 3)) {
            XCTAssertTrue("\($0)".contains("mem/local_test_splitByUser_neg"), "\($0)")
        }
        XCTAssertThrowsError(try load(f, negatives: .ifPresent, rows: 3)) { XCTAssertTrue("\($0)".contains("both or neither"), "\($0)") }
        f.trainNegative = nil
        let (absent, _) = try load(f, negatives: .ifPresent, rows: 3)
        XCTAssertFalse(absent.readsNegativeHistories)
    }

    func testGeneratorLayout() throws {
        let (files, summary) = try SyntheticAmazonBooks.generate(trainRows: 4_000, evalRows: 2_000, seed: 3)
        XCTAssertEqual(try SyntheticAmazonBooks.generate(trainRows: 4_000, evalRows: 2_000, seed: 3).files.train, files.train)
        XCTAssertNotEqual(try SyntheticAmazonBooks.generate(trainRows: 4_000, evalRows: 2_000, seed: 4).files.train, files.train)
        XCTAssertThrowsError(try SyntheticAmazonBooks.generate(trainRows: 3, evalRows: 2, seed: 1))
        let text = { (b: [UInt8]) in String(decoding: b, as: UTF8.self) }
        for (main, neg, rows) in [(files.train, files.trainNegative!, 4_000), (files.eval, files.evalNegative!, 2_000)] {
            XCTAssertEqual(main.last, 10)
            XCTAssertNotEqual(neg.last, 10, "generate_neg.py writes no final newline")
            let lines = text(main).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
            let negLines = text(neg).split(separator: "\n", omittingEmptySubsequences: false).map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
            XCTAssertEqual(lines.count, rows)
            XCTAssertEqual(negLines.count, rows)
            var lengths: [Int] = []
            for i in 0..<rows {
                let f = lines[i], n = negLines[i]
                XCTAssertEqual(f.count, 6)
                XCTAssertEqual(n.count, 2)
                XCTAssertEqual(f[0], i % 2 == 0 ? "0" : "1", "(negative, positive) pairs")
                if i % 2 == 1 {
                    XCTAssertEqual(f[1], lines[i - 1][1], "same user in a pair")
                    XCTAssertEqual(f[4], lines[i - 1][4], "same history in a pair")
                    XCTAssertEqual(f[5], lines[i - 1][5])
                }
                let history = f[4].split(separator: "\u{02}", omittingEmptySubsequences: false)
                let negItems = n[0].split(separator: "\u{02}", omittingEmptySubsequences: false)
                XCTAssertGreaterThanOrEqual(history.count, 1)
                XCTAssertEqual(f[5].split(separator: "\u{02}", omittingEmptySubsequences: false).count, history.count)
                XCTAssertEqual(negItems.count, history.count, "one non-clicked item per history position")
                XCTAssertEqual(n[1].split(separator: "\u{02}", omittingEmptySubsequences: false).count, history.count)
                XCTAssertTrue(zip(history, negItems).allSatisfy { $0 != $1 }, "the non-clicked item differs from the clicked one")
                lengths.append(history.count)
            }
            let mean = Double(lengths.reduce(0, +)) / Double(rows)
            XCTAssertTrue((7...9).contains(mean), "mean history \(mean)")
            XCTAssertLessThanOrEqual(lengths.max()!, SyntheticAmazonBooks.maxHistoryLength)
        }
        XCTAssertTrue((7...9).contains(summary.meanHistory), "\(summary.meanHistory)")
        let mid = text(files.midVocabulary).split(separator: "\n").map(String.init)
        let cat = text(files.catVocabulary).split(separator: "\n").map(String.init)
        XCTAssertEqual(mid.first, "default_mid")
        XCTAssertEqual(cat.first, "default_cat")
        XCTAssertNotEqual(files.midVocabulary.last, 10, "pick2txt.py writes no final newline")
        XCTAssertEqual([text(files.uidVocabulary).split(separator: "\n").count, mid.count, cat.count], summary.vocabularySizes)
        // Items by training count, descending (default_mid first).
        var counts: [String: Int] = [:]
        for line in text(files.train).split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            counts[String(f[2]), default: 0] += 1
            for h in f[4].split(separator: "\u{02}") { counts[String(h), default: 0] += 1 }
        }
        XCTAssertEqual(Set(mid.dropFirst()), Set(counts.keys), "mid_voc holds exactly the training file's items")
        XCTAssertTrue(zip(mid.dropFirst(), mid.dropFirst(2)).allSatisfy { counts[$0]! >= counts[$1]! }, "mid_voc sorted by count")
    }

    func testLabelNeedsTheHistoryAndItsOrder() throws {
        let s = try SyntheticAmazonBooks.generate(trainRows: 20_000, evalRows: 10_000, seed: 1).summary
        XCTAssertTrue((0.75...0.97).contains(s.oracleAUC), "oracle \(s.oracleAUC)")
        XCTAssertGreaterThan(s.oracleAUC, s.orderBlindAUC + 0.02, "recency matters: oracle \(s.oracleAUC), order-blind \(s.orderBlindAUC)")
        XCTAssertGreaterThan(s.oracleAUC, s.sumPooledAUC + 0.03, "oracle \(s.oracleAUC), sum-pooled \(s.sumPooledAUC)")
        XCTAssertGreaterThan(s.orderBlindAUC, s.sumPooledAUC + 0.01, "selecting the related items beats linear pooling: \(s.orderBlindAUC) vs \(s.sumPooledAUC)")
        XCTAssertGreaterThan(s.sumPooledAUC, 0.6, "the pooled history still carries signal: \(s.sumPooledAUC)")
    }

    /// A generated directory on disk → `ContestTrainer.loadDataset` → staged batches → `ContestFeed`:
    /// the contract's layout row by row.
    func testGeneratedDirectoryReachesTheFeedInTheContractLayout() throws {
        let dir = try makeTemporaryDirectory("amazon-books")
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticAmazonBooks.write(trainRows: 3_000, evalRows: 1_000, seed: 5, to: dir.path)
        var c = TrainConfig()
        c.dataset = .amazonBooks
        c.dataPath = dir.path
        c.evalRows = 0
        c.badRows = .fail
        let ds = try ContestTrainer.loadDataset(c)
        XCTAssertTrue(ds.readsNegativeHistories)
        XCTAssertNil(ContestTrainer.buckets(c), "amazon-books buckets come from the vocabularies")
        let v = try XCTUnwrap(ds.amazonVocabularies)
        XCTAssertEqual(ds.buckets, [v.uid.count, v.mid.count, v.cat.count, v.mid.count, v.cat.count, v.mid.count, v.cat.count])
        XCTAssertEqual(ds.trainingRows, 3_000)
        XCTAssertEqual(ds.evalRows, 1_000)
        let feed = ContestFeed(schema: ds.schema, capacity: 256, buckets: ds.buckets)
        let source = try ContestBatchSource(dataset: ds, batchSize: 256, stage: (capacity: 2, threads: 2))
        defer { source.shutdown() }
        let schema = feed.schema
        for _ in 0..<14 {  // wraps past the end of the training file
            let batch = try source.next()
            feed.stage(batch)
            XCTAssertEqual(feed.validRows, 256)
            for r in 0..<feed.validRows {
                let k = r * feed.slotCount
                XCTAssertTrue(feed.labels[r] == 0 || feed.labels[r] == 1)
                for s in 0..<3 { XCTAssertEqual(feed.bagCount[k + s], 1) }
                let n = feed.bagCount[k + schema.slot("hist_item")]
                XCTAssertTrue((1...50).contains(n))
                for name in ["hist_cat", "neg_hist_item", "neg_hist_cat"] { XCTAssertEqual(feed.bagCount[k + schema.slot(name)], n, name) }
                for s in 0..<7 {
                    for j in 0..<Int(feed.bagCount[k + s]) {
                        let id = feed.ids[Int(feed.bagStart[k + s]) + j]
                        XCTAssertTrue(id >= 0 && Int(id) < feed.buckets[s], "slot \(s) id \(id)")
                    }
                }
            }
            source.recycle(batch)
        }
        // Test users are never training users: every evaluation uid is out of the vocabulary (→ 0).
        var e = ContestBatch(schema: ds.schema, capacity: 1_000)
        try ds.fillEval(&e, index: 0, size: 1_000)
        XCTAssertEqual(e.size, 1_000)
        XCTAssertTrue((0..<1_000).allSatisfy { e.bag(row: $0, slot: 0) == [0] })
        XCTAssertGreaterThan((0..<1_000).filter { e.bag(row: $0, slot: 1) != [0] }.count, 600, "most test items are known")
        // Without --data: the same generator in memory.
        c.dataPath = nil
        c.syntheticRows = 2_000
        c.evalRows = 500
        let mem = try ContestTrainer.loadDataset(c)
        XCTAssertEqual(mem.trainingRows, 2_000)
        XCTAssertEqual(mem.evalRows, 500)
    }
}
