import Foundation
import XCTest
import RecEngine
import TestSupport

/// The synthetic Criteo generator: format, determinism, missing values, positive rate, signal.
final class DataGeneratorTests: XCTestCase {
    func testSameSeedSameBytesDifferentSeedDifferentBytes() {
        let a = SyntheticCriteo.bytes(rows: 2_000, seed: 11)
        let b = SyntheticCriteo.bytes(rows: 2_000, seed: 11)
        let c = SyntheticCriteo.bytes(rows: 2_000, seed: 12)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.filter { $0 == 10 }.count, 2_000, "one line per row")
        let prefix = SyntheticCriteo.bytes(rows: 500, seed: 11)
        XCTAssertEqual(Array(a[0..<prefix.count]), prefix, "a longer run extends a shorter one")
    }

    func testWriteProducesTheSameBytesAndSummary() throws {
        let dir = try makeTemporaryDirectory("rectune-gen")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("syn.tsv").path
        let summary = try SyntheticCriteo.write(rows: 3_000, seed: 5, to: path)
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(onDisk, SyntheticCriteo.bytes(rows: 3_000, seed: 5))
        XCTAssertEqual(summary.rows, 3_000)
        XCTAssertEqual(summary.bytes, onDisk.count)
        let ones = onDisk.split(separator: 10).filter { $0.first == 49 }.count
        XCTAssertEqual(summary.positives, ones)
        XCTAssertThrowsError(try SyntheticCriteo.write(rows: 0, seed: 5, to: path))
        XCTAssertThrowsError(try SyntheticCriteo.write(rows: 10, seed: 5, to: dir.appendingPathComponent("no/such/dir.tsv").path)) { error in
            guard case DataError.io(_, "open", ENOENT) = error else { return XCTFail("\(error)") }
        }
    }

    func testRowsAreValidCriteoWithMissingValuesAndEightHexDigits() throws {
        let rows = 20_000
        let bytes = SyntheticCriteo.bytes(rows: rows, seed: 3)
        let ds = try CriteoDataset(bytes: bytes, name: "syn", evalRows: 0, badRows: .fail)
        var b = Batch(capacity: rows)
        try ds.fill(&b, index: 0, batchSize: rows)
        XCTAssertEqual(b.size, rows)
        XCTAssertEqual(ds.skippedRows, 0)
        // Per categorical column, the share of missing ids is within the generator's 5–20% (± sampling).
        for c in 0..<CriteoSchema.categoricalCount {
            let missing = (0..<rows).filter { b.categorical[$0 * 26 + c] == CriteoHash.missingID }.count
            let share = Double(missing) / Double(rows)
            XCTAssertTrue(share > 0.035 && share < 0.22, "C\(c + 1) missing share \(share)")
        }
        // Categorical fields are empty or exactly 8 lowercase hex digits; low-cardinality columns stay small.
        var distinct = Array(repeating: Set<Substring>(), count: 26)
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").prefix(5_000) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(fields.count, 40)
            for (c, f) in fields[14...].enumerated() where !f.isEmpty {
                XCTAssertEqual(f.count, 8)
                XCTAssertTrue(f.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }, "\(f)")
                distinct[c].insert(f)
            }
        }
        XCTAssertLessThanOrEqual(distinct[8].count, 10, "C9 has 10 values")
        XCTAssertGreaterThan(distinct[2].count, 1_000, "C3 has 10^6 values")
    }

    func testPositiveRateIsAboutOneQuarterForSeveralSeeds() {
        for seed: UInt64 in [1, 2, 99] {
            let bytes = SyntheticCriteo.bytes(rows: 20_000, seed: seed)
            let lines = bytes.split(separator: 10)
            let rate = Double(lines.filter { $0.first == 49 }.count) / Double(lines.count)
            XCTAssertTrue((0.2...0.3).contains(rate), "seed \(seed): positive rate \(rate)")
        }
    }

    func testHiddenModelAUCShowsALearnableSignal() {
        let auc = SyntheticCriteo.oracleAUC(rows: 30_000, seed: 4)
        XCTAssertGreaterThanOrEqual(auc, 0.7)
        XCTAssertLessThanOrEqual(auc, 0.9, "the task should not be trivially separable")
    }

    func testASingleFeatureCarriesSignal() throws {
        // C9 (10 values) has per-id weights: the positive rate must differ across its ids.
        let rows = 40_000
        let ds = try CriteoDataset(bytes: SyntheticCriteo.bytes(rows: rows, seed: 8), name: "syn", evalRows: 0, badRows: .fail)
        var b = Batch(capacity: rows)
        try ds.fill(&b, index: 0, batchSize: rows)
        var count: [Int32: (n: Int, pos: Int)] = [:]
        for i in 0..<rows {
            let id = b.categorical[i * 26 + 8]
            count[id, default: (0, 0)].n += 1
            if b.labels[i] == 1 { count[id, default: (0, 0)].pos += 1 }
        }
        let rates = count.values.filter { $0.n >= 500 }.map { Double($0.pos) / Double($0.n) }
        XCTAssertGreaterThanOrEqual(rates.count, 3)
        XCTAssertGreaterThan(rates.max()! - rates.min()!, 0.05, "C9 ids should differ in positive rate: \(rates)")
    }
}
