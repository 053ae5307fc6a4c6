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
        let c = smallTwoWorkerConfig(.dlrm, batch: 256, rows: 4_000)
        let dataset = try Trainer.loadDataset(c)
        let path = try Trainer.criticalPath(config: c, dataset: dataset, warmup: 2, steps: 3)
        XCTAssertGreaterThan(path.nodes.count, 3)
        XCTAssertTrue(path.nodes.allSatisfy { $0.micros >= 0 })
        XCTAssertLessThanOrEqual(path.pathMicros, path.workMicros)
        XCTAssertTrue(path.nodes.contains { $0.flops > 0 }, "DLRM's critical path runs through its MLPs")
    }
}

/// `StepTimeline` and its summary: what `rectune bench --trace` prints and writes.
final class StepTimelineTests: XCTestCase {
    /// Busy plus the three kinds of idle add up to the step for every worker, on hand-made spans.
    func testSummarySplitsEachWorkersStep() {
        typealias Span = StepTimeline.Span
        let steps = [
            StepTimeline.Step(index: 4, start: 100, end: 200, spans: [
                Span(node: 0, worker: 0, start: 105, end: 130), Span(node: 1, worker: 0, start: 140, end: 190),
                Span(node: 2, worker: 1, start: 120, end: 170),
            ]),
            StepTimeline.Step(index: 5, start: 210, end: 300, spans: [
                Span(node: 0, worker: 0, start: 210, end: 300), Span(node: 1, worker: 1, start: 250, end: 260),
                Span(node: 2, worker: 1, start: 220, end: 240),
            ]),
        ]
        let s = TimelineSummary(steps: steps, workerCount: 3)
        XCTAssertEqual(s.steps, 2)
        XCTAssertEqual(s.stepWall, 95)
        XCTAssertEqual(s.betweenSteps, 10)
        // Worker 0: step 4 busy 75, before 5, between 10, after 10; step 5 busy 90, nothing idle.
        XCTAssertEqual(s.workers[0], .init(worker: 0, busy: 82.5, idleBeforeFirst: 2.5, idleBetween: 5, idleAfterLast: 5, nodes: 1.5))
        // Worker 1: step 4 busy 50, before 20, after 30; step 5 (spans out of order) busy 30, before 10, between 10, after 40.
        XCTAssertEqual(s.workers[1], .init(worker: 1, busy: 40, idleBeforeFirst: 15, idleBetween: 5, idleAfterLast: 35, nodes: 1.5))
        // Worker 2 ran nothing: the whole step is idle before its (absent) first node.
        XCTAssertEqual(s.workers[2], .init(worker: 2, busy: 0, idleBeforeFirst: 95, idleBetween: 0, idleAfterLast: 0, nodes: 0))
        for w in s.workers {
            XCTAssertEqual(w.busy + w.idleBeforeFirst + w.idleBetween + w.idleAfterLast, s.stepWall, accuracy: 1e-9)
        }
        XCTAssertEqual(s.utilization, (82.5 + 40) / (3 * 95), accuracy: 1e-12)
        XCTAssertNil(TimelineSummary(steps: [steps[0]], workerCount: 1).betweenSteps, "one step has no gap")
    }

    /// A real model on the pool: every node once per step, inside its step, after all of its
    /// dependencies ended, on one of the two workers; both workers ran nodes.
    func testPoolTimelineOfAModelFollowsTheGraph() throws {
        var c = smallTwoWorkerConfig(.dlrm, batch: 256, rows: 4_000)
        c.microBatch = 2
        let dataset = try Trainer.loadDataset(c)
        let t = try Trainer.timeline(config: c, dataset: dataset, warmup: 2, steps: 4)
        XCTAssertEqual(t.steps.map(\.index), [2, 3, 4, 5])
        XCTAssertEqual(t.workerCount, 2)
        var workersSeen = Set<Int>()
        for step in t.steps {
            XCTAssertEqual(step.spans.map(\.node), Array(0..<t.graph.nodeCount), "every node once, in node order")
            for span in step.spans {
                XCTAssertTrue((0..<2).contains(span.worker))
                workersSeen.insert(span.worker)
                XCTAssertLessThanOrEqual(step.start, span.start)
                XCTAssertLessThanOrEqual(span.start, span.end)
                XCTAssertLessThanOrEqual(span.end, step.end)
                for dep in t.graph.nodes[span.node].dependencies {
                    XCTAssertGreaterThanOrEqual(span.start, step.spans[dep.index].end,
                                                "\(t.graph.nodes[span.node].name) started before \(t.graph.nodes[dep.index].name) ended")
                }
            }
        }
        XCTAssertEqual(workersSeen, [0, 1], "two micro-batches keep both workers busy")
        let s = t.summary
        XCTAssertGreaterThan(s.utilization, 0)
        XCTAssertLessThanOrEqual(s.utilization, 1 + 1e-9)
        XCTAssertNotNil(s.betweenSteps)
        for w in s.workers {
            XCTAssertEqual(w.busy + w.idleBeforeFirst + w.idleBetween + w.idleAfterLast, s.stepWall, accuracy: 1e-6 * s.stepWall)
        }
        XCTAssertEqual(s.workers.reduce(0) { $0 + $1.nodes }, Double(t.graph.nodeCount), accuracy: 1e-9)
    }

    /// The cost-model executor records too (its plan is made in the warm-up), and detaching the
    /// timeline stops the recording; the inline executor is refused with the reason.
    func testCostModelRecordsAndInlineIsRefused() throws {
        var c = smallTwoWorkerConfig(.wdl, batch: 128, rows: 2_000)
        c.executor = .costmodel
        c.costmodelStart = 1
        c.costmodelStop = 3
        let dataset = try Trainer.loadDataset(c)
        let t = try Trainer.timeline(config: c, dataset: dataset, warmup: 4, steps: 2)
        XCTAssertEqual(t.steps.count, 2)
        XCTAssertTrue(t.steps.allSatisfy { $0.spans.count == t.graph.nodeCount })
        c.executor = .inline
        XCTAssertThrowsError(try Trainer.timeline(config: c, dataset: dataset, warmup: 1, steps: 1)) { error in
            XCTAssertTrue("\(error)".contains("pool or costmodel"), "\(error)")
        }
    }
}

/// A model on generated data, small enough for a test, on two inter-op workers.
func smallTwoWorkerConfig(_ model: ModelKind, batch: Int, rows: Int) -> TrainConfig {
    var c = TrainConfig()
    c.model = model
    c.batch = batch
    c.interThreads = 2
    c.syntheticRows = rows
    c.evalRows = 100
    return c
}
