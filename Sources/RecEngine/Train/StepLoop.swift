import Dispatch
import Histogram
import RecContract

/// The timed step loop of both trainers (`Trainer.run` for Criteo, `ContestTrainer.run` for the
/// contest data sets): warm-up steps, then steady ones; a counter snapshot at the start and at the
/// warm-up boundary; each steady step's time in a histogram (the batch, taken from a source or
/// parsed by the step, and the graph); the steady samples and first and last loss; and about 20
/// progress reports per run. The caller takes the end snapshot, after its end checkpoint.
struct StepLoop {
    /// What the loop measured.
    struct Outcome {
        /// Counters before the first step and at the first steady step.
        let start: CounterSnapshotSet
        let boundary: CounterSnapshotSet
        /// Rows the steady steps trained, and the seconds they took.
        let steadySamples: Int
        let steadySeconds: Double
        /// Steady step times in milliseconds.
        let stepTimes: StepTimes
        /// Training loss of the first and the last steady step.
        let firstLoss: Double
        let lastLoss: Double

        var samplesPerSec: Double { Double(steadySamples) / max(steadySeconds, 1e-9) }
    }

    /// Runs steps `first ..< first + warmup + steps`. `step(index)` runs one step (timed) and
    /// returns the rows it trained; `loss()`, called right after it (untimed), that step's loss.
    static func run(first: Int, warmup: Int, steps: Int, progress: (@Sendable (TrainProgress) -> Void)?,
                    snapshot: () -> CounterSnapshotSet, loss: () -> Double, step: (Int) throws -> Int) throws -> Outcome {
        let total = warmup + steps
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        let start = snapshot()
        var boundary = start
        var steadyStartNs = DispatchTime.now().uptimeNanoseconds
        var steadySamples = 0
        var firstLoss = Double.nan, lastLoss = Double.nan
        var intervalLoss = 0.0, intervalSamples = 0, intervalSteps = 0
        var intervalStart = DispatchTime.now().uptimeNanoseconds
        let reportEvery = max(1, total / 20)
        for index in first..<(first + total) {
            if index == first + warmup {
                boundary = snapshot()
                steadyStartNs = DispatchTime.now().uptimeNanoseconds
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let rows = try step(index)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let stepLoss = loss()
            if index >= first + warmup {
                _ = histogram.record(max(t1 - t0, 1))
                steadySamples += rows
                if firstLoss.isNaN { firstLoss = stepLoss }
                lastLoss = stepLoss
            }
            intervalLoss += stepLoss; intervalSamples += rows; intervalSteps += 1
            let done = index + 1 - first
            if let progress, done % reportEvery == 0 || done == total {
                let dt = Double(t1 - intervalStart) / 1e9
                progress(TrainProgress(step: done, totalSteps: total, warmup: done <= warmup,
                                       loss: intervalLoss / Double(intervalSteps), samplesPerSec: Double(intervalSamples) / max(dt, 1e-9)))
                intervalLoss = 0; intervalSamples = 0; intervalSteps = 0; intervalStart = t1
            }
        }
        let steadyEndNs = DispatchTime.now().uptimeNanoseconds
        let ms = { (v: UInt64) in Double(v) / 1e6 }
        return Outcome(start: start, boundary: boundary, steadySamples: steadySamples,
                       steadySeconds: Double(steadyEndNs - steadyStartNs) / 1e9,
                       stepTimes: StepTimes(p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
                                            p99: ms(histogram.valueAtPercentile(99)), mean: histogram.mean / 1e6),
                       firstLoss: firstLoss, lastLoss: lastLoss)
    }
}

extension StepLoop.Outcome {
    /// The run's `train` result: this loop's figures, the evaluation's, the phases' counters
    /// (warm-up: start to boundary; steady: boundary to `end`), with `graph.nodes` among the steady
    /// ones, and the config echo with `extraEcho` (e.g. `numa_effect`) added.
    func result(_ c: TrainConfig, extraEcho: [String: ConfigValue], counters: PhaseCounters, end: CounterSnapshotSet,
                extraSteady: [Counter: Double] = [:], graphNodes: Int,
                auc: Double, logloss: Double, evalRows: Int, skippedRows: Int, wallStartNs: UInt64, interThreads: Int) -> TrainResult {
        let warm = counters.phase(from: start, to: boundary)
        var steady = counters.phase(from: boundary, to: end)
        for (counter, value) in extraSteady.merging([.graphNodes: Double(graphNodes)], uniquingKeysWith: { a, _ in a }) {
            steady.values[counter.name] = value
            steady.info[counter.name] = CounterInfo(source: CounterSource.engine.rawValue, unit: counter.unit)
        }
        return TrainResult(
            model: c.model.rawValue, config: c.echo.merging(extraEcho) { _, extra in extra },
            steps: c.steps, warmupSteps: c.warmupSteps, batch: c.batch,
            samplesPerSec: samplesPerSec, stepMs: stepTimes,
            auc: auc, logloss: logloss, trainLossFirst: firstLoss, trainLossLast: lastLoss, evalRows: evalRows,
            skippedRows: skippedRows, wallS: Double(DispatchTime.now().uptimeNanoseconds - wallStartNs) / 1e9,
            counters: steady.values, countersWarmup: warm.values, counterInfo: steady.info.merging(warm.info) { a, _ in a },
            engine: EngineInfo(version: RectuneVersion.string, onednnVersion: OneDNNInfo.version, onednnISA: OneDNNInfo.isa,
                               interThreads: interThreads, intraThreads: c.intraThreads))
    }
}
