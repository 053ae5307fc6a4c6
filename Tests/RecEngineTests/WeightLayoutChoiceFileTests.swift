import Foundation
@testable import RecEngine
import Synchronization
import TestSupport
import XCTest

/// `WeightLayoutChoiceFile`: `weight_layout: timed` choices shared between processes. A process is
/// simulated by forgetting the in-process choices (`WeightLayoutChooser.forgetChoices`).
final class WeightLayoutChoiceFileTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory("rectune-layout-choices")
        WeightLayoutChooser.forgetChoices()
    }
    override func tearDownWithError() throws {
        WeightLayoutChooser.forgetChoices()
        try? FileManager.default.removeItem(at: dir)
    }

    func contents(_ file: WeightLayoutChoiceFile) throws -> WeightLayoutChoiceFile.Contents {
        try XCTUnwrap(try file.read(), "\(file.path) exists")
    }

    func write(_ text: String, to name: String = "choices.json") throws -> WeightLayoutChoiceFile {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return WeightLayoutChoiceFile(path: path)
    }

    /// An entry of this host for 300→256 ReLU at `rows` rows on one thread.
    func entry(rows: Int, choice: String, host: String = WeightLayoutChoiceFile.host,
               seconds: [String: Double] = ["preferred": 0.004, "plain+transposed_gemm": 0.001]) -> String {
        let secondsJSON = seconds.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return """
        {"host": \(String(data: try! JSONEncoder().encode(host), encoding: .utf8)!), "inputs": 300, "outputs": 256, "relu": true,
         "rows": \(rows), "threads": 1, "choice": "\(choice)", "round_seconds": {\(secondsJSON)},
         "tags": {"preferred": "ba", "plain": "ab"}, "timed": "2026-12-03T12:00:00Z"}
        """
    }

    /// The first process times a shape and records its choice (creating the file's folder); the
    /// next one reads the same choice instead of timing, and the file still holds one entry.
    func testATimedChoiceIsRecordedAndTheNextProcessReadsIt() throws {
        let file = WeightLayoutChoiceFile(path: dir.appendingPathComponent("sub/folder/choices.json").path)
        let first = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1, file: file)
        XCTAssertEqual(first.source, .timed)
        let recorded = try contents(file)
        XCTAssertEqual(recorded.format, 1)
        XCTAssertEqual(recorded.entries.count, 1)
        let entry = try XCTUnwrap(recorded.entries.first)
        XCTAssertEqual(entry.host, WeightLayoutChoiceFile.host)
        XCTAssertTrue(entry.host.contains("oneDNN \(OneDNNInfo.version) \(OneDNNInfo.isa)"), entry.host)
        XCTAssertEqual([entry.inputs, entry.outputs, entry.rows, entry.threads], [300, 256, 64, 1])
        XCTAssertEqual(entry.choice, first.arrangement.description)
        XCTAssertEqual(entry.roundSeconds.count, first.roundSeconds.count)

        WeightLayoutChooser.forgetChoices()
        let second = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1, file: file)
        XCTAssertEqual(second.source, .file)
        XCTAssertEqual(second.arrangement, first.arrangement)
        XCTAssertEqual(second.roundSeconds, first.roundSeconds, "the file keeps each candidate's time exactly")
        XCTAssertEqual(second.tags, first.tags)
        XCTAssertEqual(try contents(file).entries.count, 1)
        XCTAssertEqual(try WeightLayoutChooser.recorded(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1, in: file)?
                        .arrangement, first.arrangement)
        XCTAssertNil(try WeightLayoutChooser.recorded(inputs: 300, outputs: 256, relu: true, rows: 65, threads: 1, in: file))
    }

    /// A recorded choice is used as recorded, times included (times no timing here could give),
    /// while another host's entry for the same key is kept but not used: that key is timed here and
    /// appended beside it.
    func testARecordedChoiceIsUsedAndAnotherHostsIsNot() throws {
        let file = try write("""
        {"format": 1, "entries": [
        \(entry(rows: 48, choice: "plain+transposed_gemm")),
        \(entry(rows: 40, choice: "transposed", host: "another CPU; avx512f; oneDNN 3.9 avx512_core_amx"))
        ]}
        """)
        let mine = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 48, threads: 1, file: file)
        XCTAssertEqual(mine.source, .file)
        XCTAssertEqual(mine.arrangement, WeightArrangement(.plain, .transposedGEMM))
        XCTAssertEqual(mine.roundSeconds, [.onednn: 0.004, WeightArrangement(.plain, .transposedGEMM): 0.001])
        XCTAssertEqual(mine.tags, [.preferred: "ba", .plain: "ab"])

        let other = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 40, threads: 1, file: file)
        XCTAssertEqual(other.source, .timed)
        XCTAssertNotNil(other.roundSeconds[.onednn])
        let entries = try contents(file).entries
        XCTAssertEqual(entries.map(\.rows), [48, 40, 40])
        XCTAssertEqual(entries[1].host, "another CPU; avx512f; oneDNN 3.9 avx512_core_amx", "another host's entry is kept")
        XCTAssertEqual(entries[2].host, WeightLayoutChoiceFile.host)
    }

    /// Two processes that time the same key at once both use the first recorded choice; writers
    /// recording different keys at once (threads here: `flock` locks per open file, so they
    /// exclude each other as processes do) lose none of them.
    func testTheFirstRecordedChoiceWinsAndConcurrentWritersLoseNothing() throws {
        let file = WeightLayoutChoiceFile(path: dir.appendingPathComponent("choices.json").path)
        let key = WeightLayoutChooser.Key(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1)
        let a = WeightLayoutChooser.Choice(arrangement: WeightArrangement(.plain), roundSeconds: [.onednn: 2, WeightArrangement(.plain): 1],
                                           tags: [.preferred: "ba", .plain: "ab"], source: .timed)
        let b = WeightLayoutChooser.Choice(arrangement: .onednn, roundSeconds: [.onednn: 1, WeightArrangement(.plain): 2],
                                           tags: [.preferred: "ba", .plain: "ab"], source: .timed)
        XCTAssertEqual(try file.record(a, for: key), a)
        let second = try file.record(b, for: key)
        XCTAssertEqual(second.arrangement, a.arrangement)
        XCTAssertEqual(second.source, .file)
        XCTAssertEqual(try contents(file).entries.count, 1)

        let writers = 12
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { i in
            do {
                _ = try file.record(a, for: WeightLayoutChooser.Key(inputs: 300, outputs: 256, relu: true, rows: 100 + i, threads: 1))
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(Set(try contents(file).entries.map(\.rows)), Set([64] + (0..<writers).map { 100 + $0 }))
    }

    /// A file that is not a choice file, has another format, or names an arrangement this build
    /// does not know stops the model build with an error naming the file (and the entry and value);
    /// another host's entries are not checked (another build may know them).
    func testBadFilesAreRefusedNamingTheFileAndTheValue() throws {
        func error(_ file: WeightLayoutChoiceFile, rows: Int = 48) -> String {
            do {
                _ = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: rows, threads: 1, file: file)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        let notJSON = try write("rows,choice\n48,ab\n", to: "a.csv")
        var message = error(notJSON)
        XCTAssertTrue(message.contains(notJSON.path) && message.contains("not a file of layout choices"), message)
        XCTAssertTrue(message.contains("RECTUNE_LAYOUT_CHOICES"), message)
        XCTAssertEqual(try String(contentsOfFile: notJSON.path, encoding: .utf8), "rows,choice\n48,ab\n", "a file it cannot read is left alone")

        message = error(try write("{\"format\": 1,\n \"entries\": [\n  {\"host\": }\n]}", to: "broken.json"))
        XCTAssertTrue(message.contains("not JSON at line 3, column 12"), message)

        message = error(try write(#"{"format": 1, "entries": [{"host": "h"}]}"#, to: "b.json"))
        XCTAssertTrue(message.contains("entries[0]") && message.contains("'inputs'"), message)

        message = error(try write(#"{"format": 2, "entries": []}"#, to: "c.json"))
        XCTAssertTrue(message.contains("format 2, but this rectune reads format 1"), message)

        let unknown = try write("{\"format\": 1, \"entries\": [\(entry(rows: 48, choice: "plain+diagonal"))]}", to: "d.json")
        message = error(unknown)
        XCTAssertTrue(message.contains(unknown.path) && message.contains("entries[0] (300→256, 48 rows, 1 threads)")
                      && message.contains("choice 'plain+diagonal'"), message)

        let foreign = try write("{\"format\": 1, \"entries\": [\(entry(rows: 48, choice: "plain+diagonal", host: "elsewhere"))]}",
                                to: "e.json")
        XCTAssertEqual(error(foreign), "no error")
    }

    /// Two runs (processes) of DLRM under `weight_layout: timed` sharing a file: the first times
    /// its large shapes and records them (`dense.layout_choices_from_file` 0), the second reads
    /// every one (the counter is the number of large layers) and trains to bit-identical
    /// parameters. Without a file the counter stays 0.
    func testRunsSharingAFileReadTheirChoicesAndTrainAlike() throws {
        let file = WeightLayoutChoiceFile(path: dir.appendingPathComponent("choices.json").path)
        var c = ModelTrainingTests.config(.dlrm, steps: 2, warmup: 0)
        c.intraThreads = 1
        c.weightLayout = .timed
        var parameters: [[[Float]]] = []
        var fromFile: [Double] = []
        var large = 0
        try WeightLayoutChooser.withChoiceFile(file) {
            for _ in 0..<2 {
                WeightLayoutChooser.forgetChoices()
                let r = try Trainer(config: c, counterEvents: []).run(dataset: ModelTrainingTests.dataset) { model in
                    parameters.append(ModelTrainingTests.snapshot(model))
                    large = model.parameters.filter { $0.layout != nil && $0.rows * $0.columns >= WeightLayoutChooser.minimumWeights }.count
                }
                fromFile.append(try XCTUnwrap(r.counters["dense.layout_choices_from_file"]))
            }
        }
        XCTAssertGreaterThan(large, 0, "DLRM has layers the timed policy times")
        XCTAssertEqual(fromFile, [0, Double(large)])
        XCTAssertEqual(parameters[0], parameters[1])
        XCTAssertEqual(try contents(file).entries.count, Set(try contents(file).entries.map { "\($0.inputs)x\($0.outputs)" }).count)

        WeightLayoutChooser.forgetChoices()
        let r = try WeightLayoutChooser.withChoiceFile(nil) {
            try Trainer(config: c, counterEvents: []).run(dataset: ModelTrainingTests.dataset)
        }
        XCTAssertEqual(r.counters["dense.layout_choices_from_file"], 0)
    }

    /// A choice written by hand pins a shape's arrangement: a layer built under the timed policy
    /// takes it as written. Where oneDNN's preferred layout for the shape is not `ab` or `ba` (blocked,
    /// on AVX-512 hosts) the transposed GEMM cannot run on it, and the build stops with an error
    /// naming the file and the choice instead of crashing.
    func testAHandWrittenChoiceIsTakenOrRefusedByName() throws {
        let file = try write("{\"format\": 1, \"entries\": [\(entry(rows: 64, choice: "preferred+transposed_gemm+forward_copy"))]}")
        let context = try DNNLContext(workers: 1, weightLayout: .timed(batch: 64))
        context.setIntraOpThreads(1)
        let onednn = try DenseLayer(name: "ref", inputs: 300, outputs: 256, relu: true, precision: .fp32,
                                    context: try DNNLContext(workers: 1), seed: 1)
        let denseHere = DenseLayer.denseWeightsAreTransposed(onednn.masterDesc, inputs: 300, outputs: 256) != nil
        try WeightLayoutChooser.withChoiceFile(file) {
            do {
                let layer = try DenseLayer(name: "pinned", inputs: 300, outputs: 256, relu: true, precision: .fp32,
                                           context: context, seed: 1)
                XCTAssertTrue(denseHere, "oneDNN gives \(onednn.masterDesc.formatTag): the choice cannot be taken")
                XCTAssertEqual(layer.weightGradient, .transposedGEMM)
                XCTAssertEqual(layer.forwardWeights, .transposedCopy)
                XCTAssertEqual(layer.masterDesc.formatTag, onednn.masterDesc.formatTag)
                XCTAssertEqual(context.choicesFromFile, 1)
            } catch let error as WeightLayoutChoiceFileError {
                XCTAssertFalse(denseHere, "\(error)")
                XCTAssertEqual(error.path, file.path)
                XCTAssertTrue(error.problem.contains("'preferred+transposed_gemm+forward_copy' for 300→256 cannot be used"), error.problem)
            }
        }
        XCTAssertEqual(file.unusable(WeightArrangement(.preferred, .transposedGEMM), inputs: 300, outputs: 256,
                                     because: "it needs ab or ba weights, and oneDNN gives AB16b64a here").description,
                       "\(file.path) (the weight layout choices RECTUNE_LAYOUT_CHOICES names): its choice 'preferred+transposed_gemm' "
                       + "for 300→256 cannot be used: it needs ab or ba weights, and oneDNN gives AB16b64a here. Delete it to time "
                       + "the layouts again, or set RECTUNE_LAYOUT_CHOICES to another file (empty: none)")
    }

    /// Names round-trip: every arrangement the chooser can time reads back from its description,
    /// and other text does not.
    func testArrangementNamesReadBack() {
        for layout in WeightLayout.allCases {
            for gradient in WeightGradientMethod.allCases {
                for forward in ForwardWeights.allCases {
                    let a = WeightArrangement(layout, gradient, forward: forward)
                    XCTAssertEqual(WeightArrangement(name: a.description), a)
                }
            }
        }
        for bad in ["", "ab", "plain+", "plain+forward_copy+transposed_gemm", "plain+inner_product", "plain+master"] {
            XCTAssertNil(WeightArrangement(name: bad), bad)
        }
    }
}
