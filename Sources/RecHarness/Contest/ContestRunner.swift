import Foundation
import RecContract

/// What `rectune contest run` runs.
public struct ContestRunOptions: Sendable {
    /// Multiplies every step count (0.02 for a smoke run, 1 for the contest itself).
    public var scale: Double = 1
    /// Whole contests to run; submissions interleave within each.
    public var repeats: Int = 1
    /// A directory with `eleme/`, `amazon-books/`, `taobao/` in the real layouts; nil = generated data.
    public var realData: String? = nil
    /// The models to run (engine names), in the scorer's order; default all six.
    public var models: [String] = Submission.contestModels
    /// Continue a stored contest (error if none of its runs is stored).
    public var resume: Bool = false
    public init() {}

    /// The step count of a model at this scale (at least 1).
    public func steps(_ entry: ContestEntry) -> Int { max(1, Int((Double(entry.steps) * scale).rounded())) }
}

/// Runs the contest: every (submission, model) is a stored experiment of `repeats` runs of the
/// engine (a fresh process each, through the sweep runner), in the scorer's model order, with
/// submissions interleaved, and scores each repeat by the contest's rule.
public struct ContestRunner: Sendable {
    public let definition: ContestDefinition
    public let baseline: Submission
    /// Called with the sweep runner before the first run starts, so a caller can stop it
    /// (`requestStop()`, wired to Ctrl-C by `rectune contest run`).
    public var sweepStarted: (@Sendable (SweepRunner) -> Void)? = nil

    public init(definition: ContestDefinition, baseline: Submission) {
        self.definition = definition; self.baseline = baseline
    }

    /// The experiment spec (YAML text) of one model under one submission's merged settings.
    public func specText(submission: Submission, entry: ContestEntry, options: ContestRunOptions, dataPath: String) -> String {
        let steps = options.steps(entry)
        let settings = submission.runSettings(entry.model, over: baseline)
        // rectune's model settings and its evaluation switch mean nothing to an external engine.
        var fixed = submission.engine == nil ? entry.settings : [:]
        fixed[Knob.dataset.name] = entry.dataset
        fixed[Knob.seed.name] = String(definition.seed)
        if submission.engine == nil { fixed[Knob.evalRows.name] = "0" }
        for (k, v) in settings { fixed[k] = v }
        let fixedText = fixed.sorted { $0.key < $1.key }.map { "\($0.key): \(Submission.quote($0.value))" }.joined(separator: ", ")
        // Generous: a scaled run's process start, data loading and evaluation dominate its steps.
        let timeout = Int(900 + Double(steps) * 2)
        let floor = options.realData != nil ? entry.realFloor : entry.generatedFloor
        let tag = ContestTag(submission: submission.name, file: submission.path, model: entry.model, label: entry.label, steps: steps,
                             floor: floor, scale: options.scale, repeats: options.repeats,
                             settings: settings,
                             data: options.realData.map { "real: \($0)" } ?? "generated (seed \(definition.seed))")
        return """
        # rectune contest run: \(entry.label) under submission '\(submission.name)' (\(submission.path))
        \(ContestTag.prefix)\(tag.line)
        name: \(Submission.quote("contest.\(submission.name).\(entry.model)"))
        model: \(entry.model)
        data: {path: \(Submission.quote(dataPath))}
        batch: \(definition.batch)
        steps: \(steps)
        warmup_steps: 0
        repeats: \(options.repeats)
        order: sequential
        timeout: \(timeout)
        \(submission.engineYAML(knobs: Set(settings.keys)).map { "engine: \($0)" } ?? "checkpoint: on")
        metrics: [contest_seconds, auc, samples_per_sec]
        fixed: {\(fixedText)}

        """
    }

    /// The outcome of repeat `repeatIndex` among an experiment's stored `runs` (its latest ok run,
    /// else its latest run; none: not run).
    static func outcome(runs: [RunRecord], repeatIndex r: Int, model: String, label: String, steps: Int, floor: Double?,
                        settings: [String: String]) -> ModelOutcome {
        let mine = runs.filter { $0.repeatIndex == r }.sorted { $0.id < $1.id }
        guard let run = mine.last(where: { $0.status == .ok }) ?? mine.last else {
            return ModelOutcome(model: model, label: label, steps: steps, seconds: nil, auc: nil, floor: floor,
                                failure: "not run (interrupted)", settings: settings)
        }
        var outcome = ModelOutcome(model: model, label: label, steps: steps, seconds: run.metric("contest_seconds"),
                                   auc: run.metric("auc"), floor: floor, settings: settings, runID: run.id)
        if run.status != .ok {
            let last = run.stderrTail.split(separator: "\n").last.map(String.init) ?? ""
            outcome.failure = "run \(run.status.rawValue)" + (run.exitCode.map { " (exit \($0))" } ?? "") + (last.isEmpty ? "" : ": \(last)")
        } else if outcome.seconds == nil {
            outcome.failure = "the result has no contest_seconds"
        }
        let tasks = run.metrics.filter { $0.name.hasPrefix("auc_by_task.") && $0.phase == "steady" }
        if !tasks.isEmpty { outcome.aucByTask = Dictionary(uniqueKeysWithValues: tasks.map { (String($0.name.dropFirst(12)), $0.value) }) }
        outcome.counters = Dictionary(run.metrics.filter { $0.phase == "steady" && ContestClaims.counterNames.contains($0.name) }.map { ($0.name, $0.value) },
                                      uniquingKeysWith: { a, _ in a })
        return outcome
    }

    /// Runs the contest for `submissions` (each scored against the same rules) and returns the boards.
    /// Throws `RunnerError`, `SpecError`, `StoreError`.
    public func run(submissions: [Submission], options: ContestRunOptions, store: ResultStore, sweep: SweepOptions) async throws -> ContestBoard {
        let entries = try options.models.map { m -> ContestEntry in
            guard let e = definition.entry(m) else {
                throw RunnerError.data("--models: '\(m)' is not a contest model (\(definition.entries.map(\.model).joined(separator: ", ")))")
            }
            return e
        }.sorted { a, b in definition.entries.firstIndex(of: a)! < definition.entries.firstIndex(of: b)! }
        var dataPaths: [String: String] = [:]
        var missing: [String: String] = [:]   // model → why it cannot run
        for e in entries {
            if let reason = e.unavailableReason { missing[e.model] = reason; continue }
            if dataPaths[e.dataset] != nil { continue }
            do {
                let d = try ContestData.directory(dataset: e.dataset, realRoot: options.realData, cacheDirectory: sweep.dataDirectory,
                                                  sizes: definition.generatedSizes[e.dataset], seed: UInt64(definition.seed))
                if d.generated { sweep.progress?("generated \(e.dataset) data into \(d.path)", true) }
                dataPaths[e.dataset] = d.path
            } catch let error as RunnerError where options.realData == nil {
                missing[e.model] = error.description
            }
        }
        // One spec per (model, submission): the sweep runner alternates between them, so each round
        // is one contest with the submissions interleaved model by model.
        // A submission's model this host cannot run (bf16 where oneDNN has none) is not run and
        // scores as a failure naming the reason; the other submissions and models still run.
        var jobs: [(submission: Int, entry: ContestEntry, spec: LoadedSpec)] = []
        var notRunHere: [String: String] = [:]   // "submission index/model" → why this host cannot run it
        for e in entries where missing[e.model] == nil {
            for (i, s) in submissions.enumerated() {
                let text = specText(submission: s, entry: e, options: options, dataPath: dataPaths[e.dataset]!)
                let spec = try SpecParser.parse(text, path: "contest:\(s.name):\(e.model)")
                if let reason = try spec.spec.reasonNotRunnableHere(RunPlan(spec: spec.spec).baseline, bf16Unsupported: sweep.bf16Unsupported) {
                    let line = "not run on this host: \(reason)"
                    notRunHere["\(i)/\(e.model)"] = line
                    sweep.progress?("\(s.name) \(e.label): \(line)", true)
                    continue
                }
                jobs.append((i, e, spec))
            }
        }
        var sweepOptions = sweep
        sweepOptions.resume = false
        if options.resume {
            let host = sweep.host ?? HostFingerprintCollector.current()
            let stored = try jobs.contains { try store.existingExperiment(name: $0.spec.spec.name, specHash: $0.spec.hash, host: host) != nil }
            if !stored { throw RunnerError.nothingToResume("nothing to resume: no stored contest run with these submissions, models, scale and repeats on this host") }
        }
        let runner = SweepRunner(store: store, options: sweepOptions)
        sweepStarted?(runner)
        let summaries = jobs.isEmpty ? [] : try await runner.runInterleaved(jobs.map(\.spec))
        // A run the store could not take stops the sweep: say so instead of scoring the runs that never ran.
        if let failure = summaries.compactMap(\.storeFailure).first { throw RunnerError.storeFailure(failure) }
        var boards: [SubmissionBoard] = []
        for (i, s) in submissions.enumerated() {
            var repeats: [[ModelOutcome]] = Array(repeating: [], count: options.repeats)
            for e in entries {
                let floor = options.realData != nil ? e.realFloor : e.generatedFloor
                let steps = options.steps(e)
                let settings = s.runSettings(e.model, over: baseline)
                guard let k = jobs.firstIndex(where: { $0.submission == i && $0.entry == e }) else {
                    for r in 0..<options.repeats {
                        repeats[r].append(ModelOutcome(model: e.model, label: e.label, steps: steps, seconds: nil, auc: nil, floor: floor,
                                                       failure: missing[e.model] ?? notRunHere["\(i)/\(e.model)"] ?? "not run",
                                                       settings: settings))
                    }
                    continue
                }
                let runs = try store.runs(experimentID: summaries[k].experimentID)
                for r in 0..<options.repeats {
                    repeats[r].append(Self.outcome(runs: runs, repeatIndex: r, model: e.model, label: e.label, steps: steps, floor: floor,
                                                   settings: settings))
                }
            }
            boards.append(SubmissionBoard(name: s.name, path: s.path, repeats: repeats, failedScore: definition.failedScore))
        }
        let interrupted = summaries.contains { $0.interrupted }
        return ContestBoard(submissions: boards, scale: options.scale, repeats: options.repeats,
                            data: options.realData.map { "real: \($0)" } ?? "generated (seed \(definition.seed))", interrupted: interrupted)
    }
}

/// The contest facts of a generated run spec, kept as one comment line of its text
/// (`# rectune-contest: {json}`) so `rectune contest report` can rebuild the board from the store.
public struct ContestTag: Codable, Sendable, Equatable {
    public static let prefix = "# rectune-contest: "
    public var submission: String
    public var file: String
    public var model: String
    public var label: String
    public var steps: Int
    public var floor: Double?
    public var scale: Double
    public var repeats: Int
    public var settings: [String: String]
    public var data: String

    var line: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The tag in a stored spec text, or nil for any other experiment.
    public static func find(in specText: String) -> ContestTag? {
        guard let line = specText.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return try? JSONDecoder().decode(ContestTag.self, from: Data(line.dropFirst(prefix.count).utf8))
    }
}
