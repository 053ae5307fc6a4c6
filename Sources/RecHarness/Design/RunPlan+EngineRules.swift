import Foundation
import RecEngine

extension RunPlan {
    /// For an `engine: rectune` spec, checks every planned configuration with the engine's own rules
    /// (`TrainConfig.validate`: value ranges, learning rates, hash buckets, the data file, and the
    /// memory estimate against this machine), so `plan` and `sweep` refuse what every run would fail
    /// on. External commands are not checked.
    /// - Throws: `DesignError` naming the configuration and the engine's reason.
    public func checkEngineRules(spec: ExperimentSpec) throws {
        guard case .rectune = spec.engine else { return }
        for config in configs {
            let train: TrainConfig
            do { train = try TrainConfig(spec: spec, values: spec.fixed.merging(config.values) { _, knob in knob }) } catch {
                throw DesignError(message: "configuration [\(config)]: \(error)")
            }
            do { try train.validate() } catch let e as EngineError {
                let reason = e.description.replacingOccurrences(of: "invalid configuration: ", with: "")
                throw DesignError(message: "configuration [\(config)] would fail in every run: \(reason)")
            }
        }
    }
}

extension TrainConfig {
    /// The engine configuration a run of `spec` with knob/setting `values` (spec names) trains with.
    /// Until the typed knob registry exists this is the one place that maps spec names to fields.
    /// - Throws: `DesignError` for a value that is not a number where one is needed.
    init(spec: ExperimentSpec, values: [String: String]) throws {
        self.init()
        if let m = ModelKind(rawValue: spec.model) { model = m }
        batch = spec.batch
        steps = spec.steps
        warmupSteps = spec.warmupSteps
        switch spec.data {
        case .synthetic(let rows, let seed): syntheticRows = rows; self.seed = seed
        case .file(let path): dataPath = path
        }
        func int(_ key: String) throws -> Int? {
            guard let v = values[key] else { return nil }
            guard let i = Int(v) else { throw DesignError(message: "\(key): '\(v)' is not an integer") }
            return i
        }
        func on(_ key: String) -> Bool? { values[key].map { $0 == "on" || $0 == "true" } }
        if let v = values["executor"], let e = ExecutorPolicy(rawValue: v) { executor = e }
        if let v = values["allocator"], let a = AllocatorPolicy(rawValue: v) { allocator = a }
        if let v = values["numa"], let n = NUMAPolicy(rawValue: v) { numa = n }
        if let v = values["bad_rows"], let b = BadRowPolicy(rawValue: v) { badRows = b }
        if let v = try int("inter_threads") { interThreads = v }
        if let v = try int("intra_threads") { intraThreads = v }
        if let v = try int("costmodel_start") { costmodelStart = v }
        if let v = try int("costmodel_stop") { costmodelStop = v }
        if let v = try int("alloc_warmup_start") { allocWarmupStart = v }
        if let v = try int("alloc_warmup_steps") { allocWarmupSteps = v }
        if let v = try int("malloc_mmap_threshold") { mallocMmapThreshold = v }
        if let v = try int("stage_capacity") { stageCapacity = v }
        if let v = try int("stage_threads") { stageThreads = v }
        if let v = try int("micro_batch") { microBatch = v }
        if let v = try int("embedding_dim") { embeddingDim = v }
        if let v = try int("hash_buckets") { hashBuckets = v }
        if let v = try int("eval_rows") { evalRows = v }
        if let v = on("stage") { stage = v }
        if let v = on("bf16") { bf16 = v }
        if let v = on("pin_threads") { pinThreads = v }
    }
}
