/// When each node of a step ran and on which worker: what `rectune bench --trace` writes as a
/// Chrome trace and sums into idle time per worker.
///
/// The work-stealing executors (`pool`, `costmodel`) fill it while it is attached
/// (`TimelineRecording.timeline`): a node's worker writes its start and end (monotonic clock, µs)
/// into the slots of that node (a node runs once per step, so no two threads write one slot);
/// the thread that runs the step records the step's start and end and, after the step, copies
/// the slots into `steps`. Nothing is allocated while nodes run.
///
/// `@unchecked Sendable`: the node slots are written by the worker running that node during a
/// step and read by the step's caller after it (the executor's completion count orders them).
public final class StepTimeline: @unchecked Sendable {
    /// One node's run in one step.
    public struct Span: Sendable, Equatable {
        public let node: Int
        public let worker: Int
        /// Monotonic clock, µs.
        public let start: Double
        public let end: Double
    }

    /// One recorded step.
    public struct Step: Sendable {
        public let index: Int
        /// From the executor's `run` call to the last node's completion (monotonic µs).
        public let start: Double
        public let end: Double
        /// Every node of the step, in node order.
        public let spans: [Span]
    }

    public let nodeCount: Int
    private let starts: UnsafeMutablePointer<Double>
    private let ends: UnsafeMutablePointer<Double>
    private let workers: UnsafeMutablePointer<Int>
    private var stepStart = 0.0
    public private(set) var steps: [Step] = []

    public init(nodeCount: Int) {
        self.nodeCount = nodeCount
        starts = .allocate(capacity: max(nodeCount, 1))
        ends = .allocate(capacity: max(nodeCount, 1))
        workers = .allocate(capacity: max(nodeCount, 1))
        starts.initialize(repeating: 0, count: max(nodeCount, 1))
        ends.initialize(repeating: 0, count: max(nodeCount, 1))
        workers.initialize(repeating: -1, count: max(nodeCount, 1))
    }

    deinit {
        starts.deallocate()
        ends.deallocate()
        workers.deallocate()
    }

    /// Called by the step's thread before any node runs.
    func beginStep() {
        for i in 0..<nodeCount { workers[i] = -1 }
        stepStart = Self.now()
    }

    /// Called by the worker that ran `node`.
    @inline(__always)
    func record(node: Int, worker: Int, start: Double, end: Double) {
        starts[node] = start
        ends[node] = end
        workers[node] = worker
    }

    /// Called by the step's thread once every node finished.
    func endStep(_ index: Int) {
        let end = Self.now()
        var spans: [Span] = []
        spans.reserveCapacity(nodeCount)
        for i in 0..<nodeCount where workers[i] >= 0 {
            spans.append(Span(node: i, worker: workers[i], start: starts[i], end: ends[i]))
        }
        steps.append(Step(index: index, start: stepStart, end: end, spans: spans))
    }

    /// CLOCK_MONOTONIC in microseconds (the clock the executors time nodes with).
    @inline(__always)
    static func now() -> Double { WorkStealingScheduler.monotonicMicros() }
}

/// An executor that can record a `StepTimeline` (the work-stealing ones).
public protocol TimelineRecording: StepExecutor {
    /// Attached between steps; every step run while it is set is recorded into it.
    var timeline: StepTimeline? { get set }
}

/// Where the workers' time went over a timeline's steps, averaged per step (µs).
public struct TimelineSummary: Sendable, Equatable {
    /// One worker's split of the step's wall time: busy (inside nodes) plus the three kinds of idle.
    public struct Worker: Sendable, Equatable {
        public let worker: Int
        public let busy: Double
        /// From the step's start to the worker's first node (the whole step if it ran none).
        public let idleBeforeFirst: Double
        /// Between the worker's nodes (waiting for dependencies, dispatch and stealing).
        public let idleBetween: Double
        /// From the worker's last node to the step's end.
        public let idleAfterLast: Double
        public let nodes: Double
    }

    public let steps: Int
    /// Mean wall time of a step, from the executor's `run` call to its last node's end.
    public let stepWall: Double
    /// Mean time from one recorded step's end to the next one's start (staging the next batch,
    /// the training loop's bookkeeping); nil with fewer than two consecutive steps.
    public let betweenSteps: Double?
    public let workers: [Worker]

    /// Busy time of all workers over `workers × stepWall`.
    public var utilization: Double {
        let capacity = Double(workers.count) * stepWall
        return capacity > 0 ? workers.reduce(0) { $0 + $1.busy } / capacity : 0
    }

    /// Summarizes `steps` for `workerCount` workers (workers that ran nothing count as idle).
    public init(steps: [StepTimeline.Step], workerCount: Int) {
        self.steps = steps.count
        let n = Double(max(steps.count, 1))
        stepWall = steps.reduce(0) { $0 + ($1.end - $1.start) } / n
        var gaps: [Double] = []
        for (a, b) in zip(steps, steps.dropFirst()) where b.index == a.index + 1 { gaps.append(b.start - a.end) }
        betweenSteps = gaps.isEmpty ? nil : gaps.reduce(0, +) / Double(gaps.count)
        var busy = [Double](repeating: 0, count: workerCount), before = busy, between = busy, after = busy, count = busy
        for s in steps {
            var byWorker = [[StepTimeline.Span]](repeating: [], count: workerCount)
            for span in s.spans where span.worker < workerCount { byWorker[span.worker].append(span) }
            for w in 0..<workerCount {
                let spans = byWorker[w].sorted { $0.start < $1.start }
                guard let first = spans.first, let last = spans.last else {
                    before[w] += s.end - s.start
                    continue
                }
                let inside = spans.reduce(0) { $0 + ($1.end - $1.start) }
                busy[w] += inside
                before[w] += first.start - s.start
                after[w] += max(0, s.end - last.end)
                between[w] += max(0, (last.end - first.start) - inside)
                count[w] += Double(spans.count)
            }
        }
        workers = (0..<workerCount).map {
            Worker(worker: $0, busy: busy[$0] / n, idleBeforeFirst: before[$0] / n, idleBetween: between[$0] / n,
                   idleAfterLast: after[$0] / n, nodes: count[$0] / n)
        }
    }
}
