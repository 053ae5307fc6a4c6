import XCTest
@testable import RecEngine

/// DIN and DIEN: they learn a label that needs attention over the history (`SeqData`), DIN beats
/// the sum-pooled history, `rnn: fused` reproduces `unfused` with fewer nodes, and the DeepRec
/// knobs change the mechanism, not the math.
final class SequenceModelTests: XCTestCase {
    static func changedAndMismatched(_ a: [[Float]], _ b: [[Float]], initial: [[Float]], rtol: Float) -> (changed: Int, mismatched: Int) {
        var changed = 0, mismatched = 0
        for t in a.indices {
            for k in a[t].indices where a[t][k] != initial[t][k] {
                changed += 1
                if abs(a[t][k] - b[t][k]) > 1e-6 + rtol * abs(a[t][k]) { mismatched += 1 }
            }
        }
        return (changed, mismatched)
    }

    /// 20 categories, histories of 2…12 items: a candidate is clicked iff a history item has the
    /// related category (a fixed permutation), so the oracle AUC is 1.
    static var data: SeqData {
        var d = SeqData()
        d.cats = 20
        d.maxHistory = 12
        return d
    }

    /// Measured (batch 128, seed 7, 400 steps, 2,560 evaluation rows): DIN 0.9996, the sum-pooled
    /// variant 0.978 (it needs the related category inside a sum; attention's learned query finds
    /// it item by item). Thresholds keep a margin below both.
    func testDINLearnsAndBeatsSumPooling() throws {
        let c = SeqRig.config(.din)
        let din = try SeqRig.run(c, steps: 400, data: Self.data, evalBatches: 20)
        let sum = try SeqRig.run(c, steps: 400, data: Self.data, pooling: .sum, evalBatches: 20)
        print("seq-learning: din AUC \(din.auc), sum-pooled AUC \(sum.auc), loss \(din.losses.first!) -> \(din.losses.last!)")
        XCTAssertGreaterThan(din.auc, 0.99)
        XCTAssertGreaterThan(sum.auc, 0.9, "the sum-pooled baseline learns too")
        XCTAssertGreaterThan(din.auc, sum.auc + 0.01, "attention over the history must beat the pooled sum")
        XCTAssertLessThan(din.losses.suffix(20).reduce(0, +) / 20, din.losses.prefix(5).reduce(0, +) / 5)
    }

    /// Measured: AUC 0.959 after 300 steps (its loss includes the auxiliary loss, ≈ 1.54 → 1.05).
    func testDIENLearns() throws {
        var c = SeqRig.config(.dien)
        c.rnn = .fused
        let r = try SeqRig.run(c, steps: 300, data: Self.data, evalBatches: 20)
        print("seq-learning: dien AUC \(r.auc), loss \(r.losses.first!) -> \(r.losses.last!)")
        XCTAssertGreaterThan(r.auc, 0.93)
    }

    /// Fused and unfused recurrent layers: the same parameters after 5 steps within fp32 rounding
    /// (the fused layer adds the input and recurrent products separately, so sums round
    /// differently); Adam's ≈ lr·sign(g) first steps can flip on a gradient within rounding of 0,
    /// so at most 0.1% of the changed values may differ. The unfused graph has 6 nodes per step
    /// per layer more.
    func testFusedRNNMatchesUnfusedWithFewerNodes() throws {
        var runs: [RNNMode: SeqRig.Run] = [:]
        for mode in RNNMode.allCases {
            var c = SeqRig.config(.dien, batch: 64)
            c.rnn = mode
            runs[mode] = try SeqRig.run(c, steps: 5)
        }
        var c0 = SeqRig.config(.dien, batch: 64)
        c0.learningRate = 0
        let initial = try SeqRig.run(c0, steps: 1).params
        let (changed, mismatched) = Self.changedAndMismatched(runs[.fused]!.params, runs[.unfused]!.params, initial: initial, rtol: 1e-3)
        XCTAssertGreaterThan(changed, 10_000)
        XCTAssertLessThanOrEqual(mismatched, changed / 1_000, "\(mismatched) of \(changed) changed values differ")
        for (a, b) in zip(runs[.fused]!.losses, runs[.unfused]!.losses) { XCTAssertEqual(a, b, accuracy: 1e-4 * abs(a)) }
        // Two layers × 50 steps × (3 forward + 3 backward) nodes + 1 backward begin each, vs 1 + 1 per layer.
        XCTAssertEqual(runs[.unfused]!.nodes - runs[.fused]!.nodes, 2 * (50 * 6 + 1 - 2))
    }

    /// Pool (2 workers), inline and cost-model executors: bit-identical parameters (one intra thread).
    func testExecutorsGiveBitIdenticalParameters() throws {
        for (model, rnn) in [(ModelKind.din, RNNMode.unfused), (.dien, .unfused), (.dien, .fused)] {
            var reference: [[Float]]?
            for policy in ExecutorPolicy.allCases {
                var c = SeqRig.config(model, batch: 64)
                c.rnn = rnn
                c.executor = policy
                c.costmodelStart = 1
                c.costmodelStop = 3
                c.embFusion = false
                let s = try SeqRig.run(c, steps: 5).params
                if let ref = reference { XCTAssertTrue(ref == s, "\(model) \(rnn) \(policy) differs from pool") } else { reference = s }
            }
        }
    }

    /// No batch-coupled op (the BatchNorms run in inference mode; the auxiliary loss is normalized
    /// by the whole batch): micro-batches reproduce the full-batch step within rounding (same Adam
    /// sign caveat as above).
    func testMicroBatchesMatchFullBatch() throws {
        for model in [ModelKind.din, .dien] {
            var snaps: [[[Float]]] = []
            for n in [1, 4] {
                var c = SeqRig.config(model, batch: 64)
                c.microBatch = n
                c.rnn = .fused
                snaps.append(try SeqRig.run(c, steps: 2).params)
            }
            var c0 = SeqRig.config(model, batch: 64)
            c0.learningRate = 0
            let initial = try SeqRig.run(c0, steps: 1).params
            let (changed, mismatched) = Self.changedAndMismatched(snaps[0], snaps[1], initial: initial, rtol: 1e-3)
            XCTAssertGreaterThan(changed, 10_000, "\(model)")
            XCTAssertLessThanOrEqual(mismatched, changed / 1_000, "\(model): \(mismatched) of \(changed) changed values differ")
        }
    }

    /// `emb_fusion` changes the lookup/update nodes (1 each for the three tables vs 3), not the parameters.
    func testEmbeddingFusionChangesNodesNotResults() throws {
        for model in [ModelKind.din, .dien] {
            var runs: [SeqRig.Run] = []
            for fusion in [true, false] {
                var c = SeqRig.config(model, batch: 64)
                c.embFusion = fusion
                c.rnn = .fused
                runs.append(try SeqRig.run(c, steps: 3))
            }
            XCTAssertEqual(runs[0].params, runs[1].params, "\(model)")
            XCTAssertEqual(runs[1].nodes - runs[0].nodes, 4, "\(model)")
        }
    }

    /// The adaptive allocator serves every steady-state tensor of both graphs from its planned pool.
    func testAdaptiveAllocatorServesSequenceGraphs() throws {
        for (model, rnn) in [(ModelKind.din, RNNMode.unfused), (.dien, .unfused), (.dien, .fused)] {
            var c = SeqRig.config(model, batch: 64)
            c.rnn = rnn
            c.allocator = .adaptive
            c.allocWarmupStart = 1
            c.allocWarmupSteps = 2
            let a = try SeqRig.run(c, steps: 7, steadyFrom: 4).allocator
            XCTAssertGreaterThan(a.plannedBytes, 0, "\(model) \(rnn)")
            XCTAssertGreaterThan(a.allocations, 100, "\(model) \(rnn)")
            XCTAssertEqual(a.misses, 0, "\(model) \(rnn): steady-state fallback allocations")
            XCTAssertEqual(a.hits, a.allocations, "\(model) \(rnn)")
        }
    }

    /// A short batch (padding rows) trains without touching the padding, in fp32 and bf16.
    func testPaddingRows() throws {
        for bf16 in hostBF16Settings {
            var c = SeqRig.config(.dien, batch: 64)
            c.rnn = .fused
            c.bf16 = bf16
            let r = try SeqRig.run(c, steps: 3, batchSize: 40)
            XCTAssertTrue(r.losses.allSatisfy(\.isFinite), "bf16 \(bf16)")
            XCTAssertTrue(r.params.allSatisfy { $0.allSatisfy(\.isFinite) }, "bf16 \(bf16)")
        }
    }

    /// `bf16: on` (every matrix product with bf16 operands, fp32 accumulation and master weights):
    /// DIN and DIEN (both `rnn` modes) follow the fp32 loss step by step within bf16 rounding, with
    /// the same graph; the first step's loss already differs (the products really are bf16), and
    /// after the last update every kernel's bf16 copy equals its master rounded (refreshed by the
    /// update nodes). Copies: DIN attention query + MLP 3 + top 4 = 8; DIEN adds the two kernels of
    /// each GRU and the auxiliary MLP's 3 = 15.
    func testBF16TracksFP32() throws {
        try requireBF16()
        for (model, rnn, copies) in [(ModelKind.din, RNNMode.unfused, 8), (.dien, .fused, 15), (.dien, .unfused, 15)] {
            var runs: [Bool: SeqRig.Run] = [:]
            for bf16 in [false, true] {
                var c = SeqRig.config(model, batch: 64)
                c.rnn = rnn
                c.bf16 = bf16
                runs[bf16] = try SeqRig.run(c, steps: 30)
            }
            let exact = runs[false]!, low = runs[true]!, label = "\(model) \(rnn)"
            XCTAssertEqual(exact.lowCopies, 0, label)
            XCTAssertEqual(low.lowCopies, copies, label)
            XCTAssertEqual(low.staleLowCopies, 0, "\(label): a bf16 copy was not refreshed after its master's update")
            XCTAssertEqual(low.nodes, exact.nodes, label)
            XCTAssertNotEqual(low.losses[0], exact.losses[0], "\(label): step 0's loss must show the bf16 rounding")
            for (s, (a, b)) in zip(low.losses, exact.losses).enumerated() {
                XCTAssertEqual(a, b, accuracy: 0.01 * abs(b), "\(label) step \(s): bf16 loss \(a) vs fp32 \(b)")
            }
            print("seq-bf16: \(label) loss fp32 \(exact.losses.first!) -> \(exact.losses.last!), bf16 \(low.losses.first!) -> \(low.losses.last!)")
        }
    }

    /// bf16 learns as fp32 does on the attention task (same runs as the learning tests above):
    /// the AUCs agree within 0.01 (DIN, 400 steps) and 0.02 (DIEN, 300 steps).
    func testBF16LearnsLikeFP32() throws {
        try requireBF16()
        for (model, steps, tolerance) in [(ModelKind.din, 400, 0.01), (.dien, 300, 0.02)] {
            var auc: [Bool: Double] = [:]
            for bf16 in [false, true] {
                var c = SeqRig.config(model)
                c.rnn = .fused
                c.bf16 = bf16
                auc[bf16] = try SeqRig.run(c, steps: steps, data: Self.data, evalBatches: 20).auc
            }
            print("seq-bf16: \(model) AUC fp32 \(auc[false]!), bf16 \(auc[true]!)")
            XCTAssertGreaterThan(auc[true]!, 0.9, "\(model) bf16 learns")
            XCTAssertEqual(auc[true]!, auc[false]!, accuracy: tolerance, "\(model): bf16 AUC \(auc[true]!) vs fp32 \(auc[false]!)")
        }
    }

    /// Stage on (2 producer threads through `ContestBatchSource`) reads the same batches in the same
    /// order as stage off: bit-identical parameters after 5 steps (inline executor, one intra thread).
    func testStageDoesNotChangeTheMath() throws {
        for model in [ModelKind.din, .dien] {
            var snaps: [[[Float]]] = []
            for stage in [false, true] {
                var c = CheckpointTests.config(model, steps: 5)
                c.stage = stage
                c.stageThreads = 2
                c.stageCapacity = 4
                var s: [[Float]] = []
                let r = try ContestTrainer.run(config: c, counterEvents: [], dataset: CheckpointTests.books,
                                               inspect: { s = ContestModelTests.snapshot($0) })
                snaps.append(s)
                let depth = try XCTUnwrap(r.result.counters["stage.max_queue_depth"])
                if stage { XCTAssertGreaterThan(depth, 1, "\(model): producers parse ahead") } else { XCTAssertEqual(depth, 1, "\(model)") }
            }
            XCTAssertFalse(snaps[0].isEmpty, "\(model)")
            XCTAssertEqual(snaps[0], snaps[1], "\(model): stage on changed the parameters")
        }
    }
}
