import RecContract
import ArgumentParser
import Foundation
import RecEngine
import RecSystem

/// `train`'s options: run shape, model shape, and every registry knob (`KnobOptions`).
struct TrainOptions: ParsableArguments {
    @Option(help: "Model: wdl, dlrm or deepfm (Criteo and Ele.me), mmoe (Taobao), din or dien (Amazon Books).") var model: ModelKind = .wdl
    @Option(help: "Criteo-format TSV file (label, 13 integers, 26 hex categoricals), or the eleme/taobao/amazon-books directory. Default: generated data.") var data: String?
    @Option(help: "Rows of generated data when --data is not given (criteo: the last --eval-rows are held out; eleme/taobao/amazon-books: training rows, even for amazon-books).") var syntheticRows = 100_000
    @Option(help: "Samples per step.") var batch = 512
    @Option(help: "Measured (steady-state) steps.") var steps = 200
    @Option(help: "Warm-up steps before measuring.") var warmupSteps = 50
    @Option(help: "Sets both --inter-threads and --intra-threads.") var threads: Int?
    @Option(help: ArgumentHelp("Save every parameter and optimizer slot into this directory at the start and at the end of training, as the contest scripts do (contest models: inside the timed window, contest_seconds).", valueName: "dir")) var checkpoint: String?
    @Option(help: ArgumentHelp("Resume bit-identically from a checkpoint (a directory written by --checkpoint, or one of its .rtck files); training continues at its global step.", valueName: "dir")) var restore: String?

    @Option(help: "Main MLP hidden layers, e.g. 1024,512,256 (default: the model's).") var hiddenLayers: IntList?
    @Option(help: "DLRM bottom MLP, ending in the embedding dimension (default 512,256,64,16).") var bottomLayers: IntList?
    @Option(name: .customLong("lr"), help: "Learning rate (default: the model's).") var learningRate: Float?
    @Option(name: .customLong("wide-lr"), help: "Wide / first-order learning rate (default: the model's).") var wideLearningRate: Float?

    @OptionGroup(title: "Knobs (the registry: names, values, defaults and when each applies)") var knobs: KnobOptions

    /// The config these options describe.
    /// - Throws: `ValidationError` naming the knob, the value and what is allowed.
    func makeConfig() throws -> TrainConfig {
        var c = TrainConfig()
        c.model = model; c.dataPath = data; c.syntheticRows = syntheticRows; c.batch = batch; c.steps = steps
        c.warmupSteps = warmupSteps
        c.checkpointDirectory = checkpoint; c.restoreFrom = restore
        c.hiddenLayers = hiddenLayers?.values
        c.bottomLayers = bottomLayers?.values; c.learningRate = learningRate; c.wideLearningRate = wideLearningRate
        if let threads {
            c.interThreads = threads
            c.intraThreads = threads
        }
        for (knob, text) in knobs.given {
            do { try c.set(knob, text) } catch { throw ValidationError(error.description) }
        }
        // The contest's defaults: MMoE runs on Taobao; a contest directory is evaluated whole.
        if knobs.dataset == nil && model == .mmoe { c.dataset = .taobao }
        if knobs.dataset == nil && (model == .din || model == .dien) { c.dataset = .amazonBooks }
        if knobs.evalRows == nil && c.dataset != .criteo && data != nil { c.evalRows = 0 }
        return c
    }
}

/// One option per registry knob: flag, help, allowed values and default all come from
/// `RecContract.KnobSpec`; values are validated by the registry, not here. `given` must name
/// every `Knob` (a test runs `train --help` and checks each registry flag is there).
struct KnobOptions: ParsableArguments {
    @Option(name: Knob.executor.optionName, help: Knob.executor.argumentHelp) var executor: String?
    @Option(name: Knob.interThreads.optionName, help: Knob.interThreads.argumentHelp) var interThreads: String?
    @Option(name: Knob.intraThreads.optionName, help: Knob.intraThreads.argumentHelp) var intraThreads: String?
    @Option(name: Knob.costmodelStart.optionName, help: Knob.costmodelStart.argumentHelp) var costmodelStart: String?
    @Option(name: Knob.costmodelStop.optionName, help: Knob.costmodelStop.argumentHelp) var costmodelStop: String?
    @Option(name: Knob.pinThreads.optionName, help: Knob.pinThreads.argumentHelp) var pinThreads: String?
    @Option(name: Knob.numa.optionName, help: Knob.numa.argumentHelp) var numa: String?
    @Option(name: Knob.allocator.optionName, help: Knob.allocator.argumentHelp) var allocator: String?
    @Option(name: Knob.allocWarmupStart.optionName, help: Knob.allocWarmupStart.argumentHelp) var allocWarmupStart: String?
    @Option(name: Knob.allocWarmupSteps.optionName, help: Knob.allocWarmupSteps.argumentHelp) var allocWarmupSteps: String?
    @Option(name: Knob.mallocMmapThreshold.optionName, help: Knob.mallocMmapThreshold.argumentHelp) var mallocMmapThreshold: String?
    @Option(name: Knob.stage.optionName, help: Knob.stage.argumentHelp) var stage: String?
    @Option(name: Knob.stageCapacity.optionName, help: Knob.stageCapacity.argumentHelp) var stageCapacity: String?
    @Option(name: Knob.stageThreads.optionName, help: Knob.stageThreads.argumentHelp) var stageThreads: String?
    @Option(name: Knob.microBatch.optionName, help: Knob.microBatch.argumentHelp) var microBatch: String?
    @Option(name: Knob.bf16.optionName, help: Knob.bf16.argumentHelp) var bf16: String?
    @Option(name: Knob.intraBoost.optionName, help: Knob.intraBoost.argumentHelp) var intraBoost: String?
    @Option(name: Knob.weightLayout.optionName, help: Knob.weightLayout.argumentHelp) var weightLayout: String?
    @Option(name: Knob.embeddingDim.optionName, help: Knob.embeddingDim.argumentHelp) var embeddingDim: String?
    @Option(name: Knob.hashBuckets.optionName, help: Knob.hashBuckets.argumentHelp) var hashBuckets: String?
    @Option(name: Knob.evalRows.optionName, help: Knob.evalRows.argumentHelp) var evalRows: String?
    @Option(name: Knob.seed.optionName, help: Knob.seed.argumentHelp) var seed: String?
    @Option(name: Knob.badRows.optionName, help: Knob.badRows.argumentHelp) var badRows: String?
    @Option(name: Knob.dataset.optionName, help: Knob.dataset.argumentHelp) var dataset: String?
    @Option(name: Knob.embFusion.optionName, help: Knob.embFusion.argumentHelp) var embFusion: String?
    @Option(name: Knob.indicator.optionName, help: Knob.indicator.argumentHelp) var indicator: String?
    @Option(name: Knob.rnn.optionName, help: Knob.rnn.argumentHelp) var rnn: String?

    /// Every knob with the text given for it, in registry order; knobs not given are left out.
    var given: [(Knob, String)] {
        let all: [Knob: String?] = [
            .executor: executor, .interThreads: interThreads, .intraThreads: intraThreads, .costmodelStart: costmodelStart,
            .costmodelStop: costmodelStop, .pinThreads: pinThreads, .numa: numa, .allocator: allocator,
            .allocWarmupStart: allocWarmupStart, .allocWarmupSteps: allocWarmupSteps, .mallocMmapThreshold: mallocMmapThreshold,
            .stage: stage, .stageCapacity: stageCapacity, .stageThreads: stageThreads, .microBatch: microBatch, .bf16: bf16,
            .embeddingDim: embeddingDim, .hashBuckets: hashBuckets, .evalRows: evalRows, .seed: seed, .badRows: badRows,
            .dataset: dataset, .embFusion: embFusion, .indicator: indicator, .rnn: rnn, .intraBoost: intraBoost,
            .weightLayout: weightLayout,
        ]
        return Knob.allCases.compactMap { k in all[k].flatMap { $0 }.map { (k, $0) } }
    }
}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model and write the result contract.",
        discussion: """
        Trains WDL, DLRM or DeepFM on a Criteo-format file or generated data (or a contest model, below) under the \
        given knobs, measures warm-up and steady-state phases (perf counters, getrusage, engine counters), evaluates \
        AUC and logloss on the held-out rows, prints a summary on stderr and, with --json, writes the result object \
        the harness reads.

        The contest models run on the contest's directories: --dataset eleme (WDL, DeepFM, DLRM as the contest \
        scripts build them), taobao (MMoE, implied by --model mmoe) and amazon-books (DIN and DIEN, implied by \
        --model din|dien; DIEN also reads the *_neg files); the result then also has auc_by_task, and --eval-rows \
        caps the evaluation file (default: all of it).

        Examples:
          rectune train --model wdl --synthetic-rows 60000 --steps 100 --json -
          rectune train --model deepfm --dataset eleme --data data/eleme \\
              --hash-buckets 10000 --indicator scatter
          rectune train --model mmoe --data data/taobao --json out.json
          rectune train --model dien --data data/books --rnn fused --checkpoint ckpt \\
              --json out.json
          rectune train --model dlrm --data data/train.tsv --executor costmodel \\
              --allocator adaptive --json out.json
        """)

    @OptionGroup var options: TrainOptions
    @Option(help: "Write the result JSON here ('-' for stdout).") var json: String?
    @Option(help: "Comma-separated perf events to count (default: the standard set; 'none' disables).") var events: String?
    @Flag(help: "No progress or summary on stderr.") var quiet = false

    func validate() throws {
        do { try options.makeConfig().validate() } catch let e as EngineError { throw ValidationError(e.description) }
        for (flag, lr) in [("--lr", options.learningRate), ("--wide-lr", options.wideLearningRate)] where lr == 0 {
            throw ValidationError("\(flag) must be a finite positive number, got 0 (nothing would be learned)")
        }
    }

    func run() async throws {
        let config = try options.makeConfig()
        let eventList: [String]
        switch events {
        case nil: eventList = Counter.defaultPerfEvents.map(\.name)
        case "none"?: eventList = []
        case let list?: eventList = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        let quiet = self.quiet
        let trainer = Trainer(config: config, counterEvents: eventList) { p in
            guard !quiet else { return }
            Terminal.status(String(format: "step %d/%d%@  loss %.4f  %.0f samples/s", p.step, p.totalSteps,
                                   p.warmup ? " (warm-up)" : "", p.loss, p.samplesPerSec))
        }
        let result: TrainResult
        do {
            result = try trainer.run()
        } catch let e as DataError {
            if !quiet { Terminal.endStatus() }
            Terminal.err("error: \(e)")
            throw ExitCode(1)
        } catch let e as CheckpointError {
            if !quiet { Terminal.endStatus() }
            Terminal.err("error: \(e)")
            throw ExitCode(1)
        }
        if !quiet {
            Terminal.endStatus()
            Terminal.err(TrainSummary.render(result))
        }
        if let seconds = result.contestSeconds, !quiet {
            Terminal.err(String(format: "  contest window %.3f s (checkpoints %.3f s)", seconds, result.checkpointSeconds ?? 0))
        }
        if let byTask = result.aucByTask, !quiet {
            Terminal.err("  auc by task " + byTask.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
        }
        if let json {
            try Terminal.output(try TrainResultJSON.encode(result), to: json)
        }
    }
}
