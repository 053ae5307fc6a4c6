import Foundation
import RecContract

/// What `rectune contest tune` needs beyond a contest run's options.
public struct ContestTuneOptions: Sendable {
    /// Scale of the contest the tuned settings are for (its step counts × scale are the tuner's full scale).
    public var run = ContestRunOptions()
    /// Wall-time budget for all models' trials, in minutes; shared out model by model.
    public var budgetMinutes: Double = 60
    /// The chosen settings' AUC lower 95% bound must clear floor + margin.
    public var margin: Double = 0.002
    /// Tuner settings (scales, repeats, seed…); objective and constraint are set per model.
    public var settings = TuneSettings()

    public init() {}
}

/// One model's tuning result.
public struct ContestTuneResult: Sendable {
    public var model: String
    public var label: String
    /// The tuner's outcome; nil when the model was not tuned (`skipped` says why).
    public var outcome: TuneOutcome?
    public var skipped: String?
}

/// `rectune contest tune`: the constraint-aware tuner (`Tuner`) on each contest model in the
/// scorer's order, minimising the contest's timed window (`contest_seconds`) under the model's AUC
/// floor. Each model's experiment is the contest run's spec of the baseline submission (same steps,
/// data, seed and checkpoints), so a trial at scale 1 is exactly one model of `contest run`.
/// Models share the budget: each gets the budget left divided by the models left.
public final class ContestTuner: @unchecked Sendable {
    // @unchecked Sendable: `log` and `evaluatorStarted` are set before `run` and only read after.
    public let runner: ContestRunner
    public var log: (String) -> Void = { _ in }
    /// Called with each model's evaluator before its tune starts (the CLI hooks SIGINT to it).
    public var evaluatorStarted: (StoreTrialEvaluator) -> Void = { _ in }

    public init(runner: ContestRunner) { self.runner = runner }

    /// The tuning spec of `entry`: the baseline's contest spec under its own name, without the
    /// contest tag (so its trials never show as contest runs in `contest report`).
    public func spec(entry: ContestEntry, options: ContestTuneOptions, dataPath: String) throws -> LoadedSpec {
        var run = options.run
        run.repeats = 1
        let text = runner.specText(submission: runner.baseline, entry: entry, options: run, dataPath: dataPath)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix(ContestTag.prefix) }
            .map { $0.hasPrefix("name: ") ? Substring("name: \(Submission.quote("contest-tune.\(entry.model)@\(run.scale)"))") : $0 }
            .joined(separator: "\n")
        return try SpecParser.parse(text, path: "contest-tune:\(entry.model)")
    }

    /// The tuner settings of `entry`: minimise `contest_seconds`; keep AUC ≥ floor + margin when
    /// the model has a floor above 0. Throws `RunnerError.data` for an underived floor.
    public func settings(entry: ContestEntry, options: ContestTuneOptions) throws -> TuneSettings {
        var s = options.settings
        s.objective = "contest_seconds"
        s.minimize = true
        let floor = options.run.realData != nil ? entry.realFloor : entry.generatedFloor
        guard let floor else {
            throw RunnerError.data("\(entry.label): its generated-data floor is not derived (contest file, generated.floors); derive it before tuning")
        }
        s.constraint = floor > 0 ? TuneConstraint(metric: "auc", atLeast: true, bound: floor, margin: options.margin) : nil
        return s
    }

    public func run(options: ContestTuneOptions, store: ResultStore, sweep: SweepOptions) async throws -> [ContestTuneResult] {
        let entries = runner.definition.entries.filter { options.run.models.contains($0.model) }
        var results: [ContestTuneResult] = []
        var remaining = options.budgetMinutes * 60
        for (i, entry) in entries.enumerated() {
            func skip(_ why: String) { log("\(entry.label): not tuned: \(why)"); results.append(ContestTuneResult(model: entry.model, label: entry.label, skipped: why)) }
            if let reason = entry.unavailableReason { skip(reason); continue }
            let share = remaining / Double(entries.count - i)
            let settings: TuneSettings, loaded: LoadedSpec
            do {
                settings = try self.settings(entry: entry, options: options)
                let data = try ContestData.directory(dataset: entry.dataset, realRoot: options.run.realData, cacheDirectory: sweep.dataDirectory,
                                                     sizes: runner.definition.generatedSizes[entry.dataset], seed: UInt64(runner.definition.seed))
                loaded = try spec(entry: entry, options: options, dataPath: data.path)
            } catch let e as RunnerError { skip(e.description); continue }
            let narrowed = try SearchSpace(spec: loaded.spec, settings: settings).leavingOutUnsupported()
            for line in narrowed.notRunHere { log("\(entry.label): not searched on this host: " + line) }
            let space = narrowed.space
            guard !space.dimensions.isEmpty else { skip("no knob to search"); continue }
            let evaluator = StoreTrialEvaluator(spec: loaded, store: store, options: sweep, settings: settings)
            evaluator.baseline = space.baseline
            evaluatorStarted(evaluator)
            log("\(entry.label): tuning \(space.dimensions.count) knobs (\(space.size) combinations) within \(Int(share / 60)) of \(Int(remaining / 60)) minutes left")
            let tuner = Tuner(space: space, settings: settings, evaluator: evaluator, budgetSeconds: share)
            tuner.log = log
            let started = Date()
            let outcome = try await tuner.run()
            remaining = max(0, remaining - Date().timeIntervalSince(started))
            results.append(ContestTuneResult(model: entry.model, label: entry.label, outcome: outcome))
            if outcome.interrupted { break }
        }
        return results
    }

    /// The tuned submission: per tuned model its chosen settings (empty = the baseline's).
    public static func submissionYAML(name: String, results: [ContestTuneResult], scale: Double) -> String {
        let improved = results.filter { $0.outcome?.improved == true }.map(\.label)
        let description = "rectune contest tune at scale \(scale): "
            + (improved.isEmpty ? "baseline kept for every model" : "tuned \(improved.joined(separator: ", "))")
        return TuneOutcome.submissionYAML(name: name, description: description, models: results.compactMap { r in
            guard let o = r.outcome else { return nil }
            return (r.model, o.improved ? o.chosen.values : [:])
        })
    }
}
