import Foundation
import Synchronization

/// Evaluates trials as real runs of the spec's engine through the sweep machinery: every trial is
/// a run in the store (claimed, run as a fresh process group with the spec's timeout, stored with
/// its metrics and run folder), so an interrupted tune (Ctrl-C, kill -9) continues with `--resume`
/// without rerunning what finished.
///
/// A scale is an experiment of its own in the store, named `<spec name>.tune@<scale>`, whose spec
/// is the tune spec with `steps` and `warmup_steps` multiplied by the scale and `repeat_seed: vary`
/// (trial repeat r trains with seed base + r). A trial is the run (configuration hash, repeat).
public final class StoreTrialEvaluator: TuneEvaluator, @unchecked Sendable {
    public let loaded: LoadedSpec
    public let store: ResultStore
    public let options: SweepOptions
    public let objective: String
    public let constraintMetric: String?
    private let host: HostFingerprint
    /// The tune's baseline (progress lines label runs relative to it).
    public var baseline: TuneConfig? = nil
    private var stages: [Double: LoadedSpec] = [:]
    private var storedRuns: [Double: [RunKey: RunRecord]] = [:]
    private let runners = Mutex<[SweepRunner]>([])
    private let stopFlag = Atomic<Bool>(false)

    public init(spec: LoadedSpec, store: ResultStore, options: SweepOptions, settings: TuneSettings) {
        self.loaded = spec; self.store = store; self.options = options
        self.objective = settings.objective; self.constraintMetric = settings.constraint?.metric
        self.host = options.host ?? HostFingerprintCollector.current()
    }

    /// Stops the running trial (its process group is killed, the run marked interrupted).
    public func requestStop() {
        stopFlag.store(true, ordering: .relaxed)
        runners.withLock { $0.forEach { $0.requestStop() } }
    }

    /// The experiment spec that runs trials at `scale`.
    public func stageSpec(_ scale: Double) -> LoadedSpec {
        if let s = stages[scale] { return s }
        var spec = loaded.spec
        spec.tune = nil
        spec.name = Self.stageName(loaded.spec.name, scale: scale)
        spec.steps = max(1, Int((Double(loaded.spec.steps) * scale).rounded()))
        spec.warmupSteps = Int((Double(loaded.spec.warmupSteps) * scale).rounded())
        spec.repeatSeed = .vary
        spec.repeats = 1
        spec.factors = []
        spec.design = .ablation
        spec.claims = []
        let text = loaded.text + "\n# rectune tune stage at scale \(TuneFormat.number(scale)): steps \(spec.steps), warmup_steps \(spec.warmupSteps), repeat_seed vary\n"
        let stage = LoadedSpec(spec: spec, text: text, path: loaded.path)
        stages[scale] = stage
        return stage
    }

    /// `<name>.tune@<scale>`.
    public static func stageName(_ name: String, scale: Double) -> String { "\(name).tune@\(TuneFormat.number(scale))" }

    /// Whether the store holds any trial of this tune on this host (for `--resume`).
    public func hasStoredTrials(scales: [Double]) throws -> Bool {
        for s in scales {
            let stage = stageSpec(s)
            if try store.existingExperiment(name: stage.spec.name, specHash: stage.hash, host: host) != nil { return true }
        }
        return false
    }

    func runConfig(_ c: TuneConfig) -> RunConfig {
        RunConfig(keys: c.values.keys.sorted(), values: c.values)
    }

    public func stored(_ trial: Trial) throws -> TrialResult? {
        let stage = stageSpec(trial.scale)
        if storedRuns[trial.scale] == nil {
            var byKey: [RunKey: RunRecord] = [:]
            if let e = try store.existingExperiment(name: stage.spec.name, specHash: stage.hash, host: host) {
                for r in try store.runs(experimentID: e.id) where r.status != .running && r.status != .interrupted {
                    let key = RunKey(configHash: r.configHash, repeatIndex: r.repeatIndex)
                    // An ok run wins over a failed one of the same trial; else the latest.
                    if let old = byKey[key], old.status == .ok, r.status != .ok { continue }
                    byKey[key] = r
                }
            }
            storedRuns[trial.scale] = byKey
        }
        let key = RunKey(configHash: RunPlan.configHash(runConfig(trial.config), spec: stage.spec), repeatIndex: trial.repeatIndex)
        return storedRuns[trial.scale]?[key].map { result($0, stage: stage) }
    }

    public func run(_ trial: Trial, timeLimit: Double?) async throws -> TrialResult? {
        if stopFlag.load(ordering: .relaxed) { return nil }
        let stage = stageSpec(trial.scale)
        let config = runConfig(trial.config)
        let hash = RunPlan.configHash(config, spec: stage.spec)
        let plan = RunPlan(configs: [config], baseline: baseline.map(runConfig) ?? config,
                           runs: [PlannedRun(number: 1, config: config, repeatIndex: trial.repeatIndex, configHash: hash)])
        var runOptions = options
        if let timeLimit {
            // The run is killed (status timeout) once over the limit; never later than the spec's own timeout.
            let specTimeout = stage.spec.timeoutSeconds > 0 ? stage.spec.timeoutSeconds : .infinity
            runOptions.timeoutOverride = max(SpecParser.limits.minTimeout, min(timeLimit, specTimeout))
        }
        let runner = SweepRunner(store: store, options: runOptions)
        runners.withLock { $0.append(runner) }
        defer { runners.withLock { $0.removeAll { $0 === runner } } }
        if stopFlag.load(ordering: .relaxed) { return nil }
        let summary = try await runner.run(stage, plan: plan)
        if let failure = summary.storeFailure { throw TuneError(message: "store failure: \(failure)") }
        if summary.interrupted { return nil }
        storedRuns[trial.scale] = nil
        if let id = summary.runIDs.last, let record = try store.runs(ids: [id]).first { return result(record, stage: stage) }
        // Claimed by another process or already stored: read it back.
        return try stored(trial)
    }

    func result(_ r: RunRecord, stage: LoadedSpec) -> TrialResult {
        guard r.status == .ok else {
            let detail = r.exitCode.map { " (exit \($0))" } ?? r.signal.map { " (signal \($0))" } ?? ""
            // Pruned: stopped by the tuner's limit, i.e. before the spec's own timeout.
            let specTimeout = stage.spec.timeoutSeconds > 0 ? stage.spec.timeoutSeconds : .infinity
            let pruned = r.status == .timeout && r.durationSeconds < specTimeout ? " — \(TrialResult.prunedFailure)" : ""
            return TrialResult(objective: nil, cost: r.durationSeconds, failure: "run \(r.id) \(r.status.rawValue)\(detail)\(pruned)")
        }
        let steps = RunMetrics.steadySteps(stage.spec)
        let o = RunMetrics.value(objective, in: r, steadySteps: steps)
        let c = constraintMetric.flatMap { RunMetrics.value($0, in: r, steadySteps: steps) }
        var failure: String? = nil
        if o == nil { failure = "run \(r.id) has no \(objective)" }
        else if let m = constraintMetric, c == nil { failure = "run \(r.id) has no \(m)" }
        return TrialResult(objective: o, constraint: c, cost: r.durationSeconds, failure: failure)
    }
}

/// A tune that cannot go on (a store failure, a bad space).
public struct TuneError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

extension RunPlan {
    /// A plan of exactly these runs (the tuner's trials), not expanded from a spec's design.
    public init(configs: [RunConfig], baseline: RunConfig, runs: [PlannedRun]) {
        self.configs = configs; self.baseline = baseline; self.runs = runs
    }
}
