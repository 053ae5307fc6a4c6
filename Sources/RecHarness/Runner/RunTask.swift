import Foundation
import RecSystem
#if canImport(Glibc)
import Glibc
#endif

/// Everything one run needs to execute, and nothing of the store: the same code path runs a run
/// of a local sweep and an element of a Slurm job array on a cluster node (`rectune slurm-element`).
/// `perform` creates the run folder, runs the command under the process supervisor (own process
/// group, deadline, SIGTERM→SIGKILL, parent-death signal), and reads the result into an outcome.
public struct RunTask: Sendable, Codable, Equatable {
    public var spec: ExperimentSpec
    /// The hash of the spec's text (what its outcome file is matched by on `--resume`).
    public var specHash: String
    /// The configuration's knobs in display order, and their values.
    public var configKeys: [String]
    public var configValues: [String: String]
    public var repeatIndex: Int
    public var configHash: String
    /// The training data (a synthetic data file or the spec's path); '' when the command needs none.
    public var dataPath: String
    /// The run's own folder (stdout, stderr, result files, outcome.json).
    public var runDirectory: String
    /// The `rectune` binary that runs `train` and `measure`.
    public var executablePath: String
    /// Wrap external commands in `rectune measure` (counters).
    public var measure: Bool
    public var killGraceSeconds: Double
    public var stderrTailLines: Int
    /// Run logs (stdout, stderr) are capped at this size after the run.
    public var logLimitBytes: Int

    public var config: RunConfig { RunConfig(keys: configKeys, values: configValues) }

    /// The command this run executes.
    public var command: CommandLineBuilder.Command {
        CommandLineBuilder(executable: executablePath, measure: measure)
            .command(spec: spec, config: config, repeatIndex: repeatIndex, dataPath: dataPath, runDir: runDirectory)
    }

    /// How the run went: its outcome and when its process started and ended.
    public struct Performed: Sendable {
        public var start: Date
        public var end: Date
        public var outcome: RunOutcome
    }

    /// Runs the command to completion, timeout, or until `shouldStop()` (then the run is interrupted).
    public func perform(shouldStop: @escaping @Sendable () -> Bool) async -> Performed {
        let spec = self.spec
        let runDir = runDirectory
        let command = self.command
        let start = Date()
        do {
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        } catch {
            return Performed(start: start, end: Date(), outcome: RunOutcome(status: .failed, exitCode: 127, stderrTail: "[rectune sweep] cannot create \(runDir): \(error)",
                                         durationSeconds: 0))
        }
        if case .command(let c) = spec.engine, case .linesFile = c.result, let stale = command.resultPath {
            try? FileManager.default.removeItem(atPath: stale)
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
        let grace = wrapped ? max(killGraceSeconds, CountedProcess.defaultKillGraceSeconds + 1) : killGraceSeconds
        let supervised: SupervisedChild.Exit
        do {
            supervised = try await SupervisedChild.run(
                request, deadline: .now + .milliseconds(Int64((spec.timeoutSeconds * 1000).rounded())),
                grace: .milliseconds(Int64((grace * 1000).rounded())),
                shouldStop: { shouldStop() ? SIGTERM : nil }).exit
        } catch {
            return Performed(start: start, end: Date(), outcome: RunOutcome(status: .failed, exitCode: (error as? CountedProcessError)?.shellStatus ?? 127,
                                         stderrTail: "[rectune sweep] \(error)", durationSeconds: 0))
        }
        let end = Date()
        let duration = end.timeIntervalSince(start)
        // Checkpoints were part of the timed work; their files are not kept (hundreds of MB per run).
        if spec.checkpoint == true { try? FileManager.default.removeItem(atPath: CommandLineBuilder.checkpointDirectory(runDir: runDir)) }
        let stop = supervised.stopReason
        for log in [stdoutPath, stderrPath] { Self.capLog(log, limit: logLimitBytes) }
        var tail = Self.tail(of: stderrPath, lines: stderrTailLines)
        if case .stopped = stop {
            return Performed(start: start, end: end, outcome: RunOutcome(status: .interrupted, stderrTail: tail, durationSeconds: duration))
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
            var extracted = readResult(command: command, stdoutPath: stdoutPath)
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
        return Performed(start: start, end: end, outcome: outcome)
    }

    /// Reads a finished run's result by the engine's rule.
    func readResult(command: CommandLineBuilder.Command, stdoutPath: String) -> ResultMetrics.Extracted {
        func invalid(_ reason: String) -> ResultMetrics.Extracted {
            var e = ResultMetrics.Extracted(); e.invalidReason = reason; return e
        }
        switch spec.engine {
        case .rectune:
            guard let path = command.resultPath, let data = FileManager.default.contents(atPath: path) else {
                return invalid("no result file \(command.resultPath ?? "")")
            }
            let requested = RunPlan.settings(spec: spec, repeatIndex: repeatIndex).merging(configValues) { _, factor in factor }
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
            case .linesFile(_, let metrics):
                guard let path = command.resultPath, let data = FileManager.default.contents(atPath: path) else {
                    return invalid("no result file \(command.resultPath ?? "")")
                }
                extracted = ResultMetrics.fromLines(String(decoding: data, as: UTF8.self), metrics: metrics, path: path)
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
        capped.append(Data("\n[rectune] log capped at \(limit) bytes: \(size - head.count - tail.count) bytes cut here\n".utf8))
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
