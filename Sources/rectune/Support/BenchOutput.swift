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
struct BenchDocument: Codable {
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

    struct Host: Codable {
        let cpu: String
        /// ISA-relevant flags (avx*, amx*, fma, f16c), sorted.
        let cpuFlags: String
        let cpus: Int
    }

    struct OneDNN: Codable {
        let version: String
        let isa: String
    }

    /// The command's options that shape the figures.
    struct Settings: Codable {
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

    struct HostGEMM: Codable {
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

    struct Run: Codable {
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

    struct Percentiles: Codable {
        let p50: Double
        let p90: Double
        let p99: Double
    }

    struct Round: Codable {
        let round: Int
        let gflopsPerCore: Double
        var busyGflops: Double?
        var runs: [RoundRun]
    }

    struct RoundRun: Codable {
        let model: String
        /// in-memory or end-to-end.
        let mode: String
        let samplesPerSec: Double
        let rooflineFraction: Double
        var busyFraction: Double?
    }

    struct Reader: Codable {
        /// criteo, eleme, taobao, amazon-books (DIN: without _neg), amazon-books with _neg (DIEN).
        let reader: String
        let rowsPerSec: Double
        let mbPerSec: Double
    }

    struct SequenceRun: Codable {
        let model: String
        /// DIEN's rnn knob (unfused, fused); absent for DIN.
        var rnn: String?
        let nodes: Int
        let samplesPerSec: Double
        let stepMsP50: Double
        let stepMsP99: Double
    }

    struct DenseShape: Codable {
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
        /// bf16 shapes where training takes the engine's weight-gradient kernel
        /// (`PackedWeightGradient`) or its single-output kernels (`SingleOutputKernel`): its
        /// backward-weights rate, median and best; absent elsewhere.
        var engineBackwardWeightsGflops: Double? = nil
        var bestEngineBackwardWeightsGflops: Double? = nil
        /// One-output bf16 shapes (the single-output kernels): their forward and backward-data rates.
        var engineForwardGflops: Double? = nil
        var bestEngineForwardGflops: Double? = nil
        var engineBackwardDataGflops: Double? = nil
        var bestEngineBackwardDataGflops: Double? = nil
    }

    struct LayoutChoice: Codable {
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

    struct Kernel: Codable {
        let name: String
        let nsPerSample: Double
    }
}

extension BenchDocument {
    /// Reads the documents named in `list` (comma-separated paths) as one side of `compare --bench`.
    /// - Throws: `SelectorError` naming the file: unreadable, not JSON, not a bench document, or
    ///   another format than 1.
    static func side(_ list: String) throws -> BenchComparison.Side {
        let paths = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if paths.isEmpty { throw SelectorError(message: "--bench: '\(list)' names no file") }
        var documents: [BenchComparison.Document] = [], figures: [BenchComparison.Figure] = []
        for path in paths {
            let d = try read(path)
            documents.append(d.provenance(path: path))
            figures += d.figures
        }
        return BenchComparison.Side(label: paths.joined(separator: ", "), documents: documents, figures: figures)
    }

    /// One `rectune bench --json` document from `path`.
    static func read(_ path: String) throws -> BenchDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isFolder: ObjCBool = false
            let why = !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) ? "no such file" : isFolder.boolValue ? "a folder" : "not readable"
            throw SelectorError(message: "\(path): cannot read a bench document (\(why))")
        }
        /// Any JSON value, skipped.
        struct Skipped: Decodable { init(from decoder: Decoder) {} }
        struct Format: Decodable { let format: Int?; let runs: [Skipped]? }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let header: Format
        do { header = try decoder.decode(Format.self, from: data) } catch {
            throw SelectorError(message: "\(path): " + (syntaxError(data) ?? "not a JSON object: \(describe(error))"))
        }
        guard let format = header.format, header.runs != nil else {
            throw SelectorError(message: "\(path): not a `rectune bench --json` document (no \"format\" and \"runs\")")
        }
        guard format == 1 else { throw SelectorError(message: "\(path): bench document format \(format); this rectune reads format 1") }
        do { return try decoder.decode(BenchDocument.self, from: data) } catch {
            throw SelectorError(message: "\(path): \(describe(error))")
        }
    }

    /// A decoding error as one line: what is wrong and at which key path of the document (in its snake_case keys).
    private static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? "." + snakeCase($0.stringValue) }.joined()
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let c)?: return "missing \"\(snakeCase(key.stringValue))\"" + at(c.codingPath)
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?, .dataCorrupted(let c)?:
            return c.debugDescription.trimmingCharacters(in: CharacterSet(charactersIn: ".")) + at(c.codingPath)
        default: return "\(error)"
        }
    }

    /// The JSON parser's complaint about `data` with its line and column, or nil when `data` is valid JSON
    /// (JSONDecoder says only "not valid JSON"; JSONSerialization gives the character offset).
    static func syntaxError(_ data: Data) -> String? {
        do { _ = try JSONSerialization.jsonObject(with: data); return nil } catch {
            let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            guard let r = text.range(of: #" around character \d+"#, options: .regularExpression),
                  let offset = Int(text[r].split(separator: " ").last ?? ""), offset <= data.count else { return "not valid JSON: " + text }
            let before = data.prefix(offset)
            let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
            let what = text.replacingCharacters(in: r, with: "").trimmingCharacters(in: CharacterSet(charactersIn: "."))
            return "not valid JSON: \(what) at line \(line), column \(column)"
        }
    }

    /// Where the document came from: commit, host, settings.
    func provenance(path: String) -> BenchComparison.Document {
        let settings = Mirror(reflecting: self.settings).children.compactMap { child in
            child.label.map { BenchComparison.Setting(Self.snakeCase($0), "\(child.value)") }
        }
        let hostLine = "\(host.cpu), \(host.cpus) CPUs, oneDNN \(onednn.version) \(onednn.isa), kernels for \(kernelsBuiltFor)"
        return .init(path: path, gitCommit: gitCommit, host: hostLine, settings: settings, complete: complete)
    }

    private static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { s, c in s += c.isUppercase ? "_" + c.lowercased() : String(c) }
    }

    /// Every figure `compare --bench` compares: each run (and each `--rounds` round) of each model,
    /// the host's GEMM rates, the readers, the sequence models, the `--dense` shapes and `--kernels`.
    var figures: [BenchComparison.Figure] {
        typealias F = BenchComparison.Figure
        var out: [F] = []
        if let g = hostGemm {
            out.append(F("host GEMM \(g.precision)", .gflopsPerCore, g.gflopsPerCore))
            if let busy = g.busyGflops { out.append(F("host GEMM \(g.precision)", .busyGflops, busy)) }
        }
        for r in runs {
            let subject = [r.suite, r.model, r.variant, r.mode].compactMap { $0 }.joined(separator: " ")
            out += [F(subject, .samplesPerSec, r.samplesPerSec), F(subject, .rooflineFraction, r.rooflineFraction)]
            if let busy = r.busyFraction { out.append(F(subject, .busyFraction, busy)) }
            out += [F(subject, .stepP50, r.stepMs.p50), F(subject, .stepP99, r.stepMs.p99)]
            if let auc = r.auc { out.append(F(subject, .auc, auc)) }
        }
        for round in rounds {
            if let g = hostGemm {
                out.append(F("host GEMM \(g.precision)", .gflopsPerCore, round.gflopsPerCore))
                if let busy = round.busyGflops { out.append(F("host GEMM \(g.precision)", .busyGflops, busy)) }
            }
            for r in round.runs {
                let subject = "criteo \(r.model) \(r.mode)"
                out += [F(subject, .samplesPerSec, r.samplesPerSec), F(subject, .rooflineFraction, r.rooflineFraction)]
                if let busy = r.busyFraction { out.append(F(subject, .busyFraction, busy)) }
            }
        }
        for r in readers { out.append(F("reader \(r.reader)", .rowsPerSec, r.rowsPerSec)) }
        for s in sequence {
            let subject = ["sequence", s.model, s.rnn].compactMap { $0 }.joined(separator: " ")
            out += [F(subject, .samplesPerSec, s.samplesPerSec), F(subject, .stepP50, s.stepMsP50), F(subject, .stepP99, s.stepMsP99)]
        }
        for d in dense {
            let subject = "dense \(d.inputs)→\(d.outputs) \(d.precision) batch \(d.batch) threads \(d.threads)"
            out += [F(subject, .forwardGflops, d.forwardGflops), F(subject, .backwardDataGflops, d.backwardDataGflops),
                    F(subject, .backwardWeightsGflops, d.backwardWeightsGflops)]
            if let engine = d.engineBackwardWeightsGflops { out.append(F(subject + " engine kernel", .backwardWeightsGflops, engine)) }
            if let engine = d.engineForwardGflops { out.append(F(subject + " engine kernel", .forwardGflops, engine)) }
            if let engine = d.engineBackwardDataGflops { out.append(F(subject + " engine kernel", .backwardDataGflops, engine)) }
        }
        for k in kernels { out.append(F("kernel \(k.name)", .nsPerSample, k.nsPerSample)) }
        return out
    }
}
