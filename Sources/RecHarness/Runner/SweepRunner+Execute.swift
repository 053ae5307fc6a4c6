import Foundation
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

    /// Runs one planned run to completion (or timeout/stop) and stores it.
    func execute(_ planned: PlannedRun, job: Job) async throws -> Executed {
        let spec = job.spec
        let runDir = (options.runDirectory as NSString)
            .appendingPathComponent("e\(job.experimentID)/\(planned.configHash.prefix(12))-r\(planned.repeatIndex)")
        try? FileManager.default.removeItem(atPath: runDir)
        try? FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let builder = CommandLineBuilder(executable: options.executablePath, measure: options.measureExternalCommands)
        let command = builder.command(spec: spec, config: planned.config, repeatIndex: planned.repeatIndex,
                                      dataPath: job.dataPath ?? "", runDir: runDir)
        let stdoutPath = (runDir as NSString).appendingPathComponent("stdout.txt")
        let stderrPath = (runDir as NSString).appendingPathComponent("stderr.txt")
        let runID = try store.insertRun(experimentID: job.experimentID, config: planned.config.values,
                                        configHash: planned.configHash, repeatIndex: planned.repeatIndex,
                                        commandLine: command.shellLine)
        let environment = ProcessInfo.processInfo.environment.merging(command.environment) { _, new in new }
        let start = Date()
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(argv: command.argv, environment: environment, stdoutPath: stdoutPath, stderrPath: stderrPath)
        } catch {
            let outcome = RunOutcome(status: .failed, exitCode: 127, stderrTail: "[rectune sweep] \(error)", durationSeconds: 0)
            try store.finishRun(id: runID, outcome: outcome)
            return Executed(runID: runID, outcome: outcome, processStart: start, processEnd: Date())
        }
        let (termination, stop) = await child.wait(deadline: start.addingTimeInterval(spec.timeoutSeconds), grace: options.killGraceSeconds,
                                                   shouldStop: { [self] in isStopRequested || Task.isCancelled })
        let end = Date()
        let duration = end.timeIntervalSince(start)
        var tail = Self.tail(of: stderrPath, lines: options.stderrTailLines)
        if stop == .interrupted {
            try store.markInterrupted(runID: runID, stderrTail: tail, durationSeconds: duration)
            return Executed(runID: runID, outcome: RunOutcome(status: .interrupted, stderrTail: tail, durationSeconds: duration),
                            processStart: start, processEnd: end)
        }
        var outcome = RunOutcome(status: .ok, durationSeconds: duration)
        // Behind `measure`, the measured command's own exit status is in measure.json.
        let measured = command.measurePath.flatMap { FileManager.default.contents(atPath: $0) }.flatMap(ResultMetrics.object)
        var effective = termination
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
            var extracted = readResult(spec: spec, planned: planned, command: command, stdoutPath: stdoutPath)
            if let measured {
                let m = ResultMetrics.fromMeasureJSON(measured, steps: spec.steps)
                let names = Set(extracted.metrics.map { "\($0.name)|\($0.phase)" })
                extracted.metrics += m.metrics.filter { !names.contains("\($0.name)|\($0.phase)") }
                extracted.unavailable.merge(m.unavailable) { a, _ in a }
            }
            outcome.effectiveConfig = extracted.effectiveConfig
            if let reason = extracted.invalidReason {
                outcome.status = .invalid
                tail += (tail.isEmpty ? "" : "\n") + "[rectune sweep] invalid result: \(reason)"
            } else {
                outcome.metrics = extracted.metrics
                outcome.unavailable = extracted.unavailable
            }
        }
        outcome.stderrTail = tail
        try store.finishRun(id: runID, outcome: outcome)
        return Executed(runID: runID, outcome: outcome, processStart: start, processEnd: end)
    }

    /// Reads a finished run's result by the engine's rule.
    func readResult(spec: ExperimentSpec, planned: PlannedRun, command: CommandLineBuilder.Command, stdoutPath: String) -> ResultMetrics.Extracted {
        func invalid(_ reason: String) -> ResultMetrics.Extracted {
            var e = ResultMetrics.Extracted(); e.invalidReason = reason; return e
        }
        switch spec.engine {
        case .rectune:
            guard let path = command.resultPath, let data = FileManager.default.contents(atPath: path) else {
                return invalid("no result file \(command.resultPath ?? "")")
            }
            let requested = RunPlan.settings(spec: spec, repeatIndex: planned.repeatIndex).merging(planned.config.values) { _, factor in factor }
            return ResultMetrics.fromEngineResult(data, requested: requested)
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
