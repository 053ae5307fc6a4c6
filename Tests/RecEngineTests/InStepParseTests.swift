import XCTest
@testable import RecEngine

/// Stage off, end to end: the step's first nodes parse its batch into the feed in parts, and the
/// feed then holds exactly what staging `DirectBatchSource`'s batch would.
final class InStepParseTests: XCTestCase {
    /// 300 generated lines; `broken` (1-based line numbers) get commas for tabs (one field).
    static func bytes(broken: [Int]) -> [UInt8] {
        var lines = String(decoding: SyntheticCriteo.bytes(rows: 300, seed: 5), as: UTF8.self).split(separator: "\n").map(String.init)
        for n in broken { lines[n - 1] = lines[n - 1].replacingOccurrences(of: "\t", with: ",") }
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// The feed's rows, all `capacity` of them (padding included), and its valid-row count.
    static func contents(_ feed: StepFeed) -> (Int, [Float], [Float], [Int32]) {
        let n = feed.capacity
        return (feed.validRows, Array(UnsafeBufferPointer(start: feed.labels, count: n)),
                Array(UnsafeBufferPointer(start: feed.dense, count: n * CriteoSchema.denseCount)),
                Array(UnsafeBufferPointer(start: feed.categorical, count: n * CriteoSchema.categoricalCount)))
    }

    /// A one-node graph behind `parse`'s nodes.
    static func graph(behind parse: InStepParse) throws -> StepGraph {
        let b = GraphBuilder()
        b.node("model", kind: .forward) { _ in }
        return try b.build().prefixed(by: parse.addNodes(to:))
    }

    /// Runs steps 0..<`count` of a graph that is only `parse`'s nodes on `executor`, calling `check(k)`
    /// after step k has parsed batch k.
    static func parseBatches(_ count: Int, with parse: InStepParse, on executor: any StepExecutor, check: (Int) -> Void) throws {
        let graph = try graph(behind: parse)
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        for k in 0..<count {
            try parse.prepare(batch: k)
            executor.run(graph, memory: memory, step: k)
            try parse.finish()
            check(k)
        }
    }

    /// Batches of 64 over 300 lines wrap mid-batch; the broken lines leave one part with no row at
    /// all (lines 140…149, the whole of part 1 of 7 in batch 2) and others a few rows short.
    /// Every part count, on one worker and on two, gives the feed of `feed.stage(direct batch)`,
    /// padding rows included, and counts the same skipped lines.
    func testPartsFillTheFeedAsStagingTheDirectBatchWould() throws {
        let broken = [3, 64, 65, 100] + Array(140...149) + [299]
        let bytes = Self.bytes(broken: broken)
        let batchSize = 64, batches = 9
        let reference = try CriteoDataset(bytes: bytes, name: "broken.tsv", evalRows: 0, badRows: .skip)
        let direct = DirectBatchSource(dataset: reference, batchSize: batchSize)
        let expectedFeed = StepFeed(capacity: batchSize)
        var expected: [(Int, [Float], [Float], [Int32])] = []
        for _ in 0..<batches {
            let b = try direct.next()
            expectedFeed.stage(b)
            expected.append(Self.contents(expectedFeed))
            direct.recycle(b)
        }
        XCTAssertTrue(expected.contains { $0.0 == 54 }, "batch 2 (lines 129…192) should lose ten lines")
        XCTAssertTrue(expected.contains { $0.0 == batchSize }, "some batches should be whole")
        for parts in [1, 2, 3, 7] {
            for executor in [InlineExecutor(), PoolExecutor(threads: 2)] as [any StepExecutor] {
                defer { executor.shutdown() }
                let dataset = try CriteoDataset(bytes: bytes, name: "broken.tsv", evalRows: 0, badRows: .skip)
                let feed = StepFeed(capacity: batchSize)
                let parse = InStepParse(CriteoFeedParsing(dataset: dataset, feed: feed), batchSize: batchSize, parts: parts)
                XCTAssertEqual(parse.partCount, parts)
                try Self.parseBatches(batches, with: parse, on: executor) { k in
                    let got = Self.contents(feed), want = expected[k]
                    XCTAssertTrue(got.0 == want.0 && got.1 == want.1 && got.2 == want.2 && got.3 == want.3,
                                  "\(parts) parts, \(executor.name): batch \(k) (\(got.0) rows) differs from the staged direct batch (\(want.0) rows)")
                }
                XCTAssertEqual(dataset.skippedRows, reference.skippedRows, "\(parts) parts, \(executor.name)")
                XCTAssertEqual(parse.counters.batchesProduced, batches)
            }
        }
    }

    /// Under `bad_rows: fail` the step's batch throws its first malformed line, whichever part
    /// meets it first in time, names the file and line as `DirectBatchSource` does, and leaves no
    /// row of the batch valid; the batches before it parse normally.
    func testFailThrowsTheBatchsFirstMalformedLine() throws {
        let bytes = Self.bytes(broken: [150, 170])  // batch 2 of 64 (lines 129…192): parts 0 and 1 of 2
        let dataset = try CriteoDataset(bytes: bytes, name: "broken.tsv", evalRows: 0, badRows: .fail)
        let direct = DirectBatchSource(dataset: dataset, batchSize: 64)
        _ = try direct.next(); _ = try direct.next()
        var directError = ""
        XCTAssertThrowsError(try direct.next()) { directError = "\($0)" }
        XCTAssertTrue(directError.contains("broken.tsv:150:"), directError)
        let executor = PoolExecutor(threads: 2)
        defer { executor.shutdown() }
        let feed = StepFeed(capacity: 64)
        let parse = InStepParse(CriteoFeedParsing(dataset: dataset, feed: feed), batchSize: 64, parts: 2)
        let graph = try Self.graph(behind: parse)
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        for k in 0..<2 {
            try parse.prepare(batch: k)
            executor.run(graph, memory: memory, step: k)
            XCTAssertNoThrow(try parse.finish())
            XCTAssertEqual(feed.validRows, 64)
        }
        try parse.prepare(batch: 2)
        executor.run(graph, memory: memory, step: 2)
        XCTAssertThrowsError(try parse.finish()) { error in
            guard case let DataError.malformedRow(file, line, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "broken.tsv")
            XCTAssertEqual(line, 150)
            XCTAssertEqual("\(error)", directError)
        }
        XCTAssertEqual(feed.validRows, 0)
    }

    /// The trainer with stage off on two workers (two parse parts) and with stage on reads the
    /// same batches, skipped lines and all: identical parameters, and the same skipped count.
    func testTrainingWithTheParseInTheStepEqualsStageOn() throws {
        let bytes = SyntheticCriteo.bytes(rows: 6_000, seed: 9)
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        for n in [10, 700, 701, 1_500, 2_999] { lines[n] = lines[n].replacingOccurrences(of: "\t", with: ",") }
        let broken = Array(lines.joined(separator: "\n").utf8)
        var parameters: [Bool: [[Float]]] = [:], skipped: [Bool: Int] = [:], nodes: [Bool: Double] = [:]
        for stage in [false, true] {
            let dataset = try CriteoDataset(bytes: broken, name: "broken.tsv", evalRows: 1_000, badRows: .skip)
            var c = TrainConfig()
            c.model = .wdl; c.batch = 256; c.steps = 12; c.warmupSteps = 0; c.evalRows = 1_000; c.seed = 3
            c.interThreads = 2; c.intraThreads = 1; c.executor = .pool; c.hiddenLayers = [64, 32]
            c.stage = stage; c.stageThreads = 2
            let r = try Trainer(config: c, counterEvents: []).run(dataset: dataset) { parameters[stage] = $0.parameters.map { $0.snapshot() } }
            skipped[stage] = r.skippedRows
            nodes[stage] = r.counters["graph.nodes"]
        }
        XCTAssertEqual(skipped[false], 5, "12 steps of 256 cover lines 1…3072 of the 5000 training lines, all five broken ones")
        XCTAssertEqual(skipped[false], skipped[true])
        XCTAssertEqual(parameters[false], parameters[true])
        XCTAssertEqual(nodes[false], nodes[true].map { $0 + 3 }, "stage off adds two parse nodes and their join")
    }

    // MARK: The contest feed (Ele.me, Taobao, Amazon Books)

    /// 300 generated training lines of `format`; `broken` (1-based) are malformed: CSV lines lose
    /// their second half (too few fields), Amazon Books lines have commas for tabs (one field), and
    /// so do the `brokenNegative` lines of the `_neg` file, which is read when `negatives` (DIEN).
    static func contestData(_ format: ContestFormat, broken: [Int], brokenNegative: [Int] = [], negatives: Bool = false,
                            badRows: BadRowPolicy) throws -> ContestDataset {
        func lines(_ bytes: [UInt8]) -> [String] {
            String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        func breaking(_ bytes: [UInt8], _ broken: [Int], _ damage: (String) -> String) -> [UInt8] {
            var all = lines(bytes)
            for n in broken { all[n - 1] = damage(all[n - 1]) }
            return Array(all.joined(separator: "\n").utf8)
        }
        if format == .amazonBooks {
            var files = try SyntheticAmazonBooks.generate(trainRows: 300, evalRows: 20, seed: 4).files
            let oneField = { (line: String) in line.replacingOccurrences(of: "\t", with: ",") }
            files.train = breaking(files.train, broken, oneField)
            files.trainNegative = files.trainNegative.map { breaking($0, brokenNegative, oneField) }
            return try ContestDataset(amazonBooks: files, negatives: negatives ? .required : .ignored, badRows: badRows, name: "broken-books")
        }
        let data = SyntheticContest.bytes(format: format, trainRows: 300, evalRows: 20, seed: 4)
        let buckets = format == .taobao ? ContestSchema.taobaoBuckets : ContestSchema.elemeBuckets(hashBuckets: 1_000)
        return try ContestDataset(format: format, train: breaking(data.train, broken) { String($0.prefix($0.count / 2)) }, eval: data.eval,
                                  buckets: buckets, badRows: badRows, name: "broken-\(format).csv")
    }

    /// A contest feed's rows, padding included: valid rows, labels, numerics, and each bag's ids
    /// (by content: parts write their ids into their own ranges, so bag starts differ).
    struct ContestFeedContents: Equatable {
        let validRows: Int, labels: [Float], numeric: [Float], bags: [[Int32]]
        init(_ f: ContestFeed) {
            validRows = f.validRows
            labels = Array(UnsafeBufferPointer(start: f.labels, count: f.capacity * f.labelCount))
            numeric = Array(UnsafeBufferPointer(start: f.numeric, count: f.capacity * f.numericCount))
            bags = (0..<f.capacity * f.slotCount).map { k in
                Array(UnsafeBufferPointer(start: f.ids + Int(f.bagStart[k]), count: Int(f.bagCount[k])))
            }
        }
    }

    /// As `testPartsFillTheFeedAsStagingTheDirectBatchWould`, for the contest feed: batches of 64
    /// over 300 lines, broken lines (one run empties part 1 of 7 in batch 2), 1, 2, 3 and 7 parts on
    /// one worker and two, Ele.me, Taobao and Amazon Books (as DIN reads it, and as DIEN does, with
    /// broken `_neg` lines too): the feed holds what staging the parsed batch does.
    func testContestPartsFillTheFeedAsStagingTheBatchWould() throws {
        let broken = [3, 64, 65, 100] + Array(140...149) + [299]
        let batchSize = 64, batches = 9
        let sources: [(ContestFormat, negatives: Bool)] = [(.eleme, false), (.taobao, false), (.amazonBooks, false), (.amazonBooks, true)]
        for (format, negatives) in sources {
            func data() throws -> ContestDataset {
                try Self.contestData(format, broken: broken, brokenNegative: [20, 250], negatives: negatives, badRows: .skip)
            }
            let reference = try data()
            let source = try ContestBatchSource(dataset: reference, batchSize: batchSize)
            let expectedFeed = ContestFeed(schema: reference.schema, capacity: batchSize)
            var expected: [ContestFeedContents] = []
            for _ in 0..<batches {
                let b = try source.next()
                expectedFeed.stage(b)
                expected.append(ContestFeedContents(expectedFeed))
                source.recycle(b)
            }
            XCTAssertTrue(expected.contains { $0.validRows == 54 }, "\(format): batch 2 (lines 129…192) should lose ten lines")
            XCTAssertEqual(reference.skippedRows, 15 + (negatives ? 2 : 0),
                           "\(format): 9 × 64 lines are 1…300 and 1…276: 15 broken lines (and the rows of _neg lines 20, 250), each counted once though most are read twice")
            XCTAssertTrue(expected.allSatisfy { $0.bags.contains { !$0.isEmpty } })
            for parts in [1, 2, 3, 7] {
                for executor in [InlineExecutor(), PoolExecutor(threads: 2)] as [any StepExecutor] {
                    defer { executor.shutdown() }
                    let dataset = try data()
                    let feed = ContestFeed(schema: dataset.schema, capacity: batchSize)
                    let parse = InStepParse(ContestFeedParsing(dataset: dataset, feed: feed), batchSize: batchSize, parts: parts)
                    try Self.parseBatches(batches, with: parse, on: executor) { k in
                        let got = ContestFeedContents(feed)
                        XCTAssertTrue(got == expected[k], "\(format), \(parts) parts, \(executor.name): batch \(k) (\(got.validRows) rows) differs from the staged batch (\(expected[k].validRows) rows)")
                    }
                    XCTAssertEqual(dataset.skippedRows, reference.skippedRows, "\(format), \(parts) parts, \(executor.name)")
                }
            }
        }
    }

    /// Under `bad_rows: fail` the contest feed's step throws the batch's first malformed line, as
    /// the batch source does, and leaves no row valid: an Ele.me line, and an Amazon Books `_neg`
    /// line ahead of a broken main line (the error names the `_neg` file).
    func testContestFailThrowsTheBatchsFirstMalformedLine() throws {
        let cases: [(ContestDataset, String)] = [
            (try Self.contestData(.eleme, broken: [150, 170], badRows: .fail), "train.csv:150:"),
            (try Self.contestData(.amazonBooks, broken: [170], brokenNegative: [150], negatives: true, badRows: .fail),
             "local_train_splitByUser_neg:150:"),
        ]
        for (dataset, needle) in cases {
            let source = try ContestBatchSource(dataset: dataset, batchSize: 64, startIndex: 2)
            var sourceError = ""
            XCTAssertThrowsError(try source.next()) { sourceError = "\($0)" }
            XCTAssertTrue(sourceError.contains(needle), sourceError)
            let executor = PoolExecutor(threads: 2)
            defer { executor.shutdown() }
            let feed = ContestFeed(schema: dataset.schema, capacity: 64)
            let parse = InStepParse(ContestFeedParsing(dataset: dataset, feed: feed), batchSize: 64, parts: 2)
            let graph = try Self.graph(behind: parse)
            let memory = StepMemory(graph: graph, allocator: SystemAllocator())
            try parse.prepare(batch: 1)
            executor.run(graph, memory: memory, step: 1)
            XCTAssertNoThrow(try parse.finish())
            XCTAssertEqual(feed.validRows, 64)
            try parse.prepare(batch: 2)
            executor.run(graph, memory: memory, step: 2)
            XCTAssertThrowsError(try parse.finish()) { XCTAssertEqual("\($0)", sourceError) }
            XCTAssertEqual(feed.validRows, 0)
        }
    }

    /// The contest trainer with stage off on two workers (two parse parts) and with stage on reads
    /// the same batches, skipped lines and all: identical parameters for WDL on Ele.me and for DIN
    /// and DIEN on Amazon Books (DIEN with its `_neg` files).
    func testContestTrainingWithTheParseInTheStepEqualsStageOn() throws {
        for model in [ModelKind.wdl, .din, .dien] {
            var parameters: [Bool: [[Float]]] = [:], skipped: [Bool: Int] = [:], nodes: [Bool: Double] = [:]
            for stage in [false, true] {
                let books = model != .wdl
                let dataset = books
                    ? try Self.contestData(.amazonBooks, broken: [10, 70, 71, 200], brokenNegative: model == .dien ? [30] : [],
                                           negatives: model == .dien, badRows: .skip)
                    : try Self.contestData(.eleme, broken: [10, 70, 71, 200], badRows: .skip)
                var c = TrainConfig()
                c.model = model; c.dataset = books ? .amazonBooks : .eleme; c.batch = 64; c.steps = 8; c.warmupSteps = 0
                c.evalRows = 20; c.seed = 3
                c.hashBuckets = 1_000; c.interThreads = 2; c.intraThreads = 1; c.executor = .pool
                c.stage = stage; c.stageThreads = 2
                let r = try ContestTrainer.run(config: c, counterEvents: [], dataset: dataset, inspect: { parameters[stage] = $0.parameters.map { $0.snapshot() } })
                skipped[stage] = r.result.skippedRows
                nodes[stage] = r.result.counters["graph.nodes"]
            }
            let broken = 4 + (model == .dien ? 1 : 0)
            XCTAssertEqual(skipped[false], broken, "\(model): 8 steps of 64 pass over lines 1…300 once and 1…212 again: each broken line counts once")
            XCTAssertEqual(skipped[true], broken, "\(model): the stage may parse ahead, over the same lines")
            XCTAssertEqual(parameters[false], parameters[true], "\(model)")
            XCTAssertEqual(nodes[false], nodes[true].map { $0 + 3 }, "\(model): stage off adds two parse nodes and their join")
        }
    }
}
