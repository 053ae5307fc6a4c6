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
        let start = Date()
        func finish(_ outcome: RunOutcome, end: Date) throws -> Executed {
            let file = RunOutcomeFile(experimentName: spec.name, specHash: job.loaded.hash, config: planned.config.values,
                                      configHash: planned.configHash, repeatIndex: planned.repeatIndex,
                                      owner: RunOwner.current.description, runDirectory: runDir, commandLine: command.shellLine,
                                      started: start, outcome: outcome)
            do { try file.write() } catch {
                options.progress?("[rectune sweep] warning: cannot write \(runDir)/\(RunOutcomeFile.fileName): \(error)", true)
            }
            try store.finishRun(id: runID, outcome: outcome)
            return Executed(runID: runID, outcome: outcome, processStart: start, processEnd: end)
        }
        do {
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        } catch {
            return try finish(RunOutcome(status: .failed, exitCode: 127, stderrTail: "[rectune sweep] cannot create \(runDir): \(error)",
                                         durationSeconds: 0), end: Date())
        }
        let stdoutPath = (runDir as NSString).appendingPathComponent("stdout.txt")
        let stderrPath = (runDir as NSString).appendingPathComponent("stderr.txt")
        var request = SupervisedChild.Request(argv: command.argv,
                                              environment: ProcessInfo.processInfo.environment.merging(command.environment) { _, new in new })
        request.standardInput = .null
        request.standardOutput = .file(stdoutPath)
        request.standardError = .file(stderrPath)
        // `rectune measure` gets SIGTERM when the sweep dies, so it can take its command's group down;
        // everything else (the engine, an unwrapped command) gets SIGKILL.
        let wrapped = command.measurePath != nil
        request.parentDeathSignal = wrapped ? SIGTERM : SIGKILL
        // measure escalates its own command after its 2 s grace; give it that long plus a margin first.
        let grace = wrapped ? max(options.killGraceSeconds, CountedProcess.defaultKillGraceSeconds + 1) : options.killGraceSeconds
        let supervised: SupervisedChild.Exit
        do {
            // Cancelling the sweep's task is a stop request (the supervisor polls it from its own thread).
            supervised = try await withTaskCancellationHandler {
                try await SupervisedChild.run(
                    request, deadline: .now + .milliseconds(Int64((spec.timeoutSeconds * 1000).rounded())),
                    grace: .milliseconds(Int64((grace * 1000).rounded())),
                    shouldStop: { [self] in isStopRequested ? SIGTERM : nil }).exit
            } onCancel: { [self] in requestStop() }
        } catch {
            return try finish(RunOutcome(status: .failed, exitCode: (error as? CountedProcessError)?.shellStatus ?? 127,
                                         stderrTail: "[rectune sweep] \(error)", durationSeconds: 0), end: Date())
        }
        let end = Date()
        let duration = end.timeIntervalSince(start)
        let stop = supervised.stopReason
        for log in [stdoutPath, stderrPath] { Self.capLog(log, limit: options.logLimitBytes) }
        var tail = Self.tail(of: stderrPath, lines: options.stderrTailLines)
        if case .stopped = stop {
            return try finish(RunOutcome(status: .interrupted, stderrTail: tail, durationSeconds: duration), end: end)
        }
        var outcome = RunOutcome(status: .ok, durationSeconds: duration)
        // Behind `measure`, the measured command's own exit status is in measure.json.
        let measured = command.measurePath.flatMap { FileManager.default.contents(atPath: $0) }.flatMap(ResultMetrics.object)
        var effective = supervised.termination
        if let measured, stop == nil {
            if let s = ResultMetrics.number(measured["signal"]), s > 0 { effective = .signaled(Int32(s)) }
            else if let code = ResultMetrics.number(measured["exit_status"]) { effective = .exited(Int32(code)) }
        }
        switch (stop, effective) {
        case (.timeout?, let t):
            outcome.status = .timeout
            if case .signaled(let s) = t { outcome.signal = s }
            tail += "\n[rectune sweep] timed out after \(String(format: "%.0f", spec.timeoutSeconds))s; process group killed"
        case (_, .signaled(let s)):
            outcome.status = .crashed
            outcome.signal = s
        case (_, .exited(let code)) where code != 0:
            outcome.status = .failed
            outcome.exitCode = code
        default:
            outcome.exitCode = 0
            var extracted = readResult(spec: spec, command: command, stdoutPath: stdoutPath)
            if let measured {
                let m = ResultMetrics.fromMeasureJSON(measured, steps: spec.steps)
                let names = Set(extracted.metrics.map { "\($0.name)|\($0.phase)" })
                extracted.metrics += m.metrics.filter { !names.contains("\($0.name)|\($0.phase)") }
                extracted.unavailable.merge(m.unavailable) { a, _ in a }
            }
            if let reason = extracted.invalidReason {
                outcome.status = .invalid
                tail += (tail.isEmpty ? "" : "\n") + "[rectune sweep] invalid result: \(reason)"
            } else {
                outcome.metrics = extracted.metrics
                outcome.unavailable = extracted.unavailable
            }
        }
        outcome.stderrTail = tail
        return try finish(outcome, end: end)
    }

    /// Reads a finished run's result by the engine's rule.
    func readResult(spec: ExperimentSpec, command: CommandLineBuilder.Command, stdoutPath: String) -> ResultMetrics.Extracted {
        func invalid(_ reason: String) -> ResultMetrics.Extracted {
            var e = ResultMetrics.Extracted(); e.invalidReason = reason; return e
        }
        switch spec.engine {
        case .rectune:
            guard let path = command.resultPath, let data = FileManager.default.contents(atPath: path) else {
                return invalid("no result file \(command.resultPath ?? "")")
            }
            guard let json = ResultMetrics.object(data) else {
                return invalid("the result file is not a JSON object: \(String(decoding: data.prefix(80), as: UTF8.self))")
            }
            return ResultMetrics.fromTrainJSON(json, strict: true)
        case .command(let c):
            let stdout = String(decoding: FileManager.default.contents(atPath: stdoutPath) ?? Data(), as: UTF8.self)
            var extracted: ResultMetrics.Extracted
            switch c.result {
            case .lastJSONLine:
                guard let json = ResultMetrics.lastJSONLine(stdout) else { return invalid("no line of stdout is a JSON object") }
                extracted = ResultMetrics.fromTrainJSON(json, strict: false, fallbackSteps: spec.steps, fallbackWarmup: spec.warmupSteps)
            case .jsonFile:
                guard let path = command.resultPath, let data = FileManager.default.contents(atPath: path) else {
                    return invalid("no result file \(command.resultPath ?? "")")
                }
                guard let json = ResultMetrics.object(data) else { return invalid("the result file \(path) is not a JSON object") }
                extracted = ResultMetrics.fromTrainJSON(json, strict: false, fallbackSteps: spec.steps, fallbackWarmup: spec.warmupSteps)
            case .regex(let patterns):
                extracted = ResultMetrics.fromRegex(patterns, stdout: stdout)
            }
            if extracted.invalidReason == nil && extracted.metrics.isEmpty { extracted.invalidReason = "the result holds no numeric metric" }
            return extracted
        }
    }

    /// Caps a run log at `limit` bytes: a bigger file is rewritten as its first 64 KiB, a note of
    /// how much was cut, and its last `limit - 64 KiB` (where the error usually is).
    static func capLog(_ path: String, limit: Int) {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limit,
              let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let headBytes = min(64 << 10, limit / 2)
        let head = (try? handle.read(upToCount: headBytes)) ?? Data()
        try? handle.seek(toOffset: UInt64(size - (limit - headBytes)))
        let tail = (try? handle.readToEnd()) ?? Data()
        var capped = head
        capped.append(Data("\n[rectune sweep] log capped at \(limit) bytes: \(size - head.count - tail.count) bytes cut here\n".utf8))
        capped.append(tail)
        try? capped.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The last `lines` lines of a file (at most 16 KiB), trimmed.
    static func tail(of path: String, lines: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let from = size > 16_384 ? size - 16_384 : 0
        try? handle.seek(toOffset: from)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1)
            .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
