import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import RecHarness

/// `rectune contest`: the DeepRec CTR contest (COMPETITION.md) as an experiment.
struct ContestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contest", abstract: "Run the DeepRec CTR contest: its six models, step counts, floors and scoring.",
        subcommands: [ContestRunCommand.self, ContestTuneCommand.self, ContestReportCommand.self])
}

/// `rectune contest run`: every model of every submission as stored runs, scored by the contest's rule.
struct ContestRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the contest for the baseline and the given submissions; print the scoreboard.",
        discussion: """
        Runs DIEN, DIN, DLRM, DeepFM, MMoE and WDL in the scorer's order with its step counts (× --scale) \
        at batch 512, each model a fresh `rectune train` process through the sweep runner (every run is \
        stored; re-running or --resume skips finished runs). The timed window is the result's \
        contest_seconds: parameter creation and initialisation, a checkpoint at the start, the steps and \
        a checkpoint at the end (evaluation outside). Score = the sum of the six; 864000 if any model \
        fails or any AUC is below its floor (the contest's floors with --data; on generated data the \
        floors of Experiments/contest/contest.yaml). The baseline submission \
        (Experiments/contest/baseline.yaml) always runs first; each --submission runs interleaved with \
        it, model by model, and is compared by the ratio of total seconds with a bootstrap CI.

        Examples:
          rectune contest run --scale 0.02 --models wdl,deepfm,dlrm,mmoe
          rectune contest run --submission Experiments/contest/hand-tuned.yaml \\
              --scale 0.1 --repeats 3 --json board.json
          rectune contest run --data /data/tianchi --scale 1
        """)

    @Option(name: .customLong("submission"), help: ArgumentHelp("A submission file (YAML, per model knob → value); repeatable.", valueName: "file"))
    var submissions: [String] = []
    @Option(help: "Multiplies every step count (0.02 for a smoke run, 1 for the contest).") var scale: Double = 1
    @Option(help: "Whole contests to run (submissions interleave within each); > 1 gives CIs.") var repeats: Int = 1
    @Option(help: ArgumentHelp("A directory holding eleme/, amazon-books/ and taobao/ in the contest's real layouts (the contest's floors apply). Default: generated data cached under the store's data/ folder.", valueName: "dir"))
    var data: String?
    @Option(help: "Models to run, comma-separated (default: all six; the score needs all six).") var models: String = Submission.contestModels.joined(separator: ",")
    @Option(help: ArgumentHelp("The contest file (steps, floors, generated sizes).", valueName: "file")) var contest: String = "Experiments/contest/contest.yaml"
    @Option(help: ArgumentHelp("The baseline submission.", valueName: "file")) var baseline: String = "Experiments/contest/baseline.yaml"
    @Flag(help: "Continue a stored contest run (error if none of its runs is stored).") var resume = false
    @Option(help: ArgumentHelp("Write the scoreboard JSON here ('-' for stdout).", valueName: "path")) var json: String?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        try validateContestSelection(scale: scale, models: models)
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    }

    func run() async throws {
        let definition: ContestDefinition
        let base: Submission
        var subs: [Submission] = []
        do {
            definition = try ContestDefinition.load(contest)
            base = try Submission.load(baseline, contest: definition)
            for path in submissions { subs.append(try Submission.load(path, contest: definition, base: base)) }
        } catch let error as SpecError {
            Terminal.err(error.description)
            throw ExitCode(2)
        }
        let all = [base] + subs.filter { $0.name != base.name }
        if Set(all.map(\.name)).count != all.count { Terminal.err("rectune contest run: two submissions share a name"); throw ExitCode(2) }
        var options = ContestRunOptions()
        options.scale = scale; options.repeats = repeats; options.realData = data; options.resume = resume
        options.models = models.split(separator: ",").map(String.init)
        let storeHandle = try store.openForWriting()
        var sweep = SweepOptions(storePath: store.path)
        sweep.progress = Terminal.sweepProgress
        for e in definition.entries where options.models.contains(e.model) {
            if let reason = e.unavailableReason { Terminal.err("note: \(reason); it is scored as failed (run the others with --models)") }
        }
        var runner = ContestRunner(definition: definition, baseline: base)
        // Ctrl-C (or SIGTERM) stops the current run: it is stored as interrupted, the board of what
        // ran is printed, the exit status is 130, and --resume continues.
        let current = Mutex<SweepRunner?>(nil)
        runner.sweepStarted = { r in current.withLock { $0 = r } }
        let signals = StopSignals(message: "stopping the current run…") { current.withLock { $0?.requestStop() } }
        defer { signals.cancel() }
        let board: ContestBoard
        do {
            board = try await runner.run(submissions: all, options: options, store: storeHandle, sweep: sweep)
        } catch let error as RunnerError {
            Terminal.err("rectune contest run: \(error)")
            if case .storeFailure = error { throw ExitCode(ExitStatus.storeFailed) }
            throw ExitCode(ExitStatus.usage)
        } catch let error as SpecError {
            Terminal.err(error.description)
            throw ExitCode(2)
        }
        if let json { try Terminal.output(try board.json(), to: json) }
        print(board.text())
        if board.interrupted { throw ExitCode(ExitStatus.interrupted) }
    }
}

/// `rectune contest report`: the stored contest's scoreboard in every report format.
struct ContestReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "The scoreboard of stored contest runs (text, md, csv, json, html, ipynb), with the published claims.",
        discussion: """
        Rebuilds the board of the latest `rectune contest run` in the store (or of --scale): per model \
        the baseline's and each submission's seconds with 95% CIs, the speedup, AUC against the floor, \
        the winning settings, total score and speedup, the contest's own board as reference ratios, \
        and COMPETITION.md's published claims evaluated as reproduced, refuted or inconclusive with \
        the counter that explains them. A claim needs a submission that changes only its knob.
        """)

    @OptionGroup var store: StoreOptions
    @Option(help: "text | md | csv | json | html | ipynb") var format: String = "text"
    @Option(help: "Output file ('-' for stdout).") var out: String = "-"
    @Option(help: "The contest scale to report (default: the latest contest run's).") var scale: Double?
    @Option(help: "Only these submissions, comma-separated (default: all at that scale).") var submissions: String?

    func validate() throws {
        guard ContestReport.formats.contains(format) else {
            throw ValidationError("--format must be one of \(ContestReport.formats.joined(separator: ", ")), got '\(format)'")
        }
    }

    func run() async throws {
        let handle = try store.openForReading()
        guard let board = try ContestReport.board(store: handle, scale: scale, only: submissions.map { $0.split(separator: ",").map(String.init) }) else {
            Terminal.err("rectune contest report: no contest runs in \(store.path) (run `rectune contest run` first)")
            throw ExitCode(2)
        }
        try Terminal.output(try ContestReport.render(board, format: format), to: out)
    }
}

/// `rectune contest tune`: the constraint-aware tuner on every contest model; writes a submission.
struct ContestTuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune", abstract: "Find, per contest model, the fastest settings whose AUC stays above its floor; write a submission.",
        discussion: """
        For each model in the scorer's order, runs `rectune tune` on the contest's own experiment of \
        that model (the baseline submission's settings, the scorer's steps × --scale, batch 512, \
        checkpoints in the timed window): objective contest_seconds (lower is better), constraint AUC \
        ≥ the model's floor + --margin (lower 95% bound over repeats with varied seeds; models without \
        a floor are unconstrained). Stages per model: a baseline run, screening at 0.1 of the steps, \
        racing at 0.3, confirmation at full steps interleaved with the baseline; a candidate that is \
        not clearly faster, or whose AUC is not clearly above the floor, is never chosen. The budget \
        is shared model by model (each gets what is left divided by the models left). Every trial is \
        stored: after Ctrl-C or a crash, run the same command again to continue (finished trials are \
        not rerun). Then score the submission against the baseline with `rectune contest run \
        --submission FILE --repeats N`.

        Examples:
          rectune contest tune --scale 0.02 --budget 20 \\
              --out Experiments/contest/tuned.yaml
          rectune contest tune --models dien,din --scale 0.1 --budget 60 \\
              --out books.yaml
        """)

    @Option(help: "Multiplies every step count (the contest the settings are tuned for).") var scale: Double = 1
    @Option(help: ArgumentHelp("Wall-time budget in minutes for all models' trials.", valueName: "minutes")) var budget: Double = 60
    @Option(help: "Models to tune, comma-separated (default: all six).") var models: String = Submission.contestModels.joined(separator: ",")
    @Option(help: ArgumentHelp("A directory holding eleme/, amazon-books/ and taobao/ in the contest's real layouts.", valueName: "dir"))
    var data: String?
    @Option(help: "The chosen settings' AUC lower 95% bound must clear floor + margin.") var margin: Double = 0.002
    @Option(help: ArgumentHelp("Write the tuned submission (YAML) here.", valueName: "file")) var out: String = "tuned.yaml"
    @Option(help: ArgumentHelp("Submission name in --out (default: the file name).", valueName: "name")) var name: String?
    @Option(help: ArgumentHelp("The contest file (steps, floors, generated sizes).", valueName: "file")) var contest: String = "Experiments/contest/contest.yaml"
    @Option(help: ArgumentHelp("The baseline submission.", valueName: "file")) var baseline: String = "Experiments/contest/baseline.yaml"
    @Option(help: "Tuner seed (screening design and resampling).") var seed: UInt64 = 1
    @Flag(help: "Print every trial as it finishes.") var verbose = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        try validateContestSelection(scale: scale, models: models)
        guard budget > 0, budget.isFinite else { throw ValidationError("--budget must be a positive number of minutes, got \(budget)") }
        guard margin >= 0 else { throw ValidationError("--margin must be >= 0, got \(margin)") }
    }

    func run() async throws {
        let definition: ContestDefinition, base: Submission
        do {
            definition = try ContestDefinition.load(contest)
            base = try Submission.load(baseline, contest: definition)
        } catch let error as SpecError {
            Terminal.err(error.description)
            throw ExitCode(2)
        }
        var options = ContestTuneOptions()
        options.run.scale = scale; options.run.realData = data
        options.run.models = models.split(separator: ",").map(String.init)
        options.budgetMinutes = budget; options.margin = margin; options.settings.seed = seed
        let storeHandle = try store.openForWriting()
        var sweep = SweepOptions(storePath: store.path)
        sweep.progress = Terminal.sweepProgress
        let tuner = ContestTuner(runner: ContestRunner(definition: definition, baseline: base))
        let verbose = self.verbose
        tuner.log = { line in if verbose || !line.hasPrefix("  ") { Terminal.err(line) } }
        let current = Mutex<StoreTrialEvaluator?>(nil)
        tuner.evaluatorStarted = { e in current.withLock { $0 = e } }
        let signals = StopSignals(message: "stopping the current trial…") { current.withLock { $0?.requestStop() } }
        defer { signals.cancel() }
        let results: [ContestTuneResult]
        do { results = try await tuner.run(options: options, store: storeHandle, sweep: sweep) } catch let e as TuneError {
            Terminal.err("rectune contest tune: \(e)")
            throw ExitCode(ExitStatus.storeFailed)
        } catch let e as TuneSpaceError {
            Terminal.err("rectune contest tune: \(e)")
            throw ExitCode(2)
        }
        for r in results {
            print("== \(r.label)")
            if let o = r.outcome { print(o.render()) } else { print("not tuned: \(r.skipped ?? "")") }
        }
        let interrupted = results.contains { $0.outcome?.interrupted == true }
        if interrupted { throw ExitCode(ExitStatus.interrupted) }
        let submissionName = name ?? ((out as NSString).lastPathComponent as NSString).deletingPathExtension
        try ContestTuner.submissionYAML(name: submissionName, results: results, scale: scale).write(toFile: out, atomically: true, encoding: .utf8)
        print("submission: \(out)\nscore it: rectune contest run --submission \(out) --scale \(scale) --repeats 3")
    }
}

/// The `--scale` and `--models` checks shared by `contest run` and `contest tune`.
private func validateContestSelection(scale: Double, models: String) throws {
    guard scale > 0, scale.isFinite else { throw ValidationError("--scale must be a positive number, got \(scale)") }
    for m in models.split(separator: ",") where !Submission.contestModels.contains(String(m)) {
        throw ValidationError("--models: '\(m)' is not a contest model (\(Submission.contestModels.joined(separator: ", ")))")
    }
}
