import Foundation

/// How the reports find, label and derive metrics of a run.
///
/// A metric is read from the run's steady phase by name. A `*_per_step` metric that was not
/// stored is derived from its counter (`minor_faults_per_step` from `minor-faults`,
/// `steals_per_step` from `pool.steals`, …) divided by the steady steps. A metric whose counter was
/// unavailable stays unavailable with the recorded reason: it is never read as 0.
public enum MetricCatalog {
    /// Human labels for the usual metrics; other names are shown as they are.
    public static func label(_ metric: String) -> String {
        switch metric {
        case "samples_per_sec": "samples/s"
        case "step_ms.p50": "step p50 ms"
        case "step_ms.p90": "step p90 ms"
        case "step_ms.p99": "step p99 ms"
        case "step_ms.mean": "step mean ms"
        case "auc": "AUC"
        case "logloss": "logloss"
        case "minor_faults_per_step": "minor faults/step"
        case "major_faults_per_step": "major faults/step"
        case "steals_per_step": "steals/step"
        case "context_switches_per_step": "ctx switches/step"
        case "wall_s": "wall s"
        default: metric
        }
    }

    /// The counter names a `*_per_step` metric may be derived from, most specific first.
    public static func counterNames(for metric: String) -> [String] {
        guard metric.hasSuffix("_per_step") else { return [] }
        let base = String(metric.dropLast("_per_step".count))
        var names = ResultMetrics.perStep.filter { $0.metric == metric }.map(\.counter)
        names += [base, base.replacingOccurrences(of: "_", with: "-")]
        switch base {
        case "steals": names += ["pool.steals", "executor.steals"]
        case "context_switches": names += ["context-switches", "cs", "nvcsw"]
        case "minor_faults": names += ["minflt", "page-faults"]
        case "major_faults": names += ["majflt"]
        default: break
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// Steady-state steps of a run of `spec` (what per-step counters are divided by): `steps` counts
    /// the measured steps after the `warmup_steps`.
    public static func steadySteps(_ spec: ExperimentSpec) -> Int { max(spec.steps, 1) }

    /// The steady-state value of `metric` in `run` (phase `steady`, else `total` as external commands
    /// measured by `rectune measure` and `wall_s` are stored), stored or derived; nil when not measured.
    public static func value(_ metric: String, in run: RunRecord, steadySteps: Int) -> Double? {
        if let v = run.metric(metric) ?? run.metric(metric, phase: "total"), v.isFinite { return v }
        if run.unavailable[metric] != nil { return nil }
        for counter in counterNames(for: metric) {
            if run.unavailable[counter] != nil { return nil }
            if let v = run.metric(counter), v.isFinite { return v / Double(max(steadySteps, 1)) }
        }
        return nil
    }

    /// The unit stored with `metric` in `run`, if any.
    public static func unit(_ metric: String, in run: RunRecord) -> String? {
        if let m = run.metrics.first(where: { $0.name == metric && ($0.phase == "steady" || $0.phase == "total") }) { return m.unit }
        return nil
    }

    /// Why `metric` has no value in `run`: the recorded reason for it or its counter, else "not measured".
    public static func unavailableReason(_ metric: String, in run: RunRecord) -> String {
        if let r = run.unavailable[metric] { return r }
        for counter in counterNames(for: metric) {
            if let r = run.unavailable[counter] { return r }
        }
        return "not measured"
    }
}
