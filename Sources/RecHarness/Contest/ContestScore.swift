import Foundation

/// How one model did in one contest: its training seconds and AUC, or why it failed.
public struct ModelOutcome: Sendable, Equatable, Codable {
    public var model: String
    public var label: String
    public var steps: Int
    /// The timed window (`contest_seconds`); nil when the model failed.
    public var seconds: Double?
    /// The evaluation AUC (pooled over clk and buy for MMoE); nil when the model failed.
    public var auc: Double?
    /// MMoE: per-task AUCs beside the pooled one.
    public var aucByTask: [String: Double]?
    /// The floor the AUC must reach; nil when it is not derived (generated DIN/DIEN data).
    public var floor: Double?
    /// Why the model has no result (crash, timeout, not in this build), or nil.
    public var failure: String?
    /// The knob settings it ran with.
    public var settings: [String: String]
    /// Store run id (nil when it never ran).
    public var runID: Int64?
    /// The counters that explain the published claims (`ContestClaims.counterNames`), steady phase.
    public var counters: [String: Double] = [:]

    public init(model: String, label: String, steps: Int, seconds: Double?, auc: Double?, floor: Double?, failure: String? = nil,
                settings: [String: String] = [:], aucByTask: [String: Double]? = nil, runID: Int64? = nil) {
        self.model = model; self.label = label; self.steps = steps; self.seconds = seconds; self.auc = auc; self.floor = floor
        self.failure = failure; self.settings = settings; self.aucByTask = aucByTask; self.runID = runID
    }

    /// The scorer's test: the model produced a result and its AUC is not below its floor (`auc <
    /// floor` fails, as `run_models.py`). An underived floor cannot be passed.
    public var passed: Bool {
        guard failure == nil, seconds != nil, let auc, let floor else { return false }
        return !(auc < floor)
    }

    /// Why the model did not pass, or nil.
    public var verdict: String? {
        if let failure { return failure }
        if seconds == nil || auc == nil { return "no result" }
        guard let floor else { return "floor not derived for this data (Experiments/contest/contest.yaml)" }
        if let auc, auc < floor { return String(format: "AUC %.4f below the floor %.3f", auc, floor) }
        return nil
    }
}

/// The contest's scoring rule (`reference/tianchi/run_models.py`): the score is the sum of the
/// models' training seconds, or `failedScore` (864000, "ten days") when any model failed or any
/// AUC is below its floor.
public enum ContestScore {
    /// The score and whether the submission is valid.
    public static func score(_ outcomes: [ModelOutcome], failedScore: Double = 864_000) -> (score: Double, valid: Bool) {
        let valid = !outcomes.isEmpty && outcomes.allSatisfy(\.passed)
        guard valid else { return (failedScore, false) }
        return (outcomes.reduce(0) { $0 + ($1.seconds ?? 0) }, true)
    }
}
