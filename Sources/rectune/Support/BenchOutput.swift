import Foundation
import RecEngine
import RecHarness
import RecSystem

/// Where `rectune bench` puts its figures: the text report (stdout, or stderr when the JSON goes to
/// stdout) and, with `--json`, every printed figure again as one JSON document (`BenchDocument`),
/// for tracking the engine's speed across commits and hosts the way Google Benchmark's
/// `--benchmark_format=json` or asv's result files do.
final class BenchOutput {
    private let textToStderr: Bool
    private(set) var document: BenchDocument

    init(settings: BenchDocument.Settings, textToStderr: Bool) {
        self.textToStderr = textToStderr
        let cpu = HostInfo.cpu()
        document = BenchDocument(
            rectune: RectuneVersion.string, gitCommit: HostFingerprintCollector.gitCommit(), created: ISO8601DateFormatter().string(from: Date()),
            host: .init(cpu: cpu.model, cpuFlags: cpu.flags, cpus: ProcessInfo.processInfo.activeProcessorCount),
            onednn: .init(version: OneDNNInfo.version, isa: OneDNNInfo.isa), kernelsBuiltFor: RectuneVersion.buildTarget,
            settings: settings)
    }

    /// One line of the text report.
    func line(_ text: String) {
        if textToStderr {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        } else {
            print(text)
        }
    }

    func record(hostGEMM: BenchDocument.HostGEMM) { document.hostGemm = hostGEMM }
    func record(run: BenchDocument.Run) { document.runs.append(run) }
    func record(round: BenchDocument.Round) { document.rounds.append(round) }
    func record(reader: BenchDocument.Reader) { document.readers.append(reader) }
    func record(sequence: BenchDocument.SequenceRun) { document.sequence.append(sequence) }
    func record(dense: BenchDocument.DenseShape) { document.dense.append(dense) }
    func record(denseUnavailable precision: String, reason: String) { document.denseUnavailable[precision] = reason }
    func record(layoutChoice: BenchDocument.LayoutChoice) { document.layoutChoices.append(layoutChoice) }
    func record(kernel: BenchDocument.Kernel) { document.kernels.append(kernel) }
    func record(tuner: TunerBenchmark.Row) { document.tuner.append(tuner) }

    /// The document, marked incomplete with `error` when the bench stopped on one (what was
    /// measured before it is kept).
    func json(error: Error? = nil) throws -> Data {
        var d = document
        if let error { d.complete = false; d.error = "\(error)" }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(d)
    }
}

/// `rectune bench --json`: format 1. Every figure the text report prints, in the same units:
/// samples/s, milliseconds per step, GFLOP/s, fractions (0.71, not 71%), nanoseconds per sample.
/// A figure the run did not measure is absent (the busy ceiling on one core, bf16 shapes on a host
/// without bf16, whose reason is in `dense_unavailable`), never 0.
struct BenchDocument: Encodable {
    var format = 1
    let rectune: String
    /// The commit checked out where the binary was built (absent outside a git work tree).
    let gitCommit: String?
    /// When the bench started (ISO 8601, UTC).
    let created: String
    let host: Host
    let onednn: OneDNN
    let kernelsBuiltFor: String
    let settings: Settings
    /// False when the bench stopped on `error`; the sections hold what was measured before.
    var complete = true
    var error: String?
    /// The host's GEMM rate the roofline columns use (absent when no Criteo or contest model ran).
    var hostGemm: HostGEMM?
    /// The Criteo and contest models' rows, in the order printed.
    var runs: [Run] = []
    /// `--rounds`: each round's host rates and runs.
    var rounds: [Round] = []
    var readers: [Reader] = []
    var sequence: [SequenceRun] = []
    /// `--dense`: per shape and precision.
    var dense: [DenseShape] = []
    /// `--dense`: precisions not measured, with the reason.
    var denseUnavailable: [String: String] = [:]
    /// `--dense`: what `weight_layout: timed` chose per shape.
    var layoutChoices: [LayoutChoice] = []
    /// `--kernels`.
    var kernels: [Kernel] = []
    /// `--tuner`: one row per method (`TunerBenchmark.Row`).
    var tuner: [TunerBenchmark.Row] = []

    struct Host: Encodable {
        let cpu: String
        /// ISA-relevant flags (avx*, amx*, fma, f16c), sorted.
        let cpuFlags: String
        let cpus: Int
    }

    struct OneDNN: Encodable {
        let version: String
        let isa: String
    }

    /// The command's options that shape the figures.
    struct Settings: Encodable {
        let batch: Int
        let steps: Int
        let warmupSteps: Int
        let rows: Int
        let interThreads: Int
        let intraThreads: Int
        let executor: String
        let microBatch: Int
        let allocator: String
        let bf16: Bool
        let intraBoost: Bool
        let weightLayout: String
    }

    struct HostGEMM: Encodable {
        /// fp32, or bf16 with --bf16.
        let precision: String
        /// oneDNN on one thread, WDL's layer shapes.
        let gflopsPerCore: Double
        /// inter × intra threads, at most the CPUs.
        let rooflineCores: Int
        /// All roofline cores running the same products at once (absent on one core).
        var busyGflops: Double?
        /// One core alone, measured in the same rounds as `busy_gflops`.
        var aloneGflops: Double?
    }

    struct Run: Encodable {
        /// criteo or contest.
        let suite: String
        let model: String
        /// Contest DeepFM's `indicator` (dense, scatter); absent for the other models.
        var variant: String?
        /// in-memory, end-to-end, or end-to-end stage on.
        let mode: String
        let samplesPerSec: Double
        let stepMs: Percentiles
        let denseMflopPerSample: Double
        let rooflineSamplesPerSec: Double
        let rooflineFraction: Double
        var busyFraction: Double?
        /// Absent when not finite (`auc_unavailable` says why), as `train --json` writes it.
        var auc: Double?
        var aucUnavailable: String?
        /// Multi-task models (MMoE): AUC per task (finite values only).
        var aucByTask: [String: Double]?
    }

    struct Percentiles: Encodable {
        let p50: Double
        let p90: Double
        let p99: Double
    }

    struct Round: Encodable {
        let round: Int
        let gflopsPerCore: Double
        var busyGflops: Double?
        var runs: [RoundRun]
    }

    struct RoundRun: Encodable {
        let model: String
        /// in-memory or end-to-end.
        let mode: String
        let samplesPerSec: Double
        let rooflineFraction: Double
        var busyFraction: Double?
    }

    struct Reader: Encodable {
        /// criteo, eleme, taobao, amazon-books (DIN: without _neg), amazon-books with _neg (DIEN).
        let reader: String
        let rowsPerSec: Double
        let mbPerSec: Double
    }

    struct SequenceRun: Encodable {
        let model: String
        /// DIEN's rnn knob (unfused, fused); absent for DIN.
        var rnn: String?
        let nodes: Int
        let samplesPerSec: Double
        let stepMsP50: Double
        let stepMsP99: Double
    }

    struct DenseShape: Encodable {
        let inputs: Int
        let outputs: Int
        let precision: String
        let batch: Int
        let threads: Int
        /// Median over the rounds, then the best round.
        let forwardGflops: Double
        let backwardDataGflops: Double
        let backwardWeightsGflops: Double
        let bestForwardGflops: Double
        let bestBackwardDataGflops: Double
        let bestBackwardWeightsGflops: Double
        /// oneDNN's implementations and layouts, as printed.
        let implementation: String
    }

    struct LayoutChoice: Encodable {
        let inputs: Int
        let outputs: Int
        let rows: Int
        /// The candidates' fastest rounds, seconds per forward + backward-data + backward-weights, by label.
        let candidateSeconds: [String: Double]
        let choice: String
        /// oneDNN's layout time ÷ the chosen one's.
        let speedupOverOnednn: Double
        /// What the choice file (RECTUNE_LAYOUT_CHOICES) holds for the shape, which model builds use.
        var recorded: String?
    }

    struct Kernel: Encodable {
        let name: String
        let nsPerSample: Double
    }
}
