import Foundation

/// One row of the knob registry: everything the CLI, the engine's and the spec's validation, the
/// run command line, the result's `config` echo and the README table know about a knob.
public struct KnobSpec: Sendable {
    public let knob: Knob
    public let role: KnobRole
    public let domain: KnobDomain
    /// The default as text, in the domain's spelling (`pool`, `off`, `10`).
    public let defaultValue: String
    /// Unit of an integer knob (`steps`, `threads`, `bytes`); empty for words.
    public let unit: String
    /// One line for `--help` and the README.
    public let help: String
    /// When it has an effect; nil means always.
    public let appliesWhen: KnobCondition?

    public var name: String { knob.name }
    public var flag: String { knob.flag }

    /// `value` in canonical spelling when the domain allows it (integers lose leading `+`/zeros).
    /// - Throws: `KnobError` naming the knob, the value and what is allowed.
    public func canonical(_ value: String) throws(KnobError) -> String {
        let text = value.trimmingCharacters(in: .whitespaces)
        switch domain {
        case .choice(let words):
            if words.contains(text) { return text }
        case .onOff:
            switch text.lowercased() {
            case "on", "true", "yes", "1": return "on"
            case "off", "false", "no", "0": return "off"
            default: break
            }
        case .integer(let lo, let hi):
            if let v = Int(text), v >= lo, v <= hi { return String(v) }
        }
        throw KnobError(knob: knob, value: value, allowed: domain.description)
    }

    /// Whether this knob has an effect for `model` when the other knobs are `value(knob)`.
    public func applies(model: String, value: (Knob) -> String) -> Bool {
        appliesWhen?.holds(model: model, value: value) ?? true
    }

    /// The help line with allowed values and default, as `--help` shows it.
    public var helpLine: String {
        var parts = [help]
        switch domain {
        case .integer: parts.append("(\(domain.description)\(unit.isEmpty ? "" : " " + unit); default \(defaultValue))")
        default: parts.append("(\(domain.description); default \(defaultValue))")
        }
        if let c = appliesWhen { parts.append("Applies when \(c.description).") }
        return parts.joined(separator: " ")
    }
}

extension KnobSpec {
    private static let unbounded = Int.max

    /// The registry: one entry per `Knob`, in `Knob.allCases` order.
    public static let all: [KnobSpec] = Knob.allCases.map(make)

    /// The registry entry of `knob`.
    public static func of(_ knob: Knob) -> KnobSpec { all[Knob.allCases.firstIndex(of: knob)!] }

    /// The runtime knobs (what sweeps usually vary).
    public static var runtime: [KnobSpec] { all.filter { $0.role == .runtime } }

    private static func make(_ knob: Knob) -> KnobSpec {
        func entry(_ role: KnobRole, _ domain: KnobDomain, _ defaultValue: String, _ unit: String = "",
                   help: String, when condition: KnobCondition? = nil) -> KnobSpec {
            KnobSpec(knob: knob, role: role, domain: domain, defaultValue: defaultValue, unit: unit, help: help,
                     appliesWhen: condition)
        }
        switch knob {
        case .executor:
            return entry(.runtime, .choice(["pool", "inline", "costmodel"]), "pool",
                         help: "Step executor: work-stealing inter-op pool, inline (the whole step on one thread), or costmodel (critical-path priorities and batching of cheap nodes after a profiling window).")
        case .interThreads:
            return entry(.runtime, .integer(min: 1, max: 256), "2", "threads",
                         help: "Inter-op executor worker threads.", when: .unless(.executor, isOneOf: ["inline"]))
        case .intraThreads:
            return entry(.runtime, .integer(min: 1, max: 256), "1", "threads",
                         help: "oneDNN (OpenMP) threads per op; on 2 cores, 2 inter-op workers × 2 OpenMP threads oversubscribe.")
        case .intraBoost:
            return entry(.runtime, .onOff, "off",
                         help: "Run a dense layer's product with the executor's whole thread budget (inter_threads × intra_threads OpenMP threads, at most the CPUs) while no other node is running or runnable, with intra_threads otherwise; never two enlarged teams at once. Results may differ from off in the last bits.",
                         when: .unless(.executor, isOneOf: ["inline"]))
        case .costmodelStart:
            return entry(.runtime, .integer(min: 0, max: unbounded), "10", "steps",
                         help: "First step the cost model profiles.", when: .when(.executor, isOneOf: ["costmodel"]))
        case .costmodelStop:
            return entry(.runtime, .integer(min: 1, max: unbounded), "20", "steps",
                         help: "Step at which the cost-model schedule takes over (after costmodel_start).",
                         when: .when(.executor, isOneOf: ["costmodel"]))
        case .pinThreads:
            return entry(.runtime, .onOff, "off", help: "Pin executor threads to CPUs.")
        case .numa:
            return entry(.runtime, .choice(["off", "local", "interleave"]), "off", help: "NUMA memory policy (libnuma).")
        case .allocator:
            return entry(.runtime, .choice(["system", "adaptive"]), "system",
                         help: "Step-tensor allocator: malloc/free per tensor, or a pool planned from the sizes and lifetimes recorded in the warm-up window.")
        case .allocWarmupStart:
            return entry(.runtime, .integer(min: 0, max: unbounded), "5", "steps",
                         help: "First step the adaptive allocator records.", when: .when(.allocator, isOneOf: ["adaptive"]))
        case .allocWarmupSteps:
            return entry(.runtime, .integer(min: 1, max: unbounded), "10", "steps",
                         help: "Steps the adaptive allocator records before planning.", when: .when(.allocator, isOneOf: ["adaptive"]))
        case .mallocMmapThreshold:
            // glibc refuses thresholds above HEAP_MAX/2 = 32 MiB on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
            return entry(.runtime, .integer(min: 0, max: 32 << 20), "0", "bytes",
                         help: "glibc M_MMAP_THRESHOLD set with mallopt before training; 0 keeps glibc's adaptive default.")
        case .stage:
            return entry(.runtime, .onOff, "off", help: "Prepare batches ahead on producer threads into a bounded queue (off: each step parses its own batch, split across the inter-op workers).")
        case .stageCapacity:
            return entry(.runtime, .integer(min: 1, max: 1024), "4", "batches",
                         help: "Batches the stage queue holds.", when: .when(.stage, isOneOf: ["on"]))
        case .stageThreads:
            return entry(.runtime, .integer(min: 1, max: 64), "1", "threads",
                         help: "Stage producer threads.", when: .when(.stage, isOneOf: ["on"]))
        case .microBatch:
            return entry(.runtime, .integer(min: 1, max: 1024), "1", "micro-batches",
                         help: "Micro-batches per step: forward/backward subgraphs in one step graph, gradients accumulated, one update (the contest WDL, DLRM and MMoE take their towers' hidden-layer weight gradients in one product over the whole batch).")
        case .bf16:
            return entry(.runtime, .onOff, "off", help: "Matrix products in bf16 through oneDNN (fp32 accumulation and master weights): the MLP layers (the one-output logit layer of WDL, DLRM and DeepFM stays fp32, as in the contest scripts); for din and dien also the attention and GRU/AUGRU products.")
        case .weightLayout:
            return entry(.runtime, .choice(["onednn", "timed"]), "onednn",
                         help: "Layout of each fp32 dense layer's weights: onednn, the one oneDNN's forward primitive asks for; timed, whichever of that, [out][in] and [in][out] (each plain one with oneDNN's backward-weights primitive or with a GEMM on a transposed copy of the input or output gradient, and with forward reading the weights or a copy of them in the other plain layout, refreshed after each update) runs the layer's forward, backward-data and backward-weights fastest at the run's micro-batch rows, timed when the model is built (once per shape and thread count per process, or read from the file RECTUNE_LAYOUT_CHOICES names, which a process that times records: sweeps name <store folder>/runs/weight-layout-choices.json, so their runs share one choice per shape and host; oneDNN's stays unless another is 3% faster; layers under 65,536 weights keep oneDNN's). Results may differ from onednn in the last bits.",
                         when: .when(.bf16, isOneOf: ["off"]))
        case .embeddingDim:
            return entry(.setting, .integer(min: 1, max: 1024), "16", help: "Embedding dimension.")
        case .hashBuckets:
            return entry(.setting, .integer(min: 2, max: 1 << 28), "10000", "rows", help: "Hash buckets per categorical column.")
        case .evalRows:
            return entry(.setting, .integer(min: 0, max: unbounded), "10000", "rows",
                         help: "Rows evaluated for AUC and logloss: criteo, held out from the end of the data; eleme/taobao/amazon-books, the first N rows of the evaluation file (0 = all of it, the default with --data).")
        case .seed:
            return entry(.setting, .integer(min: 0, max: unbounded), "1",
                         help: "Random seed of data generation and initialization.")
        case .badRows:
            return entry(.setting, .choice(["skip", "fail"]), "skip",
                         help: "Malformed rows: skip (count them) or fail (stop with file, line and reason).")
        case .dataset:
            return entry(.setting, .choice(["criteo", "eleme", "taobao", "amazon-books"]), "criteo",
                         help: "Data set and layout: criteo (TSV; wdl, dlrm, deepfm), the contest's eleme directory (wdl, deepfm, dlrm as the contest scripts build them), taobao (mmoe; implied by --model mmoe) or amazon-books (din, dien; table sizes from the directory's vocabulary files).")
        case .embFusion:
            return entry(.runtime, .onOff, "on",
                         help: "Contest models: one lookup and one update node for all embedding tables (DeepRec's embedding fusion) or one per table.",
                         when: .unless(.dataset, isOneOf: ["criteo"]))
        case .indicator:
            return entry(.runtime, .choice(["dense", "scatter"]), "dense",
                         help: "Contest DeepFM's wide input: dense materializes the multi-hot tensor every step (the contest baseline), scatter sums from the ids (the champion's fix).",
                         when: .all([.models(["deepfm"]), .when(.dataset, isOneOf: ["eleme"])]))
        case .rnn:
            return entry(.runtime, .choice(["unfused", "fused"]), "unfused",
                         help: "Contest DIEN's GRU and AUGRU: unfused runs several graph nodes per time step (gate matmul, candidate matmul, state update; the contest baseline), fused one node per layer and direction with whole-sequence input GEMMs (the champion's change).",
                         when: .models(["dien"]))
        }
    }
}

extension KnobSpec {
    /// The README's knob table (Markdown), generated from the registry; a test keeps the README in sync.
    public static func markdownTable() -> String {
        var lines = ["| knob (spec name) | flag | values | default | applies when | what it does |", "|---|---|---|---|---|---|"]
        for s in all {
            let values = s.domain.description + (s.unit.isEmpty ? "" : " (\(s.unit))")
            let when = s.appliesWhen?.description ?? "always"
            lines.append("| \(s.name) | `\(s.flag)` | \(values) | \(s.defaultValue) | \(when) | \(s.help) |")
        }
        return lines.joined(separator: "\n")
    }
}
