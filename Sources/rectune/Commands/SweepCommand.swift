import ArgumentParser
import Dispatch
import Foundation
import RecHarness

/// `rectune sweep SPEC`: runs every run of a spec (fresh process each, with a timeout) and stores it.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep", abstract: "Run an experiment spec and store every run.",
        discussion: """
        Runs already stored as ok for the same spec are skipped, so re-running the command (or --resume) continues \
        an interrupted sweep. Each run is claimed in the store before it starts, so a second sweep of the same spec \
        skips what the first one runs. Ctrl-C kills the current run's process group, marks it interrupted and exits \
        130; everything finished is kept.
        Exit: 0 every run ok, 4 some run failed/crashed/timed out/invalid, 5 the store failed (the outcome is kept \
        in the run folder; --resume ingests it), 2 usage or spec error, 130 interrupted.
        """)

    @Argument(help: "The experiment spec (YAML).")
    var spec: String

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Flag(help: "Continue the stored experiment with this spec (error if there is none).")
    var resume = false

    @Flag(name: .customLong("new"), help: "Start a new experiment even if this spec was run before.")
    var forceNew = false

    @Flag(help: "Print the plan and what would be skipped; run nothing.")
    var dryRun = false

    @Option(help: "Override the spec's repeats.")
    var repeats: Int?

    @Option(help: "Override the per-run timeout in seconds.")
    var timeout: Double?

    @Flag(help: "Run external commands without the perf-counter wrapper (`rectune measure`).")
    var noMeasure = false

    @OptionGroup(title: "Slurm (--backend slurm)") var slurm: SlurmSweepOptions

    func validate() throws {
        try slurm.validate()
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        if resume && forceNew { throw ValidationError("--resume and --new contradict each other") }
    }

    func run() async throws {
        let loaded = try loadSpecOrExit(spec)
        let store = try self.store.openForWriting()
        var options = SweepOptions(storePath: db)
        if slurm.backend == .slurm {
            // Run folders and data must be on the directory every node sees.
            let shared = slurm.options(storePath: db)
            options.runDirectory = shared.runsDirectory
            options.dataDirectory = shared.dataDirectory
        }
        options.resume = resume
        options.forceNew = forceNew
        options.dryRun = dryRun
        options.repeatsOverride = repeats
        options.timeoutOverride = timeout
        options.measureExternalCommands = !noMeasure
        options.progress = Terminal.sweepProgress
        let runner = SweepRunner(store: store, options: options)
        let signals = StopSignals(message: "stopping the current run…") { runner.requestStop() }
        defer { signals.cancel() }

        if dryRun {
            var planSpec = loaded.spec
            if let repeats { planSpec.repeats = repeats }
            do {
                // What the runner will run: without the configurations this host cannot run.
                print(try RunPlan(spec: planSpec).runnableHere(spec: planSpec).plan.render(spec: planSpec))
            } catch let error as DesignError {
                Terminal.err("\(loaded.path): error: \(error)")
                throw ExitCode(2)
            }
        }
        let summary: SweepSummary
        do {
            switch slurm.backend {
            case .local: summary = try await runner.run(loaded)
            case .slurm: summary = try await runner.runOnSlurm(loaded, slurm: slurm.options(storePath: db))
            }
        } catch let error as SlurmError {
            Terminal.err("rectune sweep: slurm: \(error)")
            throw ExitCode(2)
        } catch let error as RunnerError {
            Terminal.err("rectune sweep: \(error)")
            throw ExitCode(2)
        } catch let error as DesignError {
            Terminal.err("\(loaded.path): error: \(error)")
            throw ExitCode(2)
        }
        if dryRun {
            print("dry run: \(summary.planned - summary.skipped) of \(summary.planned) runs would run"
                  + (summary.skipped > 0 ? " (\(summary.skipped) already stored as ok in experiment \(summary.experimentID))" : ""))
            return
        }
        print(summary.render())
        if let failure = summary.storeFailure { Terminal.err("rectune sweep: store failure: \(failure)") }
        if summary.exitStatus != ExitStatus.ok { throw ExitCode(summary.exitStatus) }
    }
}
