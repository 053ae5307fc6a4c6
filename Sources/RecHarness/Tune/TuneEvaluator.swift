import Foundation
import RecStats

/// One evaluation the tuner asks for: a configuration at a scale (step-count multiplier), and
/// the repeat index at that scale (repeats vary the seed, so a repeat is a real replicate).
public struct Trial: Sendable, Hashable, CustomStringConvertible {
    public var config: TuneConfig
    public var scale: Double
    public var repeatIndex: Int
    public init(config: TuneConfig, scale: Double, repeatIndex: Int) {
        self.config = config; self.scale = scale; self.repeatIndex = repeatIndex
    }
    public var description: String { "[\(config)] @\(TuneFormat.number(scale)) #\(repeatIndex + 1)" }
}

/// What one trial measured.
public struct TrialResult: Sendable, Equatable {
    /// The objective metric (nil when the trial failed or did not produce it).
    public var objective: Double?
    /// The constraint metric (nil when there is no constraint or it was not produced).
    public var constraint: Double?
    /// Wall seconds the trial took (what the budget counts).
    public var cost: Double
    /// Why the trial failed; nil when it ran to completion.
    public var failure: String?

    public init(objective: Double?, constraint: Double? = nil, cost: Double, failure: String? = nil) {
        self.objective = objective; self.constraint = constraint; self.cost = cost; self.failure = failure
    }

    public var ok: Bool { failure == nil && objective != nil }

    /// The failure text of a trial the tuner stopped for running too long.
    public static let prunedFailure = "pruned: slower than the limit"
    public var pruned: Bool { failure?.contains(Self.prunedFailure) ?? false }
}

/// What evaluates trials: the store-backed engine runs (`StoreTrialEvaluator`) or a synthetic
/// objective (`SyntheticObjective`) in tests and the benchmark.
public protocol TuneEvaluator: AnyObject {
    /// The result of `trial` when an earlier (interrupted) tune already ran it; nil otherwise.
    func stored(_ trial: Trial) throws -> TrialResult?
    /// Runs `trial`; nil when it was interrupted (Ctrl-C): the tuner stops and a later resume reruns it.
    /// With `timeLimit` (seconds), a trial still running after that long is stopped and returned as
    /// failed with `TrialResult.prunedFailure` in its failure text (the tuner's pruning).
    func run(_ trial: Trial, timeLimit: Double?) async throws -> TrialResult?
}

/// A synthetic objective with a known optimum and noise, for tests and `rectune bench --tuner`.
///
/// The true objective of a configuration (seconds per full-scale run, lower is better) is
/// `baseSeconds × Π multiplier(knob, value)`, its true AUC `baseAUC + Σ aucShift(knob, value)`
/// (knobs left out of a configuration count as their first value). A trial at scale s reports
/// `s × seconds × exp(noise · N(0,1))` and AUC `trueAUC − (1 − s) × scaleAUCLoss + aucNoise · N(0,1)`;
/// its cost is the reported seconds plus `overheadSeconds`. Noise comes from a generator seeded
/// by (seed, trial), so a trial measured twice gives the same value (what a store gives on resume).
public final class SyntheticObjective: TuneEvaluator, @unchecked Sendable {
    public var baseSeconds: Double = 100
    public var multipliers: [String: [String: Double]]
    public var aucShifts: [String: [String: Double]]
    public var baseAUC: Double = 0.75
    public var noise: Double = 0.04
    public var aucNoise: Double = 0.002
    public var scaleAUCLoss: Double = 0.02
    public var overheadSeconds: Double = 2
    public var seed: UInt64
    /// Results "stored" so far (share one dictionary between two evaluators to simulate a resume).
    public let storage: Storage
    /// Every trial `run` executed, in order.
    public private(set) var executed: [Trial] = []
    /// After this many executed trials `run` returns nil (a simulated Ctrl-C).
    public var interruptAfter: Int? = nil

    /// A mutable store of trial results shared between evaluators.
    public final class Storage: @unchecked Sendable {
        public var results: [Trial: TrialResult] = [:]
        public init() {}
    }

    public init(multipliers: [String: [String: Double]], aucShifts: [String: [String: Double]] = [:], seed: UInt64,
                storage: Storage = Storage()) {
        self.multipliers = multipliers; self.aucShifts = aucShifts; self.seed = seed; self.storage = storage
    }

    /// True full-scale seconds of `config` (no noise), with knobs missing from it at `defaults`.
    public func trueSeconds(_ config: TuneConfig) -> Double {
        multipliers.reduce(baseSeconds) { s, m in config[m.key].flatMap { m.value[$0] }.map { s * $0 } ?? s }
    }

    /// True full-scale AUC of `config`.
    public func trueAUC(_ config: TuneConfig) -> Double {
        aucShifts.reduce(baseAUC) { a, m in a + (config[m.key].flatMap { m.value[$0] } ?? 0) }
    }

    public func stored(_ trial: Trial) throws -> TrialResult? { storage.results[trial] }

    public func run(_ trial: Trial, timeLimit: Double?) async throws -> TrialResult? {
        if let limit = interruptAfter, executed.count >= limit { return nil }
        executed.append(trial)
        var rng = Xoshiro256(seed: Self.stableHash("\(seed)|\(trial.config.key)|\(trial.scale)|\(trial.repeatIndex)"))
        let seconds = trial.scale * trueSeconds(trial.config) * Foundation.exp(noise * rng.nextNormal())
        let auc = trueAUC(trial.config) - (1 - trial.scale) * scaleAUCLoss + aucNoise * rng.nextNormal()
        var result = TrialResult(objective: seconds, constraint: auc, cost: seconds + overheadSeconds)
        if let timeLimit, result.cost > timeLimit {
            result = TrialResult(objective: nil, cost: timeLimit, failure: "\(TrialResult.prunedFailure) (\(TuneFormat.number(timeLimit))s)")
        }
        storage.results[trial] = result
        return result
    }

    /// FNV-1a of `text` (Swift's `Hasher` is seeded per process; this is stable).
    static func stableHash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
