import Glibc

/// Running work items: executing nodes, dispatching their ready successors by the step's
/// `SchedulingMode`, batching cheap nodes, and counting.
extension WorkStealingScheduler {
    /// Marks one node finished; the worker that finishes the last node wakes worker 0.
    @inline(__always)
    func nodeFinished(_ st: StepState, worker w: Int) {
        if st.remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0, w != 0 {
            if idleMask.bitwiseAnd(~UInt64(1), ordering: .sequentiallyConsistent).oldValue & 1 != 0 {
                parkers[0].unpark()
            }
        }
    }

    @inline(__always)
    func execute(_ node: Int, worker w: Int, state st: StepState, profiling: Bool) {
        if let boost, st.graph.nodes[node].flops >= boost.minFLOPs, mayBoost() {
            boost.begin(w)
            run(node, worker: w, state: st, profiling: profiling)
            boost.end(w)
            boostToken.store(false, ordering: .sequentiallyConsistent)
            WorkerStats.bump(stats[w].boostedNodes)
        } else {
            run(node, worker: w, state: st, profiling: profiling)
        }
        WorkerStats.bump(stats[w].nodes)
    }

    /// Whether the calling worker, about to run a node, is alone: nothing queued, no other worker
    /// holding an item, and no boosted node running (then it takes the token).
    @inline(__always)
    func mayBoost() -> Bool {
        pending.load(ordering: .sequentiallyConsistent) == 0 && busy.load(ordering: .sequentiallyConsistent) == 1
            && boostToken.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
    }

    @inline(__always)
    private func run(_ node: Int, worker w: Int, state st: StepState, profiling: Bool) {
        if let timeline = st.timeline {
            let t0 = Self.monotonicMicros()
            st.graph.execute(NodeID(index: node), worker: w, memory: st.memory!, step: st.step)
            let t1 = Self.monotonicMicros()
            timeline.record(node: node, worker: w, start: t0, end: t1)
            if profiling { st.costSum[node] += t1 - t0 }
        } else if profiling {
            let t0 = Self.monotonicMicros()
            st.graph.execute(NodeID(index: node), worker: w, memory: st.memory!, step: st.step)
            st.costSum[node] += Self.monotonicMicros() - t0
        } else {
            st.graph.execute(NodeID(index: node), worker: w, memory: st.memory!, step: st.step)
        }
    }

    /// clock_gettime(CLOCK_MONOTONIC) in microseconds.
    @inline(__always)
    static func monotonicMicros() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) * 1e-3
    }

    func runItem(_ item: WorkItem, worker w: Int, state st: StepState) {
        let s = stats[w]
        var profiling = false
        if case .profile = st.mode { profiling = true }
        WorkerStats.bump(s.tasks)
        if item.batch.isEmpty {
            var node = item.node
            while true {
                execute(node, worker: w, state: st, profiling: profiling)
                let next = dispatchSuccessors(of: node, worker: w, state: st, inBatch: false)
                nodeFinished(st, worker: w)
                guard let next else { return }
                node = next
                WorkerStats.bump(s.tasks)
            }
        } else {
            WorkerStats.bump(s.batchedNodes, by: item.batch.count)
            let local = scratch[w]
            local.cheap.removeAll(keepingCapacity: true)
            for node in item.batch {
                execute(node, worker: w, state: st, profiling: profiling)
                _ = dispatchSuccessors(of: node, worker: w, state: st, inBatch: true)
                nodeFinished(st, worker: w)
            }
            flushCheap(worker: w, state: st)
        }
    }

    /// Decrements the successors' dependency counts and hands out the ready ones; returns the
    /// successor to continue with on this thread, if any. Inside a batch nothing continues and
    /// cheap ready successors accumulate into the next batch (pushed when the batch ends).
    @inline(__always)
    func dispatchSuccessors(of node: Int, worker w: Int, state st: StepState, inBatch: Bool) -> Int? {
        let local = scratch[w]
        local.items.removeAll(keepingCapacity: true)
        var next: Int?
        let graph = st.graph
        let successors = graph.successorStart[node]..<graph.successorStart[node + 1]
        switch st.mode {
        case .pool, .profile:
            for k in successors {
                let succ = graph.successorList[k]
                guard st.pending.decrement(at: succ) == 0 else { continue }
                if next == nil && !inBatch { next = succ } else { local.items.append(WorkItem(node: succ)) }
            }
            publish(local.items, worker: w, prioritized: false)
        case .costModel(let plan):
            let critical = plan.criticalSuccessor[node]
            if !inBatch { local.cheap.removeAll(keepingCapacity: true) }
            for k in successors {
                let i = graph.successorList[k]
                guard st.pending.decrement(at: i) == 0 else { continue }
                if !inBatch && i == critical { next = i }
                else if plan.cheap[i] { local.cheap.append(i) }
                else { local.items.append(plan.item(i)) }
            }
            if !inBatch { appendCheap(local, plan: plan) }
            publish(local.items, worker: w, prioritized: true)
        }
        return next
    }

    @inline(__always)
    func appendCheap(_ local: WorkerScratch, plan: CostModelPlan) {
        switch local.cheap.count {
        case 0: break
        case 1: local.items.append(plan.item(local.cheap[0]))
        default: local.items.append(plan.item(batch: local.cheap))
        }
        local.cheap.removeAll(keepingCapacity: true)
    }

    func flushCheap(worker w: Int, state st: StepState) {
        guard case .costModel(let plan) = st.mode else { return }
        let local = scratch[w]
        local.items.removeAll(keepingCapacity: true)
        appendCheap(local, plan: plan)
        publish(local.items, worker: w, prioritized: true)
    }
}
