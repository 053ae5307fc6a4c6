import ArgumentParser
import Dispatch
import Foundation
import RecHarness

/// Where `sweep` runs its runs.
enum SweepBackend: String, ExpressibleByArgument, CaseIterable {
    case local, slurm
}

/// `sweep`'s Slurm options.
struct SlurmSweepOptions: ParsableArguments {
    @Option(help: "Where runs execute: local (one after another on this machine) or slurm (a job array on the cluster).")
    var backend: SweepBackend = .local

    @Option(help: "Slurm partition (default: the cluster's default partition).")
    var partition: String?

    @Option(help: ArgumentHelp("Directory every node sees at the same path: run folders, data, task files (default: next to the store).",
                               valueName: "dir"))
    var sharedDir: String?

    @Option(help: "At most this many runs in flight at once (default: as many as Slurm schedules).")
    var maxInFlight: Int?

    @Flag(inversion: .prefixedNo, help: "Whole nodes per run (a performance run must not share its node).")
    var exclusive = true

    @Option(name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Extra sbatch argument, verbatim (repeatable).", valueName: "arg"))
    var sbatchArguments: [String] = []

    @Flag(help: "Submit and exit; a later `sweep --backend slurm --resume` ingests what finished.")
    var detach = false

    func validate() throws {
        if backend == .local && (partition != nil || sharedDir != nil || maxInFlight != nil || detach || !sbatchArguments.isEmpty) {
            throw ValidationError("--partition, --shared-dir, --max-in-flight, --sbatch-arg and --detach need --backend slurm")
        }
        if let maxInFlight, maxInFlight < 1 { throw ValidationError("--max-in-flight must be at least 1") }
    }

    func options(storePath: String) -> SlurmOptions {
        let shared = sharedDir ?? URL(fileURLWithPath: storePath).deletingLastPathComponent().appendingPathComponent("slurm-shared").path
        var o = SlurmOptions(sharedDirectory: URL(fileURLWithPath: shared).standardizedFileURL.path)
        o.partition = partition
        o.maxInFlight = maxInFlight
        o.exclusive = exclusive
        o.sbatchArguments = sbatchArguments
        o.detach = detach
        return o
    }
}

/// `rectune slurm-element TASKS INDEX`: runs one element of a Slurm job array on its node — the
/// same single-run path as a local sweep — and writes the outcome into the run folder. Internal:
/// the batch script the coordinator submits calls it.
struct SlurmElementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm-element", abstract: "Run one element of a rectune Slurm array (used by the batch script).",
        shouldDisplay: false)

    @Argument(help: "The task file written by the coordinator.") var tasks: String
    @Argument(help: "The element index ($SLURM_ARRAY_TASK_ID).") var index: Int

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: tasks),
              let all = try? JSONDecoder().decode([RunTask].self, from: data), all.indices.contains(index) else {
            Terminal.err("rectune slurm-element: no task \(index) in \(tasks)")
            throw ExitCode(ExitStatus.usage)
        }
        let task = all[index]
        // Slurm signals the element on scancel and at its time limit: stop the run, keep the outcome.
        let stop = StopFlag()
        let signals = StopSignals { stop.set() }
        defer { signals.cancel() }
        var performed = await task.perform(shouldStop: { stop.isSet })
        // Slurm signals the whole job (scancel, its time limit, a failing node): the command may die
        // of that signal before the supervisor sees the stop. Either way the run was stopped.
        if stop.isSet, performed.outcome.status == .crashed || performed.outcome.status == .failed {
            performed.outcome.status = .interrupted
            performed.outcome.stderrTail += "\n[rectune slurm-element] stopped by a signal from Slurm (scancel, time limit or node failure)"
        }
        let env = ProcessInfo.processInfo.environment
        let owner = "slurm:\(env["SLURM_ARRAY_JOB_ID"] ?? "?")_\(env["SLURM_ARRAY_TASK_ID"] ?? String(index))"
        var file = RunOutcomeFile(experimentName: task.spec.name, specHash: task.specHash, config: task.configValues, configHash: task.configHash,
                                  repeatIndex: task.repeatIndex, owner: owner, runDirectory: task.runDirectory,
                                  commandLine: task.command.shellLine, started: performed.start, outcome: performed.outcome)
        file.host = HostFingerprintCollector.current()
        try file.write()
        print("rectune slurm-element: \(task.spec.name) \(task.config.description) #\(task.repeatIndex + 1): \(performed.outcome.status.rawValue)")
    }
}

/// A flag set from a signal handler and read by the run's supervisor.
final class StopFlag: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
