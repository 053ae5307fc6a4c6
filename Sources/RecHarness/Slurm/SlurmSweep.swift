import Foundation
import GRDB
import RecSystem
#if canImport(Glibc)
import Glibc
#endif

/// How a sweep hands its runs to Slurm.
public struct SlurmOptions: Sendable {
    /// A directory every node sees at the same path: run folders, synthetic data, the element
    /// task files and the array manifests live here.
    public var sharedDirectory: String
    public var partition: String? = nil
    /// At most this many elements at once (nil: as many as the cluster schedules).
    public var maxInFlight: Int? = nil
    /// Whole nodes per run (on by default: a performance run must not share its node).
    public var exclusive: Bool = true
    /// Extra `sbatch` arguments, verbatim (`--qos=perf`, `--constraint=icelake`).
    public var sbatchArguments: [String] = []
    /// Submit and return; a later `--resume` ingests what finished.
    public var detach: Bool = false
    /// Seconds between looks at the shared directory and Slurm's state.
    public var pollSeconds: Double = 1
    /// Slurm's own limit per element (`--time`) in seconds; default: the spec's timeout plus two
    /// minutes (the element enforces the spec's timeout itself; Slurm's is the backstop).
    public var timeLimitSeconds: Int? = nil
    /// The `rectune` binary the batch script runs on the node (`rectune slurm-element`).
    public var rectuneExecutable: String = SweepOptions.currentExecutable()
    /// Environment for the Slurm commands (e.g. `SLURM_CONF`).
    public var environment: [String: String] = [:]

    public init(sharedDirectory: String) { self.sharedDirectory = sharedDirectory }

    /// Run folders under the shared directory.
    public var runsDirectory: String { (sharedDirectory as NSString).appendingPathComponent("runs") }
    /// Synthetic data under the shared directory.
    public var dataDirectory: String { (sharedDirectory as NSString).appendingPathComponent("data") }
    /// Task files, batch scripts, manifests and Slurm's output files.
    public var slurmDirectory: String { (sharedDirectory as NSString).appendingPathComponent("slurm") }
}

/// One submitted array: which run row and folder each element is (kept in the shared directory so
/// a coordinator started later can reconcile it with Slurm).
public struct SlurmManifest: Sendable, Codable, Equatable {
    public struct Element: Sendable, Codable, Equatable {
        public var runID: Int64
        public var runDirectory: String
        public var configHash: String
        public var repeatIndex: Int
    }
    public var jobID: String
    public var experimentID: Int64
    public var experimentName: String
    public var specHash: String
    public var tasksFile: String
    public var outputPattern: String
    public var elements: [Element]

    static func path(_ slurmDirectory: String, experimentID: Int64, jobID: String) -> String {
        (slurmDirectory as NSString).appendingPathComponent("e\(experimentID)-job\(jobID).json")
    }

    /// The manifests of experiment `experimentID` in `slurmDirectory`.
    static func all(in slurmDirectory: String, experimentID: Int64? = nil) -> [SlurmManifest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: slurmDirectory)) ?? []
        return names.sorted().compactMap { name -> SlurmManifest? in
            guard name.hasSuffix(".json"), name.contains("-job"),
                  experimentID.map({ name.hasPrefix("e\($0)-job") }) ?? true,
                  let data = FileManager.default.contents(atPath: (slurmDirectory as NSString).appendingPathComponent(name)) else { return nil }
            return try? JSONDecoder().decode(SlurmManifest.self, from: data)
        }
    }
}

extension SweepRunner {
    /// Runs a spec on a Slurm cluster: every pending run is claimed in the store, becomes an
    /// element of one job array (design order) that runs `rectune slurm-element` — the same
    /// single-run path as a local sweep — on its node and writes its `outcome.json` into its run
    /// folder on the shared directory; the coordinator ingests each outcome exactly once (keyed by
    /// the run folder), and records Slurm's own verdict (FAILED, TIMEOUT, NODE_FAIL, CANCELLED,
    /// OUT_OF_MEMORY, PREEMPTED …) for elements that ended without one. Arrays submitted by an
    /// earlier coordinator (killed, or `detach`ed) are reconciled first, so nothing is submitted twice.
    /// Throws `SlurmError` before submitting anything when Slurm, the partition or the shared
    /// directory is unusable.
    public func runOnSlurm(_ loaded: LoadedSpec, slurm: SlurmOptions) async throws -> SweepSummary {
        let client = SlurmClient(environment: slurm.environment)
        try await client.preflight(partition: slurm.partition)
        try Self.checkWritable(slurm.sharedDirectory)
        let started = Date()
        var job = try prepare(loaded)
        if options.dryRun { return job.summary }

        // 1. Arrays of earlier coordinators: ingest, settle, or keep watching.
        var watched: [Watched] = []
        for manifest in SlurmManifest.all(in: slurm.slurmDirectory, experimentID: job.experimentID) {
            let live = try store.runs(ids: manifest.elements.map(\.runID)).filter { $0.status == .running }
            let liveIDs = Set(live.map(\.id))
            for (i, e) in manifest.elements.enumerated() where liveIDs.contains(e.runID) {
                watched.append(Watched(manifest: manifest, index: i))
            }
        }
        if !watched.isEmpty { options.progress?("watching \(watched.count) run(s) submitted earlier to Slurm", true) }

        // 2. Claim and submit what is missing.
        try prepareData(&job)
        var tasks: [RunTask] = []
        var elements: [SlurmManifest.Element] = []
        for planned in job.pending {
            let builder = CommandLineBuilder(executable: options.executablePath, measure: options.measureExternalCommands)
            let data = job.dataPath ?? ""
            guard let claim = try store.claimRun(
                experimentID: job.experimentID, config: planned.config.values, configHash: planned.configHash,
                repeatIndex: planned.repeatIndex, since: started, runsRoot: options.runDirectory,
                commandLine: { builder.command(spec: job.spec, config: planned.config, repeatIndex: planned.repeatIndex,
                                               dataPath: data, runDir: $0).shellLine })
            else { continue }
            tasks.append(RunTask(spec: job.spec, specHash: job.loaded.hash, configKeys: planned.config.keys, configValues: planned.config.values,
                                 repeatIndex: planned.repeatIndex, configHash: planned.configHash, dataPath: data,
                                 runDirectory: claim.runDirectory, executablePath: options.executablePath,
                                 measure: options.measureExternalCommands, killGraceSeconds: options.killGraceSeconds,
                                 stderrTailLines: options.stderrTailLines, logLimitBytes: options.logLimitBytes))
            elements.append(.init(runID: claim.id, runDirectory: claim.runDirectory, configHash: planned.configHash,
                                  repeatIndex: planned.repeatIndex))
        }
        var summary = job.summary
        if !tasks.isEmpty {
            let manifest = try await submit(tasks, elements: elements, job: job, slurm: slurm, client: client)
            options.progress?("submitted \(tasks.count) run(s) as Slurm array job \(manifest.jobID)", true)
            for i in elements.indices { watched.append(Watched(manifest: manifest, index: i)) }
        }
        if slurm.detach {
            options.progress?("detached: \(watched.count) run(s) stay with Slurm; `rectune sweep \(loaded.path) --backend slurm --resume` ingests them", true)
            summary.elapsedSeconds = Date().timeIntervalSince(started)
            summary.submitted = watched.count
            return summary
        }

        // 3. Watch until every element is stored.
        var terminalSeen: [Int64: Int] = [:]
        var done = 0
        let total = watched.count
        while !watched.isEmpty {
            if isStopRequested || Task.isCancelled {
                for jobID in Set(watched.map(\.manifest.jobID)) { try await client.cancel(jobID: jobID) }
                try await Task.sleep(for: .seconds(slurm.pollSeconds))
                for w in watched {
                    if try ingest(w, job: job, state: nil, into: &summary) { continue }
                    let outcome = RunOutcome(status: .interrupted, stderrTail: "[rectune sweep] stopped: Slurm job \(w.owner) cancelled",
                                             durationSeconds: Date().timeIntervalSince(started))
                    try settle(w, outcome: outcome, into: &summary)
                }
                summary.interrupted = true
                break
            }
            var states: [String: [Int: SlurmJobState]] = [:]
            for jobID in Set(watched.map(\.manifest.jobID)) { states[jobID] = try await client.elementStates(jobID: jobID) }
            var still: [Watched] = []
            for w in watched {
                if try ingest(w, job: job, state: states[w.manifest.jobID]?[w.index], into: &summary) {
                    done += 1
                    options.progress?("[\(done)/\(total)] \(w.owner): \(summary.lastStatus?.rawValue ?? "stored")", true)
                    continue
                }
                let element = w.manifest.elements[w.index]
                if let state = states[w.manifest.jobID]?[w.index], state.isTerminal {
                    // The element may have written its outcome just before Slurm recorded the end: look twice.
                    terminalSeen[element.runID, default: 0] += 1
                    if terminalSeen[element.runID]! >= 2 {
                        try settle(w, outcome: Self.outcome(for: state, owner: w.owner, output: w.outputFile), into: &summary)
                        done += 1
                        options.progress?("[\(done)/\(total)] \(w.owner): Slurm \(state.rawValue)", true)
                        continue
                    }
                } else if states[w.manifest.jobID]?[w.index] == nil {
                    // Slurm forgot the job (MinJobAge passed, no accounting, no completion log) and no outcome came.
                    terminalSeen[element.runID, default: 0] += 1
                    if terminalSeen[element.runID]! >= 30 {
                        let outcome = RunOutcome(status: .failed, stderrTail: "[rectune sweep] Slurm has no record of \(w.owner) and it wrote no outcome.json",
                                                 durationSeconds: 0)
                        try settle(w, outcome: outcome, into: &summary)
                        done += 1
                        continue
                    }
                }
                still.append(w)
            }
            watched = still
            if !watched.isEmpty {
                options.progress?("slurm: \(done)/\(total) stored, \(watched.count) queued or running", false)
                try await Task.sleep(for: .seconds(slurm.pollSeconds))
            }
        }
        summary.elapsedSeconds = Date().timeIntervalSince(started)
        return summary
    }

    /// One array element the coordinator waits for.
    struct Watched {
        var manifest: SlurmManifest
        var index: Int
        var owner: String { SlurmOwner(jobID: manifest.jobID, element: index).description }
        var outputFile: String {
            manifest.outputPattern.replacingOccurrences(of: "%A", with: manifest.jobID).replacingOccurrences(of: "%a", with: String(index))
        }
    }

    /// Writes the task file and batch script, submits the array, and hands the claimed rows to it.
    private func submit(_ tasks: [RunTask], elements: [SlurmManifest.Element], job: Job, slurm: SlurmOptions,
                        client: SlurmClient) async throws -> SlurmManifest {
        let dir = slurm.slurmDirectory
        let stamp = "e\(job.experimentID)-\(Int(Date().timeIntervalSince1970 * 1000))-\(getpid())"
        let tasksFile = (dir as NSString).appendingPathComponent("\(stamp).tasks.json")
        let script = (dir as NSString).appendingPathComponent("\(stamp).sh")
        let output = (dir as NSString).appendingPathComponent("\(stamp)-%A_%a.out")
        do {
            try DurableWrite.json(tasks, to: tasksFile)
            try """
            #!/bin/sh
            # rectune: one run of experiment '\(job.spec.name)' per element (written by the coordinator on \(RunOwner.current.host)).
            exec \(CommandLineBuilder.Command.quote(slurm.rectuneExecutable)) slurm-element \(CommandLineBuilder.Command.quote(tasksFile)) "$SLURM_ARRAY_TASK_ID"

            """.write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
        } catch {
            try failClaimed(elements, reason: "cannot write the Slurm task files in \(dir): \(error)")
            throw SlurmError("cannot write the Slurm task files in \(dir): \(error)")
        }
        var request = SlurmClient.ArrayRequest(script: script, count: tasks.count, outputPattern: output, workingDirectory: slurm.sharedDirectory)
        request.partition = slurm.partition
        request.maxInFlight = slurm.maxInFlight
        request.exclusive = slurm.exclusive
        request.extraArguments = slurm.sbatchArguments
        request.jobName = "rectune-\(job.spec.name)"
        request.timeLimitSeconds = slurm.timeLimitSeconds ?? Int(job.spec.timeoutSeconds.rounded(.up)) + 120
        let jobID: String
        do { jobID = try await client.submit(request) } catch {
            try failClaimed(elements, reason: "\(error)")
            throw error
        }
        let manifest = SlurmManifest(jobID: jobID, experimentID: job.experimentID, experimentName: job.spec.name, specHash: job.loaded.hash,
                                     tasksFile: tasksFile, outputPattern: output, elements: elements)
        try DurableWrite.json(manifest, to: SlurmManifest.path(dir, experimentID: job.experimentID, jobID: jobID))
        try store.setOwners(elements.enumerated().map { ($0.element.runID, SlurmOwner(jobID: jobID, element: $0.offset).description) })
        return manifest
    }

    /// Marks claimed rows failed when the submission itself failed.
    private func failClaimed(_ elements: [SlurmManifest.Element], reason: String) throws {
        for e in elements {
            try store.finishRun(id: e.runID, outcome: RunOutcome(status: .failed, stderrTail: "[rectune sweep] not submitted: \(reason)",
                                                                 durationSeconds: 0))
        }
    }

    /// Ingests the element's `outcome.json` if it is there (exactly once: keyed by the run folder).
    /// A run the element recorded as stopped by Slurm's signal is a timeout when Slurm says TIMEOUT.
    private func ingest(_ w: Watched, job: Job, state: SlurmJobState?, into summary: inout SweepSummary) throws -> Bool {
        let element = w.manifest.elements[w.index]
        let path = (element.runDirectory as NSString).appendingPathComponent(RunOutcomeFile.fileName)
        guard var file = RunOutcomeFile.read(path) else { return false }
        // A run stopped or killed by a signal may be Slurm's doing (scancel, time limit, node failure,
        // preemption, memory limit): wait for Slurm's verdict on the element, and let it name the end.
        if file.outcome.status == .interrupted || file.outcome.status == .crashed, let state {
            guard state.isTerminal else { return false }
            if state != .completed && state != .failed {
                let slurm = Self.outcome(for: state, owner: w.owner, output: "")
                file.outcome.status = slurm.status
                file.outcome.stderrTail += "\n[rectune sweep] Slurm ended \(w.owner) as \(state.rawValue)"
            }
        }
        try store.ingestOutcomes([file], experimentID: job.experimentID)
        guard let row = try store.runs(ids: [element.runID]).first, row.status != .running else { return false }
        summary.executed[row.status, default: 0] += 1
        summary.runIDs.append(row.id)
        summary.lastStatus = row.status
        return true
    }

    /// Stores an outcome for an element that ended without writing one (if its row still waits).
    private func settle(_ w: Watched, outcome: RunOutcome, into summary: inout SweepSummary) throws {
        let element = w.manifest.elements[w.index]
        guard let row = try store.runs(ids: [element.runID]).first, row.status == .running else { return }
        try store.finishRun(id: element.runID, outcome: outcome)
        summary.executed[outcome.status, default: 0] += 1
        summary.runIDs.append(element.runID)
        summary.lastStatus = outcome.status
    }

    /// The run status for an element Slurm ended without an outcome file, with the reason.
    static func outcome(for state: SlurmJobState, owner: String, output: String) -> RunOutcome {
        let status: RunStatus
        var reason = "[rectune sweep] Slurm ended \(owner) as \(state.rawValue) and it wrote no outcome.json"
        switch state {
        case .timeout: status = .timeout; reason += " (Slurm's time limit)"
        case .cancelled, .preempted, .revoked: status = .interrupted
        case .outOfMemory: status = .crashed
        case .nodeFail: status = .failed; reason += " (the node failed)"
        case .completed: status = .failed; reason += " (is the shared directory visible at the same path on the node?)"
        default: status = .failed
        }
        let tail = RunTask.tail(of: output, lines: 20)
        return RunOutcome(status: status, stderrTail: (tail.isEmpty ? "" : tail + "\n") + reason, durationSeconds: 0)
    }

    /// Throws `SlurmError` when `dir` cannot be created or written.
    static func checkWritable(_ dir: String) throws {
        let probe = (dir as NSString).appendingPathComponent(".rectune-write-test-\(getpid())")
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data("ok".utf8).write(to: URL(fileURLWithPath: probe))
            try FileManager.default.removeItem(atPath: probe)
        } catch {
            throw SlurmError("the shared directory \(dir) is not writable: \(error.localizedDescription)")
        }
    }
}

/// JSON files written durably (temporary file, fsync, rename).
enum DurableWrite {
    static func json<T: Encodable>(_ value: T, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try DurableFile.write(try encoder.encode(value), to: path)
    }
}

extension ResultStore {
    /// Hands claimed rows to new owners (a Slurm array's elements) in one transaction.
    public func setOwners(_ owners: [(runID: Int64, owner: String)]) throws {
        try writing { db in
            for (id, owner) in owners { try db.execute(sql: "UPDATE runs SET owner = ? WHERE id = ?", arguments: [owner, id]) }
        }
    }
}
