import Foundation

/// Which stored runs one side of `compare` / `check` means.
///
/// Syntax: `NAME` or `ID` (an experiment: its latest by name, or by id), `NAME:key=value,key=value`
/// (the runs of one configuration of an experiment), `runs:1,2,3` (explicit run ids).
public enum RunSelector: Sendable, Equatable, CustomStringConvertible {
    case experiment(String)
    case config(experiment: String, knobs: [String: String])
    case runs([Int64])

    /// Parses a selector.
    /// - Throws: `SelectorError` naming the text and the problem.
    public static func parse(_ text: String) throws -> RunSelector {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { throw SelectorError(message: "empty selector (expected NAME, ID, NAME:key=value,… or runs:1,2,3)") }
        if t.hasPrefix("runs:") {
            let parts = t.dropFirst(5).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            var ids: [Int64] = []
            for p in parts {
                guard let id = Int64(p), id > 0 else {
                    throw SelectorError(message: "'\(text)': run id '\(p)' is not a positive integer")
                }
                ids.append(id)
            }
            guard !ids.isEmpty else { throw SelectorError(message: "'\(text)': no run ids after 'runs:'") }
            return .runs(ids)
        }
        guard let colon = t.firstIndex(of: ":") else { return .experiment(t) }
        let name = String(t[..<colon])
        guard !name.isEmpty else { throw SelectorError(message: "'\(text)': missing experiment name before ':'") }
        var knobs: [String: String] = [:]
        for pair in t[t.index(after: colon)...].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw SelectorError(message: "'\(text)': '\(pair)' is not key=value")
            }
            knobs[kv[0]] = kv[1]
        }
        guard !knobs.isEmpty else { throw SelectorError(message: "'\(text)': no key=value after ':'") }
        return .config(experiment: name, knobs: knobs)
    }

    /// The selector written back.
    public var description: String {
        switch self {
        case .experiment(let e): e
        case .config(let e, let k): "\(e):" + k.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        case .runs(let ids): "runs:" + ids.map(String.init).joined(separator: ",")
        }
    }
}

/// A selector that does not parse or matches nothing.
public struct SelectorError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// Creates an error with the message shown to the user.
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// One side of a comparison: runs (any status), the host they were measured on, and how many steady
/// steps each run had (to derive per-step counters).
public struct RunSet: Sendable {
    /// What the user asked for, e.g. `wdl-ablation:stage=on`.
    public var label: String
    public var runs: [RunRecord]
    /// The host fingerprint of the runs (nil when unknown, e.g. runs measured now before storing).
    public var host: HostFingerprint?
    /// Hosts of all runs when they came from several experiments with different fingerprints.
    public var distinctHosts: [HostFingerprint]
    /// run id → steady steps.
    public var steadySteps: [Int64: Int]
    /// Metrics the spec(s) of these runs list, in order.
    public var specMetrics: [String]
    /// The spec of the (first) experiment the runs come from (its `repeat_seed` and `thresholds`), if known.
    public var spec: ExperimentSpec?

    /// Creates a run set.
    public init(label: String, runs: [RunRecord], host: HostFingerprint?, distinctHosts: [HostFingerprint]? = nil,
                steadySteps: [Int64: Int] = [:], specMetrics: [String] = []) {
        self.label = label; self.runs = runs; self.host = host
        self.distinctHosts = distinctHosts ?? host.map { [$0] } ?? []
        self.steadySteps = steadySteps; self.specMetrics = specMetrics
    }

    /// Every metric name stored in these runs (measured or recorded unavailable), for `--metric` checks.
    public var metricNames: Set<String> {
        var names = Set(runs.flatMap { r in r.metrics.map(\.name) + r.unavailable.keys })
        if case .command(let c)? = spec?.engine, case .regex(let p) = c.result { names.formUnion(p.keys) }
        return names
    }

    /// The runs that count (status ok).
    public var okRuns: [RunRecord] { runs.filter { $0.status == .ok } }

    /// Values of `metric` over the ok runs (missing values left out, never read as 0).
    public func values(_ metric: String) -> [Double] {
        okRuns.compactMap { RunMetrics.value(metric, in: $0, steadySteps: steadySteps[$0.id] ?? 1) }
    }

    /// Why `metric` has no values: the first ok run's recorded reason, or "no ok runs".
    public func unavailableReason(_ metric: String) -> String {
        okRuns.first.map { RunMetrics.unavailableReason(metric, in: $0) } ?? "no ok runs"
    }
}

extension ResultStore {
    /// The runs a selector means.
    /// - Throws: `SelectorError` when the experiment, configuration or runs do not exist (naming what is
    ///   available), or store errors.
    public func resolve(_ selector: RunSelector) throws -> RunSet {
        switch selector {
        case .experiment(let e):
            let data = try loadExperimentData(try findExperiment(e).id)
            return Self.runSet(label: selector.description, datas: [data], runs: data.runs)
        case .config(let e, let knobs):
            let data = try loadExperimentData(try findExperiment(e).id)
            let runs = data.runs.filter { r in knobs.allSatisfy { r.config[$0.key] == $0.value } }
            if runs.isEmpty {
                let avail = knobs.keys.sorted().map { k in
                    "\(k) ∈ {" + Set(data.runs.compactMap { $0.config[k] }).sorted().joined(separator: ", ") + "}"
                }.joined(separator: "; ")
                throw SelectorError(message: "'\(selector)': no run of experiment '\(data.experiment.name)' matches; available: \(avail)")
            }
            return Self.runSet(label: selector.description, datas: [data], runs: runs)
        case .runs(let ids):
            let runs = try self.runs(ids: ids)
            let missing = Set(ids).subtracting(runs.map(\.id))
            if !missing.isEmpty {
                throw SelectorError(message: "'\(selector)': no run with id \(missing.sorted().map(String.init).joined(separator: ", ")) in \(path)")
            }
            let datas = try Set(runs.map(\.experimentID)).sorted().map { try loadExperimentData($0) }
            return Self.runSet(label: selector.description, datas: datas, runs: runs)
        }
    }

    /// An experiment by id or (latest by) name.
    /// - Throws: `SelectorError` listing the stored experiment names when none matches.
    public func findExperiment(_ nameOrID: String) throws -> ExperimentRecord {
        if let id = Int64(nameOrID), let e = try experiment(id: id) { return e }
        if let e = try experiment(named: nameOrID) { return e }
        let names = Array(Set(try experiments().map(\.name))).sorted()
        throw SelectorError(message: "no experiment '\(nameOrID)' in \(path); stored: "
                            + (names.isEmpty ? "(none)" : names.prefix(20).joined(separator: ", ")))
    }

    static func runSet(label: String, datas: [ExperimentData], runs: [RunRecord]) -> RunSet {
        var steps: [Int64: Int] = [:]
        var hosts: [HostFingerprint] = []
        let byExperiment = Dictionary(datas.map { ($0.experiment.id, $0) }, uniquingKeysWith: { a, _ in a })
        for r in runs { steps[r.id] = byExperiment[r.experimentID].map { RunMetrics.steadySteps($0.spec) } ?? 1 }
        for d in datas where !hosts.contains(where: { $0.comparabilityKey == d.host.comparabilityKey }) { hosts.append(d.host) }
        var set = RunSet(label: label, runs: runs, host: datas.first?.host, distinctHosts: hosts, steadySteps: steps,
                         specMetrics: datas.first?.spec.metrics ?? [])
        set.spec = datas.first?.spec
        return set
    }
}
