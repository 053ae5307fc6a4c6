/// A JSON scalar for the result's `config` object.
public enum ConfigValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case int(Int), double(Double), string(String), bool(Bool)

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int.self) { self = .int(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else { self = .string(try c.decode(String.self)) }
    }

    public var description: String {
        switch self {
        case .int(let v): String(v)
        case .double(let v): String(v)
        case .string(let v): v
        case .bool(let v): v ? "on" : "off"
        }
    }
}

/// Step-time percentiles in milliseconds.
public struct StepTimes: Sendable, Equatable, Codable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var mean: Double
    public init(p50: Double, p90: Double, p99: Double, mean: Double) {
        self.p50 = p50; self.p90 = p90; self.p99 = p99; self.mean = mean
    }
}

/// How a counter was measured, or why it could not be.
public struct CounterInfo: Sendable, Equatable, Codable {
    /// `perf_event`, `rusage` or `engine`; nil when unavailable.
    public var source: String?
    public var unit: String?
    /// True when the kernel multiplexed the event and the value was scaled by enabled/running time.
    public var scaled: Bool?
    public var timeEnabled: UInt64?
    public var timeRunning: UInt64?
    /// Why the event could not be counted (e.g. `perf_event_open: ENOENT (hardware event not supported)`).
    public var unavailable: String?

    public init(source: String? = nil, unit: String? = nil, scaled: Bool? = nil, timeEnabled: UInt64? = nil,
                timeRunning: UInt64? = nil, unavailable: String? = nil) {
        self.source = source; self.unit = unit; self.scaled = scaled
        self.timeEnabled = timeEnabled; self.timeRunning = timeRunning; self.unavailable = unavailable
    }

    enum CodingKeys: String, CodingKey {
        case source, unit, scaled, unavailable
        case timeEnabled = "time_enabled", timeRunning = "time_running"
    }
}

/// Engine identity in a result.
public struct EngineInfo: Sendable, Equatable, Codable {
    public var version: String
    public var onednnVersion: String
    public var onednnISA: String
    public var interThreads: Int
    public var intraThreads: Int
    public init(version: String, onednnVersion: String, onednnISA: String, interThreads: Int, intraThreads: Int) {
        self.version = version; self.onednnVersion = onednnVersion; self.onednnISA = onednnISA
        self.interThreads = interThreads; self.intraThreads = intraThreads
    }
    enum CodingKeys: String, CodingKey {
        case version
        case onednnVersion = "onednn_version", onednnISA = "onednn_isa"
        case interThreads = "inter_threads", intraThreads = "intra_threads"
    }
}

/// The `rectune train --json` result contract (DESIGN.md): what the harness reads from every run.
/// Counters are steady-state totals (after warm-up); `counters_warmup` covers the warm-up steps.
public struct TrainResult: Sendable, Codable {
    public var model: String
    /// Every knob's effective value.
    public var config: [String: ConfigValue]
    /// Steady-state (measured) steps, after warm-up.
    public var steps: Int
    public var warmupSteps: Int
    public var batch: Int
    /// Steady-state training throughput.
    public var samplesPerSec: Double
    public var stepMs: StepTimes
    public var auc: Double
    public var logloss: Double
    /// Logloss of the first and last steady-state training steps (learning check).
    public var trainLossFirst: Double
    public var trainLossLast: Double
    public var evalRows: Int
    public var skippedRows: Int
    public var wallS: Double
    public var counters: [String: Double]
    public var countersWarmup: [String: Double]
    public var counterInfo: [String: CounterInfo]
    public var engine: EngineInfo
    /// Per-node mean time over steady-state steps (ms) for the first micro-batch's nodes; optional profile.
    public var profile: [String: Double]?
    /// Multi-task and contest models: evaluation AUC per task (`clk`, `buy`; `clicked`); `auc` is
    /// then the contest's, pooled over the tasks.
    public var aucByTask: [String: Double]?
    /// Contest models: the contest's timed window in seconds — parameter and table creation and
    /// initialisation, session setup, the start checkpoint, every step (warm-up included) and the
    /// end checkpoint; not graph building, data reading or evaluation. What the contest scores.
    public var contestSeconds: Double?
    /// Contest models: seconds spent writing checkpoints (inside `contest_seconds`); 0 without `--checkpoint`.
    public var checkpointSeconds: Double?

    public init(model: String, config: [String: ConfigValue], steps: Int, warmupSteps: Int, batch: Int,
                samplesPerSec: Double, stepMs: StepTimes, auc: Double, logloss: Double,
                trainLossFirst: Double, trainLossLast: Double, evalRows: Int, skippedRows: Int, wallS: Double,
                counters: [String: Double], countersWarmup: [String: Double], counterInfo: [String: CounterInfo],
                engine: EngineInfo, profile: [String: Double]? = nil) {
        self.model = model; self.config = config; self.steps = steps; self.warmupSteps = warmupSteps
        self.batch = batch; self.samplesPerSec = samplesPerSec; self.stepMs = stepMs; self.auc = auc
        self.logloss = logloss; self.trainLossFirst = trainLossFirst; self.trainLossLast = trainLossLast
        self.evalRows = evalRows; self.skippedRows = skippedRows; self.wallS = wallS; self.counters = counters
        self.countersWarmup = countersWarmup; self.counterInfo = counterInfo; self.engine = engine
        self.profile = profile
    }

    /// The contract's keys as they appear in the JSON, in declaration order; every key but
    /// `profile` is required. The README table and the harness's strict decoding use this list.
    public static let keys: [String] = CodingKeys.allCases.map(\.rawValue)
    /// A number the engine could not produce (an AUC of a one-class evaluation slice, a diverged
    /// loss) is written as `null` with a reason under `<key>` + this suffix: `"auc_unavailable": "…"`.
    public static let unavailableSuffix = "_unavailable"

    /// Keys a result may omit.
    public static let optionalKeys: Set<String> = [CodingKeys.profile.rawValue, CodingKeys.aucByTask.rawValue,
                                                   CodingKeys.contestSeconds.rawValue, CodingKeys.checkpointSeconds.rawValue]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, config, steps, batch, auc, logloss, counters, engine, profile
        case warmupSteps = "warmup_steps", samplesPerSec = "samples_per_sec", stepMs = "step_ms"
        case trainLossFirst = "train_loss_first", trainLossLast = "train_loss_last"
        case evalRows = "eval_rows", skippedRows = "skipped_rows", wallS = "wall_s"
        case countersWarmup = "counters_warmup", counterInfo = "counter_info", aucByTask = "auc_by_task"
        case contestSeconds = "contest_seconds", checkpointSeconds = "checkpoint_seconds"
    }
}
