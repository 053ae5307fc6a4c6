import Foundation
import XCTest
@testable import RecEngine
import TestSupport

/// The Criteo reader: golden rows, missing fields, the hash, bad rows, CRLF, splits and wrap-around.
final class DataReaderTests: XCTestCase {
    /// One Criteo line from its parts (13 integers and 26 categoricals, "" = missing).
    static func line(_ label: String, _ ints: [String], _ cats: [String]) -> String {
        precondition(ints.count == 13 && cats.count == 26)
        return ([label] + ints + cats).joined(separator: "\t")
    }

    /// The documented hash, written out independently of `CriteoHash`.
    static func documentedID(_ hex: String, column c: Int, buckets: Int) -> Int32 {
        if hex.isEmpty { return 0 }
        let value = UInt64(hex, radix: 16)!
        var h = value ^ (UInt64(c + 1) &* 0x9E3779B97F4A7C15)
        h = (h ^ (h >> 30)) &* 0xBF58476D1CE4E5B9
        h = (h ^ (h >> 27)) &* 0x94D049BB133111EB
        h ^= h >> 31
        return Int32(1 + h.multipliedFullWidth(by: UInt64(buckets - 1)).high)
    }

    static let ints1 = ["5", "", "-3", "0", "123456", "1", "", "", "42", "", "7", "", "4095"]
    static let cats1 = ["68fd1e64", "", "80e26c9b", "FB936136", "7b4723c4", "25c83c98", "7e0ccccf", "de7995b8",
                        "1f89b562", "a73ee510", "a8cd5504", "b2cb9c98", "37c9c164", "2824a5f6", "1adce6ef",
                        "8ba8b39a", "891b62e7", "e5ba7672", "f54016b9", "21ddcdc9", "b1252a9d", "07b5194c",
                        "", "3a171ecb", "c5c50484", "0123456789abcdef"]
    static let ints2 = Array(repeating: "", count: 13)
    static let cats2 = Array(repeating: "", count: 26)

    func testGoldenRowsParseToLog1pDenseAndDocumentedHash() throws {
        let text = Self.line("1", Self.ints1, Self.cats1) + "\n" + Self.line("0", Self.ints2, Self.cats2) + "\n"
        for buckets in [10_000, 7] {
            let ds = try CriteoDataset(bytes: Array(text.utf8), name: "golden", hashBuckets: buckets, evalRows: 0, badRows: .fail)
            XCTAssertEqual(ds.trainingRows, 2)
            var b = Batch(capacity: 2)
            try ds.fill(&b, index: 0, batchSize: 2)
            XCTAssertEqual(b.size, 2)
            XCTAssertEqual(Array(b.labels[0..<2]), [1, 0])
            let expectedDense = Self.ints1.map { s -> Float in Float(Foundation.log1p(Double(max(Int(s) ?? 0, 0)))) }
            XCTAssertEqual(Array(b.dense[0..<13]), expectedDense)
            XCTAssertEqual(Array(b.dense[13..<26]), Array(repeating: 0, count: 13), "missing integers read as 0")
            let expectedIDs = Self.cats1.enumerated().map { Self.documentedID($0.element, column: $0.offset, buckets: buckets) }
            XCTAssertEqual(Array(b.categorical[0..<26]), expectedIDs)
            XCTAssertEqual(Array(b.categorical[26..<52]), Array(repeating: CriteoHash.missingID, count: 26))
            XCTAssertTrue(b.categorical[0..<52].allSatisfy { $0 >= 0 && Int($0) < buckets })
            XCTAssertEqual(ds.skippedRows, 0)
        }
    }

    /// The 8-digit fast path decodes all eight bytes at once; it must accept exactly the hex
    /// digits (either case) and give the digit-by-digit value: every byte value at every position
    /// of a valid field, and random fields.
    func testEightHexDigitsAtOnceMatchDigitByDigit() {
        func word(_ text: [UInt8]) -> UInt64 { text.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
        func digitByDigit(_ text: [UInt8]) -> UInt64? {
            var v: UInt64 = 0
            for b in text {
                guard let d = UInt8(ascii: "0")...UInt8(ascii: "9") ~= b ? b - 48
                    : UInt8(ascii: "a")...UInt8(ascii: "f") ~= b ? b - 87
                    : UInt8(ascii: "A")...UInt8(ascii: "F") ~= b ? b - 55 : nil else { return nil }
                v = v << 4 | UInt64(d)
            }
            return v
        }
        let template = Array("1a2B3c4D".utf8)
        for position in 0..<8 {
            for byte in 0...255 {
                var text = template
                text[position] = UInt8(byte)
                XCTAssertEqual(CriteoRowParser.hexValue(ofEightDigits: word(text)), digitByDigit(text), "byte \(byte) at \(position)")
            }
        }
        let alphabet = Array("0123456789abcdefABCDEF".utf8)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let text = (0..<8).map { _ in alphabet.randomElement(using: &rng)! }
            XCTAssertEqual(CriteoRowParser.hexValue(ofEightDigits: word(text)), digitByDigit(text), String(decoding: text, as: UTF8.self))
        }
        XCTAssertEqual(CriteoRowParser.hexValue(ofEightDigits: word(Array("FFFFFFFF".utf8))), 0xFFFF_FFFF)
        XCTAssertEqual(CriteoRowParser.hexValue(ofEightDigits: word(Array("00000000".utf8))), 0)
    }

    /// Whole lines with integer fields of many lengths (empty to 12 digits, leading zeros, some
    /// negative, some malformed; the last line without a newline): the reader's values are
    /// log(1 + max(x, 0)) of each field, and the malformed lines are the ones skipped.
    func testIntegerFieldsOfEveryLengthParseAsTheirValue() throws {
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = [], expected: [[Float]] = [], bad = 0
        for i in 0..<3_000 {
            var fields: [String] = [], values: [Float] = []
            for _ in 0..<CriteoSchema.denseCount {
                let n = Int.random(in: 0...12, using: &rng)
                let digits = String((0..<n).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
                let negative = n > 0 && Int.random(in: 0..<6, using: &rng) == 0
                fields.append((negative ? "-" : "") + digits)
                values.append(negative || n == 0 ? 0 : Float(Foundation.log1p(Double(UInt64(digits)!))))
            }
            let malformed = i % 97 == 5
            if malformed { fields[i % CriteoSchema.denseCount] += "x" }
            lines.append(Self.line(i % 2 == 0 ? "1" : "0", fields, Self.cats1))
            if malformed { bad += 1 } else { expected.append(values) }
        }
        let ds = try CriteoDataset(bytes: Array(lines.joined(separator: "\n").utf8), name: "ints", evalRows: 0, badRows: .skip)
        var b = Batch(capacity: lines.count)
        try ds.fill(&b, index: 0, batchSize: lines.count)
        XCTAssertEqual(b.size, expected.count)
        XCTAssertEqual(ds.skippedRows, bad)
        for (row, values) in expected.enumerated() {
            let got = Array(b.dense[row * CriteoSchema.denseCount..<(row + 1) * CriteoSchema.denseCount])
            if got != values { return XCTFail("row \(row): \(got) vs \(values)") }
        }
    }

    func testHashIsCaseInsensitiveAndSeparatesColumns() {
        XCTAssertEqual(CriteoHash.id(value: 0xFB936136, column: 3, buckets: 10_000), Self.documentedID("fb936136", column: 3, buckets: 10_000))
        let ids = (0..<26).map { CriteoHash.id(value: 0x68fd1e64, column: $0, buckets: 1 << 30) }
        XCTAssertEqual(Set(ids).count, 26, "the same value must hash differently per column")
        XCTAssertTrue(ids.allSatisfy { $0 != CriteoHash.missingID })
    }

    /// Rows with every kind of defect, each at a known line.
    static func badText() -> (text: String, good: Int) {
        let good = line("0", ints1, cats1)
        var lines = [good]
        lines.append(Array(line("1", ints1, cats1).split(separator: "\t", omittingEmptySubsequences: false).dropLast()).joined(separator: "\t")) // 2: 39 fields
        lines.append(line("1", ints1, cats1) + "\t00ff")                                   // 3: 41 fields
        var ints = ints1; ints[2] = "12x4"
        lines.append(line("1", ints, cats1))                                              // 4: I3 not an integer
        var cats = cats1; cats[4] = "zz12"
        lines.append(line("1", ints1, cats))                                              // 5: C5 bad hex
        lines.append(line("2", ints1, cats1))                                             // 6: label 2
        lines.append("")                                                                  // 7: empty line
        cats = cats1; cats[0] = "0123456789abcdef0"
        lines.append(line("1", ints1, cats))                                              // 8: C1 17 hex digits
        ints = ints1; ints[0] = "99999999999999999999"
        lines.append(line("1", ints, cats1))                                              // 9: I1 out of range
        lines.append(good)                                                                // 10
        return (lines.joined(separator: "\n") + "\n", 2)
    }

    func testMalformedRowsAreCountedAndSkippedUnderSkip() throws {
        let (text, good) = Self.badText()
        let ds = try CriteoDataset(bytes: Array(text.utf8), name: "bad.tsv", evalRows: 0, badRows: .skip)
        XCTAssertEqual(ds.trainingRows, 10)
        var b = Batch(capacity: 10)
        try ds.fill(&b, index: 0, batchSize: 10)
        XCTAssertEqual(b.size, good)
        XCTAssertEqual(ds.skippedRows, 10 - good)
        XCTAssertEqual(Array(b.labels[0..<2]), [0, 0])
        try ds.fill(&b, index: 1, batchSize: 10)  // the next epoch passes over them again: each still counts once
        XCTAssertEqual(b.size, good)
        XCTAssertEqual(ds.skippedRows, 10 - good)
    }

    func testMalformedRowsFailWithFileLineFieldAndText() throws {
        let (text, _) = Self.badText()
        let expectations: [(line: Int, fragments: [String])] = [
            (2, ["39"]), (3, ["41"]), (4, ["I3", "\"12x4\""]), (5, ["C5", "\"zz12\""]), (6, ["label", "\"2\""]),
            (7, ["found 0"]), (8, ["C1", "0123456789abcdef0"]), (9, ["I1", "99999999999999999999"]),
        ]
        let ds = try CriteoDataset(bytes: Array(text.utf8), name: "bad.tsv", evalRows: 0, badRows: .fail)
        var b = Batch(capacity: 1)
        for e in expectations {
            XCTAssertThrowsError(try ds.fill(&b, index: e.line - 1, batchSize: 1)) { error in
                guard case let DataError.malformedRow(file, line, reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(file, "bad.tsv")
                XCTAssertEqual(line, e.line)
                for f in e.fragments { XCTAssertTrue(reason.contains(f), "line \(e.line): \(reason) lacks \(f)") }
                XCTAssertTrue("\(error)".hasPrefix("bad.tsv:\(e.line): "), "\(error)")
            }
        }
        XCTAssertNoThrow(try ds.fill(&b, index: 9, batchSize: 1))
        XCTAssertEqual(ds.skippedRows, 0)
    }

    func testMalformedEvaluationRowFailsAtInit() {
        let (text, _) = Self.badText()
        XCTAssertThrowsError(try CriteoDataset(bytes: Array(text.utf8), name: "bad.tsv", evalRows: 3, badRows: .fail)) { error in
            guard case let DataError.malformedRow(_, line, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 8)
        }
        XCTAssertEqual(try CriteoDataset(bytes: Array(text.utf8), name: "bad.tsv", evalRows: 3, badRows: .skip).skippedRows, 2)
    }

    func testCRLFAndTrailingEmptyLinesMatchLF() throws {
        let lines = [Self.line("1", Self.ints1, Self.cats1), Self.line("0", Self.ints2, Self.cats2), Self.line("1", Self.ints2, Self.cats1)]
        let lf = try CriteoDataset(bytes: Array((lines.joined(separator: "\n") + "\n").utf8), name: "lf", evalRows: 0, badRows: .fail)
        let crlf = try CriteoDataset(bytes: Array((lines.joined(separator: "\r\n") + "\r\n\r\n\n").utf8), name: "crlf", evalRows: 0, badRows: .fail)
        let noFinal = try CriteoDataset(bytes: Array(lines.joined(separator: "\n").utf8), name: "nofinal", evalRows: 0, badRows: .fail)
        XCTAssertEqual(crlf.trainingRows, 3)
        XCTAssertEqual(noFinal.trainingRows, 3)
        var a = Batch(capacity: 3), b = Batch(capacity: 3), c = Batch(capacity: 3)
        try lf.fill(&a, index: 0, batchSize: 3)
        try crlf.fill(&b, index: 0, batchSize: 3)
        try noFinal.fill(&c, index: 0, batchSize: 3)
        for other in [b, c] {
            XCTAssertEqual(other.size, 3)
            XCTAssertEqual(other.labels, a.labels)
            XCTAssertEqual(other.dense, a.dense)
            XCTAssertEqual(other.categorical, a.categorical)
        }
    }

    func testBatchesWrapAroundEpochsAndEvalSliceIsTheTail() throws {
        // 13 lines: label = i % 2, I1 = i; the last 3 are the evaluation slice.
        let lines = (0..<13).map { i -> String in
            var ints = Self.ints2; ints[0] = "\(i)"
            return Self.line("\(i % 2)", ints, Self.cats2)
        }
        let ds = try CriteoDataset(bytes: Array(lines.joined(separator: "\n").utf8), name: "wrap", evalRows: 3, badRows: .fail)
        XCTAssertEqual(ds.trainingRows, 10)
        XCTAssertEqual(ds.totalRows, 13)
        func firstInts(_ b: Batch) -> [Int] { (0..<b.size).map { Int((Foundation.exp(Double(b.dense[$0 * 13])) - 1).rounded()) } }
        var b = Batch(capacity: 4)
        try ds.fill(&b, index: 2, batchSize: 4)
        XCTAssertEqual(b.firstSample, 8)
        XCTAssertEqual(firstInts(b), [8, 9, 0, 1])
        try ds.fill(&b, index: 5, batchSize: 4)
        XCTAssertEqual(firstInts(b), [0, 1, 2, 3])
        XCTAssertEqual(ds.evalSet.size, 3)
        XCTAssertEqual(firstInts(ds.evalSet), [10, 11, 12])
        let chunks = ds.evalBatches(size: 2)
        XCTAssertEqual(chunks.map(\.size), [2, 1])
        XCTAssertEqual(chunks.flatMap(firstInts), [10, 11, 12])
        XCTAssertEqual(chunks.map(\.firstSample), [10, 12])
        XCTAssertEqual(Array(chunks[1].labels[0..<1]), [0])
        XCTAssertThrowsError(try ds.fill(&b, index: -1, batchSize: 4)) { XCTAssertEqual(($0 as? DataError).map { "\($0)" }?.contains("batch index -1"), true, "\($0)") }
        XCTAssertThrowsError(try ds.fill(&b, index: 0, batchSize: 0))
        XCTAssertThrowsError(try ds.fill(&b, index: Int.max / 2, batchSize: 4))
        // A part of a batch must lie inside it; the index checks are the same as `fill`'s.
        let rows = try b.labels.withUnsafeMutableBufferPointer { labels in
            try b.dense.withUnsafeMutableBufferPointer { dense in
                try b.categorical.withUnsafeMutableBufferPointer { cats in
                    let raw = CriteoRows(labels: labels.baseAddress!, dense: dense.baseAddress!, categorical: cats.baseAddress!)
                    for (part, batchSize) in [(2..<5, 4), (-1..<2, 4), (0..<1, 0)] {
                        XCTAssertThrowsError(try ds.parse(batch: 0, batchSize: batchSize, lines: part, into: raw)) {
                            XCTAssertTrue("\($0)".contains(batchSize > 0 ? "batch part" : "batch size"), "\($0)")
                        }
                    }
                    XCTAssertThrowsError(try ds.parse(batch: -1, batchSize: 4, lines: 0..<2, into: raw)) {
                        XCTAssertTrue("\($0)".contains("batch index -1"), "\($0)")
                    }
                    return try ds.parse(batch: 2, batchSize: 4, lines: 1..<3, into: raw)
                }
            }
        }
        XCTAssertEqual(rows, 2)
        XCTAssertEqual((0..<2).map { Int((Foundation.exp(Double(b.dense[$0 * 13])) - 1).rounded()) }, [9, 0], "lines 9 and 0 of batch 2")
    }

    func testFileIsMappedAndErrorsNameThePath() throws {
        let dir = try makeTemporaryDirectory("rectune-data")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("train.tsv").path
        let (text, _) = Self.badText()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let ds = try CriteoDataset(path: path, evalRows: 1, badRows: .fail)
        XCTAssertEqual(ds.trainingRows, 9)
        var b = Batch(capacity: 4)
        XCTAssertThrowsError(try ds.fill(&b, index: 0, batchSize: 4)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path):2: malformed row"), "\(error)")
        }
        XCTAssertThrowsError(try CriteoDataset(path: path + ".missing", evalRows: 0, badRows: .skip)) { error in
            guard case let DataError.io(p, call, code) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path + ".missing"); XCTAssertEqual(call, "open"); XCTAssertEqual(code, ENOENT)
        }
        XCTAssertThrowsError(try CriteoDataset(path: path, evalRows: 10, badRows: .skip)) { error in
            XCTAssertEqual(error as? DataError, .notEnoughRows(file: path, rows: 10, evalRows: 10))
        }
    }
}
