import XCTest
import TestSupport
@testable import RecEngine

/// End-to-end engine tests: the models learn, the knobs change the mechanism without changing
/// the math, and the adaptive allocator removes steady-state page faults.
final class ModelTrainingTests: XCTestCase {
    /// Generated once per process: 40k rows, the last 8k held out.
    static let dataset: CriteoDataset = {
        let bytes = SyntheticCriteo.bytes(rows: 40_000, seed: 7)
        return try! CriteoDataset(bytes: bytes, name: "test-synthetic", hashBuckets: 10_000, evalRows: 8_000, badRows: .fail)
    }()

    static func config(_ model: ModelKind, steps: Int = 60, warmup: Int = 5) -> TrainConfig {
        var c = TrainConfig()
        c.model = model
        c.batch = 512
        c.steps = steps
        c.warmupSteps = warmup
        c.evalRows = 8_000
        c.seed = 7
        c.interThreads = 2
        c.intraThreads = 2
        return c
    }

    static func snapshot(_ model: any CTRModel) -> [[Float]] { model.parameters.map { $0.snapshot() } }

    /// The generator's hidden model gives an oracle AUC of about 0.81 on this data; a constant
    /// predictor has AUC 0.5 and logloss ≈ 0.56 (25% positives). Every model must be well above
    /// chance and below the constant predictor's logloss.
    /// DLRM (plain SGD 0.1, the reference setting) learns more slowly than the Adam models: after
    /// 120 steps it measures ≈0.65, WDL and DeepFM ≈0.77.
    func testEachModelLearns() throws {
        let minimumAUC: [ModelKind: Double] = [.wdl: 0.72, .deepfm: 0.72, .dlrm: 0.62]
        for kind in ModelKind.criteoModels {
            let r = try Trainer(config: Self.config(kind, steps: 120), counterEvents: []).run(dataset: Self.dataset)
            XCTAssertGreaterThan(r.auc, minimumAUC[kind]!, "\(kind) eval AUC")
            XCTAssertLessThan(r.logloss, 0.55, "\(kind) eval logloss (constant predictor: 0.562)")
            XCTAssertEqual(r.evalRows, 8_000)
            XCTAssertTrue(r.samplesPerSec.isFinite && r.samplesPerSec > 0)
        }
    }

    /// Scheduling must not change the math: with one intra-op thread, all executors give
    /// bit-identical parameters after the same steps.
    ///
    /// bf16 with two micro-batches too: both micro-batches' products then run on both workers at
    /// once, each through its worker's own bf16 staging buffers and primitives bound to them.
    /// `weight_layout timed` too (hidden layers large enough to be timed): the choice is made once
    /// per process, so every executor's model gets the same layouts.
    func testExecutorsGiveBitIdenticalParameters() throws {
        // forced: every fp32 layer forced to an arrangement, with two micro-batches: `ba` weights and
        // the transposed-GEMM weight gradient, so the two workers run it at once on their own
        // transposition buffers; `ab` weights with the forward copy, which both workers' forwards
        // read while the update refreshes it between steps.
        let gemm = WeightArrangement(.transposed, .transposedGEMM), copy = WeightArrangement(.plain, forward: .transposedCopy)
        let cases: [(ModelKind, bf16: Bool, timed: Bool, forced: WeightArrangement?)] = [
            (.wdl, false, false, nil), (.deepfm, false, false, nil), (.wdl, true, false, nil),
            (.dlrm, true, false, nil), (.dlrm, false, true, nil), (.wdl, false, true, gemm), (.deepfm, false, true, copy),
        ]
        for (kind, bf16, timed, forced) in cases where hostBF16Settings.contains(bf16) {
            var results: [ExecutorPolicy: [[Float]]] = [:]
            for policy in ExecutorPolicy.allCases {
                var c = Self.config(kind, steps: 12, warmup: 0)
                c.executor = policy
                c.intraThreads = 1
                c.costmodelStart = 2
                c.costmodelStop = 5
                c.hiddenLayers = [128, 64]
                if bf16 { c.bf16 = true; c.microBatch = 2 }
                if timed { c.weightLayout = .timed; c.hiddenLayers = [512, 256] }
                if forced != nil { c.microBatch = 2 }
                let f = forced ?? .onednn
                try WeightLayoutChooser.withForcedLayout(f.layout, gradient: f.gradient, forward: f.forward, enabled: forced != nil) {
                    _ = try Trainer(config: c, counterEvents: []).run(dataset: Self.dataset) { results[policy] = Self.snapshot($0) }
                }
            }
            let inline = try XCTUnwrap(results[.inline])
            for policy in [ExecutorPolicy.pool, .costmodel] {
                let other = try XCTUnwrap(results[policy])
                XCTAssertEqual(other.count, inline.count)
                for (i, (a, b)) in zip(other, inline).enumerated() where a != b {
                    XCTFail("\(kind)\(bf16 ? " bf16" : "")\(timed ? " weight_layout timed" : "")\(forced.map { " \($0)" } ?? "") \(policy): parameter tensor \(i) differs from inline")
                }
            }
        }
    }

    /// One step with N = 1, 2, 4 micro-batches gives the same parameters up to float rounding.
    /// DLRM uses plain SGD, so an update is lr·g and a rounding difference in the summed gradient
    /// (order of summation: ~1e-7 relative) stays ~1e-7 in the parameters; Adam's first step
    /// (g/|g|) would amplify rounding on near-zero gradients, which is why SGD is the clean check.
    /// Tolerance: atol 2e-6 + rtol 1e-5.
    func testMicroBatchesMatchFullBatch() throws {
        var reference: [[Float]]?
        var initial: [[Float]]?
        for n in [1, 2, 4] {
            var c = Self.config(.dlrm, steps: 1, warmup: 0)
            c.microBatch = n
            c.intraThreads = 1
            c.executor = .inline
            var after: [[Float]] = []
            _ = try Trainer(config: c, counterEvents: []).run(dataset: Self.dataset) { after = Self.snapshot($0) }
            if n == 1 {
                reference = after
                var c0 = c; c0.steps = 1
                // Parameters before the step: same seed, zero learning rate.
                c0.learningRate = 0
                _ = try Trainer(config: c0, counterEvents: []).run(dataset: Self.dataset) { initial = Self.snapshot($0) }
                continue
            }
            let ref = try XCTUnwrap(reference)
            for (i, (a, b)) in zip(after, ref).enumerated() {
                assertClose(a, b, rtol: 1e-5, atol: 2e-6, "micro-batch \(n), tensor \(i)")
            }
        }
        // The step really changed the parameters (so the comparison above is not vacuous).
        let ref = try XCTUnwrap(reference), start = try XCTUnwrap(initial)
        let changed = zip(ref, start).filter { $0 != $1 }.count
        XCTAssertGreaterThan(changed, ref.count / 2, "one SGD step should change most parameter tensors")
    }

    /// Stage on delivers the same batches in the same order: identical parameters.
    func testStageDoesNotChangeTheMath() throws {
        var results: [Bool: [[Float]]] = [:]
        for stage in [false, true] {
            var c = Self.config(.wdl, steps: 10, warmup: 0)
            c.stage = stage
            c.stageThreads = 2
            c.stageCapacity = 3
            c.executor = .inline
            c.intraThreads = 1
            c.hiddenLayers = [64, 32]
            let r = try Trainer(config: c, counterEvents: []).run(dataset: Self.dataset) { results[stage] = Self.snapshot($0) }
            if stage { XCTAssertLessThanOrEqual(r.counters["stage.max_queue_depth"] ?? 99, 3) }
        }
        XCTAssertEqual(results[false], results[true])
    }

    /// BF16 MLPs reach an AUC within 0.01 of fp32 on the same data and seed.
    func testBF16MatchesFP32Accuracy() throws {
        try requireBF16()
        var auc: [Bool: Double] = [:]
        for bf16 in [false, true] {
            var c = Self.config(.wdl, steps: 60, warmup: 5)
            c.bf16 = bf16
            auc[bf16] = try Trainer(config: c, counterEvents: []).run(dataset: Self.dataset).auc
        }
        XCTAssertEqual(auc[true]!, auc[false]!, accuracy: 0.01, "bf16 AUC \(auc[true]!) vs fp32 \(auc[false]!)")
    }

    /// After its recording window the adaptive allocator serves every step tensor from the pool
    /// (no fallback) and takes no more steady-state page faults than the system allocator.
    /// With glibc's default (adaptive mmap threshold) the system allocator also reaches ~0 faults at
    /// batch 512; the ≥10× comparison against a fixed threshold runs in a fresh process
    /// (`TrainCLITests.testAdaptiveAllocatorCutsPageFaultsTenfold`) because mallopt is process-wide.
    func testAdaptiveAllocatorServesSteadyStateFromItsPool() throws {
        var faults: [AllocatorPolicy: Double] = [:]
        for policy in AllocatorPolicy.allCases {
            var c = Self.config(.wdl, steps: 30, warmup: 12)
            c.allocator = policy
            c.allocWarmupStart = 2
            c.allocWarmupSteps = 5
            let r = try Trainer(config: c, counterEvents: []).run(dataset: Self.dataset)
            faults[policy] = (r.counters["rusage.minflt"] ?? .nan) / Double(r.steps)
            if policy == .adaptive {
                XCTAssertEqual(r.counters["allocator.misses"], 0, "steady-state fallback allocations")
                XCTAssertEqual(r.counters["allocator.hits"], r.counters["allocator.allocations"])
                XCTAssertGreaterThan(r.counters["allocator.hits"] ?? 0, 0)
                XCTAssertGreaterThan(r.counters["allocator.planned_bytes"] ?? 0, 0)
            } else {
                XCTAssertEqual(r.counters["allocator.misses"], r.counters["allocator.allocations"], "system: every allocation is malloc")
            }
        }
        let system = try XCTUnwrap(faults[.system]), adaptive = try XCTUnwrap(faults[.adaptive])
        XCTAssertLessThanOrEqual(adaptive, system + 1, "adaptive \(adaptive)/step vs system \(system)/step")
    }

    func testInvalidConfigurationNamesTheKnob() {
        var c = TrainConfig()
        c.microBatch = 0
        XCTAssertThrowsError(try Trainer.validate(c)) { error in
            XCTAssertTrue("\(error)".contains("--micro-batch"), "\(error)")
        }
    }
}
