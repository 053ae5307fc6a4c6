import RecContract
import XCTest
@testable import RecEngine

/// The step loop both trainers share (`StepLoop`): which steps run, what counts as steady, the
/// progress reports, and the result it assembles.
final class StepLoopTests: XCTestCase {
    final class Reports: @unchecked Sendable {
        var all: [TrainProgress] = []
    }

    func testRunsEveryStepOnceAndMeasuresOnlyTheSteadyOnes() throws {
        let counters = PhaseCounters(events: [])
        let executor = InlineExecutor(), allocator = SystemAllocator()
        var snapshots = 0, ran: [Int] = [], lossCalls = 0
        let reports = Reports()
        // A restored run: steps 5..<18, the first 3 of them warm-up; step i trains i rows, loss i.
        let loop = try StepLoop.run(first: 5, warmup: 3, steps: 10, progress: { reports.all.append($0) },
                                    snapshot: { snapshots += 1; return counters.snapshot(executor: executor, allocator: allocator, stage: StageCounters()) },
                                    loss: { lossCalls += 1; return Double(ran.last ?? -1) }) { index in
            ran.append(index)
            return index
        }
        XCTAssertEqual(ran, Array(5..<18))
        XCTAssertEqual(lossCalls, 13)
        XCTAssertEqual(snapshots, 2, "the start and the warm-up boundary; the caller takes the end")
        XCTAssertEqual(loop.steadySamples, (8..<18).reduce(0, +))
        XCTAssertEqual(loop.firstLoss, 8)
        XCTAssertEqual(loop.lastLoss, 17)
        XCTAssertGreaterThan(loop.steadySeconds, 0)
        XCTAssertEqual(loop.samplesPerSec, Double(loop.steadySamples) / loop.steadySeconds, accuracy: 1e-6 * loop.samplesPerSec)
        XCTAssertGreaterThan(loop.stepTimes.p50, 0)
        XCTAssertLessThanOrEqual(loop.stepTimes.p50, loop.stepTimes.p99)
        // 13 steps: a report after every step (at most 20 per run), warm-up flagged, loss the interval's mean.
        XCTAssertEqual(reports.all.map(\.step), Array(1...13))
        XCTAssertEqual(reports.all.map(\.warmup), (1...13).map { $0 <= 3 })
        XCTAssertEqual(reports.all.map(\.loss), (5..<18).map(Double.init))
        XCTAssertTrue(reports.all.allSatisfy { $0.totalSteps == 13 })

        // 100 steps: 20 reports, each the mean over its 5 steps.
        let longer = Reports()
        var index = 0
        _ = try StepLoop.run(first: 0, warmup: 10, steps: 90, progress: { longer.all.append($0) },
                             snapshot: { counters.snapshot(executor: executor, allocator: allocator, stage: StageCounters()) },
                             loss: { Double(index) }) { i in index = i; return 1 }
        XCTAssertEqual(longer.all.map(\.step), Array(stride(from: 5, through: 100, by: 5)))
        XCTAssertEqual(longer.all.first?.loss, 2, "mean loss of steps 0…4")
    }

    func testAStepsErrorStopsTheLoop() {
        let counters = PhaseCounters(events: [])
        let executor = InlineExecutor(), allocator = SystemAllocator()
        struct Malformed: Error {}
        var ran: [Int] = []
        XCTAssertThrowsError(try StepLoop.run(first: 0, warmup: 1, steps: 5, progress: nil,
                                              snapshot: { counters.snapshot(executor: executor, allocator: allocator, stage: StageCounters()) },
                                              loss: { 0 }) { i in
            ran.append(i)
            if i == 2 { throw Malformed() }
            return 1
        }) { XCTAssertTrue($0 is Malformed) }
        XCTAssertEqual(ran, [0, 1, 2])
    }

    func testTheResultCarriesTheLoopsFiguresTheEchoAndTheEngineCounters() throws {
        let counters = PhaseCounters(events: [])
        let executor = InlineExecutor(), allocator = SystemAllocator()
        let snapshot = { counters.snapshot(executor: executor, allocator: allocator, stage: StageCounters()) }
        let loop = try StepLoop.run(first: 0, warmup: 2, steps: 4, progress: nil, snapshot: snapshot, loss: { 0.5 }) { _ in 64 }
        var c = TrainConfig()
        c.steps = 4; c.warmupSteps = 2; c.batch = 64
        let r = loop.result(c, extraEcho: ["numa_effect": .string("left unchanged")], counters: counters, end: snapshot(),
                            extraSteady: [.indicatorBytesPerStep: 4096], graphNodes: 17, auc: 0.75, logloss: 0.6, evalRows: 100,
                            skippedRows: 3, wallStartNs: 0, interThreads: 1)
        XCTAssertEqual(r.samplesPerSec, loop.samplesPerSec)
        XCTAssertEqual(r.stepMs, loop.stepTimes)
        XCTAssertEqual(r.trainLossFirst, 0.5)
        XCTAssertEqual(r.config["numa_effect"], .string("left unchanged"))
        XCTAssertEqual(r.config["batch"], c.echo["batch"])
        XCTAssertEqual(r.counters[Counter.graphNodes.name], 17)
        XCTAssertEqual(r.counters[Counter.indicatorBytesPerStep.name], 4096)
        XCTAssertEqual(r.counterInfo[Counter.graphNodes.name]?.source, CounterSource.engine.rawValue)
        XCTAssertNil(r.countersWarmup[Counter.graphNodes.name], "graph.nodes is a steady counter")
        XCTAssertNotNil(r.countersWarmup[Counter.rusageMinflt.name])
        XCTAssertEqual(r.skippedRows, 3)
        XCTAssertEqual(r.evalRows, 100)
        XCTAssertEqual(r.engine.interThreads, 1)
    }
}
