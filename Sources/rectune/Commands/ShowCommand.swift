import ArgumentParser
import Foundation
import RecHarness

/// `rectune show RUN`: one run's config, outcome, stderr tail, metrics by phase and unavailable counters.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one stored run.")

    @Argument(help: "Run id (see `rectune runs`).")
    var run: Int64

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Flag(help: "Print JSON instead of text.")
    var json = false

    struct Shown: Encodable {
        var id: Int64
        var experiment: String
        var experimentID: Int64
        var config: [String: String]
        /// The engine's echo of every knob's effective value (engine runs that finished).
        var effectiveConfig: [String: String]?
        var configHash: String
        var repeatIndex: Int
        var status: String
        var exitCode: Int32?
        var signal: Int32?
        var started: Date
        var durationSeconds: Double
        var commandLine: String
        var stderrTail: String
        var metrics: [MetricValue]
        var unavailable: [String: String]
    }

    func run() async throws {
        let store = try self.store.openForReading()
        guard let r = try store.runs(ids: [run]).first else {
            Terminal.err("rectune show: no run \(run) in \(db)")
            throw ExitCode(2)
        }
        let experiment = try store.experiment(id: r.experimentID)
        let shown = Shown(id: r.id, experiment: experiment?.name ?? "?", experimentID: r.experimentID, config: r.config,
                          effectiveConfig: r.effectiveConfig, configHash: r.configHash, repeatIndex: r.repeatIndex, status: r.status.rawValue, exitCode: r.exitCode,
                          signal: r.signal, started: r.started, durationSeconds: r.durationSeconds,
                          commandLine: try store.commandLine(runID: r.id), stderrTail: r.stderrTail, metrics: r.metrics,
                          unavailable: r.unavailable)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(shown), as: UTF8.self))
            return
        }
        print("run \(r.id) of \(shown.experiment) (experiment \(r.experimentID)), repeat \(r.repeatIndex + 1)")
        print("status: \(r.status.rawValue)" + (r.exitCode.map { ", exit \($0)" } ?? "") + (r.signal.map { ", signal \($0)" } ?? "")
              + String(format: ", %.2fs, started %@", r.durationSeconds, ISO8601DateFormatter().string(from: r.started)))
        print("config: " + r.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        if let echo = r.effectiveConfig {
            print("effective config (engine echo): " + echo.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        print("config hash: \(r.configHash)")
        if !shown.commandLine.isEmpty { print("command: \(shown.commandLine)") }
        for phase in ["steady", "warmup", "total"] {
            let ms = r.metrics.filter { $0.phase == phase }.sorted { $0.name < $1.name }
            guard !ms.isEmpty else { continue }
            print("\nmetrics (\(phase)):")
            print(table(header: ["name", "value", "unit", "source"], rows: ms.map {
                [$0.name, Self.format($0.value), $0.unit, $0.source + ($0.scaled ? " (scaled)" : "")]
            }))
        }
        if !r.unavailable.isEmpty {
            print("\nunavailable:")
            for (name, reason) in r.unavailable.sorted(by: { $0.key < $1.key }) { print("  \(name): \(reason)") }
        }
        if !r.stderrTail.isEmpty { print("\nstderr (tail):\n\(r.stderrTail)") }
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return abs(v) >= 100 ? String(format: "%.1f", v) : String(format: "%.4g", v)
    }
}
