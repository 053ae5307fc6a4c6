import XCTest
import RecEngine

/// Stage on vs off: identical batch sequences, bounded queue, errors delivered, clean shutdown.
final class StageSourceTests: XCTestCase {
    static let dataset = try! CriteoDataset(bytes: SyntheticCriteo.bytes(rows: 5_000, seed: 21), name: "syn",
                                            evalRows: 500, badRows: .fail)

    /// Consumes `count` batches (recycling each) and returns a copy of every one.
    static func drain(_ source: BatchSource, count: Int) throws -> [Batch] {
        var out: [Batch] = []
        for _ in 0..<count {
            let b = try source.next()
            var copy = Batch(capacity: b.capacity)
            copy.size = b.size; copy.firstSample = b.firstSample
            copy.labels = Array(b.labels); copy.dense = Array(b.dense); copy.categorical = Array(b.categorical)
            copy.labels.withUnsafeMutableBufferPointer { _ in }  // force a private copy before the buffer is reused
            copy.dense.withUnsafeMutableBufferPointer { _ in }
            copy.categorical.withUnsafeMutableBufferPointer { _ in }
            out.append(copy)
            source.recycle(b)
        }
        return out
    }

    static func assertSame(_ a: [Batch], _ b: [Batch], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            guard x.size == y.size, x.firstSample == y.firstSample,
                  x.labels[0..<x.size] == y.labels[0..<y.size],
                  x.dense[0..<x.size * 13] == y.dense[0..<y.size * 13],
                  x.categorical[0..<x.size * 26] == y.categorical[0..<y.size * 26] else {
                return XCTFail("\(what): batch \(i) differs", file: file, line: line)
            }
        }
    }

    func testStagedSequenceEqualsDirectOverSeveralEpochs() throws {
        let ds = Self.dataset
        let batchSize = 64, count = 250  // 4,500 training rows: ~3.5 epochs, with wrap-around batches
        let direct = try Self.drain(DirectBatchSource(dataset: ds, batchSize: batchSize), count: count)
        XCTAssertEqual(direct.map(\.firstSample), (0..<count).map { $0 * batchSize })
        for threads in [1, 2] {
            for capacity in [1, 3] {
                let staged = try StagedBatchSource(dataset: ds, batchSize: batchSize, capacity: capacity, threads: threads)
                Self.assertSame(direct, try Self.drain(staged, count: count), "threads \(threads) capacity \(capacity)")
                let c = staged.counters
                XCTAssertLessThanOrEqual(c.maxQueueDepth, capacity)
                XCTAssertGreaterThanOrEqual(c.maxQueueDepth, 1)
                XCTAssertLessThanOrEqual(c.buffersAllocated, capacity + 1, "recycled buffers must be reused")
                XCTAssertGreaterThanOrEqual(c.batchesProduced, count)
                XCTAssertLessThanOrEqual(c.batchesProduced, count + capacity)
                XCTAssertGreaterThanOrEqual(c.consumerWaits, 0)
                staged.shutdown()
            }
        }
    }

    func testStartIndexAndInMemorySource() throws {
        let ds = Self.dataset
        let direct = try Self.drain(DirectBatchSource(dataset: ds, batchSize: 100, startIndex: 7), count: 5)
        let staged = try StagedBatchSource(dataset: ds, batchSize: 100, capacity: 2, threads: 2, startIndex: 7)
        Self.assertSame(direct, try Self.drain(staged, count: 5), "start index 7")
        let memory = try InMemoryBatchSource(dataset: ds, batchSize: 100, count: 3)
        let served = try Self.drain(memory, count: 7)
        XCTAssertEqual(served.map(\.firstSample), [0, 100, 200, 0, 100, 200, 0])
        Self.assertSame(try Self.drain(DirectBatchSource(dataset: ds, batchSize: 100), count: 3), Array(served[3..<6]), "in-memory")
    }

    func testFailErrorSurfacesThroughStageInOrder() throws {
        // 300 generated rows with line 130 broken: batch 2 of 50 (lines 101…150) fails.
        var lines = String(decoding: SyntheticCriteo.bytes(rows: 300, seed: 2), as: UTF8.self).split(separator: "\n").map(String.init)
        lines[129] = lines[129].replacingOccurrences(of: "\t", with: ",")
        let bytes = Array(lines.joined(separator: "\n").utf8)
        let ds = try CriteoDataset(bytes: bytes, name: "broken.tsv", evalRows: 0, badRows: .fail)
        for threads in [1, 2] {
            let staged = try StagedBatchSource(dataset: ds, batchSize: 50, capacity: 4, threads: threads)
            XCTAssertEqual(try staged.next().firstSample, 0)
            XCTAssertEqual(try staged.next().firstSample, 50)
            for _ in 0..<2 {  // delivered at batch 2, and again on every later call
                XCTAssertThrowsError(try staged.next()) { error in
                    guard case let DataError.malformedRow(file, line, reason) = error else { return XCTFail("\(error)") }
                    XCTAssertEqual(file, "broken.tsv")
                    XCTAssertEqual(line, 130)
                    XCTAssertTrue(reason.contains("found 1"), reason)
                    XCTAssertTrue("\(error)".contains("broken.tsv:130:"), "\(error)")
                }
            }
        }
        let direct = DirectBatchSource(dataset: ds, batchSize: 50)
        _ = try direct.next(); _ = try direct.next()
        XCTAssertThrowsError(try direct.next())
        // Under .skip the same data flows, batch 2 one row short.
        let skipping = try CriteoDataset(bytes: bytes, name: "broken.tsv", evalRows: 0, badRows: .skip)
        let batches = try Self.drain(StagedBatchSource(dataset: skipping, batchSize: 50, capacity: 2, threads: 2), count: 6)
        XCTAssertEqual(batches.map(\.size), [50, 50, 49, 50, 50, 50])
        XCTAssertEqual(skipping.skippedRows, 1)
    }

    func testShutdownStopsProducersAndNextThrowsStopped() throws {
        let staged = try StagedBatchSource(dataset: Self.dataset, batchSize: 32, capacity: 2, threads: 2)
        _ = try staged.next()
        staged.shutdown()
        staged.shutdown()
        XCTAssertThrowsError(try staged.next()) { XCTAssertEqual($0 as? StageError, .stopped) }
        let produced = staged.counters.batchesProduced
        XCTAssertLessThanOrEqual(produced, 1 + 2)
        // Dropping a running source joins its threads (deinit) instead of hanging or leaking.
        for _ in 0..<5 { _ = try StagedBatchSource(dataset: Self.dataset, batchSize: 32, capacity: 3, threads: 2) }
        XCTAssertThrowsError(try StagedBatchSource(dataset: Self.dataset, batchSize: 32, capacity: 0, threads: 1))
        XCTAssertThrowsError(try StagedBatchSource(dataset: Self.dataset, batchSize: 32, capacity: 1, threads: 0))
    }
}
