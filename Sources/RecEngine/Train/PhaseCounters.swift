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
        for (name, value) in [("rusage.minflt", Double(ru.minflt)), ("rusage.majflt", Double(ru.majflt)),
                              ("rusage.nvcsw", Double(ru.nvcsw)),
                              ("rusage.nivcsw", Double(ru.nivcsw))] {
            values[name] = value
            info[name] = CounterInfo(source: "rusage", unit: "")
        }
        values["rusage.maxrss_kb"] = Double(end.rusage.maxrssKB)
        info["rusage.maxrss_kb"] = CounterInfo(source: "rusage", unit: "KiB")
        let ex = end.executor - start.executor
        let engine: [(String, Double, String)] = [
            ("executor.tasks", Double(ex.tasks), ""), ("executor.steals", Double(ex.steals), ""),
            ("executor.failed_steals", Double(ex.failedSteals), ""), ("executor.parks", Double(ex.parks), ""),
            ("executor.batched_nodes", Double(ex.batchedNodes), ""), ("executor.nodes", Double(ex.nodes), ""),
            ("allocator.allocations", Double(end.allocator.allocations - start.allocator.allocations), ""),
            ("allocator.hits", Double(end.allocator.hits - start.allocator.hits), ""),
            ("allocator.misses", Double(end.allocator.misses - start.allocator.misses), ""),
            ("allocator.planned_bytes", Double(end.allocator.plannedBytes), "bytes"),
            ("allocator.peak_live_bytes", Double(end.allocator.peakLiveBytes), "bytes"),
            ("stage.consumer_waits", Double(end.stage.consumerWaits - start.stage.consumerWaits), ""),
            ("stage.wait_ms", Double(end.stage.waitNanoseconds &- start.stage.waitNanoseconds) / 1e6, "ms"),
            ("stage.max_queue_depth", Double(end.stage.maxQueueDepth), ""),
        ]
        for (name, value, unit) in engine {
            values[name] = value
            info[name] = CounterInfo(source: "engine", unit: unit)
        }
        return (values, info)
    }
}
