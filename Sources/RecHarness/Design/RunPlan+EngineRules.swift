import Foundation
import RecContract
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
