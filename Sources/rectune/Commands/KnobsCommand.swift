import ArgumentParser
import Foundation
import RecContract

/// `rectune knobs` / `rectune metrics`: the registry and the catalog as a user reads them.
struct KnobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knobs",
        abstract: "List every knob: spec name, flag, values, default and when it applies.",
        discussion: "The same registry drives `train`'s options, spec validation, run command lines and the result's config echo.")

    @Flag(help: "Print the Markdown table the README shows.") var markdown = false

    func run() async throws {
        if markdown { print(KnobSpec.markdownTable()); return }
        for s in KnobSpec.all {
            print("\(s.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(s.flag.padding(toLength: 24, withPad: " ", startingAt: 0)) \(s.helpLine)")
        }
    }
}

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "List every metric that reports and the gate know: unit, polarity, default threshold, derivation.")

    @Flag(help: "Print the Markdown table the README shows.") var markdown = false

    func run() async throws {
        if markdown { print(MetricCatalog.markdownTable()); return }
        for m in MetricCatalog.resultMetrics + MetricCatalog.perStepMetrics {
            let from = m.perStepCounter.map { " = \($0.name) / steps" } ?? ""
            print("\(m.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(m.polarity.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(m.threshold)\(from)")
        }
        print("\ncounters (stored per phase; see `rectune doctor` for what this machine can count):")
        print(Counter.allCases.map(\.name).joined(separator: ", "))
    }
}
