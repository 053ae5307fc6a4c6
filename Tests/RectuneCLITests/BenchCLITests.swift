import Foundation
import enum RecEngine.OneDNNInfo
import struct RecEngine.WeightLayoutChoiceFile
import TestSupport
import XCTest

/// `rectune bench` on the real binary: the roofline columns and the critical path (figures are
/// not asserted, only that they are there and consistent with each other).
final class BenchCLITests: XCTestCase {
    func testBenchPrintsRooflineAndCriticalPath() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try RectuneCLI.run(["bench", "--models", "wdl", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--profile"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let host = try XCTUnwrap(lines.first { $0.hasPrefix("host GEMM rate: ") }, r.out)
        XCTAssertTrue(host.contains("GFLOP/s per core (fp32"), host)
        // WDL's default tower 429→1024→512→256→1 plus the wide 13→1 linear: 6.570 MFLOP/sample.
        let dense = try XCTUnwrap(lines.first { $0.hasPrefix("  wdl roofline: ") }, r.out)
        XCTAssertTrue(dense.contains("6.570 dense MFLOP/sample"), dense)
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("wdl ") && $0.contains("in-memory") }, r.out)
        XCTAssertTrue(row.contains("%"), row)
        if ProcessInfo.processInfo.activeProcessorCount >= 2 {
            // Two cores: the rate of both running GEMMs at once, and a second (busy) roofline beside the nominal one.
            let busy = try XCTUnwrap(lines.first { $0.hasPrefix("host GEMM rate with all 2 cores busy at once: ") }, r.out)
            XCTAssertTrue(busy.contains(" + ") && busy.contains("one core alone"), busy)
            XCTAssertTrue(dense.contains("; busy: ") && dense.hasSuffix("samples/s"), dense)
            XCTAssertEqual(row.filter { $0 == "%" }.count, 2, row)
        }
        let path = try XCTUnwrap(lines.first { $0.contains("critical path of one wdl step") }, r.out)
        XCTAssertTrue(path.contains("nodes"), path)
        // --profile-rows defaults to 14 node groups (WDL has more).
        let start = try XCTUnwrap(lines.firstIndex { $0.contains("profile of one wdl step") }, r.out)
        let end = try XCTUnwrap(lines.firstIndex { $0.contains("critical path of one wdl step") }, r.out)
        XCTAssertEqual(end - start - 1, 14, r.out)
        XCTAssertTrue(lines.contains { $0.contains("wdl.dnn.0.fwd") && $0.contains("GFLOP/s") }, r.out)
        // The Criteo reader's own speed, and how the stage-off step splits its parse (2 pool workers).
        let reader = try XCTUnwrap(lines.first { $0.hasPrefix("  criteo reader: ") }, r.out)
        XCTAssertTrue(reader.contains(" rows/s, ") && reader.contains(" MB/s on one thread"), reader)
        XCTAssertTrue(reader.hasSuffix("parses its batch in 2 parts (one per inter-op worker)"), reader)
    }

    /// `--trace DIR`: each worker's busy and idle split is printed and the Chrome trace is written,
    /// one complete event per node and step plus a step row, on the pool's two workers; the inline
    /// executor and a step count below 1 are refused with the reason.
    /// `--dense --dense-shapes` times the shapes it names (a model's own layers, here DeepFM's first
    /// layer and its one-output logit) in both precisions; a malformed shape is refused by name.
    func testBenchDenseTimesTheShapesItIsGiven() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-dense")
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("dense.json").path
        let r = try RectuneCLI.run(["bench", "--dense", "--dense-shapes", "429x400,400x1", "--batch", "64", "--rows", "2000",
                                    "--models", "none", "--contest", "none", "--sequence", "none", "--json", json], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        for shape in ["429→400", "400→1"] {
            for precision in OneDNNInfo.bf16Unsupported == nil ? ["fp32", "bf16"] : ["fp32"] {
                let line = try XCTUnwrap(lines.first { $0.hasPrefix("  \(shape) \(precision) ") && $0.contains("bwd-data") }, r.out)
                XCTAssertTrue(line.contains("fwd") && line.contains("bwd-data") && line.contains("bwd-weights"), line)
            }
        }
        XCTAssertFalse(r.out.contains("1024"), "the default shapes ran too:\n\(r.out)")

        // Where the engine's bf16 weight-gradient kernel runs (a printed line per shape that takes
        // it), the document holds its rate on that shape's bf16 row, and `compare --bench` compares
        // it as a figure of its own; nowhere else (400→1 is below the kernel's 64 outputs: the
        // one-output layer takes the single-output kernels, all three products on a line of their own).
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let rows = try XCTUnwrap(doc["dense"] as? [[String: Any]])
        XCTAssertEqual(rows.count, OneDNNInfo.bf16Unsupported == nil ? 4 : 2, "\(rows)")
        let kernelLines = lines.filter { $0.contains("bwd-weights by the engine's kernel") }
        let singleOutputLines = lines.filter { $0.contains("by the engine's single-output kernels") }
        for row in rows {
            let shape = "\(row["inputs"] as? Int ?? 0)→\(row["outputs"] as? Int ?? 0)"
            let precision = row["precision"] as? String ?? "?"
            let printed = (kernelLines + singleOutputLines).contains { $0.hasPrefix("  \(shape) \(precision) ") }
            if printed {
                let median = try XCTUnwrap(row["engine_backward_weights_gflops"] as? Double, "\(row)")
                let best = try XCTUnwrap(row["best_engine_backward_weights_gflops"] as? Double, "\(row)")
                XCTAssertTrue(median > 0 && best >= median, "\(row)")
            } else {
                XCTAssertNil(row["engine_backward_weights_gflops"], "\(row)")
            }
        }
        XCTAssertFalse(kernelLines.contains { $0.hasPrefix("  400→1 ") }, r.out)
        // One-output layers take them in fp32 on AVX-512 hosts and in bf16 where the weight-gradient kernel runs.
        XCTAssertTrue(singleOutputLines.allSatisfy { $0.hasPrefix("  400→1 ") }, r.out)
        XCTAssertEqual(singleOutputLines.contains { $0.hasPrefix("  400→1 bf16 ") }, !kernelLines.isEmpty, r.out)
        for row in rows {
            let precision = row["precision"] as? String ?? "?"
            let single = row["outputs"] as? Int == 1 && singleOutputLines.contains { $0.hasPrefix("  400→1 \(precision) ") }
            for key in ["engine_forward_gflops", "engine_backward_data_gflops", "engine_backward_weights_gflops"] where single {
                let median = try XCTUnwrap(row[key] as? Double, "\(key): \(row)")
                let best = try XCTUnwrap(row["best_" + key] as? Double, "\(key): \(row)")
                XCTAssertTrue(median > 0 && best >= median, "\(key): \(row)")
            }
            if !single { XCTAssertNil(row["engine_forward_gflops"], "\(row)") }
        }
        let compared = try RectuneCLI.run(["compare", "--bench", json, json], in: dir)
        XCTAssertEqual(compared.status, 0, compared.out + compared.err)
        XCTAssertEqual(compared.out.contains("dense 429→400 bf16 batch 64 threads 1 engine kernel"), !kernelLines.isEmpty, compared.out)
        for precision in ["fp32", "bf16"] {
            XCTAssertEqual(compared.out.contains("dense 400→1 \(precision) batch 64 threads 1 engine kernel"),
                           singleOutputLines.contains { $0.hasPrefix("  400→1 \(precision) ") }, compared.out)
        }
        let bad = try RectuneCLI.run(["bench", "--dense", "--dense-shapes", "429x400,400", "--models", "none"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--dense-shapes: '400' is not inputs x outputs"), bad.err)
    }

    /// With a layout choice file (`RECTUNE_LAYOUT_CHOICES`), `--dense` still times afresh and
    /// prints the file's choice for the shape beside its own (a choice no timing here would give).
    func testBenchDenseShowsTheRecordedLayoutChoice() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-choices")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("choices.json")
        let host = String(data: try JSONEncoder().encode(WeightLayoutChoiceFile.host), encoding: .utf8)!
        try """
        {"format": 1, "entries": [{"host": \(host), "inputs": 429, "outputs": 400, "relu": true, "rows": 64, "threads": 1,
          "choice": "plain+transposed_gemm", "round_seconds": {"preferred": 0.004, "plain+transposed_gemm": 0.001},
          "tags": {"preferred": "ba", "plain": "ab"}, "timed": "2026-12-03T12:00:00Z"}]}
        """.write(to: file, atomically: true, encoding: .utf8)
        let r = try RectuneCLI.run(["bench", "--dense", "--dense-shapes", "429x400", "--batch", "64", "--rows", "2000",
                                    "--models", "none", "--contest", "none", "--sequence", "none"], in: dir,
                                   environment: ["RECTUNE_LAYOUT_CHOICES": file.path])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let timed = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("  429→400 ") && $0.contains("→ ") }, r.out)
        XCTAssertTrue(lines[timed].contains("preferred ("), "timed afresh: \(lines[timed])")
        XCTAssertEqual(lines[timed + 1].trimmingCharacters(in: .whitespaces),
                       "recorded in \(file.path): plain (ab, transposed GEMM) (what model builds use)")
    }

    func testBenchTraceWritesAChromeTraceAndTheIdleSplit() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-trace")
        defer { try? FileManager.default.removeItem(at: dir) }
        let traceDir = dir.appendingPathComponent("traces")
        let r = try RectuneCLI.run(["bench", "--models", "dlrm", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--micro-batch", "2",
                                    "--trace", traceDir.path, "--trace-steps", "3"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let head = try XCTUnwrap(lines.first { $0.contains("timeline of 3 dlrm steps (pool, 2 workers, in memory)") }, r.out)
        XCTAssertTrue(head.contains("workers busy") && head.contains("between steps"), head)
        XCTAssertEqual(lines.filter { $0.hasPrefix("    worker ") && $0.contains("before its first node") }.count, 2, r.out)
        let file = traceDir.appendingPathComponent("dlrm.trace.json")
        XCTAssertTrue(lines.contains("    trace: \(file.path)"), r.out)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let events = try XCTUnwrap(json["traceEvents"] as? [[String: Any]])
        let complete = events.filter { $0["ph"] as? String == "X" }
        let steps = complete.filter { $0["cat"] as? String == "step" }
        XCTAssertEqual(steps.count, 3)
        let nodes = complete.filter { $0["cat"] as? String != "step" }
        XCTAssertEqual(nodes.count % 3, 0)
        XCTAssertGreaterThan(nodes.count, 3 * 20, "every node of each step")
        XCTAssertEqual(Set(nodes.compactMap { $0["tid"] as? Int }), [0, 1])
        XCTAssertTrue(nodes.allSatisfy { ($0["dur"] as? Double ?? -1) >= 0 && ($0["ts"] as? Double ?? -1) >= 0 })
        XCTAssertTrue(nodes.contains { $0["name"] as? String == "dlrm.top.0.fwd.m1" && $0["cat"] as? String == "forward" })
        let names = events.filter { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" }
            .compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        XCTAssertEqual(Set(names), ["worker 0", "worker 1", "steps"])

        let inline = try RectuneCLI.run(["bench", "--models", "dlrm", "--executor", "inline", "--trace", traceDir.path], in: dir)
        XCTAssertNotEqual(inline.status, 0)
        XCTAssertTrue(inline.err.contains("--trace needs --executor pool or costmodel"), inline.err)
        let zero = try RectuneCLI.run(["bench", "--models", "dlrm", "--trace", traceDir.path, "--trace-steps", "0"], in: dir)
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.err.contains("--trace-steps must be at least 1, got 0"), zero.err)
    }

    /// `--json PATH`: the figures the text prints, as one JSON document (format 1): the settings, the
    /// host's GEMM rates, one entry per model row whose samples/s, percentiles and AUC are the
    /// printed ones and whose roofline fraction is samples/s over the roofline, each round, the
    /// reader, and the --kernels table. `--json -` puts the document on stdout and the text on
    /// stderr. A bench that stops on an error still writes what it measured, marked incomplete.
    func testBenchJSONHoldsThePrintedFigures() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-json")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out/bench.json").path
        let r = try RectuneCLI.run(["bench", "--models", "wdl", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--rounds", "2",
                                    "--micro-batch", "2", "--kernels", "--json", path], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        XCTAssertEqual(doc["format"] as? Int, 1)
        XCTAssertEqual(doc["complete"] as? Bool, true)
        XCTAssertNil(doc["error"])
        let settings = try XCTUnwrap(doc["settings"] as? [String: Any])
        XCTAssertEqual(settings["batch"] as? Int, 128)
        XCTAssertEqual(settings["micro_batch"] as? Int, 2)
        XCTAssertEqual(settings["executor"] as? String, "pool")
        XCTAssertEqual(settings["bf16"] as? Bool, false)
        XCTAssertEqual((doc["onednn"] as? [String: Any])?["version"] as? String, OneDNNInfo.version)
        // The binary under test is built in this checkout: the commit of its work tree (git's 40 hex digits).
        if let commit = doc["git_commit"] as? String { XCTAssertEqual(commit.count, 40, commit) }
        let host = try XCTUnwrap(doc["host"] as? [String: Any])
        XCTAssertEqual(host["cpus"] as? Int, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertFalse((host["cpu"] as? String ?? "").isEmpty)

        let lines = r.out.split(separator: "\n").map(String.init)
        let gemm = try XCTUnwrap(doc["host_gemm"] as? [String: Any])
        let rate = try XCTUnwrap(gemm["gflops_per_core"] as? Double)
        XCTAssertTrue(lines.contains { $0.hasPrefix(String(format: "host GEMM rate: %.1f GFLOP/s per core (fp32", rate)) }, r.out)
        let multiCore = ProcessInfo.processInfo.activeProcessorCount >= 2
        XCTAssertEqual(gemm["busy_gflops"] != nil, multiCore, "the busy ceiling is measured with two cores and absent (not 0) on one")

        let runs = try XCTUnwrap(doc["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 1)
        let run = runs[0]
        XCTAssertEqual(run["suite"] as? String, "criteo")
        XCTAssertEqual(run["model"] as? String, "wdl")
        XCTAssertEqual(run["mode"] as? String, "in-memory")
        XCTAssertNil(run["variant"])
        let speed = try XCTUnwrap(run["samples_per_sec"] as? Double)
        let p50 = try XCTUnwrap((run["step_ms"] as? [String: Any])?["p50"] as? Double)
        let auc = try XCTUnwrap(run["auc"] as? Double)
        XCTAssertNil(run["auc_unavailable"], "a finite AUC has no reason beside it")
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("wdl ") && $0.contains("in-memory") }, r.out)
        let columns = row.split(separator: " ").map(String.init)
        XCTAssertEqual(columns[2], String(format: "%.0f", speed), row)
        XCTAssertEqual(columns[3], String(format: "%.2f", p50), row)
        XCTAssertEqual(columns.last, String(format: "%.4f", auc), row)
        XCTAssertEqual(try XCTUnwrap(run["dense_mflop_per_sample"] as? Double), 6.570, accuracy: 0.0005)
        let roofline = try XCTUnwrap(run["roofline_samples_per_sec"] as? Double)
        XCTAssertEqual(try XCTUnwrap(run["roofline_fraction"] as? Double), speed / roofline, accuracy: 1e-12)
        XCTAssertEqual(run["busy_fraction"] != nil, multiCore)

        let rounds = try XCTUnwrap(doc["rounds"] as? [[String: Any]])
        XCTAssertEqual(rounds.map { $0["round"] as? Int }, [1, 2])
        let printedRounds = lines.filter { $0.hasPrefix("round ") }
        for (round, line) in zip(rounds, printedRounds) {
            let roundRuns = try XCTUnwrap(round["runs"] as? [[String: Any]])
            XCTAssertEqual(roundRuns.count, 1)
            let s = try XCTUnwrap(roundRuns[0]["samples_per_sec"] as? Double)
            XCTAssertTrue(line.contains(String(format: "| wdl %.0f samples/s", s)), line)
        }
        let readers = try XCTUnwrap(doc["readers"] as? [[String: Any]])
        XCTAssertEqual(readers.map { $0["reader"] as? String }, ["criteo"])
        let kernels = try XCTUnwrap(doc["kernels"] as? [[String: Any]])
        XCTAssertEqual(kernels.count, lines.filter { $0.hasSuffix(" ns/sample") }.count)
        XCTAssertTrue(kernels.allSatisfy { ($0["ns_per_sample"] as? Double ?? 0) > 0 })
        XCTAssertEqual((doc["dense"] as? [Any])?.count, 0, "no --dense")

        // '-': the document alone on stdout, the text on stderr.
        let toStdout = try RectuneCLI.run(["bench", "--models", "dlrm", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                           "--rows", "12000", "--batch", "128", "--steps", "2", "--warmup-steps", "1", "--json", "-"], in: dir)
        XCTAssertEqual(toStdout.status, 0, toStdout.err)
        let streamed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(toStdout.out.utf8)) as? [String: Any], toStdout.out)
        XCTAssertEqual((streamed["runs"] as? [[String: Any]])?.first?["model"] as? String, "dlrm")
        XCTAssertTrue(toStdout.err.contains("host GEMM rate: "), toStdout.err)

        // --tuner: its table, one row per method.
        let tuner = try RectuneCLI.run(["bench", "--tuner", "--tuner-seeds", "1", "--tuner-budget", "5", "--json", "-"], in: dir)
        XCTAssertEqual(tuner.status, 0, tuner.err)
        let tunerDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(tuner.out.utf8)) as? [String: Any], tuner.out)
        let methods = try XCTUnwrap(tunerDoc["tuner"] as? [[String: Any]])
        XCTAssertEqual(methods.map { $0["method"] as? String }, ["tuner", "random search"])
        XCTAssertTrue(methods.allSatisfy { ($0["mean_regret"] as? Double ?? 0) >= 1 && $0["seeds"] as? Int == 1 })
        XCTAssertNil(tunerDoc["host_gemm"], "no model ran, so no GEMM rate was measured")

        // An error after the first model (the trace folder is a file): what ran is written, marked incomplete.
        let blocker = dir.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        let failing = dir.appendingPathComponent("failing.json").path
        let stopped = try RectuneCLI.run(["bench", "--models", "wdl", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                          "--rows", "12000", "--batch", "128", "--steps", "2", "--warmup-steps", "1",
                                          "--trace", blocker.path, "--json", failing], in: dir)
        XCTAssertNotEqual(stopped.status, 0)
        let partial = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: failing))) as? [String: Any])
        XCTAssertEqual(partial["complete"] as? Bool, false)
        XCTAssertFalse((partial["error"] as? String ?? "").isEmpty)
        XCTAssertEqual((partial["runs"] as? [[String: Any]])?.first?["model"] as? String, "wdl", "the run measured before the error is kept")
    }

    /// `compare --bench` reads real bench documents: against itself nothing changes; against a copy
    /// at half the speed (fixed values in the real document's shape, pooled twice per side) samples/s and
    /// the roofline fraction regress, `--fail-on-regression` exits 1, and the notes name the setting
    /// and commit that differ. A broken file is named with its line and column.
    func testCompareBenchDocuments() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-compare")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.json").path
        let r = try RectuneCLI.run(["bench", "--models", "wdl", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--rounds", "2",
                                    "--json", a], in: dir)
        XCTAssertEqual(r.status, 0, r.err)

        let same = try RectuneCLI.run(["compare", "--bench", a, a, "--fail-on-regression"], in: dir)
        XCTAssertEqual(same.status, 0, same.out + same.err)
        XCTAssertFalse(same.out.contains("REGRESSED") || same.out.contains("improved"), same.out)
        XCTAssertTrue(same.out.contains("criteo wdl in-memory"), same.out)
        XCTAssertFalse(same.out.contains("note: "), "one document against itself differs in nothing: \(same.out)")

        // The measured values vary as much as the host does (one slow round in CI overlapped the
        // halved side), so A' and B keep the real document's structure with values set from its
        // first run: A' at 1.00, 1.01, 1.02 × that run, B at half of A', with bf16 on and another commit.
        let measured = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: a))) as? [String: Any])
        let first = try XCTUnwrap((measured["runs"] as? [[String: Any]])?.first)
        func document(scale: Double) -> [String: Any] {
            var doc = measured
            func scaled(_ runs: Any?, _ index: Int) -> [[String: Any]] {
                (runs as? [[String: Any]] ?? []).map { run in
                    var run = run
                    for key in ["samples_per_sec", "roofline_fraction"] {
                        run[key] = (first[key] as? Double ?? 0) * (1 + 0.01 * Double(index)) * scale
                    }
                    return run
                }
            }
            doc["runs"] = scaled(doc["runs"], 0)
            doc["rounds"] = (doc["rounds"] as? [[String: Any]] ?? []).enumerated().map { index, round in
                var round = round
                round["runs"] = scaled(round["runs"], index + 1)
                return round
            }
            return doc
        }
        let fixed = dir.appendingPathComponent("a-fixed.json").path
        try JSONSerialization.data(withJSONObject: document(scale: 1)).write(to: URL(fileURLWithPath: fixed))
        var doc = document(scale: 0.5)
        var settings = try XCTUnwrap(doc["settings"] as? [String: Any])
        settings["bf16"] = true
        doc["settings"] = settings
        doc["git_commit"] = String(repeating: "b", count: 40)
        let b = dir.appendingPathComponent("b.json").path
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: b))

        let slower = try RectuneCLI.run(["compare", "--bench", "\(fixed),\(fixed)", "\(b),\(b)", "--fail-on-regression"], in: dir)
        XCTAssertEqual(slower.status, 1, slower.out + slower.err)
        for metric in ["samples_per_sec", "roofline_fraction"] {
            let line = try XCTUnwrap(slower.out.split(separator: "\n").first { $0.hasPrefix("criteo wdl in-memory") && $0.contains(" \(metric) ") },
                                     slower.out)
            XCTAssertTrue(line.contains("6/6") && line.contains("0.500x") && line.hasSuffix("- REGRESSED"), String(line))
        }
        XCTAssertTrue(slower.out.contains("note: setting bf16: A false, B true"), slower.out)
        XCTAssertTrue(slower.out.contains("note: commits: A "), slower.out)
        XCTAssertTrue(slower.out.contains(", B bbbbbbbbbbbb"), slower.out)

        let json = try RectuneCLI.run(["compare", "--bench", "\(fixed),\(fixed)", "\(b),\(b)", "--format", "json",
                                       "--metric", "roofline_fraction:10%"], in: dir)
        XCTAssertEqual(json.status, 0, "without --fail-on-regression a regression is reported, not an exit status")
        let rows = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])?["rows"] as? [[String: Any]], json.out)
        XCTAssertEqual(Set(rows.map { $0["metric"] as? String }), ["roofline_fraction"])
        XCTAssertTrue(rows.allSatisfy { ($0["comparison"] as? [String: Any])?["threshold"] as? String == "±10%" })

        let broken = dir.appendingPathComponent("broken.json")
        try Data("{\n  \"format\": 1,\n  \"runs\": [\n  x ]\n}".utf8).write(to: broken)
        let bad = try RectuneCLI.run(["compare", "--bench", a, broken.path], in: dir)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.contains("\(broken.path): not valid JSON: ") && bad.err.contains(" at line 4, column 3"), bad.err)
        for (path, why) in [(dir.appendingPathComponent("absent.json").path, "no such file"), (dir.path, "a folder")] {
            let unreadable = try RectuneCLI.run(["compare", "--bench", path, a], in: dir)
            XCTAssertEqual(unreadable.status, 2)
            XCTAssertTrue(unreadable.err.contains("\(path): cannot read a bench document (\(why))"), unreadable.err)
        }
        let unknown = try RectuneCLI.run(["compare", "--bench", a, a, "--metric", "wall_s"], in: dir)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.err.contains("not a bench figure"), unknown.err)
    }

    /// `--executor` and `--micro-batch` reach the benchmarked graph: the header names them, the
    /// profile counts one node per micro-batch for each dense product, and the critical path runs
    /// through one micro-batch's nodes (their names carry the micro-batch tag).
    func testBenchRunsTheRequestedExecutorAndMicroBatches() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-micro")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try RectuneCLI.run(["bench", "--models", "dlrm", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--profile",
                                    "--executor", "costmodel", "--micro-batch", "2", "--profile-rows", "0"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("rectune bench ") }, r.out)
        XCTAssertTrue(header.contains("executor costmodel  micro_batch 2"), header)
        XCTAssertTrue(lines.contains { $0.hasPrefix("dlrm ") && $0.contains("in-memory") }, r.out)
        let forward = try XCTUnwrap(lines.first { $0.contains("dlrm.top.0.fwd ") && $0.contains("nodes") }, r.out)
        XCTAssertTrue(forward.contains("2 nodes"), forward)
        XCTAssertTrue(lines.contains { $0.contains("dlrm.top.0.fwd.m") && $0.contains("GFLOP/s") }, r.out)
        // --profile-rows 0 lists every node group, the smallest too (one per layer update, 4 bottom + 3 top).
        XCTAssertEqual(lines.filter { $0.contains(".update ") && $0.contains("1 nodes") }.count, 7, r.out)

        let negative = try RectuneCLI.run(["bench", "--models", "dlrm", "--profile-rows=-1"], in: dir)
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.err.contains("--profile-rows must be 0 (all) or more, got -1"), negative.err)

        let bad = try RectuneCLI.run(["bench", "--models", "dlrm", "--batch", "128", "--micro-batch", "129"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--micro-batch must be between 1 and --batch (128), got 129"), bad.err)
    }

    /// `--rounds`: one line per round with that round's host rate and every model's samples/s and
    /// roofline fraction, then per model the median and range over the rounds; the fractions are
    /// the samples/s over each round's own roofline (checked from the printed figures).
    func testBenchRoundsInterleaveModelsAndSummarize() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-rounds")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try RectuneCLI.run(["bench", "--models", "wdl,dlrm", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--rounds", "3"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let rounds = lines.filter { $0.hasPrefix("round ") }
        XCTAssertEqual(rounds.count, 3, r.out)
        let cores = Double(min(2, ProcessInfo.processInfo.activeProcessorCount))
        for (i, line) in rounds.enumerated() {
            XCTAssertTrue(line.hasPrefix("round \(i + 1): host "), line)
            let fields = line.components(separatedBy: " | ")
            XCTAssertEqual(fields.count, 3, line)
            let head = fields[0].components(separatedBy: " ")
            let rate = try XCTUnwrap(Double(head[3]), line)
            // With more than one core each round also measures the busy ceiling (all cores at once).
            let busy = cores > 1 ? try XCTUnwrap(Double(head[8]), line) : nil
            if cores > 1 { XCTAssertEqual(head[7], "busy", line) }
            for (field, mflop) in zip(fields.dropFirst(), [6.570, 2.833]) {
                let words = field.components(separatedBy: " ")
                let speed = try XCTUnwrap(Double(words[1]), field)
                let percent = try XCTUnwrap(Double(words[3].dropFirst().dropLast(2)), field)
                XCTAssertGreaterThan(speed, 0, field)
                // WDL 6.570, DLRM 2.833 dense MFLOP per sample (the roofline lines of the main table).
                XCTAssertEqual(percent, 100 * speed / (cores * rate * 1e3 / mflop), accuracy: 0.15, field)
                if let busy {
                    XCTAssertEqual(words[4], "busy", field)
                    let busyPercent = try XCTUnwrap(Double(words[5].dropLast(2)), field)
                    XCTAssertEqual(busyPercent, 100 * speed / (busy * 1e3 / mflop), accuracy: 0.15, field)
                }
            }
        }
        for model in ["wdl", "dlrm"] {
            let summary = try XCTUnwrap(lines.first { $0.hasPrefix("  \(model) ") && $0.contains("median") }, r.out)
            XCTAssertTrue(summary.contains("over 3 rounds") && summary.contains("roofline median"), summary)
            if cores > 1 { XCTAssertTrue(summary.contains("; busy median "), summary) }
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("host GEMM rate over the rounds: median ") }, r.out)

        // Without --in-memory-only each round also runs every model end to end from the file.
        let both = try RectuneCLI.run(["bench", "--models", "wdl", "--contest", "none", "--sequence", "none",
                                       "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--rounds", "2"], in: dir)
        XCTAssertEqual(both.status, 0, both.err)
        let bothLines = both.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(bothLines.filter { $0.hasPrefix("round ") && $0.contains(" | wdl ") && $0.contains(" | wdl e2e ") }.count, 2, both.out)
        XCTAssertTrue(bothLines.contains { $0.hasPrefix("  wdl e2e ") && $0.contains("over 2 rounds") }, both.out)

        let bad = try RectuneCLI.run(["bench", "--rounds", "0"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--rounds must be at least 1, got 0"), bad.err)
    }
}
