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
                let parse = InStepParse(dataset: dataset, feed: feed, batchSize: batchSize, parts: parts)
                XCTAssertEqual(parse.partCount, parts)
                let graph = try Self.graph(behind: parse)
                let memory = StepMemory(graph: graph, allocator: SystemAllocator())
                for k in 0..<batches {
                    parse.prepare(batch: k)
                    executor.run(graph, memory: memory, step: k)
                    try parse.finish()
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
        let parse = InStepParse(dataset: dataset, feed: feed, batchSize: 64, parts: 2)
        let graph = try Self.graph(behind: parse)
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        for k in 0..<2 {
            parse.prepare(batch: k)
            executor.run(graph, memory: memory, step: k)
            XCTAssertNoThrow(try parse.finish())
            XCTAssertEqual(feed.validRows, 64)
        }
        parse.prepare(batch: 2)
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
}
