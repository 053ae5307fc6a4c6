import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs experiment specs: expands each into runs, executes every run as a fresh process group
/// with a timeout, and stores each outcome (ok or failed, with metrics) as soon as it ends.
///
/// Runs are keyed by (experiment, effective-config hash, repeat): runs already stored as ok are
/// skipped, so re-running a spec continues it. `requestStop()` (wired to SIGINT/SIGTERM by the
/// CLI) or cancelling the task kills the current run's group, marks it interrupted and returns.
public final class SweepRunner: Sendable {
    let store: ResultStore
    let options: SweepOptions
    private let stopFlag = Atomic<Bool>(false)

    /// A runner storing into `store`.
    public init(store: ResultStore, options: SweepOptions) {
        self.store = store; self.options = options
    }

    /// Asks the running sweep to stop: the current run is killed and marked interrupted.
    public func requestStop() { stopFlag.store(true, ordering: .relaxed) }

    /// Whether a stop was requested.
    public var isStopRequested: Bool { stopFlag.load(ordering: .relaxed) }

    /// Runs one spec. Throws `SpecError`/`DesignError` for a bad spec, `StoreError` when the store
    /// fails, `RunnerError` when data cannot be prepared or `resume` finds nothing.
    public func run(_ spec: LoadedSpec) async throws -> SweepSummary {
        try await runInterleaved([spec])[0]
    }

    /// Runs several specs with their runs alternating (A1 B1 A2 B2 …), so slow drift of the
    /// machine affects all of them alike (used by `rectune check --ab`). One summary per spec.
    public func runInterleaved(_ specs: [LoadedSpec]) async throws -> [SweepSummary] {
        try await runJobs(try specs.map { try prepare($0) })
    }

    /// Runs `plan` (built by the caller, e.g. the tuner's trials) as runs of the experiment of
    /// `spec`: stored, claimed, skipped when already ok, resumable, exactly like a sweep's runs.
    public func run(_ spec: LoadedSpec, plan: RunPlan) async throws -> SweepSummary {
        try await runJobs([try prepare(spec, plan: plan)])[0]
    }

    private func runJobs(_ prepared: [Job]) async throws -> [SweepSummary] {
        let started = Date()
        var jobs = prepared
        if options.dryRun { return jobs.map(\.summary) }
        let total = jobs.reduce(0) { $0 + $1.pending.count }
        var done = 0
        var durations: [Double] = []
        var previousEnd: Date? = nil
        var stopped = false
        var storeFailure: String? = nil
        outer: while jobs.contains(where: { !$0.pending.isEmpty }) {
            for j in jobs.indices where !jobs[j].pending.isEmpty {
                if isStopRequested || Task.isCancelled { stopped = true; break outer }
                let planned = jobs[j].pending.removeFirst()
                done += 1
                let label = "\(jobs.count > 1 ? jobs[j].spec.name + ": " : "")\(planned.config.label(relativeTo: jobs[j].plan.baseline)) #\(planned.repeatIndex + 1)"
                let elapsed = Date().timeIntervalSince(started)
                let eta = durations.isEmpty ? "" : " ETA " + SweepSummary.clock(durations.reduce(0, +) / Double(durations.count) * Double(total - done + 1))
                options.progress?("[\(done)/\(total)] \(label)… elapsed \(SweepSummary.clock(elapsed))\(eta)", false)
                try prepareData(&jobs[j])
                let executed: Executed?
                do {
                    executed = try await execute(planned, job: jobs[j], since: started)
                } catch let error as StoreError {
                    // The outcome (if the run got that far) is in its run folder's outcome.json.
                    storeFailure = error.description
                    jobs[j].pending.insert(planned, at: 0)
                    break outer
                }
                guard let result = executed else {
                    jobs[j].summary.claimedElsewhere += 1
                    options.progress?("[\(done)/\(total)] \(label): claimed by another sweep, skipped", true)
                    continue
                }
                if let previousEnd { jobs[j].summary.gapsSeconds.append(result.processStart.timeIntervalSince(previousEnd)) }
                previousEnd = result.processEnd
                durations.append(result.outcome.durationSeconds)
                jobs[j].summary.executed[result.outcome.status, default: 0] += 1
                jobs[j].summary.runIDs.append(result.runID)
                let detail = result.outcome.status == .ok
                    ? (result.outcome.metrics.first { $0.name == "samples_per_sec" }.map { String(format: " %.0f samples/s", $0.value) } ?? "")
                    : result.outcome.exitCode.map { " exit \($0)" } ?? result.outcome.signal.map { " signal \($0)" } ?? ""
                options.progress?("[\(done)/\(total)] \(label): \(result.outcome.status.rawValue)\(detail) (\(String(format: "%.1f", result.outcome.durationSeconds))s) elapsed \(SweepSummary.clock(Date().timeIntervalSince(started)))", true)
                if result.outcome.status == .interrupted { stopped = true; break outer }
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        return jobs.map { job in
            var s = job.summary
            s.interrupted = stopped && (!job.pending.isEmpty || s.executed[.interrupted, default: 0] > 0)
            s.storeFailure = storeFailure
            s.elapsedSeconds = elapsed
            return s
        }
    }

    // MARK: Preparation

    struct Job {
        var loaded: LoadedSpec
        var spec: ExperimentSpec { loaded.spec }
        var plan: RunPlan
        var experimentID: Int64
        var pending: [PlannedRun]
        var summary: SweepSummary
        var dataPath: String?
    }

    func prepare(_ original: LoadedSpec, plan explicitPlan: RunPlan? = nil) throws -> Job {
        var loaded = original
        if let n = options.repeatsOverride, n != loaded.spec.repeats {
            loaded.spec.repeats = n
            loaded.text = Self.overridingRepeats(loaded.text, with: n)
        }
        if let t = options.timeoutOverride { loaded.spec.timeoutSeconds = t }
        let planned = try explicitPlan ?? RunPlan(spec: loaded.spec)
        let (plan, notRunHere) = try planned.runnableHere(spec: loaded.spec, bf16Unsupported: options.bf16Unsupported)
        for line in notRunHere { options.progress?("not run on this host: " + line, true) }
        let host = options.host ?? HostFingerprintCollector.current()
        var experimentID: Int64 = 0
        var created = false
        var ingestedCount = 0
        var done = Set<RunKey>()
        if options.dryRun {
            if let existing = try store.existingExperiment(name: loaded.spec.name, specHash: loaded.hash, host: host) {
                experimentID = existing.id
                done = try store.completedKeys(experimentID: existing.id)
            }
        } else {
            // Outcomes kept in run folders that the store does not hold (a failed store write, a deleted store).
            let kept = RunOutcomeFile.scan(runsRoot: options.runDirectory, name: loaded.spec.name, specHash: loaded.hash,
                                           store: store.canonicalPath)
            if options.resume, kept.isEmpty, try store.existingExperiment(name: loaded.spec.name, specHash: loaded.hash, host: host) == nil {
                throw RunnerError.nothingToResume("nothing to resume: no stored experiment '\(loaded.spec.name)' with this spec on this host")
            }
            let hostID = try store.upsertHost(host)
            let found = try options.forceNew
                ? store.createExperiment(name: loaded.spec.name, specText: loaded.text, specPath: loaded.path, specHash: loaded.hash, hostID: hostID)
                : store.findOrCreateExperiment(name: loaded.spec.name, specText: loaded.text, specPath: loaded.path,
                                               specHash: loaded.hash, hostID: hostID)
            experimentID = found.record.id
            created = found.created
            let ingested = try store.ingestOutcomes(kept, experimentID: experimentID)
            ingestedCount = ingested
            if ingested > 0 { options.progress?("ingested \(ingested) run outcome(s) kept in run folders into the store", true) }
            try store.markStaleRunning(experimentID: experimentID)
            done = try store.completedKeys(experimentID: experimentID)
        }
        let pending = plan.runs.filter { !done.contains($0.key) }
        var summary = SweepSummary(experimentID: experimentID, experimentName: loaded.spec.name, createdExperiment: created,
                                   planned: plan.runs.count, skipped: plan.runs.count - pending.count, executed: [:], runIDs: [],
                                   interrupted: false, elapsedSeconds: 0, gapsSeconds: [], storePath: store.path)
        summary.ingested = ingestedCount
        summary.notRunHere = notRunHere
        return Job(loaded: loaded, plan: plan, experimentID: experimentID, pending: pending, summary: summary)
    }

    /// Generates (or finds cached) synthetic data the first time a job needs it.
    func prepareData(_ job: inout Job) throws {
        guard job.dataPath == nil else { return }
        switch job.spec.data {
        case .file(let path):
            job.dataPath = path
        case .synthetic(let rows, let seed):
            if case .command(let c) = job.spec.engine, !CommandLineBuilder.usesData(c) { job.dataPath = ""; return }
            let cached = try SyntheticDataCache.ensure(rows: rows, seed: seed, directory: options.dataDirectory)
            if cached.generated { options.progress?("generated \(rows) synthetic rows (seed \(seed)) into \(cached.path)", true) }
            job.dataPath = cached.path
        }
    }

    /// The spec text with its top-level `repeats:` set to `n` (so the stored text matches what ran).
    static func overridingRepeats(_ text: String, with n: Int) -> String {
        var lines = text.components(separatedBy: "\n")
        if let i = lines.firstIndex(where: { $0.hasPrefix("repeats:") }) {
            lines[i] = "repeats: \(n)   # set by --repeats"
        } else {
            lines.append("repeats: \(n)   # set by --repeats")
        }
        return lines.joined(separator: "\n")
    }
}
