import ArgumentParser
import Foundation
import RecEngine

/// `rectune`: a CTR-model training engine with DeepRec's runtime knobs, and a harness that
/// sweeps, measures, stores and compares them.
@main
struct Rectune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rectune",
        abstract: "Train CTR models under DeepRec-style runtime knobs and measure what each knob does.",
        discussion: """
        Engine:   train, bench, gen-data, knobs, metrics
        Counters: measure, doctor
        Harness:  plan, sweep, tune, runs, show
        Analysis: report, compare, check
        Contest:  contest
        Exit: 0 ok, 1 failure (check: regression), 2 usage/input error, 3 check inconclusive, 4 sweep with failed \
        runs, 5 store failure during a sweep, 130 interrupted; measure: the command's status.
        """,
        version: RectuneVersion.string,
        subcommands: [
            TrainCommand.self, BenchCommand.self, GenDataCommand.self, KnobsCommand.self, MetricsCommand.self,
            MeasureCommand.self, DoctorCommand.self,
            PlanCommand.self, SweepCommand.self, TuneCommand.self, RunsCommand.self, ShowCommand.self,
            ReportCommand.self, CompareCommand.self, CheckCommand.self, ContestCommand.self, SlurmElementCommand.self,
        ]
    )

    /// Parses, runs, and maps every error to one exit status (`ExitStatus`): argument-parser's
    /// usage errors exit 2, not 64.
    static func main() async {
        let status: Int32
        do {
            var command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            status = ExitStatus.ok
        } catch {
            status = report(error)
        }
        Foundation.exit(status)
    }

    /// `--steps -1` → `--steps=-1` (before any `--`): argument-parser reads a value that starts with
    /// `-` as an option and would say "Missing value"; joined, the option's own validation names the
    /// bad number ("--steps must be at least 1, got -1").
    static func joiningNegativeValues(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { out += args[i...]; break }
            if a.hasPrefix("--"), !a.contains("="), i + 1 < args.count, Self.isNegativeNumber(args[i + 1]) {
                out.append(a + "=" + args[i + 1])
                i += 2
                continue
            }
            out.append(a)
            i += 1
        }
        return out
    }

    private static func isNegativeNumber(_ s: String) -> Bool {
        s.count > 1 && s.hasPrefix("-") && Double(s) != nil
    }

    /// Prints `error` the way argument-parser would (help on stdout, errors on stderr) and returns its status.
    private static func report(_ error: any Error) -> Int32 {
        let parserCode = exitCode(for: error)
        // Errors argument-parser knows (help, version, parse and validation errors, ExitCode, CleanExit).
        if error is ExitCode || error is CleanExit || parserCode != .failure || isParserError(error) {
            let message = fullMessage(for: error)
            if parserCode == .success {
                if !message.isEmpty { print(message) }
                return ExitStatus.ok
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            return parserCode == .validationFailure ? ExitStatus.usage : parserCode.rawValue
        }
        let (status, message) = ExitStatus.map(error)
        if let message { FileHandle.standardError.write(Data(("rectune: " + message + "\n").utf8)) }
        return status
    }

    /// Whether argument-parser produced `error` (its message already names the problem).
    private static func isParserError(_ error: any Error) -> Bool {
        error is ValidationError || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}
