import XCTest
import Foundation
import TestSupport
@testable import RecEngine

/// Engine checkpoints (every parameter and optimizer slot) and the contest's timed window.
final class CheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-checkpoint") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let taobao = ContestModelTests.load(.taobao, rows: 8_000)

    static func config(_ model: ModelKind, steps: Int) -> TrainConfig {
        var c = ContestModelTests.config(model, steps: steps, batch: 128)
        c.hashBuckets = 2_000
        c.executor = .inline
        if model == .din || model == .dien { c.dataset = .amazonBooks; c.rnn = .fused }
        return c
    }

    static let books: ContestDataset = {
        let files = try! SyntheticAmazonBooks.generate(trainRows: 4_000, evalRows: 512, seed: 7).files
        return try! ContestDataset(amazonBooks: files, negatives: .required, badRows: .fail, name: "ckpt books")
    }()

    static func dataset(_ model: ModelKind, hashBuckets: Int = 2_000) -> ContestDataset {
        if model == .mmoe { return taobao }
        if model == .din || model == .dien { return books }
        let data = SyntheticContest.bytes(format: .eleme, trainRows: 8_000, evalRows: ContestModelTests.evalRows, seed: 7)
        return try! ContestDataset(format: .eleme, train: data.train, eval: data.eval, buckets: ContestSchema.elemeBuckets(hashBuckets: hashBuckets),
                                   badRows: .fail, name: "ckpt")
    }

    /// Parameters and every optimizer slot, as arrays.
    static func state(_ model: any ContestModel) -> [[Float]] {
        model.parameters.flatMap { p in [p.snapshot()] + p.slots.map { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) } }
    }

    /// 2N steps in one run equal N steps, a checkpoint, a restore and N more steps: every parameter
    /// and every optimizer slot bit for bit (Adam's step counter and the batch index continue).
    func testRestoreResumesBitIdentically() throws {
        let n = 4
        for model in [ModelKind.wdl, .deepfm, .dlrm, .mmoe, .din, .dien] {
            let ds = Self.dataset(model)
            var straight: [[Float]] = []
            _ = try ContestTrainer.run(config: Self.config(model, steps: 2 * n), counterEvents: [], dataset: ds, inspect: { straight = Self.state($0) })
            var first = Self.config(model, steps: n)
            let ckpt = dir.appendingPathComponent("\(model)").path
            first.checkpointDirectory = ckpt
            var half: [[Float]] = []
            _ = try ContestTrainer.run(config: first, counterEvents: [], dataset: ds, inspect: { half = Self.state($0) })
            XCTAssertNotEqual(half, straight, "\(model): N steps already equal 2N steps; the test could not fail")
            var second = Self.config(model, steps: n)
            second.restoreFrom = ckpt
            var resumed: [[Float]] = []
            _ = try ContestTrainer.run(config: second, counterEvents: [], dataset: ds, inspect: { resumed = Self.state($0) })
            XCTAssertEqual(resumed.count, straight.count)
            XCTAssertTrue(resumed == straight, "\(model): N + restore + N differs from 2N")
            // Slots exist for every trainable tensor (Adam everywhere in the contest models).
            let header = try Checkpoint.header(at: ckpt)
            XCTAssertEqual(header.globalStep, n)
            XCTAssertTrue(header.tensors.allSatisfy { !$0.slots.isEmpty }, "\(model): a tensor without optimizer state")
        }
    }

    /// The Criteo models too: 2N steps equal N + restore + N (WDL's Adagrad accumulators, DLRM's
    /// SGD, DeepFM's Adam moments), with the data source continuing at the checkpoint's batch.
    func testCriteoModelsResumeBitIdentically() throws {
        let bytes = SyntheticCriteo.bytes(rows: 6_000, seed: 7)
        let data = try CriteoDataset(bytes: bytes, name: "ckpt-criteo", hashBuckets: 1_000, evalRows: 1_000, badRows: .fail)
        for model in ModelKind.criteoModels {
            func config(_ steps: Int) -> TrainConfig {
                var c = TrainConfig()
                c.model = model; c.batch = 128; c.steps = steps; c.warmupSteps = 0; c.evalRows = 1_000; c.seed = 7
                c.hashBuckets = 1_000; c.executor = .inline; c.intraThreads = 1
                return c
            }
            func state(_ m: any CTRModel) -> [[Float]] {
                m.parameters.flatMap { p in [p.snapshot()] + p.slots.map { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) } }
            }
            var straight: [[Float]] = [], resumed: [[Float]] = []
            _ = try Trainer(config: config(6), counterEvents: []).run(dataset: data) { straight = state($0) }
            var a = config(3); a.checkpointDirectory = dir.appendingPathComponent("criteo-\(model)").path
            _ = try Trainer(config: a, counterEvents: []).run(dataset: data)
            var b = config(3); b.restoreFrom = a.checkpointDirectory
            _ = try Trainer(config: b, counterEvents: []).run(dataset: data) { resumed = state($0) }
            XCTAssertTrue(resumed == straight, "\(model) on Criteo: N + restore + N differs from 2N")
        }
    }

    /// BF16 layers keep a bf16 copy of the weights: a restore must refresh it (else the resumed run
    /// computes with the initial weights' copy). WDL (oneDNN dense layers) and DIN/DIEN (bf16 GEMMs
    /// reading `SeqBF16Copy`).
    func testRestoreRefreshesTheBF16Copy() throws {
        try requireBF16()
        for model in [ModelKind.wdl, .din, .dien] {
            var c = Self.config(model, steps: 6)
            c.bf16 = true
            let ds = Self.dataset(model)
            let ckpt = dir.appendingPathComponent("bf16-\(model)").path
            var straight: [[Float]] = []
            _ = try ContestTrainer.run(config: c, counterEvents: [], dataset: ds, inspect: { straight = Self.state($0) })
            var a = Self.config(model, steps: 3); a.bf16 = true; a.checkpointDirectory = ckpt
            _ = try ContestTrainer.run(config: a, counterEvents: [], dataset: ds)
            var b = Self.config(model, steps: 3); b.bf16 = true; b.restoreFrom = ckpt
            var resumed: [[Float]] = []
            _ = try ContestTrainer.run(config: b, counterEvents: [], dataset: ds, inspect: { resumed = Self.state($0) })
            XCTAssertTrue(resumed == straight, "\(model) bf16: N + restore + N differs from 2N")
        }
    }

    /// A missing, corrupted, truncated or mismatched checkpoint is an error naming the file, and a
    /// corrupted one leaves the parameters untouched.
    func testBadCheckpointsAreClearErrors() throws {
        let ds = Self.dataset(.dlrm)
        var c = Self.config(.dlrm, steps: 2)
        c.checkpointDirectory = dir.path
        _ = try ContestTrainer.run(config: c, counterEvents: [], dataset: ds)
        let file = try Checkpoint.resolve(dir.path)
        XCTAssertTrue(file.hasSuffix("model-2.rtck"), file)
        let index = dir.appendingPathComponent(Checkpoint.indexName).path
        XCTAssertEqual(try String(contentsOfFile: index, encoding: .utf8), "model-2.rtck\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model-0.rtck").path), "the start checkpoint is replaced")

        func restoreError(_ config: TrainConfig, _ data: ContestDataset) -> CheckpointError? {
            do { _ = try ContestTrainer.run(config: config, counterEvents: [], dataset: data); return nil } catch { return error as? CheckpointError }
        }
        var r = Self.config(.dlrm, steps: 1)
        r.restoreFrom = dir.appendingPathComponent("nothing-here").path
        guard case .missing(let p1, _)? = restoreError(r, ds) else { return XCTFail("missing directory") }
        XCTAssertTrue(p1.hasSuffix("nothing-here"))

        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        r.restoreFrom = empty.path
        guard case .missing(let p2, _)? = restoreError(r, ds) else { return XCTFail("empty directory") }
        XCTAssertEqual(p2, empty.appendingPathComponent("checkpoint").path)

        // Another model's checkpoint, another shape.
        var other = Self.config(.wdl, steps: 1)
        other.restoreFrom = dir.path
        guard case .mismatched(let p3, let why3)? = restoreError(other, Self.dataset(.wdl)) else { return XCTFail("other model") }
        XCTAssertEqual(p3, file); XCTAssertTrue(why3.contains("dlrm"), why3)
        var shape = Self.config(.dlrm, steps: 1)
        shape.hashBuckets = 1_000
        shape.restoreFrom = dir.path
        guard case .mismatched(_, let why4)? = restoreError(shape, Self.dataset(.dlrm, hashBuckets: 1_000)) else { return XCTFail("other shape") }
        XCTAssertTrue(why4.contains("1000×16"), why4)

        // One flipped byte in the data: checksum; and the model's parameters are not overwritten.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let original = bytes
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: file))
        var params: [[Float]] = []
        let context = try DNNLContext(workers: 1)
        let model = try makeContestModel(config: Self.config(.dlrm, steps: 1), context: context,
                                         feed: ContestFeed(schema: ds.schema, capacity: 128))
        let before = model.parameters.map { $0.snapshot() }
        XCTAssertThrowsError(try Checkpoint.restore(from: dir.path, model: "dlrm", dataset: "eleme", parameters: model.parameters)) { e in
            guard case .corrupted(let p, let why)? = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertEqual(p, file); XCTAssertTrue(why.contains("checksum"), why)
        }
        params = model.parameters.map { $0.snapshot() }
        XCTAssertTrue(params == before, "a corrupted checkpoint changed the parameters")
        // Truncated.
        try original.prefix(original.count - 100).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try Checkpoint.restore(from: file, model: "dlrm", dataset: "eleme", parameters: model.parameters)) { e in
            guard case .corrupted(_, let why)? = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertTrue(why.contains("truncated"), why)
        }
        // Not a checkpoint at all.
        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try Checkpoint.restore(from: file, model: "dlrm", dataset: "eleme", parameters: model.parameters)) { e in
            XCTAssertTrue("\(e)".contains(file), "\(e)")
        }
        // The original restores.
        try original.write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try Checkpoint.restore(from: dir.path, model: "dlrm", dataset: "eleme", parameters: model.parameters), 2)
        XCTAssertFalse(model.parameters.map { $0.snapshot() } == before, "the restore wrote nothing")
    }

    /// The checksum does not depend on how the stream is chunked.
    func testChecksumIsChunkingInvariant() {
        let bytes = (0..<1_003).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var whole = Checksum()
        bytes.withUnsafeBytes { whole.add($0.baseAddress!, $0.count) }
        for cut in [1, 3, 8, 13, 500] {
            var parts = Checksum()
            bytes.withUnsafeBytes { b in
                var i = 0
                while i < b.count { let n = min(cut, b.count - i); parts.add(b.baseAddress! + i, n); i += n }
            }
            XCTAssertEqual(parts.value, whole.value, "chunks of \(cut)")
        }
        var changed = bytes; changed[500] ^= 1
        var other = Checksum()
        changed.withUnsafeBytes { other.add($0.baseAddress!, $0.count) }
        XCTAssertNotEqual(other.value, whole.value)
    }

    /// The timed window (`contest_seconds`) holds both checkpoint saves and not the evaluation: a
    /// clock the hooks advance by 1,000 s per save and 1,000,000 s at evaluation shows exactly where
    /// each falls (no wall time is asserted).
    func testTimedWindowHoldsCheckpointsNotEvaluation() throws {
        final class Offset { var ns: UInt64 = 0 }
        let offset = Offset()
        var saves: [String] = []
        var hooks = ContestTrainer.WindowHooks()
        hooks.clock = { DispatchTime.now().uptimeNanoseconds &+ offset.ns }
        hooks.checkpointSaved = { path in saves.append(path); offset.ns &+= 1_000 * 1_000_000_000 }
        hooks.evaluationStarts = { offset.ns &+= 1_000_000 * 1_000_000_000 }
        var c = Self.config(.wdl, steps: 3)
        c.checkpointDirectory = dir.path
        let r = try ContestTrainer.run(config: c, counterEvents: [], dataset: Self.dataset(.wdl), hooks: hooks).result
        XCTAssertEqual(saves.map { ($0 as NSString).lastPathComponent }, ["model-0.rtck", "model-3.rtck"])
        let seconds = try XCTUnwrap(r.contestSeconds)
        XCTAssertGreaterThanOrEqual(seconds, 2_000, "both checkpoint saves are inside the window")
        XCTAssertLessThan(seconds, 1_000_000, "evaluation is outside the window")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(r.checkpointSeconds), 2_000)

        // Without --checkpoint: no saves, evaluation still outside.
        offset.ns = 0
        saves = []
        let plain = try ContestTrainer.run(config: Self.config(.wdl, steps: 3), counterEvents: [], dataset: Self.dataset(.wdl), hooks: hooks).result
        XCTAssertTrue(saves.isEmpty)
        XCTAssertLessThan(try XCTUnwrap(plain.contestSeconds), 1_000)
        XCTAssertEqual(plain.checkpointSeconds, 0)
    }
}
