/// Every counter a run can report in the result's `counters` / `counters_warmup`, with its source
/// and unit. The engine emits counters by these names; the harness derives per-step metrics from
/// them (`Metric.perStepCounter`). Hardware events the machine cannot count are reported as
/// unavailable with the reason (in `counter_info`), never as 0.
public enum Counter: String, CaseIterable, Sendable, Codable {
    // perf_event software events
    case minorFaults = "minor-faults"
    case majorFaults = "major-faults"
    case pageFaults = "page-faults"
    case contextSwitches = "context-switches"
    case cpuMigrations = "cpu-migrations"
    case taskClock = "task-clock"
    // perf_event hardware events (absent on most VMs)
    case cycles
    case instructions
    case cacheMisses = "cache-misses"
    case branchMisses = "branch-misses"
    // getrusage
    case rusageMinflt = "rusage.minflt"
    case rusageMajflt = "rusage.majflt"
    case rusageNvcsw = "rusage.nvcsw"
    case rusageNivcsw = "rusage.nivcsw"
    case rusageMaxrssKB = "rusage.maxrss_kb"
    // engine: executor
    case executorTasks = "executor.tasks"
    case executorSteals = "executor.steals"
    case executorFailedSteals = "executor.failed_steals"
    case executorParks = "executor.parks"
    case executorBatchedNodes = "executor.batched_nodes"
    case executorNodes = "executor.nodes"
    case executorBoostedNodes = "executor.boosted_nodes"
    // engine: allocator
    case allocatorAllocations = "allocator.allocations"
    case allocatorHits = "allocator.hits"
    case allocatorMisses = "allocator.misses"
    case allocatorPlannedBytes = "allocator.planned_bytes"
    case allocatorPeakLiveBytes = "allocator.peak_live_bytes"
    // engine: stage
    case stageConsumerWaits = "stage.consumer_waits"
    case stageWaitMs = "stage.wait_ms"
    case stageMaxQueueDepth = "stage.max_queue_depth"
    // engine: graph and contest inputs
    case graphNodes = "graph.nodes"
    case indicatorBytesPerStep = "indicator.bytes_per_step"
    // engine: dense layers
    case denseRelaidLayers = "dense.relaid_layers"
    case denseTransposedGEMMLayers = "dense.transposed_gemm_layers"
    case denseForwardCopyLayers = "dense.forward_copy_layers"
    case denseLayoutChoicesFromFile = "dense.layout_choices_from_file"

    /// The name in results and in the store.
    public var name: String { rawValue }

    /// Where the value comes from.
    public var source: CounterSource {
        switch self {
        case .minorFaults, .majorFaults, .pageFaults, .contextSwitches, .cpuMigrations, .taskClock,
             .cycles, .instructions, .cacheMisses, .branchMisses: .perfEvent
        case .rusageMinflt, .rusageMajflt, .rusageNvcsw, .rusageNivcsw, .rusageMaxrssKB: .rusage
        default: .engine
        }
    }

    /// Unit of the value (empty for plain counts).
    public var unit: String {
        switch self {
        case .taskClock: "ns"
        case .rusageMaxrssKB: "KiB"
        case .allocatorPlannedBytes, .allocatorPeakLiveBytes, .indicatorBytesPerStep: "bytes"
        case .stageWaitMs: "ms"
        default: ""
        }
    }

    /// True for level values (a peak or a plan size), which are not summed over steps and have no
    /// per-step rate.
    public var isLevel: Bool {
        switch self {
        case .rusageMaxrssKB, .allocatorPlannedBytes, .allocatorPeakLiveBytes, .stageMaxQueueDepth, .graphNodes,
             .indicatorBytesPerStep, .denseRelaidLayers, .denseTransposedGEMMLayers,
             .denseForwardCopyLayers, .denseLayoutChoicesFromFile: true
        default: false
        }
    }

    /// When the engine produces it: nil for every run (the machine permitting), else the
    /// registry condition (DeepFM's multi-hot bytes exist only for the contest's Ele.me DeepFM).
    public var producedWhen: KnobCondition? {
        switch self {
        case .indicatorBytesPerStep: .all([.models(["deepfm"]), .when(.dataset, isOneOf: ["eleme"])])
        default: nil
        }
    }

    /// The perf events a run counts by default (software events, then hardware ones that may be unavailable).
    public static let defaultPerfEvents: [Counter] = [
        .minorFaults, .majorFaults, .contextSwitches, .cpuMigrations, .taskClock, .cycles, .instructions, .cacheMisses,
    ]
}

/// Where a counter's value comes from.
public enum CounterSource: String, Sendable, Codable {
    case perfEvent = "perf_event"
    case rusage
    case engine
}
