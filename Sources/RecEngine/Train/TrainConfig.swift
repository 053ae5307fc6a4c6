/// Which model to train.
public enum ModelKind: String, Sendable, CaseIterable, Codable {
    case wdl, dlrm, deepfm
    /// Multi-gate mixture of experts (the contest's Taobao model; `--dataset taobao` only).
    case mmoe
    /// Deep Interest Network (the contest's Amazon Books model: attention over the history).
    case din
    /// Deep Interest Evolution Network (GRU, auxiliary loss, attention-gated GRU; Amazon Books).
    case dien

    /// The models with a Criteo version.
    public static let criteoModels: [ModelKind] = [.wdl, .dlrm, .deepfm]
}

/// Which data set (and file layout) a run reads.
public enum DatasetKind: String, Sendable, CaseIterable, Codable {
    /// Criteo TSV (one file; the last `evalRows` rows are held out). The Criteo models' default.
    case criteo
    /// The contest's Ele.me directory (`train.csv`, `eval.csv`): WDL, DeepFM, DLRM.
    case eleme
    /// The contest's Taobao directory (`taobao_train_data`, `taobao_test_data`): MMoE.
    case taobao
    /// The contest's Amazon Books directory (`local_{train,test}_splitByUser`, `*_neg`, vocabularies): DIN, DIEN.
    case amazonBooks = "amazon-books"

    /// The contest format, nil for Criteo.
    public var contestFormat: ContestFormat? {
        switch self {
        case .criteo: nil
        case .eleme: .eleme
        case .taobao: .taobao
        case .amazonBooks: .amazonBooks
        }
    }
}

/// Executor policy for a step graph (DeepRec: pool / inline / cost model).
public enum ExecutorPolicy: String, Sendable, CaseIterable, Codable {
    case pool, inline, costmodel
}

/// Step-tensor allocator policy.
public enum AllocatorPolicy: String, Sendable, CaseIterable, Codable {
    case system, adaptive
}

/// NUMA placement policy (libnuma).
public enum NUMAPolicy: String, Sendable, CaseIterable, Codable {
    case off, local, interleave
}

/// What to do with a malformed input row.
public enum BadRowPolicy: String, Sendable, CaseIterable, Codable {
    /// Count and skip.
    case skip
    /// Stop with the file, line and reason.
    case fail
}

/// Every knob of a training run. The effective values are echoed in the result's `config`.
public struct TrainConfig: Sendable, Codable, Equatable {
    public var model: ModelKind = .wdl
    /// The data set and its layout; `dataPath` is a directory for the contest data sets.
    public var dataset: DatasetKind = .criteo
    /// Criteo-format TSV; nil means generate `syntheticRows` rows in memory.
    public var dataPath: String? = nil
    /// Contest models: save a checkpoint (every parameter and optimizer slot) here at the start and
    /// at the end of training, inside the timed window (`Checkpoint`). Not a knob: a path.
    public var checkpointDirectory: String? = nil
    /// Contest models: resume from this checkpoint (a file or a checkpoint directory) before training.
    public var restoreFrom: String? = nil
    public var syntheticRows: Int = 100_000
    public var batch: Int = 512
    public var steps: Int = 200
    public var warmupSteps: Int = 50
    /// Rows held out (taken from the end of the data) for evaluation.
    public var evalRows: Int = 10_000
    public var seed: UInt64 = 1
    public var badRows: BadRowPolicy = .skip

    // Model shape
    public var embeddingDim: Int = 16
    public var hashBuckets: Int = 10_000
    /// Hidden layers of the main MLP (WDL deep part, DLRM top MLP, DeepFM DNN); nil = model default.
    public var hiddenLayers: [Int]? = nil
    /// DLRM bottom MLP; nil = default [512, 256, 64, dim].
    public var bottomLayers: [Int]? = nil
    /// Learning rates; nil = model default (DESIGN.md).
    public var learningRate: Float? = nil
    public var wideLearningRate: Float? = nil

    // Knobs
    public var executor: ExecutorPolicy = .pool
    public var interThreads: Int = 2
    public var intraThreads: Int = 1
    /// `intra_boost`: a dense node that runs alone gets the executor's whole thread budget (`IntraOpBoost`).
    public var intraBoost: Bool = false
    public var costmodelStart: Int = 10
    public var costmodelStop: Int = 20
    public var pinThreads: Bool = false
    public var numa: NUMAPolicy = .off
    public var allocator: AllocatorPolicy = .system
    public var allocWarmupStart: Int = 5
    public var allocWarmupSteps: Int = 10
    /// glibc `M_MMAP_THRESHOLD` in bytes, set with `mallopt` before training; 0 keeps glibc's
    /// default, whose threshold adapts upward (to at most 32 MiB) when mmapped chunks are freed.
    public var mallocMmapThreshold: Int = 0
    public var stage: Bool = false
    public var stageCapacity: Int = 4
    public var stageThreads: Int = 1
    public var microBatch: Int = 1
    public var bf16: Bool = false
    /// `weight_layout`: fp32 dense layers take oneDNN's preferred weight layout or the fastest timed one.
    public var weightLayout: WeightLayoutMode = .onednn
    /// Contest models: one lookup and one update node for all embedding tables (DeepRec's
    /// embedding fusion, on in the contest baseline) or one per table.
    public var embFusion: Bool = true
    /// Contest DeepFM: materialize the multi-hot wide input (the contest baseline) or compute its sums from the ids.
    public var indicator: IndicatorMode = .dense
    /// DIEN's recurrent layers: one graph node per step and operation, or one per layer and direction.
    public var rnn: RNNMode = .unfused

    public init() {}
}
