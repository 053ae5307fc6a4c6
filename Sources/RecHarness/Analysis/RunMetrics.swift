import Foundation
import RecContract

/// How reports read a catalog metric (`RecContract.MetricCatalog`) out of a stored run.
///
/// A metric is read from the run's steady phase by name. A per-step metric that was not stored is
/// derived from its catalog counter (`minor_faults_per_step` = `minor-faults` / steady steps). A
/// metric whose counter was unavailable stays unavailable with the recorded reason: never 0.
public enum RunMetrics {
    /// The human label of `metric` (the catalog's, else the name).
    public static func label(_ metric: String) -> String { MetricCatalog.spec(metric)?.label ?? metric }

    /// Steady-state steps of a run of `spec` (what per-step counters are divided by): `steps` counts
    /// the measured steps after the `warmup_steps`.
    public static func steadySteps(_ spec: ExperimentSpec) -> Int { max(spec.steps, 1) }

    /// The steady-state value of `metric` in `run` (phase `steady`, else `total` as external commands
    /// measured by `rectune measure` and `wall_s` are stored), stored or derived; nil when not measured.
    public static func value(_ metric: String, in run: RunRecord, steadySteps: Int) -> Double? {
        if let v = run.metric(metric) ?? run.metric(metric, phase: "total"), v.isFinite { return v }
        if run.unavailable[metric] != nil { return nil }
        guard let counter = MetricCatalog.spec(metric)?.perStepCounter?.name else { return nil }
        if run.unavailable[counter] != nil { return nil }
        if let v = run.metric(counter) ?? run.metric(counter, phase: "total"), v.isFinite { return v / Double(max(steadySteps, 1)) }
        return nil
    }

    /// The unit stored with `metric` in `run`, else the catalog's.
    public static func unit(_ metric: String, in run: RunRecord) -> String? {
        if let m = run.metrics.first(where: { $0.name == metric && ($0.phase == "steady" || $0.phase == "total") }) { return m.unit }
        return MetricCatalog.spec(metric)?.unit
    }

    /// Why `metric` has no value in `run`: the recorded reason for it or its counter, else "not measured".
    public static func unavailableReason(_ metric: String, in run: RunRecord) -> String {
        if let r = run.unavailable[metric] { return r }
        if let counter = MetricCatalog.spec(metric)?.perStepCounter?.name, let r = run.unavailable[counter] { return r }
        return "not measured"
    }
}
