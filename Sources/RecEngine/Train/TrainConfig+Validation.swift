import Foundation

/// The engine's rules for a configuration, in one place: `rectune train` checks them before it
/// builds anything and `rectune plan`/`sweep` check every planned run with them, so a spec cannot
/// plan what every run would then fail on. Works on `TrainConfig` fields only.
extension TrainConfig {
    /// Checks every rule: the value ranges (`Trainer.validate`), finite non-negative learning rates,
    /// at least 2 hash buckets, an existing data file, and a memory estimate within `memoryLimit`
    /// bytes (default: 80% of this machine's memory), and whether the host can run the settings at
    /// all (`bf16Unsupported`: why oneDNN cannot run bf16 here, nil when it can; default: this host's
    /// `OneDNNInfo.bf16Unsupported`).
    /// - Throws: `EngineError.invalidConfiguration` naming the setting and its value;
    ///   `EngineError.unsupportedOnThisHost` for a valid configuration this host cannot run.
    public func validate(memoryLimit: Int? = TrainConfig.defaultMemoryLimit,
                         bf16Unsupported: String? = OneDNNInfo.bf16Unsupported) throws {
        try Trainer.validate(self, bf16Unsupported: bf16Unsupported)
        func fail(_ s: String) throws -> Never { throw EngineError.invalidConfiguration(s) }
        // 0 is allowed here (it freezes the parameters: tests read the initial weights that way);
        // `rectune train` itself asks for a positive rate.
        for (flag, lr) in [("--lr", learningRate), ("--wide-lr", wideLearningRate)] {
            if let lr, !(lr.isFinite && lr >= 0) { try fail("\(flag) must be a finite positive number, got \(lr)") }
        }
        if hashBuckets < 2 { try fail("--hash-buckets must be at least 2 (one bucket cannot tell ids apart), got \(hashBuckets)") }
        for (flag, layers) in [("--hidden-layers", hiddenLayers), ("--bottom-layers", bottomLayers)] {
            if let layers, layers.isEmpty || layers.contains(where: { $0 < 1 }) {
                try fail("\(flag) must list positive widths, got \(layers.map(String.init).joined(separator: ","))")
            }
        }
        if let path = dataPath {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { try fail("--data \(path): no such file") }
            if isDirectory.boolValue && dataset == .criteo { try fail("--data \(path): is a directory, not a Criteo TSV file") }
            if !isDirectory.boolValue && dataset != .criteo {
                try fail("--data \(path): is a file; --dataset \(dataset.rawValue) reads the contest's directory layout")
            }
        }
        if let memoryLimit {
            let estimate = estimatedMemory()
            if estimate.total > memoryLimit {
                try fail("needs about \(Self.gib(estimate.total)) of memory (\(estimate.largest.setting): \(Self.gib(estimate.largest.bytes))), "
                         + "more than the \(Self.gib(memoryLimit)) this machine allows; lower \(estimate.largest.setting)")
            }
        }
    }

    /// Bytes a run of this configuration needs, roughly: parameters with their optimizer slots,
    /// the step tensors (activations, gradients) and the data held in memory.
    public func estimatedMemoryBytes() -> Int { estimatedMemory().total }

    /// 80% of the machine's physical memory: what `validate()` lets one run use.
    public static var defaultMemoryLimit: Int { Int(Double(ProcessInfo.processInfo.physicalMemory) * 0.8) }

    /// The estimate's parts, and the one that dominates, named by the setting that drives it.
    func estimatedMemory() -> (total: Int, largest: (setting: String, bytes: Int)) {
        let columns = 26, dense = 13, float = 4
        func mul(_ xs: Int...) -> Int {  // saturating: absurd settings must not overflow into a small number
            xs.reduce(1) { a, b in let (p, o) = a.multipliedReportingOverflow(by: max(b, 0)); return o ? Int.max / 4 : p }
        }
        func add(_ xs: Int...) -> Int { xs.reduce(0) { a, b in let (s, o) = a.addingReportingOverflow(b); return o ? Int.max / 4 : s } }
        // Embedding tables (and the wide part's per-id weights) with up to two optimizer slots each (Adam).
        let embeddings = mul(columns, hashBuckets, embeddingDim + 1, float, 3)
        let hidden = hiddenLayers ?? {
            switch model {
            case .wdl: [1024, 512, 256]
            case .dlrm: [512, 256]
            case .deepfm: [400, 400, 400]
            case .mmoe: [256, 192, 128, 64]
            case .din, .dien: [200, 80, 2]
            }
        }()
        let bottom = model == .dlrm ? (bottomLayers ?? [512, 256, 64, embeddingDim]) : []
        let input = add(mul(columns, embeddingDim), dense)
        var weights = 0
        var previous = input
        for w in hidden + [1] { weights = add(weights, mul(previous, w)); previous = w }
        previous = dense
        for w in bottom { weights = add(weights, mul(previous, w)); previous = w }
        let mlp = mul(weights, float, bf16 ? 4 : 3)
        // Per sample: the gathered embeddings and every layer's activations, each with a gradient,
        // kept for forward and backward.
        let activations = add(input, hidden.reduce(0, +), bottom.reduce(0, +), model == .dlrm ? 27 * 27 : 0)
        let steps = mul(batch, activations, float, 3, stage ? stageCapacity + 1 : 1)
        let data = dataPath == nil ? mul(syntheticRows, 2 * (dense + columns) * float) : mul(evalRows, (dense + columns) * float)
        let parts: [(String, Int)] = [("--embedding-dim × --hash-buckets", embeddings), ("--hidden-layers", mlp),
                                       ("--batch", steps), (dataPath == nil ? "--synthetic-rows" : "--eval-rows", data)]
        let largest = parts.max { $0.1 < $1.1 }!
        return (add(embeddings, mlp, steps, data), (largest.0, largest.1))
    }

    static func gib(_ bytes: Int) -> String {
        bytes >= Int.max / 8 ? "more than 10^9 GiB" : String(format: "%.1f GiB", Double(bytes) / Double(1 << 30))
    }
}
