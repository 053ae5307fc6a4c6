import Foundation
import XCTest
@testable import RecEngine
import TestSupport

/// The contest readers (Ele.me, Taobao): golden rows, defaults, NULL, long lists, CRLF, bad rows
/// under both policies, the real directory layout, and the generators.
final class ContestDataTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let elemeBuckets = ContestSchema.elemeBuckets(hashBuckets: 1_000)

    static func id(_ token: String, _ buckets: Int = 1_000) -> Int32 { ContestHash.id(token, buckets: buckets) }

    func loadEleme() throws -> (ContestDataset, ContestBatch) {
        let dir = Self.fixtures.appendingPathComponent("eleme").path
        let ds = try ContestDataset(directory: dir, format: .eleme, buckets: Self.elemeBuckets, badRows: .fail)
        var b = ContestBatch(schema: ds.schema, capacity: 3)
        try ds.fill(&b, index: 0, batchSize: 3)
        return (ds, b)
    }

    func testElemeGoldenFullRow() throws {
        let (ds, b) = try loadEleme()
        let s = ds.schema
        XCTAssertEqual(s.fieldCount, 39)
        XCTAssertEqual(s.slots.count, 24)
        XCTAssertEqual(s.numerics.count, 12)
        XCTAssertEqual(ds.trainingRows, 3)
        XCTAssertEqual(b.size, 3)
        XCTAssertEqual(b.labels(row: 0), [1])
        // gender, avg_price, is_supervip, ctr_30, ord_30, total_amt_30, rank_7/30/90, hours, mean(price_list), mean(hours_list)
        let expected: [Double] = [1, 35.5, 0, 3, 12, 88.25, 5, 6, 7, 12, 60.5 / 3, 42.0 / 3]
        assertClose(b.numerics(row: 0), expected, rtol: 1e-6)
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("user_id")), [Self.id("u123")])
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("shop_id")), [Self.id("s9")])
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("shop_id_list")), [Self.id("s9"), Self.id("s1"), Self.id("s9")], "duplicates kept")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("shop_aoi_id_list")), [Self.id("a1"), Self.id(""), Self.id("a3")], "empty list tokens are hashed, as TF's split keeps them")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("visit_city")), b.bag(row: 0, slot: s.slot("city_id")), "the same token in a shared group has the same id")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("time_type")), [0], "lunch is vocabulary index 0")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("time_type_list")), [0, 1], "brunch is out of the vocabulary: dropped")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("timediff_list")), ["100", "2000", "5"].map { Self.id($0) })
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("geohash12")), [Self.id("wx4g0bm6c409")])
    }

    func testElemeEmptyFieldsTakeTheScriptsDefaults() throws {
        let (ds, b) = try loadEleme()
        let s = ds.schema
        XCTAssertEqual(b.labels(row: 1), [0])
        var expected = [Float](repeating: 0, count: 12)
        expected[0] = -99  // gender's default
        XCTAssertEqual(b.numerics(row: 1), expected)
        for name in ["user_id", "shop_id", "item_id", "shop_aoi_id", "shop_geohash_6", "shop_geohash_12", "geohash12", "time_type", "time_type_list"] {
            XCTAssertEqual(b.bag(row: 1, slot: s.slot(name)), [], "\(name): empty string default → no id")
        }
        for name in ["visit_city", "city_id", "district_id", "brand_id", "category_1_id", "merge_standard_food_id", "times", "timediff_list"] {
            XCTAssertEqual(b.bag(row: 1, slot: s.slot(name)), [Self.id("0")], "\(name): default '0'")
        }
        for name in ["shop_id_list", "item_id_list", "brand_id_list", "shop_geohash6_list"] {
            XCTAssertEqual(b.bag(row: 1, slot: s.slot(name)), [Self.id("")], "\(name): an empty list splits into one empty token")
        }
    }

    func testElemeLongListsAndCRLF() throws {
        let (ds, b) = try loadEleme()
        let s = ds.schema
        XCTAssertEqual(b.bag(row: 2, slot: s.slot("shop_id_list")), (0..<50).map { Self.id("s\($0)") })
        assertClose([b.numerics(row: 2)[s.numeric("price_list")]], [24.5], rtol: 1e-6)
        XCTAssertEqual(b.bag(row: 2, slot: s.slot("geohash12")), [Self.id("wx4g0bm6c409")], "the CR of a CRLF line is not part of the last field")
        // The CRLF evaluation file: all rows, in order.
        XCTAssertEqual(ds.evalRows, 2)
        var e = ContestBatch(schema: s, capacity: 2)
        try ds.fillEval(&e, index: 0, size: 2)
        XCTAssertEqual(e.size, 2)
        XCTAssertEqual(e.labels(row: 1), [1])
        XCTAssertEqual(e.bag(row: 1, slot: s.slot("geohash12")), [Self.id("wx4g0bm6c409")])
    }

    func testTaobaoGoldenRowsNullAndEmpty() throws {
        let dir = Self.fixtures.appendingPathComponent("taobao").path
        let ds = try ContestDataset(directory: dir, format: .taobao, buckets: ContestSchema.taobaoBuckets, badRows: .fail)
        let s = ds.schema
        XCTAssertEqual(s.fieldCount, 20)
        XCTAssertEqual(s.slots.count, 17, "16 hashed columns (final_gender_code unused) + price")
        var b = ContestBatch(schema: s, capacity: 2)
        try ds.fill(&b, index: 0, batchSize: 2)
        XCTAssertEqual(b.size, 2)
        XCTAssertEqual(b.labels(row: 0), [0, 0])
        XCTAssertEqual(b.labels(row: 1), [1, 1])
        let buckets = ContestSchema.taobaoBuckets
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("brand")), [Self.id("NULL", buckets[s.slot("brand")])], "NULL is an ordinary token")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("pid")), [Self.id("430548_1007", 10)])
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("pvalue_level")), [Self.id(" ", 10)], "empty → the script's default \" \"")
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("tag_category_list")), ["c1", "c2", "c1"].map { Self.id($0, 100_000) })
        XCTAssertEqual(b.bag(row: 0, slot: s.slot("price")), [17], "identity column")
        for slot in 0..<16 { XCTAssertEqual(b.bag(row: 1, slot: slot), [Self.id(" ", buckets[slot])], "slot \(s.slots[slot])") }
        XCTAssertEqual(b.bag(row: 1, slot: s.slot("price")), [0], "empty price → 0")
        XCTAssertTrue((0..<b.idCount).allSatisfy { b.ids[$0] >= 0 })
    }

    /// A short batch's rows past its size become padding whatever they held before (zero labels
    /// and numerics, empty bags), in the batch and in the feed alike (`ContestRows.pad`).
    func testShortBatchPaddingClearsEarlierRows() throws {
        let good = try String(contentsOf: Self.fixtures.appendingPathComponent("eleme/train.csv"), encoding: .utf8)
            .split(separator: "\n").map(String.init)[0]
        let train = Array((String(repeating: good + "\n", count: 3) + "broken\n").utf8)
        let ds = try ContestDataset(format: .eleme, train: train, eval: Array((good + "\n").utf8), buckets: Self.elemeBuckets, badRows: .skip)
        let s = ds.schema.slots.count, m = ds.schema.numerics.count
        func isPadding(labels: [Float], numerics: [Float], starts: [Int32], counts: [Int32]) -> Bool {
            labels.allSatisfy { $0 == 0 } && numerics.allSatisfy { $0 == 0 } && starts.allSatisfy { $0 == 0 } && counts.allSatisfy { $0 == 0 }
        }
        var b = ContestBatch(schema: ds.schema, capacity: 3)
        try ds.fill(&b, index: 0, batchSize: 3)
        let feed = ContestFeed(schema: ds.schema, capacity: 3)
        feed.stage(b)
        XCTAssertEqual(b.size, 3)
        XCTAssertTrue(b.bagCount[2 * s..<3 * s].contains { $0 > 0 } && b.numerics(row: 2).contains { $0 != 0 }, "row 2 holds data first")

        try ds.fill(&b, index: 1, batchSize: 3)  // lines 3, 0, 1: the broken line is skipped
        XCTAssertEqual(b.size, 2)
        XCTAssertTrue(isPadding(labels: b.labels(row: 2), numerics: b.numerics(row: 2),
                                starts: Array(b.bagStart[2 * s..<3 * s]), counts: Array(b.bagCount[2 * s..<3 * s])), "batch row 2")

        feed.setValidRows(1)
        XCTAssertEqual(feed.validRows, 1)
        XCTAssertTrue(UnsafeBufferPointer(start: feed.bagCount, count: s).contains { $0 > 0 }, "row 0 is kept")
        for row in 1..<3 {
            func view<T>(_ p: UnsafeMutablePointer<T>, _ width: Int) -> [T] { Array(UnsafeBufferPointer(start: p + row * width, count: width)) }
            XCTAssertTrue(isPadding(labels: view(feed.labels, ds.schema.labels.count), numerics: view(feed.numeric, m),
                                    starts: view(feed.bagStart, s), counts: view(feed.bagCount, s)), "feed row \(row)")
        }
    }

    /// One bad line per defect: `.fail` names file, line and field; `.skip` counts and drops them.
    func testBadRowsUnderBothPolicies() throws {
        let good = try String(contentsOf: Self.fixtures.appendingPathComponent("eleme/train.csv"), encoding: .utf8)
            .split(separator: "\n").map(String.init)[0]
        var fields = good.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func with(_ i: Int, _ v: String) -> String { var f = fields; f[i] = v; return f.joined(separator: ",") }
        let bad: [(String, String)] = [
            (with(0, "2"), "field 1 (clicked)"),
            (with(6, "0.5"), "field 7 (ctr_30)"),
            (with(27, "1;x;3"), "field 28 (price_list)"),
            (with(4, "3.5.1"), "field 5 (avg_price)"),
            (fields.dropLast().joined(separator: ","), "expected 39 comma-separated fields, found 38"),
        ]
        fields[0] = "0"
        for (k, (line, needle)) in bad.enumerated() {
            let train = Array((good + "\n" + line + "\n" + good + "\n").utf8)
            let eval = Array((good + "\n").utf8)
            let strict = try ContestDataset(format: .eleme, train: train, eval: eval, buckets: Self.elemeBuckets, badRows: .fail, name: "mem\(k)")
            var b = ContestBatch(schema: strict.schema, capacity: 3)
            XCTAssertThrowsError(try strict.fill(&b, index: 0, batchSize: 3)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("mem\(k)/train.csv:2:"), text)
                XCTAssertTrue(text.contains(needle), "\(text) should name \(needle)")
            }
            let lenient = try ContestDataset(format: .eleme, train: train, eval: eval, buckets: Self.elemeBuckets, badRows: .skip)
            try lenient.fill(&b, index: 0, batchSize: 3)
            XCTAssertEqual(b.size, 2, needle)
            XCTAssertEqual(lenient.skippedRows, 1, needle)
            XCTAssertEqual(b.bagCount[2 * b.slotCount], 0, "the padding row has empty bags")
        }
        // Taobao: price outside the 50 identity buckets.
        let t = Array("0,0,1,2,3,4,5,6,7,8,9,1,2,3,4,5,6,a|b,c|d,50\n".utf8)
        let ds = try ContestDataset(format: .taobao, train: t, eval: t, buckets: ContestSchema.taobaoBuckets, badRows: .fail)
        var b = ContestBatch(schema: ds.schema, capacity: 1)
        XCTAssertThrowsError(try ds.fill(&b, index: 0, batchSize: 1)) { XCTAssertTrue("\($0)".contains("field 20 (price)"), "\($0)") }
    }

    /// Every training line malformed and skipped: as with Criteo data, the contest trainer stops with
    /// "no valid training row" instead of writing a result of 0 samples/s (and exiting 0).
    func testAContestRunWithNoValidTrainingRowSaysSo() throws {
        let good = try String(contentsOf: Self.fixtures.appendingPathComponent("eleme/train.csv"), encoding: .utf8)
            .split(separator: "\n").map(String.init)[0]
        let train = Array(String(repeating: "broken,line\n", count: 40).utf8)
        let ds = try ContestDataset(format: .eleme, train: train, eval: Array((good + "\n" + good + "\n").utf8),
                                    buckets: Self.elemeBuckets, badRows: .skip, name: "all-bad")
        for stage in [false, true] {
            var c = TrainConfig()
            c.model = .wdl
            c.dataset = .eleme
            c.hashBuckets = 1_000
            c.batch = 16
            c.steps = 3
            c.warmupSteps = 1
            c.evalRows = 2
            c.stage = stage
            XCTAssertThrowsError(try ContestTrainer.run(config: c, counterEvents: [], dataset: ds)) { error in
                XCTAssertTrue("\(error)".contains("all-bad/train.csv"), "\(error)")
                XCTAssertTrue("\(error)".contains("no valid training row"), "stage \(stage): \(error)")
                // 4 steps of 16 wrap over the 40 lines: each is counted once (it used to say 64, and more on the second run).
                XCTAssertTrue("\(error)".contains("(40 malformed rows skipped)"), "stage \(stage): \(error)")
            }
        }
    }

    func testTrainingBatchesWrapAround() throws {
        let (ds, _) = try loadEleme()
        var b = ContestBatch(schema: ds.schema, capacity: 2)
        try ds.fill(&b, index: 1, batchSize: 2)  // lines 2, 0
        XCTAssertEqual(b.firstSample, 2)
        XCTAssertEqual(b.labels(row: 0), [0])
        XCTAssertEqual(b.labels(row: 1), [1])
    }

    func testGeneratorsAreDeterministicParseCleanlyAndCarrySignal() throws {
        let dir = try makeTemporaryDirectory("contest-gen")
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in ContestFormat.allCases where format != .amazonBooks {  // AmazonBooksDataTests
            let out = dir.appendingPathComponent(format.rawValue).path
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let summary = try SyntheticContest.write(format: format, trainRows: 4_000, evalRows: 6_000, seed: 7, to: out)
            let again = SyntheticContest.bytes(format: format, trainRows: 4_000, evalRows: 6_000, seed: 7)
            XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: out + "/" + format.schema.trainFile))), again.train)
            XCTAssertNotEqual(SyntheticContest.bytes(format: format, trainRows: 50, evalRows: 1, seed: 8).train, Array(again.train.prefix(50)))
            let buckets = format == .eleme ? ContestSchema.elemeBuckets(hashBuckets: 100_000) : ContestSchema.taobaoBuckets
            let ds = try ContestDataset(directory: out, format: format, buckets: buckets, badRows: .fail)
            var b = ContestBatch(schema: ds.schema, capacity: 4_000)
            try ds.fill(&b, index: 0, batchSize: 4_000)
            XCTAssertEqual(b.size, 4_000)
            let rate = { (t: Int) in Double(summary.positives[t]) / 4_000 }
            switch format {
            case .eleme:
                XCTAssertTrue((0.06...0.22).contains(rate(0)), "eleme click rate \(rate(0))")
                XCTAssertTrue((0.68...0.85).contains(summary.oracleAUC[0]), "eleme oracle \(summary.oracleAUC)")
                let lengths = (0..<4_000).map { Int(b.bagCount[$0 * b.slotCount + ds.schema.slot("shop_id_list")]) }
                XCTAssertEqual(lengths.max(), 50)
            case .amazonBooks:
                XCTFail("amazon-books has its own generator")
            case .taobao:
                XCTAssertTrue((0.03...0.08).contains(rate(0)), "clk rate \(rate(0))")
                XCTAssertTrue((0.004...0.025).contains(rate(1)), "buy rate \(rate(1))")
                XCTAssertTrue((0..<4_000).allSatisfy { b.labels[$0 * 2 + 1] <= b.labels[$0 * 2] }, "buy only with clk")
                XCTAssertTrue(summary.oracleAUC.allSatisfy { (0.7...0.95).contains($0) }, "taobao oracle \(summary.oracleAUC)")
                let tags = (0..<4_000).map { Int(b.bagCount[$0 * b.slotCount + ds.schema.slot("tag_category_list")]) }
                let oneToken = Double(tags.filter { $0 == 1 }.count) / 4_000
                XCTAssertTrue((0.3...0.5).contains(oneToken), "≈40% empty tag lists (read as one \" \" token): \(oneToken)")
            }
        }
    }
}
