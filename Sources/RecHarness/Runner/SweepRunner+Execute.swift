import Foundation
import RecSystem
#if canImport(Glibc)
import Glibc
#endif

extension SweepRunner {
    /// One executed run: its id, how it ended, and when its process started and ended.
    struct Executed {
        var runID: Int64
        var outcome: RunOutcome
        var processStart: Date
        var processEnd: Date
    }

    /// Claims one planned run (nil: another sweep has it or did it), runs it to completion (or
    /// timeout/stop) under the process supervisor and stores it. The outcome is first written to
    /// `<run folder>/outcome.json`, then to the store; a failed store write throws `StoreError`
    /// with the outcome kept in that file (`--resume` ingests it).
    func execute(_ planned: PlannedRun, job: Job, since: Date) async throws -> Executed? {
        let spec = job.spec
        let builder = CommandLineBuilder(executable: options.executablePath, measure: options.measureExternalCommands)
        func command(_ runDir: String) -> CommandLineBuilder.Command {
            builder.command(spec: spec, config: planned.config, repeatIndex: planned.repeatIndex, dataPath: job.dataPath ?? "", runDir: runDir)
        }
        guard let claim = try store.claimRun(experimentID: job.experimentID, config: planned.config.values,
                                             configHash: planned.configHash, repeatIndex: planned.repeatIndex,
                                             since: since, runsRoot: options.runDirectory, commandLine: { command($0).shellLine })
        else { return nil }
        let runDir = claim.runDirectory
        let runID = claim.id
        let command = command(runDir)
        func finish(_ outcome: RunOutcome, start: Date, end: Date) throws -> Executed {
            var file = RunOutcomeFile(experimentName: spec.name, specHash: job.loaded.hash, config: planned.config.values,
                                      configHash: planned.configHash, repeatIndex: planned.repeatIndex,
                                      owner: RunOwner.current.description, runDirectory: runDir, commandLine: command.shellLine,
                                      started: start, outcome: outcome)
            file.store = store.canonicalPath
            do { try file.write() } catch {
                options.progress?("[rectune sweep] warning: cannot write \(runDir)/\(RunOutcomeFile.fileName): \(error)", true)
            }
            try store.finishRun(id: runID, outcome: outcome)
            return Executed(runID: runID, outcome: outcome, processStart: start, processEnd: end)
        }
        let task = RunTask(spec: spec, specHash: job.loaded.hash, configKeys: planned.config.keys, configValues: planned.config.values,
                           repeatIndex: planned.repeatIndex, configHash: planned.configHash, dataPath: job.dataPath ?? "",
                           runDirectory: runDir, executablePath: options.executablePath, measure: options.measureExternalCommands,
                           killGraceSeconds: options.killGraceSeconds, stderrTailLines: options.stderrTailLines,
                           logLimitBytes: options.logLimitBytes)
        // Cancelling the sweep's task is a stop request (the supervisor polls it from its own thread).
        let performed = await withTaskCancellationHandler {
            await task.perform(shouldStop: { [self] in isStopRequested })
        } onCancel: { [self] in requestStop() }
        return try finish(performed.outcome, start: performed.start, end: performed.end)
    }
}
