import RecContract

/// The engine's side of the knob registry (`RecContract.Knob`): how each knob reads from and
/// writes to a `TrainConfig`. Both switches are exhaustive, so a knob added to the registry does
/// not compile until the engine reads and echoes it.
extension TrainConfig {
    /// The effective value of `knob` in canonical text (what the result's `config` echoes):
    /// `inter_threads` is 1 under `executor: inline`, which runs the step on the calling thread.
    public func value(of knob: Knob) -> String {
        switch knob {
        case .executor: executor.rawValue
        case .interThreads: String(executor == .inline ? 1 : interThreads)
        case .intraThreads: String(intraThreads)
        case .intraBoost: intraBoost ? "on" : "off"
        case .costmodelStart: String(costmodelStart)
        case .costmodelStop: String(costmodelStop)
        case .pinThreads: pinThreads ? "on" : "off"
        case .numa: numa.rawValue
        case .allocator: allocator.rawValue
        case .allocWarmupStart: String(allocWarmupStart)
        case .allocWarmupSteps: String(allocWarmupSteps)
        case .mallocMmapThreshold: String(mallocMmapThreshold)
        case .stage: stage ? "on" : "off"
        case .stageCapacity: String(stageCapacity)
        case .stageThreads: String(stageThreads)
        case .microBatch: String(microBatch)
        case .bf16: bf16 ? "on" : "off"
        case .weightLayout: weightLayout.rawValue
        case .embeddingDim: String(embeddingDim)
        case .hashBuckets: String(hashBuckets)
        case .evalRows: String(evalRows)
        case .seed: String(seed)
        case .badRows: badRows.rawValue
        case .dataset: dataset.rawValue
        case .embFusion: embFusion ? "on" : "off"
        case .indicator: indicator.rawValue
        case .rnn: rnn.rawValue
        }
    }

    /// Sets `knob` from text, validated against the registry's domain.
    /// - Throws: `KnobError` naming the knob, the value and what is allowed.
    public mutating func set(_ knob: Knob, _ text: String) throws(KnobError) {
        let v = try knob.spec.canonical(text)
        func int() -> Int { Int(v)! }  // canonical() checked it
        switch knob {
        case .executor: executor = ExecutorPolicy(rawValue: v)!
        case .interThreads: interThreads = int()
        case .intraThreads: intraThreads = int()
        case .intraBoost: intraBoost = v == "on"
        case .costmodelStart: costmodelStart = int()
        case .costmodelStop: costmodelStop = int()
        case .pinThreads: pinThreads = v == "on"
        case .numa: numa = NUMAPolicy(rawValue: v)!
        case .allocator: allocator = AllocatorPolicy(rawValue: v)!
        case .allocWarmupStart: allocWarmupStart = int()
        case .allocWarmupSteps: allocWarmupSteps = int()
        case .mallocMmapThreshold: mallocMmapThreshold = int()
        case .stage: stage = v == "on"
        case .stageCapacity: stageCapacity = int()
        case .stageThreads: stageThreads = int()
        case .microBatch: microBatch = int()
        case .bf16: bf16 = v == "on"
        case .weightLayout: weightLayout = WeightLayoutMode(rawValue: v)!
        case .embeddingDim: embeddingDim = int()
        case .hashBuckets: hashBuckets = int()
        case .evalRows: evalRows = int()
        case .seed: seed = UInt64(v)!
        case .badRows: badRows = BadRowPolicy(rawValue: v)!
        case .dataset: dataset = DatasetKind(rawValue: v)!
        case .embFusion: embFusion = v == "on"
        case .indicator: indicator = IndicatorMode(rawValue: v)!
        case .rnn: rnn = RNNMode(rawValue: v)!
        }
    }

    /// Every registry knob's effective value plus the run shape, keyed as in experiment specs:
    /// the result's `config` echo.
    public var echo: [String: ConfigValue] {
        var v: [String: ConfigValue] = [:]
        for knob in Knob.allCases {
            let text = value(of: knob)
            if case .integer = knob.spec.domain, let i = Int(text) { v[knob.name] = .int(i) } else { v[knob.name] = .string(text) }
        }
        v["model"] = .string(model.rawValue)
        v["batch"] = .int(batch)
        v["steps"] = .int(steps)
        v["warmup_steps"] = .int(warmupSteps)
        v["data"] = .string(dataPath ?? "synthetic:\(syntheticRows)")
        if let h = hiddenLayers { v["hidden_layers"] = .string(h.map(String.init).joined(separator: ",")) }
        if let h = bottomLayers { v["bottom_layers"] = .string(h.map(String.init).joined(separator: ",")) }
        if let lr = learningRate { v["learning_rate"] = .double(Double(lr)) }
        if let lr = wideLearningRate { v["wide_learning_rate"] = .double(Double(lr)) }
        return v
    }
}
