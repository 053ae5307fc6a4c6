import ArgumentParser
import Foundation
import RecSystem

/// `rectune measure [--events a,b] [--json PATH|-] [--timeout S] -- CMD ARGS...`: counts an external
/// command like `perf stat` and exits with its status (128 + signal when it was killed).
struct MeasureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Count perf events of an external command, like perf stat.",
        discussion: """
        Counters are attached before the command execs and inherited by its threads and children. The command's \
        stdout and stderr pass through; the counter table goes to stderr. Events this machine cannot count are shown \
        as <not supported: reason>, never as 0.
        Example: rectune measure --json - -- python3 train.py --epochs 1
        """)

    @Option(help: "Comma-separated event names (perf aliases or any libpfm4 name).")
    var events: String = CounterSession.defaultEvents.joined(separator: ",")

    @Option(help: "Write the result object as JSON to PATH, or '-' for stdout.")
    var json: String?

    @Option(help: "Seconds before the command's process group gets SIGTERM (SIGKILL 2 s later).")
    var timeout: Double?

    @Flag(help: "Do not print the counter table on stderr.")
    var quiet = false

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    private var argv: [String] { command.first == "--" ? Array(command.dropFirst()) : command }
    private var eventList: [String] {
        events.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        // `--help` before the command (captureForPassthrough would take it as the command to run).
        if let first = command.first, ["--help", "-h", "-help"].contains(first) { throw CleanExit.helpRequest(self) }
        if argv.isEmpty { throw ValidationError("give the command to measure after --, e.g. rectune measure -- sleep 1") }
        if let timeout, !(timeout > 0 && timeout.isFinite) {
            throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)")
        }
        if let json, json.isEmpty { throw ValidationError("--json needs a path or '-'") }
    }

    func run() async throws {
        let process = CountedProcess(argv: argv, events: eventList,
                                     timeout: timeout.map { .milliseconds(Int64(($0 * 1000).rounded())) },
                                     forwardSignals: true)
        let result: CountedProcessResult
        do {
            result = try await process.run()
        } catch let error as CountedProcessError {
            FileHandle.standardError.write(Data("rectune measure: \(error)\n".utf8))
            throw ExitCode(error.shellStatus)
        }
        let report = MeasureReport(result)
        if !quiet { FileHandle.standardError.write(Data(report.table().utf8)) }
        if let json {
            let data = try report.jsonData()
            if json == "-" {
                FileHandle.standardOutput.write(data)
            } else {
                do { try data.write(to: URL(fileURLWithPath: json)) } catch {
                    FileHandle.standardError.write(Data("rectune measure: cannot write --json \(json): \(error.localizedDescription)\n".utf8))
                    throw ExitCode(2)
                }
            }
        }
        if result.shellStatus != 0 { throw ExitCode(result.shellStatus) }
    }
}
