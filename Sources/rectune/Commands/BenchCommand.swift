import ArgumentParser
import Foundation
import RecEngine
import RecContract
import RecHarness
import RecStats

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark each model's training speed (figures, not a test).",
        discussion: """
        For each model: steady-state samples/s and step-time percentiles from pre-parsed in-memory batches, and \
        end-to-end from a Criteo-format file (reading and parsing inside the step, split across the inter-op \
        workers, and with the stage knob on); then the Criteo reader's single-thread parse speed. Each model's row \
        also shows its fraction of the dense roofline: the dense FLOPs per sample are summed from the step graph's \
        dense products (forward, backward-data and backward-weights at the model's shapes), the host's GEMM rate is \
        measured at the start of the run (oneDNN on one thread, WDL's layer shapes, fp32, and bf16 with --bf16), and \
        the roofline is cores × rate / FLOPs per sample with cores = inter × intra threads (at most the CPUs). With \
        more than one core, the "busy" column is the fraction of a second ceiling: the GEMM rate all the cores \
        deliver while every one of them runs the same products at once (lower than cores × one core's rate when the \
        cores share FMA units, memory bandwidth or a host).
        --rounds N (N > 1) adds interleaved rounds for the Criteo models, for noisy hosts: each round measures the \
        host's GEMM rate again (on one core, and with more than one core also the busy ceiling) and then every model \
        in memory and (without --in-memory-only) end to end from the file ("e2e"), and each run's roofline and busy \
        fractions are taken against its own round's rates; the summary gives the median and range of samples/s and \
        of the fractions over the rounds (a fraction moves less than samples/s when the host's speed drifts, since \
        both are measured within one round).
        --profile adds where one step's time goes, node group by node group, and the step's critical path as the \
        cost-model executor measures it (node by node, on the run's inter-op threads).
        --trace DIR records a few steps of each model on the run's executor and threads: each worker's busy time and \
        its idle time before its first node, between nodes and after its last, and a Chrome trace per model \
        (DIR/<model>.trace.json) to read the schedule node by node.

        The contest models (--contest: WDL, DeepFM, DLRM on generated Ele.me data, MMoE on generated Taobao data, in \
        the contest's directory layout) get the same rows plus the reader's single-thread parse speed; DeepFM runs \
        with both --indicator settings. With any contest model, the Amazon Books reader's parse speed is reported \
        too, without the _neg files (as DIN reads) and with them (DIEN).

        --json PATH writes the same figures as JSON (format 1: settings, host, oneDNN, host GEMM rates, one entry \
        per model row with its roofline fractions, the rounds, readers, and the --dense, --kernels and --tuner \
        tables). Build with -c release before trusting any figure.
        """)

    @Option(help: "Criteo models to benchmark, comma-separated ('none' for none).") var models = "wdl,dlrm,deepfm"
    @Option(help: "Contest models to benchmark (wdl, deepfm, dlrm on Ele.me; mmoe on Taobao), comma-separated ('none' for none).") var contest = "wdl,deepfm,dlrm,mmoe"
    @Option(help: "Sequence models to benchmark (din; dien with both --rnn settings) on generated Amazon-Books-shaped batches held in memory, comma-separated ('none' for none).") var sequence = "din,dien"
    @Option(help: "Hash buckets of the Ele.me models (the scripts: 100000 for WDL and DLRM, 10000 for DeepFM).") var contestHashBuckets: Int?
    @Option(help: "Samples per step.") var batch = 512
    @Option(help: "Measured steps per run.") var steps = 150
    @Option(help: "Warm-up steps per run.") var warmupSteps = 30
    @Option(help: "Inter-op threads.") var interThreads = 2
    @Option(help: "Intra-op (oneDNN) threads.") var intraThreads = 1
    @Option(help: "Rows of generated data.") var rows = 120_000
    @Option(help: "Step-tensor allocator: system or adaptive.") var allocator: AllocatorPolicy = .system
    @Option(help: "Step executor of every model: pool, inline or costmodel.") var executor: ExecutorPolicy = .pool
    @Option(help: "Micro-batches per step of every model (the micro_batch knob; on 2 cores, 2 lets each inter-op worker run its own half of the batch's dense products).") var microBatch = 1
    @Flag(help: "Train with the bf16 knob on: the dense layers of the Criteo and contest models (the roofline then uses the measured bf16 GEMM rate) and every matrix product of DIN/DIEN (attention, GRU/AUGRU, auxiliary and top MLPs), with bf16 operands, fp32 accumulation and fp32 master weights.") var bf16 = false
    @Flag(help: "Give a dense node that runs alone the whole thread budget (the intra_boost knob).") var intraBoost = false
    @Option(help: "Weight layout of every fp32 dense layer (the weight_layout knob): onednn, oneDNN's preferred one, or timed, the fastest of it, [out][in] and [in][out] (with either weight-gradient method and either forward weights) at the micro-batch's rows.") var weightLayout: WeightLayoutMode = .onednn
    @Flag(help: "Skip the end-to-end (file) runs.") var inMemoryOnly = false
    @Option(help: "Interleaved rounds of the Criteo models (in memory, and end to end unless --in-memory-only), each round with its own host GEMM rate (1: none; the summary gives medians and ranges).") var rounds = 1
    @Flag(help: "Print a per-node-group profile of one step.") var profile = false
    @Option(help: "Node groups --profile lists per model, largest first (0: all).") var profileRows = 14
    @Option(help: ArgumentHelp("Record which node ran when on which worker for --trace-steps steps of every Criteo and contest model (in memory, after 20 warm-up steps, on --executor pool or costmodel), print each worker's busy and idle time, and write <dir>/<model>.trace.json (Chrome trace format: chrome://tracing, ui.perfetto.dev).", valueName: "dir")) var trace: String?
    @Option(help: "Steps --trace records per model.") var traceSteps = 10
    @Flag(help: "Also benchmark oneDNN dense layers (GFLOP/s fp32 vs bf16, and the implementations oneDNN chose).") var dense = false
    @Option(help: ArgumentHelp("Layer shapes --dense times, as inputs x outputs, comma-separated (default: WDL's deep tower, the shapes of the host GEMM rate).", valueName: "shapes")) var denseShapes = DenseBenchmark.wdlShapes.map { "\($0.inputs)x\($0.outputs)" }.joined(separator: ",")
    @Flag(help: "Also benchmark the Swift kernels (gather, FM, interaction, loss, sparse Adam) in ns/sample.") var kernels = false
    @Flag(help: "Benchmark `rectune tune` against random search at the same budget on a synthetic objective with a known optimum (and nothing else).") var tuner = false
    @Option(help: ArgumentHelp("Also write every figure as one JSON document here, for tracking the engine's speed across commits and hosts ('-' for stdout; the text report then goes to stderr). Units as printed, fractions as 0.71 rather than 71%; a figure not measured is absent. If the bench stops on an error, what it measured before is written with \"complete\": false and the error.", valueName: "path")) var json: String?
    @Option(help: "Seeds of the --tuner benchmark.") var tunerSeeds = 10
    @Option(help: "Budget in minutes of each --tuner run (synthetic trial time: a full-scale baseline run is 100 s).") var tunerBudget = 60.0

    func validate() throws {
        if tunerSeeds < 1 { throw ValidationError("--tuner-seeds must be at least 1, got \(tunerSeeds)") }
        if rounds < 1 { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
        if profileRows < 0 { throw ValidationError("--profile-rows must be 0 (all) or more, got \(profileRows)") }
        if traceSteps < 1 { throw ValidationError("--trace-steps must be at least 1, got \(traceSteps)") }
        if bf16, let reason = OneDNNInfo.bf16Unsupported { throw ValidationError("--bf16: not supported on this host: \(reason)") }
        if trace != nil && executor == .inline {
            throw ValidationError("--trace needs --executor pool or costmodel: inline runs every node on one thread in order")
        }
        if !(tunerBudget > 0) { throw ValidationError("--tuner-budget must be positive, got \(tunerBudget)") }
        _ = try parsedDenseShapes()
        if microBatch < 1 || microBatch > batch {
            throw ValidationError("--micro-batch must be between 1 and --batch (\(batch)), got \(microBatch)")
        }
    }

    func run() async throws {
        let out = BenchOutput(settings: .init(batch: batch, steps: steps, warmupSteps: warmupSteps, rows: rows,
                                              interThreads: interThreads, intraThreads: intraThreads, executor: executor.rawValue,
                                              microBatch: microBatch, allocator: allocator.rawValue, bf16: bf16,
                                              intraBoost: intraBoost, weightLayout: weightLayout.rawValue),
                              textToStderr: json == "-")
        do {
            if tuner { try await benchTuner(out: out) } else { try bench(out: out) }
        } catch {
            // What was measured before the error is kept, marked incomplete, then the error ends the command.
            if let json { try? Terminal.output(try out.json(error: error), to: json) }
            throw error
        }
        if let json { try Terminal.output(try out.json(), to: json) }
    }

    /// Everything but `--tuner`: the text report through `out`, each figure also recorded for `--json`.
    private func bench(out: BenchOutput) throws {
        let kinds = try (models == "none" ? [] : models.split(separator: ",")).map { s -> ModelKind in
            guard let k = ModelKind(rawValue: String(s)), ModelKind.criteoModels.contains(k) else {
                throw ValidationError("unknown model '\(s)' (allowed: wdl, dlrm, deepfm)")
            }
            return k
        }
        let contestKinds = try (contest == "none" ? [] : contest.split(separator: ",")).map { s -> ModelKind in
            guard let k = ModelKind(rawValue: String(s)) else { throw ValidationError("unknown contest model '\(s)' (allowed: wdl, deepfm, dlrm, mmoe)") }
            return k
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("train.tsv").path
        try SyntheticCriteo.write(rows: rows, seed: 1, to: path)
        if dense { try benchDense(out: out) }
        if kernels { benchKernels(out: out) }
        out.line("rectune bench  batch \(batch)  \(warmupSteps)+\(steps) steps  inter \(interThreads) intra \(intraThreads)  executor \(executor.rawValue)  micro_batch \(microBatch)  allocator \(allocator.rawValue)  bf16 \(bf16 ? "on" : "off")  intra_boost \(intraBoost ? "on" : "off")  weight_layout \(weightLayout.rawValue)  oneDNN \(OneDNNInfo.version) \(OneDNNInfo.isa)  kernels built for \(RectuneVersion.buildTarget)")
        let precision: Precision = bf16 ? .bf16 : .fp32
        let cores = DenseRoofline.cores(inter: interThreads, intra: intraThreads)
        // The host's GEMM rate feeds the roofline of the Criteo and contest rows only.
        var rate = 0.0
        var busy: Double?
        if !kinds.isEmpty || !contestKinds.isEmpty {
            rate = try DenseBenchmark.hostRate(batch: batch, precision: precision)
            out.line(String(format: "host GEMM rate: %.1f GFLOP/s per core (%@, oneDNN on one thread, fwd + bwd-data + bwd-weights of %@ at batch %d); roofline cores: %d",
                            rate, precision.rawValue, DenseBenchmark.wdlShapes.map(\.description).joined(separator: ", "), batch, cores))
            let measured = try busyRate(cores: cores, precision: precision, out: out)
            busy = measured?.busy
            out.record(hostGEMM: .init(precision: precision.rawValue, gflopsPerCore: rate, rooflineCores: cores,
                                       busyGflops: measured?.busy, aloneGflops: measured?.alone))
        }
        if !kinds.isEmpty {
            out.line(pad("model", 8) + pad("mode", 22) + pad("samples/s", 12) + pad("p50 ms", 9) + pad("p90 ms", 9) + pad("p99 ms", 9)
                     + pad("roofline", 9) + pad("busy", 7) + "AUC")
        }
        var loaded: [LoadedModel] = []
        for kind in kinds {
            let c = criteoConfig(kind, path: path)
            let roofline = DenseRoofline(cores: cores, gflopsPerCore: rate, flopsPerSample: try Trainer.denseFLOPsPerSample(c),
                                         busyGFLOPS: busy)
            out.line(rooflineLine(kind.rawValue, roofline))
            let dataset = try Trainer.loadDataset(c)
            loaded.append(LoadedModel(kind: kind, config: c, dataset: dataset, flopsPerSample: roofline.flopsPerSample))
            var modes: [(String, TrainConfig, Bool)] = [("in-memory", c, true)]
            if !inMemoryOnly {
                modes.append(("end-to-end", c, false))
                var staged = c; staged.stage = true; staged.stageThreads = 1
                modes.append(("end-to-end stage on", staged, false))
            }
            for (mode, config, inMemory) in modes {
                let r = try Trainer(config: config, counterEvents: []).run(dataset: dataset, inMemory: inMemory)
                out.line(pad(kind.rawValue, 8) + pad(mode, 22) + pad(String(format: "%.0f", r.samplesPerSec), 12)
                         + pad(String(format: "%.2f", r.stepMs.p50), 9) + pad(String(format: "%.2f", r.stepMs.p90), 9)
                         + pad(String(format: "%.2f", r.stepMs.p99), 9) + rooflineColumns(roofline, r.samplesPerSec)
                         + String(format: "%.4f", r.auc))
                out.record(run: runRecord(suite: "criteo", model: kind.rawValue, mode: mode, roofline: roofline, result: r))
            }
            if profile {
                let entries = try NodeProfiler.profile(config: c, dataset: dataset)
                printProfile(kind.rawValue, entries, rows: profileRows == 0 ? entries.count : profileRows, out: out)
                printCriticalPath(kind.rawValue, try Trainer.criticalPath(config: c, dataset: dataset), out: out)
            }
            if let trace {
                try writeTimeline(kind.rawValue, try Trainer.timeline(config: c, dataset: dataset, steps: traceSteps), dir: trace, out: out)
            }
        }
        if let first = loaded.first {
            let parse = try Trainer.parseThroughput(dataset: first.dataset, batchSize: batch, batches: 40)
            out.line(readerLine("criteo reader", parse))
            out.record(reader: .init(reader: "criteo", rowsPerSec: parse.rowsPerSec, mbPerSec: parse.mbPerSec))
        }
        if rounds > 1 && !loaded.isEmpty { try benchRounds(loaded, precision: precision, cores: cores, out: out) }
        if !contestKinds.isEmpty { try benchContest(contestKinds, dir: dir, rate: rate, busy: busy, cores: cores, out: out) }
        if !contestKinds.isEmpty { try benchAmazonBooksReader(dir: dir, out: out) }
        let sequenceKinds = try (sequence == "none" ? [] : sequence.split(separator: ",")).map { s -> ModelKind in
            guard let k = ModelKind(rawValue: String(s)), k == .din || k == .dien else {
                throw ValidationError("unknown sequence model '\(s)' (allowed: din, dien)")
            }
            return k
        }
        if !sequenceKinds.isEmpty { try benchSequence(sequenceKinds, out: out) }
    }

    /// A Criteo or contest row as `--json` records it.
    func runRecord(suite: String, model: String, variant: String? = nil, mode: String, roofline: DenseRoofline,
                   result r: TrainResult, aucByTask: [String: Double]? = nil) -> BenchDocument.Run {
        BenchDocument.Run(suite: suite, model: model, variant: variant, mode: mode, samplesPerSec: r.samplesPerSec,
                          stepMs: .init(p50: r.stepMs.p50, p90: r.stepMs.p90, p99: r.stepMs.p99),
                          denseMflopPerSample: roofline.flopsPerSample / 1e6, rooflineSamplesPerSec: roofline.samplesPerSec,
                          rooflineFraction: roofline.fraction(r.samplesPerSec), busyFraction: roofline.busyFraction(r.samplesPerSec),
                          auc: r.auc.isFinite ? r.auc : nil,
                          aucUnavailable: r.auc.isFinite ? nil : "not finite: the evaluation rows hold one class, or the model's scores are not finite",
                          aucByTask: aucByTask?.filter { $0.value.isFinite })
    }

    /// `kind` under this run's batch and runtime knobs (threads, allocator, executor, micro-batches,
    /// bf16, intra_boost): what every benchmarked model shares.
    func config(_ kind: ModelKind) -> TrainConfig {
        var c = TrainConfig()
        c.model = kind; c.batch = batch
        c.interThreads = interThreads; c.intraThreads = intraThreads; c.allocator = allocator
        c.bf16 = bf16; c.intraBoost = intraBoost; c.executor = executor; c.microBatch = microBatch
        c.weightLayout = weightLayout
        return c
    }

    /// A Criteo model's benchmark run: `config(kind)` with this run's steps, on the generated file
    /// at `path`, evaluated on 10,000 rows.
    func criteoConfig(_ kind: ModelKind, path: String) -> TrainConfig {
        var c = config(kind)
        c.steps = steps; c.warmupSteps = warmupSteps; c.dataPath = path; c.evalRows = 10_000
        return c
    }

    /// A Criteo model as the main table ran it: its run, its loaded data and its dense FLOPs per sample.
    struct LoadedModel {
        let kind: ModelKind
        let config: TrainConfig
        let dataset: CriteoDataset
        let flopsPerSample: Double
    }

    /// `--rounds`: every round measures the host's GEMM rate, then each model in memory and (unless
    /// `--in-memory-only`) end to end from the file; each run's roofline fraction uses its own
    /// round's rate. Prints one line per round and a median/range summary per model and mode.
    /// `models`: the main table's runs, data and FLOP counts, reused as they are.
    func benchRounds(_ models: [LoadedModel], precision: Precision, cores: Int, out: BenchOutput) throws {
        let modes = inMemoryOnly ? ["in memory"] : ["in memory", "end to end"]
        let busyNote = cores > 1 ? " and on all \(cores) cores at once (the busy ceiling)" : ""
        out.line("\(rounds) interleaved rounds, \(modes.joined(separator: " and ")) (each round: the host GEMM rate on one core\(busyNote), then every model; roofline against that round's rate)")
        struct Series {
            let model: LoadedModel
            let inMemory: Bool
            var label: String { model.kind.rawValue + (inMemory ? "" : " e2e") }
        }
        let series = models.flatMap { m in (inMemoryOnly ? [true] : [true, false]).map { Series(model: m, inMemory: $0) } }
        for round in 1...rounds {
            let rate = try DenseBenchmark.hostRate(batch: batch, precision: precision)
            // The busy ceiling of this round: on a shared host it is the two-core rate that neighbours
            // move, while one core's rate may hold steady.
            let busy = cores > 1 ? try DenseBenchmark.concurrentRate(threads: cores, precision: precision).reduce(0, +) : nil
            var record = BenchDocument.Round(round: round, gflopsPerCore: rate, busyGflops: busy, runs: [])
            var line = String(format: "round %d: host %.1f GFLOP/s per core", round, rate)
                + (busy.map { String(format: ", busy %.1f GFLOP/s on %d cores", $0, cores) } ?? "")
            for s in series {
                let r = try Trainer(config: s.model.config, counterEvents: []).run(dataset: s.model.dataset, inMemory: s.inMemory)
                let roofline = DenseRoofline(cores: cores, gflopsPerCore: rate, flopsPerSample: s.model.flopsPerSample,
                                             busyGFLOPS: busy)
                let fraction = roofline.fraction(r.samplesPerSec), busyFraction = roofline.busyFraction(r.samplesPerSec)
                record.runs.append(.init(model: s.model.kind.rawValue, mode: s.inMemory ? "in-memory" : "end-to-end",
                                         samplesPerSec: r.samplesPerSec, rooflineFraction: fraction, busyFraction: busyFraction))
                line += String(format: " | %@ %.0f samples/s (%.1f%%", s.label, r.samplesPerSec, 100 * fraction)
                    + (busyFraction.map { String(format: ", busy %.1f%%)", 100 * $0) } ?? ")")
            }
            out.line(line)
            out.record(round: record)
        }
        // Each round's rates and runs as --json records them (series i is runs[i]): the summary reads these.
        let records = out.document.rounds
        /// "median M<unit> (min–max<rangeUnit>)" of `values` × `scale`, each number with `format`.
        func spread(_ values: [Double], _ format: String, scale: Double = 1, unit: String, rangeUnit: String = "") -> String {
            let f = { String(format: format, scale * $0) }
            return "median \(f(Descriptive.median(values)))\(unit) (\(f(values.min()!))–\(f(values.max()!))\(rangeUnit))"
        }
        let busyRates = records.compactMap(\.busyGflops)
        out.line("host GEMM rate over the rounds: " + spread(records.map(\.gflopsPerCore), "%.1f", unit: " GFLOP/s per core")
              + (busyRates.isEmpty ? "" : "; busy " + spread(busyRates, "%.1f", unit: " GFLOP/s")))
        for (i, s) in series.enumerated() {
            let percent = { (v: [Double]) in spread(v, "%.1f", scale: 100, unit: "%", rangeUnit: "%") }
            let runs = records.map { $0.runs[i] }
            let b = runs.compactMap(\.busyFraction)
            out.line(pad("  " + s.label, 14) + spread(runs.map(\.samplesPerSec), "%.0f", unit: " samples/s")
                  + "; roofline " + percent(runs.map(\.rooflineFraction))
                  + (b.isEmpty ? "" : "; busy " + percent(b)) + " over \(rounds) rounds")
        }
    }

    /// The Amazon Books reader's single-thread parse speed on generated data, as DIN reads it (no
    /// `_neg` files) and as DIEN does (with them).
    private func benchAmazonBooksReader(dir: URL, out: BenchOutput) throws {
        let books = dir.appendingPathComponent(DatasetKind.amazonBooks.rawValue).path
        try FileManager.default.createDirectory(atPath: books, withIntermediateDirectories: true)
        try SyntheticAmazonBooks.write(trainRows: rows / 2 * 2, evalRows: 2_000, seed: 1, to: books)
        for (label, negatives) in [("without _neg (DIN)", AmazonNegatives.ignored), ("with _neg (DIEN)", .required)] {
            let dataset = try ContestDataset(amazonBooksDirectory: books, negatives: negatives, badRows: .fail)
            let parse = try ContestTrainer.parseThroughput(dataset: dataset, batchSize: batch, batches: 40)
            out.line(readerLine("amazon-books reader \(label)", parse))
            out.record(reader: .init(reader: negatives == .required ? "amazon-books with _neg" : "amazon-books", rowsPerSec: parse.rowsPerSec,
                                     mbPerSec: parse.mbPerSec))
        }
    }

    private func benchSequence(_ kinds: [ModelKind], out: BenchOutput) throws {
        out.line("sequence models (generated Amazon-Books-shaped batches in memory: histories of 2…24 items), bf16 \(bf16 ? "on" : "off")")
        out.line(pad("model", 16) + pad("rnn", 10) + pad("nodes", 8) + pad("samples/s", 12) + pad("p50 ms", 9) + "p99 ms")
        for kind in kinds {
            for rnn in kind == .dien ? RNNMode.allCases : [.unfused] {
                var c = config(kind)
                c.rnn = rnn
                let r = try SequenceBench.run(config: c, steps: steps, warmup: warmupSteps, profile: profile)
                out.line(pad(kind.rawValue, 16) + pad(kind == .dien ? rnn.rawValue : "-", 10) + pad("\(r.graphNodes)", 8)
                      + pad(String(format: "%.0f", r.samplesPerSec), 12) + pad(String(format: "%.2f", r.stepP50Ms), 9)
                      + String(format: "%.2f", r.stepP99Ms))
                out.record(sequence: .init(model: kind.rawValue, rnn: kind == .dien ? rnn.rawValue : nil, nodes: r.graphNodes,
                                           samplesPerSec: r.samplesPerSec, stepMsP50: r.stepP50Ms, stepMsP99: r.stepP99Ms))
                if profile {
                    printProfile(kind.rawValue, r.profile, rows: 12, out: out)
                }
            }
        }
    }

    /// `  criteo reader: 4101774 rows/s, 1007.7 MB/s on one thread; end to end with stage off, the step parses its batch in 2 parts (…)`:
    /// a reader's single-thread speed and how the end-to-end step splits its parse with stage off.
    func readerLine(_ reader: String, _ parse: (rowsPerSec: Double, mbPerSec: Double)) -> String {
        let parts = Trainer.parseParts(config(.wdl))
        return String(format: "  %@: %.0f rows/s, %.1f MB/s on one thread", reader, parse.rowsPerSec, parse.mbPerSec)
            + "; end to end with stage off, the step parses its batch in \(parts) part\(parts == 1 ? "" : "s") (one per inter-op worker)"
    }

    /// `  wdl roofline: 6.570 dense MFLOP/sample; 2 cores × 95.1 GFLOP/s = 28948 samples/s; busy: 120.3 GFLOP/s = 18312 samples/s`
    func rooflineLine(_ label: String, _ r: DenseRoofline) -> String {
        String(format: "  %@ roofline: %.3f dense MFLOP/sample; %d cores × %.1f GFLOP/s = %.0f samples/s",
               label, r.flopsPerSample / 1e6, r.cores, r.gflopsPerCore, r.samplesPerSec)
            + (r.busyGFLOPS.map { String(format: "; busy: %.1f GFLOP/s = %.0f samples/s", $0, r.busySamplesPerSec!) } ?? "")
    }

    /// A row's `roofline` and `busy` columns: the measured samples/s as a fraction of each ceiling
    /// (`-` when the busy one was not measured).
    func rooflineColumns(_ r: DenseRoofline, _ samplesPerSec: Double) -> String {
        func percent(_ fraction: Double?) -> String { fraction.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
        return pad(percent(r.fraction(samplesPerSec)), 9) + pad(percent(r.busyFraction(samplesPerSec)), 7)
    }

    /// The GEMM rate of `cores` cores running dense products at once, and one core's rate measured
    /// the same way (nil on one core), printed side by side so the two ceilings can be compared.
    func busyRate(cores: Int, precision: Precision, out: BenchOutput) throws -> (busy: Double, alone: Double)? {
        guard cores > 1 else { return nil }
        let alone = try DenseBenchmark.concurrentRate(threads: 1, precision: precision)[0]
        let together = try DenseBenchmark.concurrentRate(threads: cores, precision: precision)
        let total = together.reduce(0, +)
        out.line(String(format: "host GEMM rate with all %d cores busy at once: %@ = %.1f GFLOP/s; one core alone in the same rounds: %.1f, so the cores together deliver %.2f× one core (busy roofline column)",
                     cores, together.map { String(format: "%.1f", $0) }.joined(separator: " + "), total, alone, total / alone))
        return (total, alone)
    }

    /// Prints where each worker's time went over the timeline's steps and writes the Chrome trace.
    func writeTimeline(_ label: String, _ t: StepAnalysis.Timeline, dir: String, out: BenchOutput) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = label.map { $0.isLetter || $0.isNumber || $0 == "-" ? String($0) : "_" }.joined()
        let path = (dir as NSString).appendingPathComponent("\(name).trace.json")
        let process = "\(label) \(executor.rawValue) micro_batch \(microBatch)\(bf16 ? " bf16" : "")"
        try ChromeTrace.json(t, process: process).write(to: URL(fileURLWithPath: path))
        let s = t.summary
        out.line(String(format: "  timeline of %d %@ steps (%@, %d workers, in memory): %.0f µs per step, workers busy %.1f%% of it%@",
                     s.steps, label, executor.rawValue, t.workerCount, s.stepWall, 100 * s.utilization,
                     s.betweenSteps.map { String(format: "; %.0f µs between steps", $0) } ?? ""))
        for w in s.workers {
            out.line(String(format: "    worker %d: busy %.0f µs (%.1f nodes); idle %.0f µs before its first node, %.0f between nodes, %.0f after its last",
                         w.worker, w.busy, w.nodes, w.idleBeforeFirst, w.idleBetween, w.idleAfterLast))
        }
        out.line("    trace: \(path)")
    }

    /// One step's inline profile: the total, then the first `rows` node groups with their share of it.
    func printProfile(_ label: String, _ entries: [NodeProfiler.Entry], rows: Int, out: BenchOutput) {
        let total = entries.reduce(0) { $0 + $1.microsPerStep }
        out.line(String(format: "  profile of one %@ step (inline, %.0f µs total):", label, total))
        for e in entries.prefix(rows) {
            out.line("    " + pad(e.group, 34) + pad(e.kind, 10) + pad("\(e.nodes) nodes", 10)
                     + String(format: "%8.0f µs  %5.1f%%", e.microsPerStep, 100 * e.microsPerStep / max(total, 1e-9)))
        }
    }

    /// The critical path node by node, with its share of the step's work.
    func printCriticalPath(_ label: String, _ p: StepAnalysis.CriticalPath, out: BenchOutput) {
        out.line(String(format: "  critical path of one %@ step (cost model, %d inter threads%@): %d of %d nodes, %.0f µs of %.0f µs work (%.0f%%)",
                     label, interThreads, intraBoost ? ", intra_boost on" : "", p.nodes.count, p.graphNodes, p.pathMicros,
                     p.workMicros, 100 * p.pathMicros / max(p.workMicros, 1e-9)))
        for n in p.nodes where n.micros >= 1 {
            out.line("    " + pad(n.name, 34) + pad(n.kind, 10) + String(format: "%8.1f µs", n.micros)
                  + (n.flops > 0 ? String(format: "  %6.1f GFLOP/s", n.flops / (n.micros * 1e3)) : ""))
        }
        let hidden = p.nodes.filter { $0.micros < 1 }
        if !hidden.isEmpty {
            out.line(String(format: "    (%d more nodes under 1 µs each, %.1f µs together)", hidden.count, hidden.reduce(0) { $0 + $1.micros }))
        }
    }

    private func benchContest(_ kinds: [ModelKind], dir: URL, rate: Double, busy: Double?, cores: Int, out: BenchOutput) throws {
        var datasets: [DatasetKind: String] = [:]
        out.line("contest models (generated data in the contest layout, \(rows) training + 10000 evaluation rows)")
        out.line(pad("model", 16) + pad("mode", 22) + pad("samples/s", 12) + pad("p50 ms", 9) + pad("p90 ms", 9) + pad("p99 ms", 9)
              + pad("roofline", 9) + pad("busy", 7) + "AUC (by task)")
        for kind in kinds {
            var c = config(kind)
            c.dataset = kind == .mmoe ? .taobao : .eleme
            c.steps = steps; c.warmupSteps = warmupSteps; c.evalRows = 0
            c.hashBuckets = contestHashBuckets ?? (kind == .deepfm ? 10_000 : 100_000)
            if datasets[c.dataset] == nil {
                let out = dir.appendingPathComponent(c.dataset.rawValue).path
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try SyntheticContest.write(format: c.dataset.contestFormat!, trainRows: rows, evalRows: 10_000, seed: 1, to: out)
                datasets[c.dataset] = out
            }
            c.dataPath = datasets[c.dataset]
            let dataset = try ContestTrainer.loadDataset(c)
            let parse = try ContestTrainer.parseThroughput(dataset: dataset, batchSize: batch, batches: 40)
            out.line(readerLine("\(c.dataset.rawValue) reader", parse))
            out.record(reader: .init(reader: c.dataset.rawValue, rowsPerSec: parse.rowsPerSec, mbPerSec: parse.mbPerSec))
            var variants: [(String, TrainConfig)] = [(kind.rawValue, c)]
            if kind == .deepfm {
                var scatter = c; scatter.indicator = .scatter
                variants = [("deepfm dense", c), ("deepfm scatter", scatter)]
            }
            for (label, v) in variants {
                let roofline = DenseRoofline(cores: cores, gflopsPerCore: rate,
                                             flopsPerSample: try ContestTrainer.denseFLOPsPerSample(v, dataset: dataset),
                                             busyGFLOPS: busy)
                out.line(rooflineLine(label, roofline))
                var modes: [(String, TrainConfig, Bool)] = [("in-memory", v, true)]
                if !inMemoryOnly {
                    modes.append(("end-to-end", v, false))
                    var staged = v; staged.stage = true; staged.stageThreads = 1
                    modes.append(("end-to-end stage on", staged, false))
                }
                for (mode, config, inMemory) in modes {
                    let r = try ContestTrainer.run(config: config, counterEvents: [], dataset: dataset, inMemory: inMemory)
                    let byTask = r.aucByTask.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: ", ")
                    out.line(pad(label, 16) + pad(mode, 22) + pad(String(format: "%.0f", r.result.samplesPerSec), 12)
                          + pad(String(format: "%.2f", r.result.stepMs.p50), 9) + pad(String(format: "%.2f", r.result.stepMs.p90), 9)
                          + pad(String(format: "%.2f", r.result.stepMs.p99), 9)
                          + rooflineColumns(roofline, r.result.samplesPerSec) + String(format: "%.4f", r.result.auc)
                          + (r.aucByTask.count > 1 ? " (\(byTask))" : ""))
                    out.record(run: runRecord(suite: "contest", model: kind.rawValue, variant: kind == .deepfm ? v.indicator.rawValue : nil,
                                              mode: mode, roofline: roofline, result: r.result,
                                              aucByTask: r.aucByTask.count > 1 ? r.aucByTask : nil))
                }
                if profile {
                    printProfile(label, try ContestTrainer.profile(config: v, dataset: dataset), rows: 12, out: out)
                    printCriticalPath(label, try ContestTrainer.criticalPath(config: v, dataset: dataset), out: out)
                }
                if let trace {
                    try writeTimeline("contest-" + label, try ContestTrainer.timeline(config: v, dataset: dataset, steps: traceSteps), dir: trace, out: out)
                }
            }
        }
    }

    /// The three products' rates, median / best, as `--dense` prints them.
    private static func rateColumns(_ r: DenseBenchmark.Result) -> String {
        String(format: "fwd %6.1f / %6.1f   bwd-data %6.1f / %6.1f   bwd-weights %6.1f / %6.1f", r.forwardGFLOPS, r.bestForwardGFLOPS,
               r.backwardDataGFLOPS, r.bestBackwardDataGFLOPS, r.backwardWeightsGFLOPS, r.bestBackwardWeightsGFLOPS)
    }

    /// `r` if its forward ran on the engine's single-output kernels (then all three products did).
    private static func singleOutput(_ r: DenseBenchmark.Result) -> DenseBenchmark.Result? {
        r.profile.forward.hasPrefix("engine") ? r : nil
    }

    private func benchDense(out: BenchOutput) throws {
        out.line("oneDNN dense layers, batch \(batch), \(intraThreads) threads (GFLOP/s median / best)")
        let shapes = try parsedDenseShapes()
        for precision in [Precision.fp32, .bf16] {
            if precision == .bf16, let reason = OneDNNInfo.bf16Unsupported {
                out.line("  bf16: not measured, not supported on this host: \(reason)")
                out.record(denseUnavailable: precision.rawValue, reason: reason)
                continue
            }
            // Training takes the engine's bf16 weight-gradient kernel, and for one-output layers its
            // single-output kernels, where they apply: timed beside the primitives.
            var engine: [DenseBenchmark.Shape: DenseBenchmark.Result] = [:]
            for r in try DenseBenchmark.run(shapes: shapes, batch: batch, precision: precision, threads: intraThreads,
                                            packedWeightGradient: true) { engine[r.shape] = r }
            for r in try DenseBenchmark.run(shapes: shapes, batch: batch, precision: precision, threads: intraThreads) {
                out.line("  " + pad("\(r.shape) \(precision.rawValue)", 18) + Self.rateColumns(r))
                out.line("    " + r.profile.description)
                let single = engine[r.shape].flatMap(Self.singleOutput)
                out.record(dense: .init(inputs: r.shape.inputs, outputs: r.shape.outputs, precision: precision.rawValue, batch: r.batch,
                                        threads: r.threads, forwardGflops: r.forwardGFLOPS, backwardDataGflops: r.backwardDataGFLOPS,
                                        backwardWeightsGflops: r.backwardWeightsGFLOPS, bestForwardGflops: r.bestForwardGFLOPS,
                                        bestBackwardDataGflops: r.bestBackwardDataGFLOPS,
                                        bestBackwardWeightsGflops: r.bestBackwardWeightsGFLOPS, implementation: r.profile.description,
                                        engineBackwardWeightsGflops: engine[r.shape]?.backwardWeightsGFLOPS,
                                        bestEngineBackwardWeightsGflops: engine[r.shape]?.bestBackwardWeightsGFLOPS,
                                        engineForwardGflops: single?.forwardGFLOPS, bestEngineForwardGflops: single?.bestForwardGFLOPS,
                                        engineBackwardDataGflops: single?.backwardDataGFLOPS,
                                        bestEngineBackwardDataGflops: single?.bestBackwardDataGFLOPS))
            }
            for shape in shapes {
                guard let r = engine[shape] else { continue }
                if Self.singleOutput(r) != nil {
                    out.line("  " + pad("\(r.shape) \(precision.rawValue)", 18) + Self.rateColumns(r)
                          + "   by the engine's single-output kernels (as training runs them)")
                    continue
                }
                out.line("  " + pad("\(r.shape) bf16", 18)
                      + String(format: "bwd-weights by the engine's kernel (as bf16 training runs it) %6.1f / %6.1f", r.backwardWeightsGFLOPS,
                               r.bestBackwardWeightsGFLOPS))
            }
        }
        // What `weight_layout: timed` would choose for these shapes at the run's micro-batch rows.
        let rows = MicroBatch.largestRows(batch: batch, count: microBatch)
        out.line("weight_layout timed, \(rows) rows (batch / micro-batch), \(intraThreads) threads: ms per forward + backward-data + backward-weights (fastest of \(WeightLayoutChooser.rounds) rounds; of \(WeightLayoutChooser.roundsBeforePruning) for a candidate \(Int(((WeightLayoutChooser.pruneFactor - 1) * 100).rounded()))% behind by then; a forward copy's refresh counted in each round)")
        for shape in shapes {
            guard shape.inputs * shape.outputs >= WeightLayoutChooser.minimumWeights else {
                out.line("  " + pad("\(shape)", 12) + "under \(WeightLayoutChooser.minimumWeights) weights: oneDNN's layout")
                continue
            }
            let choice = try WeightLayoutChooser.timeAfresh(inputs: shape.inputs, outputs: shape.outputs, relu: true, rows: rows,
                                                             threads: intraThreads)
            func label(_ a: WeightArrangement, tags: [WeightLayout: String]? = nil) -> String {
                "\(a.layout.rawValue) (\((tags ?? choice.tags)[a.layout] ?? "?")\(a.gradient == .transposedGEMM ? ", transposed GEMM" : "")"
                    + "\(a.forward == .transposedCopy ? ", forward copy" : ""))"
            }
            let times = choice.candidates.map { String(format: "%@ %.3f", label($0), choice.roundSeconds[$0]! * 1e3) }
            let onednn = choice.roundSeconds[.onednn]!, chosen = choice.roundSeconds[choice.arrangement]!
            out.line("  " + pad("\(shape)", 12) + times.joined(separator: "   ")
                  + String(format: "  → %@, %.2f× oneDNN's", label(choice.arrangement), onednn / chosen))
            var record = BenchDocument.LayoutChoice(
                inputs: shape.inputs, outputs: shape.outputs, rows: rows,
                candidateSeconds: Dictionary(uniqueKeysWithValues: choice.candidates.map { (label($0), choice.roundSeconds[$0]!) }),
                choice: label(choice.arrangement), speedupOverOnednn: onednn / chosen)
            if let file = WeightLayoutChoiceFile.named(),
               let recorded = try WeightLayoutChooser.recorded(inputs: shape.inputs, outputs: shape.outputs, relu: true,
                                                              rows: rows, threads: intraThreads, in: file) {
                out.line("  " + pad("", 12) + "recorded in \(file.path): \(label(recorded.arrangement, tags: recorded.tags)) (what model builds use)")
                record.recorded = label(recorded.arrangement, tags: recorded.tags)
            }
            out.record(layoutChoice: record)
        }
    }

    /// `--dense-shapes` as shapes: `429x1024,1024x512` → [429→1024, 1024→512].
    private func parsedDenseShapes() throws -> [DenseBenchmark.Shape] {
        try denseShapes.split(separator: ",").map { item in
            let parts = item.split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let inputs = Int(parts[0]), let outputs = Int(parts[1]), inputs > 0, outputs > 0 else {
                throw ValidationError("--dense-shapes: '\(item)' is not inputs x outputs with positive integers (e.g. 429x400)")
            }
            return DenseBenchmark.Shape(inputs, outputs)
        }
    }

    private func benchKernels(out: BenchOutput) {
        out.line("Swift kernels, batch \(batch) (median ns per sample)")
        for t in KernelBenchmark.run(batch: batch) {
            out.line("  " + pad(t.name, 40) + String(format: "%10.1f ns/sample", t.nsPerSample))
            out.record(kernel: .init(name: t.name, nsPerSample: t.nsPerSample))
        }
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}

extension BenchCommand {
    /// `--tuner`: the tuner vs random search at the same budget over several seeds (`TunerBenchmark`).
    func benchTuner(out: BenchOutput) async throws {
        out.line("rectune bench --tuner: synthetic objective (8 knobs, 2 dependent; trap: the fastest config breaks the AUC floor)")
        out.line("budget \(TuneFormat.number(tunerBudget)) min of trial time per run (full-scale baseline run = 100 s), \(tunerSeeds) seeds")
        out.line(pad("method", 16) + pad("regret mean", 13) + pad("worst", 9) + pad("optimum", 10) + pad("violations", 12) + pad("trials", 9) + "minutes")
        for row in try await TunerBenchmark.run(seeds: tunerSeeds, budgetMinutes: tunerBudget) {
            out.line(pad(row.method, 16) + pad(String(format: "%.3f", row.meanRegret), 13) + pad(String(format: "%.3f", row.worstRegret), 9)
                  + pad("\(row.foundOptimum)/\(row.seeds)", 10) + pad("\(row.violations)/\(row.seeds)", 12)
                  + pad(String(format: "%.1f", row.meanTrials), 9) + String(format: "%.1f", row.meanSpentMinutes))
            out.record(tuner: row)
        }
        out.line("regret = true seconds of the chosen config / true seconds of the best config that keeps the floor (1 = optimum);")
        out.line("violations = chosen configs whose true AUC is below the floor.")
    }
}
