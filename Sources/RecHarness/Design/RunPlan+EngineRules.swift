import Foundation
import RecContract
import RecEngine

/// A planned configuration that is valid but that this host cannot run (e.g. `bf16: on` where
/// oneDNN has no bf16 GEMM): the sweep leaves its runs out and says why.
public struct UnsupportedConfiguration: Sendable, Equatable {
    public var config: RunConfig
    /// The engine's reason (`EngineError.unsupportedOnThisHost`).
    public var reason: String
}

extension RunPlan {
    /// For an `engine: rectune` spec, checks every planned configuration with the engine's own rules
    /// (`TrainConfig.validate`: value ranges, learning rates, hash buckets, the data file, and the
    /// memory estimate against this machine), so `plan` and `sweep` refuse what every run would fail
    /// on. External commands are not checked.
    ///
    /// A configuration that is valid but that this host cannot run (`bf16Unsupported`: why oneDNN
    /// cannot run bf16 here; default: this host's) is not an error: it is returned, for the caller
    /// to leave out with `leavingOut(_:)` and report. The baseline is never left out: a baseline
    /// this host cannot run is an error, since nothing could be compared with it.
    /// - Throws: `DesignError` naming the configuration and the engine's reason.
    @discardableResult
    public func checkEngineRules(spec: ExperimentSpec, bf16Unsupported: String? = OneDNNInfo.bf16Unsupported) throws -> [UnsupportedConfiguration] {
        var unsupported: [UnsupportedConfiguration] = []
        for config in configs {
            guard let reason = try spec.reasonNotRunnableHere(config, bf16Unsupported: bf16Unsupported) else { continue }
            if config.values == baseline.values {
                throw DesignError(message: "the baseline [\(config)] cannot run on this host: \(reason)")
            }
            unsupported.append(UnsupportedConfiguration(config: config, reason: reason))
        }
        return unsupported
    }

    /// The plan this host runs: `checkEngineRules` then `leavingOut`, with one line per configuration
    /// left out ("[label] (N runs): reason", without the "not run on this host: " prefix). `plan`,
    /// `sweep --dry-run` and the runner all use it, so they agree on what runs and what they say.
    /// - Throws: `DesignError` as `checkEngineRules` does.
    public func runnableHere(spec: ExperimentSpec, bf16Unsupported: String? = OneDNNInfo.bf16Unsupported) throws -> (plan: RunPlan, notRunHere: [String]) {
        let unsupported = try checkEngineRules(spec: spec, bf16Unsupported: bf16Unsupported)
        let plan = leavingOut(unsupported)
        let lines = unsupported.map { u in
            "[\(u.config.label(relativeTo: plan.baseline))] (\(runs.count { $0.config == u.config }) runs): \(u.reason)"
        }
        return (plan, lines)
    }

    /// The plan without the runs of `unsupported`'s configurations (the other runs keep their numbers).
    public func leavingOut(_ unsupported: [UnsupportedConfiguration]) -> RunPlan {
        let left = Set(unsupported.map(\.config))
        var plan = self
        plan.configs.removeAll { left.contains($0) }
        plan.runs.removeAll { left.contains($0.config) }
        return plan
    }
}

extension ExperimentSpec {
    /// Why this host cannot run `config` of an `engine: rectune` spec although the configuration is
    /// valid (`EngineError.unsupportedOnThisHost`: `bf16: on` where oneDNN has no bf16,
    /// `bf16Unsupported` saying why); nil when it can, and for external commands (not checked).
    /// - Throws: `DesignError` for a configuration every run would fail on (the engine's rules).
    public func reasonNotRunnableHere(_ config: RunConfig, bf16Unsupported: String? = OneDNNInfo.bf16Unsupported) throws -> String? {
        guard case .rectune = engine else { return nil }
        let train: TrainConfig
        do { train = try TrainConfig(spec: self, values: fixed.merging(config.values) { _, knob in knob }) } catch {
            throw DesignError(message: "configuration [\(config)]: \(error)")
        }
        do { try train.validate(bf16Unsupported: bf16Unsupported) } catch let e as EngineError {
            switch e {
            case .invalidConfiguration(let reason):
                throw DesignError(message: "configuration [\(config)] would fail in every run: \(reason)")
            case .unsupportedOnThisHost(let reason):
                return reason
            }
        }
        return nil
    }
}

extension TrainConfig {
    /// The engine configuration a run of `spec` with knob/setting `values` (spec names) trains
    /// with: the run shape from the spec, every registry knob through `TrainConfig.set` (the
    /// registry's domains; the validator has already refused names outside it).
    /// - Throws: `DesignError` for a value outside a knob's domain.
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
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let knob = Knob(name: name) else { continue }
            do { try set(knob, value) } catch { throw DesignError(message: error.description) }
        }
    }
}

extension SearchSpace {
    /// The space without the values this host cannot run (`bf16: on` where oneDNN has no bf16:
    /// `bf16Unsupported`, default this host's reason), and one line per value left out; a knob left
    /// with its baseline value alone is no longer searched. The baseline's own values stay (a
    /// baseline this host cannot run fails as its runs do).
    public func leavingOutUnsupported(bf16Unsupported: String? = OneDNNInfo.bf16Unsupported) -> (space: SearchSpace, notRunHere: [String]) {
        guard let bf16Unsupported, let i = dimensions.firstIndex(where: { $0.name == Knob.bf16.name }) else { return (self, []) }
        var space = self
        let dimension = dimensions[i]
        guard dimension.values.contains("on"), dimension.baseline != "on" else { return (self, []) }
        space.dimensions[i].values = dimension.values.filter { $0 == dimension.baseline || $0 != "on" }
        if space.dimensions[i].values.count < 2 { space.dimensions.remove(at: i) }
        return (space, ["bf16=on: --bf16 on: \(bf16Unsupported)"])
    }
}
