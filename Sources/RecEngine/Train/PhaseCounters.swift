import RecContract
import RecSystem

/// One snapshot of every counter source at a phase boundary: perf events, getrusage, and the
/// engine's own counters (executor, allocator, stage).
struct CounterSnapshotSet {
    let perf: CounterSnapshot?
    let rusage: ResourceUsage
    let executor: ExecutorCounters
    let allocator: AllocatorCounters
    let stage: StageCounters
}

/// Collects counter snapshots and turns two of them into a phase's `counters` and `counter_info`.
struct PhaseCounters {
    let session: CounterSession?

    /// Opens and starts the perf events (none when `events` is empty). Events the machine cannot
    /// count stay in the session as unavailable with their reason.
    init(events: [String]) {
        if events.isEmpty {
            session = nil
        } else {
            let s = CounterSession(events: events)
            s.start()
            session = s
        }
    }

    func snapshot(executor: any StepExecutor, allocator: any TensorAllocator, stage: StageCounters) -> CounterSnapshotSet {
        CounterSnapshotSet(perf: session?.read(), rusage: ResourceUsage.current(), executor: executor.counters,
                           allocator: allocator.counters, stage: stage)
    }

    /// Values and provenance of the phase between `start` and `end`.
    func phase(from start: CounterSnapshotSet, to end: CounterSnapshotSet) -> (values: [String: Double], info: [String: CounterInfo]) {
        var values: [String: Double] = [:]
        var info: [String: CounterInfo] = [:]
        if let s = start.perf, let e = end.perf {
            for r in e.delta(since: s) {
                if let v = r.value {
                    values[r.name] = v
                    info[r.name] = CounterInfo(source: r.source, unit: r.unit, scaled: r.scaled,
                                               timeEnabled: r.timeEnabled, timeRunning: r.timeRunning)
                } else {
                    info[r.name] = CounterInfo(unavailable: r.unavailable ?? "not counted")
                }
            }
        }
        let ru = end.rusage.delta(since: start.rusage)
        let ex = end.executor - start.executor
        let recorded: [(Counter, Double)] = [
            (.rusageMinflt, Double(ru.minflt)), (.rusageMajflt, Double(ru.majflt)),
            (.rusageNvcsw, Double(ru.nvcsw)), (.rusageNivcsw, Double(ru.nivcsw)),
            (.rusageMaxrssKB, Double(end.rusage.maxrssKB)),
            (.executorTasks, Double(ex.tasks)), (.executorSteals, Double(ex.steals)),
            (.executorFailedSteals, Double(ex.failedSteals)), (.executorParks, Double(ex.parks)),
            (.executorBatchedNodes, Double(ex.batchedNodes)), (.executorNodes, Double(ex.nodes)),
            (.executorBoostedNodes, Double(ex.boostedNodes)),
            (.allocatorAllocations, Double(end.allocator.allocations - start.allocator.allocations)),
            (.allocatorHits, Double(end.allocator.hits - start.allocator.hits)),
            (.allocatorMisses, Double(end.allocator.misses - start.allocator.misses)),
            (.allocatorPlannedBytes, Double(end.allocator.plannedBytes)),
            (.allocatorPeakLiveBytes, Double(end.allocator.peakLiveBytes)),
            (.stageConsumerWaits, Double(end.stage.consumerWaits - start.stage.consumerWaits)),
            (.stageWaitMs, Double(end.stage.waitNanoseconds &- start.stage.waitNanoseconds) / 1e6),
            (.stageMaxQueueDepth, Double(end.stage.maxQueueDepth)),
        ]
        for (counter, value) in recorded {
            values[counter.name] = value
            info[counter.name] = CounterInfo(source: counter.source.rawValue, unit: counter.unit)
        }
        return (values, info)
    }
}
