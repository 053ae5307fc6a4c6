import ArgumentParser
import Foundation
import RecHarness

/// `rectune runs [EXPERIMENT]`: lists stored runs.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List stored runs.")

    @Argument(help: "Experiment name or id (default: all experiments).")
    var experiment: String?

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Option(help: "Only runs with this status (ok, failed, timeout, crashed, invalid, interrupted, running); `failed` includes timeout, crashed and invalid.")
    var status: String?

    @Option(help: "Show at most the newest N runs.")
    var limit: Int = 500

    func run() async throws {
        let store = try self.store.openForReading()
        var experimentID: Int64? = nil
        if let experiment {
            let record = try Int64(experiment).flatMap { try store.experiment(id: $0) } ?? store.experiment(named: experiment)
            guard let record else {
                Terminal.err("rectune runs: no experiment '\(experiment)' in \(db)")
                throw ExitCode(2)
            }
            experimentID = record.id
        }
        var statuses: [RunStatus]? = nil
        if let status {
            if status == "failed" { statuses = [.failed, .timeout, .crashed, .invalid] }
            else if let s = RunStatus(rawValue: status) { statuses = [s] }
            else {
                Terminal.err("rectune runs: unknown status '\(status)' (allowed: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
                throw ExitCode(2)
            }
        }
        let runs = try store.runs(experimentID: experimentID, statuses: statuses, limit: limit)
        var experiments: [Int64: (name: String, baseline: RunConfig?)] = [:]
        for id in Set(runs.map(\.experimentID)) {
            let record = try store.experiment(id: id)
            let spec = record.flatMap { try? SpecParser.parse($0.specText, path: "stored").spec }
            experiments[id] = (record?.name ?? "?", spec.map(DesignExpander.baseline(of:)))
        }
        let rows = runs.map { r -> [String] in
            let e = experiments[r.experimentID]
            let config = RunConfig(keys: r.config.keys.sorted(), values: r.config)
            let label = e?.baseline.map { base in
                RunConfig(keys: base.keys.filter { r.config[$0] != nil }, values: r.config).label(relativeTo: base)
            } ?? config.description
            let sps = r.metric("samples_per_sec").map { String(format: "%.0f", $0) } ?? "-"
            let outcome = r.status.rawValue + (r.exitCode.map { $0 != 0 ? " (exit \($0))" : "" } ?? "") + (r.signal.map { " (signal \($0))" } ?? "")
            return [String(r.id), e?.name ?? "?", label, String(r.repeatIndex + 1), outcome, sps, String(format: "%.1fs", r.durationSeconds)]
        }
        print(table(header: ["run", "experiment", "config", "rep", "status", "samples/s", "duration"], rows: rows))
        print("\(runs.count) run(s)")
    }
}

/// A plain left-aligned text table.
func table(header: [String], rows: [[String]]) -> String {
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }
    return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
}
