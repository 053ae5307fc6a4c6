import ArgumentParser
import Dispatch
import Foundation
import RecHarness

/// `rectune tune SPEC`: finds the fastest knob settings of a spec's model that keep its constraint
/// (e.g. AUC above a floor), under a time budget, with every trial stored and resumable.
struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune", abstract: "Search the knobs of a spec's model for the best objective that keeps a constraint.",
        discussion: """
        The spec's `tune:` section names the knobs (default: every runtime knob that applies to the model), the \
        objective (e.g. samples_per_sec, train_seconds), the constraint (e.g. "auc >= 0.70" with a margin), the \
        budget and the scales. Stages: a full-scale baseline run; screening at the first scale (fractional or random \
        design, seeds varied) with main effects per knob; racing and successive halving at the middle scales; \
        confirmation of the finalists at full scale, interleaved with the baseline. A finalist is chosen only when \
        it is clearly better than the baseline and its constraint metric's 95% confidence bound clears the bound \
        plus margin; otherwise the baseline is kept. Every trial is a run in the store (experiments named `<spec \
        name>.tune@<scale>`): after Ctrl-C or a crash, --resume continues without rerunning finished trials. Exit: 0 \
        done, 2 spec or usage error, 5 store failure, 130 interrupted.
        """)

    @Argument(help: "The experiment spec (YAML) with a `tune:` section (or none: every defaults).")
    var spec: String

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("Wall-time budget in minutes for the trials (overrides tune.budget_minutes).", valueName: "minutes"))
    var budget: Double?

    @Flag(help: "Continue a stored tune of this spec (error if none is stored).")
    var resume = false

    @Option(help: ArgumentHelp("Write the chosen settings as a contest submission file (YAML).", valueName: "path"))
    var out: String?

    @Option(help: ArgumentHelp("Submission name in --out (default: <spec name>-tuned).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Write the outcome as JSON to this file ('-' for stdout).", valueName: "path"))
    var json: String?

    @Flag(help: "Print the search space and the screening design; run nothing.")
    var dryRun = false

    @Option(help: "Override the per-run timeout in seconds.")
    var timeout: Double?

    @Flag(help: "Print every trial as it finishes.")
    var verbose = false

    @Flag(help: "Run external commands without the perf-counter wrapper (`rectune measure`).")
    var noMeasure = false

    func validate() throws {
        if let budget, !(budget > 0) { throw ValidationError("--budget must be a positive number of minutes, got \(budget)") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let loaded = try loadSpecOrExit(spec)
        let settings = loaded.spec.tune ?? TuneSettings()
        var space: SearchSpace
        do { space = try SearchSpace(spec: loaded.spec, settings: settings) } catch let e as TuneSpaceError {
            Terminal.err("\(loaded.path): error: \(e)")
            throw ExitCode(2)
        }
        if case .rectune = loaded.spec.engine {
            let narrowed = space.leavingOutUnsupported()
            space = narrowed.space
            for line in narrowed.notRunHere { Terminal.err("not searched on this host: " + line) }
        }
        guard !space.dimensions.isEmpty else {
            Terminal.err("\(loaded.path): error: tune: no knob to search for model \(loaded.spec.model) (name knobs in tune.knobs)")
            throw ExitCode(2)
        }
        if dryRun {
            print("search space (\(space.size) combinations; baseline value first):\n\(space.render())")
            let tuner = Tuner(space: space, settings: settings, evaluator: NoEvaluator(), budgetSeconds: budget.map { $0 * 60 })
            let design = tuner.plannedScreening()
            print("screening design at scale \(TuneFormat.number(settings.scales[0])): \(design.count) configurations × \(settings.screenRepeats) repeats")
            for c in design { print("  [\(c.label(relativeTo: space.baseline))]") }
            print("then racing at scales \(settings.scales.dropFirst().dropLast().map(TuneFormat.number).joined(separator: ", ")), "
                  + "confirmation of \(settings.confirmCandidates) finalist(s) × \(settings.confirmRepeats) repeats at full scale")
            return
        }
        let store = try self.store.openForWriting()
        var options = SweepOptions(storePath: self.store.path)
        options.timeoutOverride = timeout
        options.measureExternalCommands = !noMeasure
        options.progress = Terminal.sweepProgress
        let evaluator = StoreTrialEvaluator(spec: loaded, store: store, options: options, settings: settings)
        evaluator.baseline = space.baseline
        if resume, try !evaluator.hasStoredTrials(scales: settings.scales) {
            Terminal.err("rectune tune: nothing to resume: no stored trial of '\(loaded.spec.name)' with this spec on this host")
            throw ExitCode(2)
        }
        let signals = StopSignals(message: "stopping the current trial…") { evaluator.requestStop() }
        defer { signals.cancel() }
        let tuner = Tuner(space: space, settings: settings, evaluator: evaluator, budgetSeconds: budget.map { $0 * 60 })
        let verbose = self.verbose
        tuner.log = { line in if verbose || !line.hasPrefix("  ") { Terminal.err(line) } }
        let outcome: TuneOutcome
        do { outcome = try await tuner.run() } catch let e as DesignError {
            Terminal.err("\(loaded.path): error: \(e)")
            throw ExitCode(2)
        } catch let e as TuneError {
            Terminal.err("rectune tune: \(e)")
            throw ExitCode(ExitStatus.storeFailed)
        }
        print(outcome.render())
        if let out, !outcome.interrupted {
            let text = outcome.submissionYAML(name: name ?? "\(loaded.spec.name)-tuned", model: loaded.spec.model, source: spec)
            try text.write(toFile: out, atomically: true, encoding: .utf8)
            print("submission: \(out)")
        }
        if let json {
            if json == "-" { print(outcome.json()) } else { try outcome.json().write(toFile: json, atomically: true, encoding: .utf8) }
        }
        if outcome.interrupted { throw ExitCode(ExitStatus.interrupted) }
    }
}

/// The dry run's evaluator: runs nothing.
private final class NoEvaluator: TuneEvaluator {
    func stored(_ trial: Trial) throws -> TrialResult? { nil }
    func run(_ trial: Trial, timeLimit: Double?) async throws -> TrialResult? { nil }
}
