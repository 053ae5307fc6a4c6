import Foundation

/// Every setting of a `rectune train` run that an experiment can fix or vary: the runtime knobs
/// (what sweeps tune) and the model/data settings. The raw value is the name used in experiment
/// specs, in the result's `config` echo and in the store.
///
/// The registry (`KnobSpec.of`) gives each case its flag, domain, default, unit, help and the
/// condition under which it applies. Adding a knob is one case here, one entry in the registry, and
/// its mechanism in the engine (the engine's exhaustive `switch` over `Knob` will not compile
/// until the knob is read and echoed).
public enum Knob: String, CaseIterable, Sendable, Codable, Comparable {
    // Runtime knobs (DeepRec's optimizations and thread/placement settings).
    case executor
    case interThreads = "inter_threads"
    case intraThreads = "intra_threads"
    case intraBoost = "intra_boost"
    case costmodelStart = "costmodel_start"
    case costmodelStop = "costmodel_stop"
    case pinThreads = "pin_threads"
    case numa
    case allocator
    case allocWarmupStart = "alloc_warmup_start"
    case allocWarmupSteps = "alloc_warmup_steps"
    case mallocMmapThreshold = "malloc_mmap_threshold"
    case stage
    case stageCapacity = "stage_capacity"
    case stageThreads = "stage_threads"
    case microBatch = "micro_batch"
    case bf16
    case weightLayout = "weight_layout"
    // Model and data settings (usually fixed in a spec).
    case embeddingDim = "embedding_dim"
    case hashBuckets = "hash_buckets"
    case evalRows = "eval_rows"
    case seed
    case badRows = "bad_rows"
    case dataset
    // The contest winners' changes (identical results, different cost).
    case embFusion = "emb_fusion"
    case indicator
    case rnn

    /// The spec/config name, e.g. `micro_batch`.
    public var name: String { rawValue }
    /// The `rectune train` option, e.g. `--micro-batch`.
    public var flag: String { "--" + rawValue.replacingOccurrences(of: "_", with: "-") }
    /// Its registry entry.
    public var spec: KnobSpec { KnobSpec.of(self) }

    /// The knob named `name` in specs, or nil.
    public init?(name: String) { self.init(rawValue: name) }

    public static func < (a: Knob, b: Knob) -> Bool { a.rawValue < b.rawValue }
}

/// What values a knob takes.
public enum KnobDomain: Sendable, Equatable {
    /// One of these words.
    case choice([String])
    /// `on` or `off`.
    case onOff
    /// An integer in `min...max`.
    case integer(min: Int, max: Int)

    /// The allowed values as a human reads them (`pool, inline, costmodel`, `integer 1…1024`).
    public var description: String {
        switch self {
        case .choice(let words): words.joined(separator: ", ")
        case .onOff: "on, off"
        case .integer(let lo, let hi): hi == Int.max ? "integer ≥ \(lo)" : "integer \(lo)…\(hi)"
        }
    }

    /// The allowed words (empty for integers).
    public var words: [String] {
        switch self {
        case .choice(let w): w
        case .onOff: ["on", "off"]
        case .integer: []
        }
    }
}

/// When a knob has an effect. A knob set where it does not apply does nothing; a design that
/// varies it there wastes runs (the planner refuses or expands it jointly with its prerequisite).
public enum KnobCondition: Sendable, Equatable {
    /// Only when `knob` has one of `values` (e.g. `alloc_warmup_steps` needs `allocator: adaptive`).
    case when(Knob, isOneOf: [String])
    /// Only when `knob` has none of `values` (e.g. `inter_threads` does nothing with `executor: inline`).
    case unless(Knob, isOneOf: [String])
    /// Only for these models.
    case models([String])
    /// Only when every one of these holds.
    indirect case all([KnobCondition])

    /// Whether the condition holds for a run whose knob values are `value(knob)` and whose model is `model`.
    public func holds(model: String, value: (Knob) -> String) -> Bool {
        switch self {
        case .when(let k, let values): values.contains(value(k))
        case .unless(let k, let values): !values.contains(value(k))
        case .models(let models): models.contains(model)
        case .all(let conditions): conditions.allSatisfy { $0.holds(model: model, value: value) }
        }
    }

    /// The condition as a phrase: `allocator is adaptive`.
    public var description: String {
        switch self {
        case .when(let k, let values): "\(k.name) is \(values.joined(separator: " or "))"
        case .unless(let k, let values): "\(k.name) is not \(values.joined(separator: " or "))"
        case .models(let models): "model is \(models.joined(separator: " or "))"
        case .all(let conditions): conditions.map(\.description).joined(separator: " and ")
        }
    }

    /// A knob assignment that makes the condition hold, when one exists (for joint expansion).
    public var prerequisite: (Knob, String)? {
        switch self {
        case .when(let k, let values): values.first.map { (k, $0) }
        case .unless, .models: nil
        case .all(let conditions): conditions.count == 1 ? conditions[0].prerequisite : nil
        }
    }
}

/// Whether a knob is a runtime optimization (what sweeps vary) or a model/data setting.
public enum KnobRole: String, Sendable {
    case runtime, setting
}

/// Why a knob value was refused: the knob, the value, and what is allowed.
public struct KnobError: Error, Sendable, Equatable, CustomStringConvertible {
    public let knob: Knob
    public let value: String
    public let allowed: String
    public var description: String { "\(knob.name): '\(value)' is not allowed (allowed: \(allowed))" }
}
