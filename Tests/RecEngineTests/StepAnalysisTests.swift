import XCTest
@testable import RecEngine

/// The dense FLOP count of step graphs, the roofline arithmetic and the critical path that
/// `rectune bench` prints.
final class StepAnalysisTests: XCTestCase {
    /// A 3→4→2 MLP over 5 rows, counted by hand: each product is 2·rows·in·out FLOPs, i.e.
    /// 2·5·3·4 = 120 for layer 0 and 2·5·4·2 = 80 for layer 1. Forward and backward-weights run
    /// for both layers; backward-data runs for layer 1 always and for layer 0 only when the input
    /// gradient is needed.
    func testMLPGraphCountsEachProductAtItsShape() throws {
        for needInputGrad in [false, true] {
            let context = try DNNLContext(workers: 1)
            let mlp = try MLPStack(name: "m", inputs: 3, widths: [4, 2], reluOnLast: false, precision: .fp32,
                                   context: context, optimizer: SGD(learningRate: 0.1), seed: 1)
            let b = GraphBuilder()
            let x = b.floats("x", count: 5 * 3)
            let dy = b.floats("dy", count: 5 * 2)
            let input = b.node("input", kind: .input, allocates: [x, dy]) { _ in }
            let f = mlp.addForward(b, tag: "", rows: 5, input: x, after: [input])
            _ = mlp.addBackward(b, tag: "", rows: 5, forward: f, gradOutput: dy, gradReady: [f.done], needInputGrad: needInputGrad)
            let graph = try b.build()
            let expected: Double = needInputGrad ? (120 + 80) * 3 : (120 + 80) * 2 + 80
            XCTAssertEqual(graph.denseFLOPs, expected, "needInputGrad \(needInputGrad)")
            XCTAssertEqual(graph.nodes.filter { $0.flops > 0 }.count, needInputGrad ? 6 : 5)
            XCTAssertEqual(graph.nodes.first { $0.name == "input" }?.flops, 0)
        }
    }

    /// WDL with hidden layers 128, 64 (+ the 1-wide output): its deep input is 13 dense features
    /// plus 26 embeddings of 16 = 429 wide, and the embeddings are trained, so every deep layer
    /// runs all three products: 6·(429·128 + 128·64 + 64·1) FLOPs per sample. The wide part's
    /// 13→1 linear layer over the dense features needs no input gradient: forward and
    /// backward-weights, 4·13. The same with micro-batches.
    func testWDLFLOPsPerSampleFromTheConfigShapes() throws {
        for microBatch in [1, 2] {
            var c = TrainConfig()
            c.model = .wdl
            c.batch = 256
            c.microBatch = microBatch
            c.hiddenLayers = [128, 64]
            c.syntheticRows = 2_000
            c.evalRows = 100
            XCTAssertEqual(try Trainer.denseFLOPsPerSample(c), 6 * Double(429 * 128 + 128 * 64 + 64 * 1) + 4 * 13,
                           "micro-batches \(microBatch)")
        }
    }

    func testRooflineArithmetic() {
        // WDL's default tower: 6·(429·1024 + 1024·512 + 512·256 + 256) ≈ 6.6 MFLOP per sample.
        let flops = 6.0 * Double(429 * 1024 + 1024 * 512 + 512 * 256 + 256)
        XCTAssertEqual(flops, 6_569_472)
        let r = DenseRoofline(cores: 2, gflopsPerCore: 150, flopsPerSample: flops)
        XCTAssertEqual(r.samplesPerSec, 2 * 150e9 / 6_569_472, accuracy: 1e-6)
        XCTAssertEqual(r.samplesPerSec, 45_665.8, accuracy: 0.1)
        XCTAssertEqual(r.fraction(r.samplesPerSec * 0.4), 0.4, accuracy: 1e-12)
        XCTAssertEqual(DenseRoofline(cores: 1, gflopsPerCore: 100, flopsPerSample: 1e6).samplesPerSec, 100_000, accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(DenseRoofline.cores(inter: 1, intra: 1), 1)
        XCTAssertLessThanOrEqual(DenseRoofline.cores(inter: 64, intra: 4), 256)
        XCTAssertEqual(DenseRoofline.cores(inter: 1, intra: 1), 1)
        XCTAssertNil(r.busySamplesPerSec)
        XCTAssertNil(r.busyFraction(1000))
        // Two cores that deliver 165 GFLOP/s together (not 300): the busy ceiling is 165/300 of the nominal one.
        let busy = DenseRoofline(cores: 2, gflopsPerCore: 150, flopsPerSample: flops, busyGFLOPS: 165)
        XCTAssertEqual(busy.samplesPerSec, r.samplesPerSec)
        XCTAssertEqual(busy.busySamplesPerSec!, 165e9 / 6_569_472, accuracy: 1e-6)
        XCTAssertEqual(busy.busyFraction(busy.busySamplesPerSec! * 0.7)!, 0.7, accuracy: 1e-12)
        XCTAssertEqual(busy.busyFraction(busy.samplesPerSec * 0.4)!, 0.4 * 300 / 165, accuracy: 1e-12)
    }

    func testConcurrentGEMMRateMeasuresEveryThreadWhileAllRun() throws {
        // Tiny shapes and a short window: this checks the mechanics (one positive rate per thread,
        // every thread really computing), not the host's speed.
        let shapes = [DenseBenchmark.Shape(64, 32), DenseBenchmark.Shape(32, 16)]
        for threads in [1, 2, 3] {
            let rates = try DenseBenchmark.concurrentRate(threads: threads, shapes: shapes, batch: 32, precision: .fp32, seconds: 0.05)
            XCTAssertEqual(rates.count, threads)
            for rate in rates { XCTAssertTrue(rate.isFinite && rate > 0.01, "\(threads) threads: \(rates)") }
        }
    }

    /// a → b (10 µs) → d and a → c (1 µs) → d: the path is a, b, d; the root with the larger
    /// critical-path cost starts it (e, a lone 2 µs root, does not).
    func testCriticalPathFollowsTheCostliestChain() throws {
        let b = GraphBuilder()
        let a = b.node("a", kind: .forward) { _ in }
        let nb = b.node("b", kind: .forward, after: [a]) { _ in }
        let nc = b.node("c", kind: .forward, after: [a]) { _ in }
        b.node("d", kind: .update, after: [nb, nc]) { _ in }
        b.node("e", kind: .input) { _ in }
        let graph = try b.build()
        let plan = CostModelPlan(graph: graph, nodeCostMicros: [1, 10, 1, 3, 2], batchThresholdMicros: 0)
        XCTAssertEqual(plan.criticalPath(roots: graph.roots), [0, 1, 3])
        let path = StepAnalysis.criticalPath(graph: graph, plan: plan)
        XCTAssertEqual(path.nodes.map(\.name), ["a", "b", "d"])
        XCTAssertEqual(path.pathMicros, 14)
        XCTAssertEqual(path.workMicros, 17)
        XCTAssertEqual(path.graphNodes, 5)
    }

    /// The profile a real model's cost-model run measures: a chain from a root to a sink of the
    /// step graph, every link a real edge, whose dense nodes are the MLP's.
    func testCriticalPathOfAModelIsAChainOfTheGraph() throws {
        var c = TrainConfig()
        c.model = .dlrm
        c.batch = 256
        c.interThreads = 2
        c.syntheticRows = 4_000
        c.evalRows = 100
        let dataset = try Trainer.loadDataset(c)
        let path = try Trainer.criticalPath(config: c, dataset: dataset, warmup: 2, steps: 3)
        XCTAssertGreaterThan(path.nodes.count, 3)
        XCTAssertTrue(path.nodes.allSatisfy { $0.micros >= 0 })
        XCTAssertLessThanOrEqual(path.pathMicros, path.workMicros)
        XCTAssertTrue(path.nodes.contains { $0.flops > 0 }, "DLRM's critical path runs through its MLPs")
    }
}
