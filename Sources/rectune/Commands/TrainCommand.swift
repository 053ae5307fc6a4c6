import ArgumentParser
import Foundation
import RecEngine
import RecSystem

/// Options shared by `train` and `bench`: model shape, data and every runtime knob.
struct TrainOptions: ParsableArguments {
    @Option(help: "Model: wdl, dlrm or deepfm.") var model: ModelKind = .wdl
    @Option(help: "Criteo-format TSV file (label, 13 integers, 26 hex categoricals). Default: generated data.") var data: String?
    @Option(help: "Rows of generated data when --data is not given (the last --eval-rows are held out).") var syntheticRows = 100_000
    @Option(help: "Samples per step.") var batch = 512
    @Option(help: "Measured (steady-state) steps.") var steps = 200
    @Option(help: "Warm-up steps before measuring.") var warmupSteps = 50
    @Option(help: "Held-out rows (the end of the data) for AUC and logloss.") var evalRows = 10_000
    @Option(help: "Random seed (data generation and initialization).") var seed: UInt64 = 1
    @Option(help: "Malformed rows: skip (count them) or fail (stop with file, line and reason).") var badRows: BadRowPolicy = .skip
    @Option(help: "Sets both --inter-threads and --intra-threads.") var threads: Int?

    @Option(help: "Embedding dimension.") var embeddingDim = 16
    @Option(help: "Hash buckets per categorical column.") var hashBuckets = 10_000
    @Option(help: "Main MLP hidden layers, e.g. 1024,512,256 (default: the model's).") var hiddenLayers: IntList?
    @Option(help: "DLRM bottom MLP, ending in the embedding dimension (default 512,256,64,16).") var bottomLayers: IntList?
    @Option(name: .customLong("lr"), help: "Learning rate (default: the model's).") var learningRate: Float?
    @Option(name: .customLong("wide-lr"), help: "Wide / first-order learning rate (default: the model's).") var wideLearningRate: Float?

    @Option(help: "Executor: pool (work stealing), inline (one thread) or costmodel.") var executor: ExecutorPolicy = .pool
    @Option(help: "Inter-op executor threads.") var interThreads: Int?
    @Option(help: "Intra-op (oneDNN OpenMP) threads (default 1: on 2 cores, 2 inter-op workers × 2 OpenMP threads oversubscribe).") var intraThreads: Int?
    @Option(help: "First step the cost model profiles.") var costmodelStart = 10
    @Option(help: "Step at which the cost-model schedule takes over.") var costmodelStop = 20
    @Option(help: "Pin executor threads to CPUs: on or off.") var pinThreads: Switch = .off
    @Option(help: "NUMA policy: off, local or interleave.") var numa: NUMAPolicy = .off
    @Option(help: "Step-tensor allocator: system or adaptive.") var allocator: AllocatorPolicy = .system
    @Option(help: "First step the adaptive allocator records.") var allocWarmupStart = 5
    @Option(help: "Steps the adaptive allocator records before planning.") var allocWarmupSteps = 10
    @Option(help: "glibc M_MMAP_THRESHOLD in bytes (mallopt); 0 keeps glibc's adaptive default.") var mallocMmapThreshold = 0
    @Option(help: "Prepare batches ahead on producer threads: on or off.") var stage: Switch = .off
    @Option(help: "Batches the stage queue holds.") var stageCapacity = 4
    @Option(help: "Stage producer threads.") var stageThreads = 1
    @Option(help: "Micro-batches per step (gradients accumulated, one update).") var microBatch = 1
    @Option(help: "MLP layers in bf16 (fp32 master weights): on or off.") var bf16: Switch = .off

    func makeConfig() -> TrainConfig {
        var c = TrainConfig()
        c.model = model; c.dataPath = data; c.syntheticRows = syntheticRows; c.batch = batch; c.steps = steps
        c.warmupSteps = warmupSteps; c.evalRows = evalRows; c.seed = seed; c.badRows = badRows
        c.embeddingDim = embeddingDim; c.hashBuckets = hashBuckets; c.hiddenLayers = hiddenLayers?.values
        c.bottomLayers = bottomLayers?.values; c.learningRate = learningRate; c.wideLearningRate = wideLearningRate
        c.executor = executor
        c.interThreads = interThreads ?? threads ?? 2
        c.intraThreads = intraThreads ?? threads ?? 1
        c.costmodelStart = costmodelStart; c.costmodelStop = costmodelStop; c.pinThreads = pinThreads.isOn
        c.numa = numa; c.allocator = allocator; c.allocWarmupStart = allocWarmupStart; c.allocWarmupSteps = allocWarmupSteps
        c.mallocMmapThreshold = mallocMmapThreshold
        c.stage = stage.isOn; c.stageCapacity = stageCapacity; c.stageThreads = stageThreads
        c.microBatch = microBatch; c.bf16 = bf16.isOn
        return c
    }
}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model and write the result contract.",
        discussion: """
        Trains WDL, DLRM or DeepFM on a Criteo-format file or generated data under the given knobs,
        measures warm-up and steady-state phases (perf counters, getrusage, engine counters), evaluates
        AUC and logloss on the held-out rows, prints a summary on stderr and, with --json, writes the
        result object the harness reads.

        Examples:
          rectune train --model wdl --synthetic-rows 60000 --steps 100 --json -
          rectune train --model dlrm --data data/train.tsv --executor costmodel --allocator adaptive --json out.json
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
        let config = options.makeConfig()
        let eventList: [String]
        switch events {
        case nil: eventList = CounterSession.defaultEvents
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
        }
        if !quiet {
            Terminal.endStatus()
            Terminal.err(TrainSummary.render(result))
        }
        if let json {
            try Terminal.output(try TrainResultJSON.encode(result), to: json)
        }
    }
}
