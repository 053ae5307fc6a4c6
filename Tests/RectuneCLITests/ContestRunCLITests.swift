import Foundation
import TestSupport
import XCTest

/// `rectune contest run` on the real binary, as a user runs it: a tiny contest (two models,
/// generated data, a scale of a few steps), the JSON scoreboard, runs in the store, and --resume.
final class ContestRunCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-contest-run") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let root = RepositoryRoot.url

    /// The shipped contest file with small generated data, WDL's floor `wdlFloor` (one it cannot
    /// reach, where a test wants a miss) and no floor for MMoE. At 28 steps on 3,000 rows MMoE's
    /// pooled AUC is a coin toss: its baseline ranks neither task (contest.yaml's note), so the
    /// pooled figure follows the two towers' relative calibration, which the last bits of the
    /// logit layer's sums move (0.617 with oneDNN's fp32 logit products, 0.347 with the engine's,
    /// whose sums run in another order; at the floor's own scale, 554 steps on 200,000 rows, 0.6144
    /// and 0.6143). A floor of 0.5 there made this scoreboard test a test of those bits.
    func contestFile(wdlFloor: String) throws -> String {
        var text = try String(contentsOf: Self.root.appendingPathComponent("Experiments/contest/contest.yaml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "{rows: 200000, eval_rows: 20000}", with: "{rows: 3000, eval_rows: 600}")
        text = text.replacingOccurrences(of: "    wdl: 0\n", with: "    wdl: \(wdlFloor)\n")
        text = text.replacingOccurrences(of: "    mmoe: 0.604\n", with: "    mmoe: 0\n")
        let path = dir.appendingPathComponent("contest-\(wdlFloor).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func contest(_ extra: [String], floor: String = "0", scale: String = "0.001",
                 environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        try RectuneCLI.run(["contest", "run", "--contest", try contestFile(wdlFloor: floor),
                            "--baseline", Self.root.appendingPathComponent("Experiments/contest/baseline.yaml").path,
                            "--models", "wdl,mmoe", "--scale", scale, "--db", dir.appendingPathComponent("r.sqlite").path] + extra,
                           in: dir, environment: environment)
    }

    /// A submission's model that this host cannot run (bf16 where oneDNN has none: forced here with
    /// ONEDNN_MAX_CPU_ISA=AVX2, so every host checks it) is not run and scores as a failure naming
    /// the reason, on the board and in the stored report; the other submissions and models run.
    /// Before, the whole contest stopped with exit 2 and "the baseline [] cannot run on this host".
    func testAModelTheHostCannotRunFailsThatSubmissionWithTheReasonAndTheRestRuns() throws {
        let bf16 = dir.appendingPathComponent("bf16.yaml").path
        try "name: bf16\nmodels:\n  wdl: {bf16: \"on\"}\n".write(toFile: bf16, atomically: true, encoding: .utf8)
        let avx2 = ["ONEDNN_MAX_CPU_ISA": "AVX2"]
        let r = try contest(["--submission", bf16, "--json", "board.json"], environment: avx2)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("bf16 WDL: not run on this host:") && r.err.contains("bf16 needs AVX-512"), r.err)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("board.json"))) as? [String: Any])
        let subs = try XCTUnwrap(json["submissions"] as? [[String: Any]])
        XCTAssertEqual(subs.map { $0["submission"] as? String }, ["baseline", "bf16"])
        XCTAssertEqual(subs[0]["valid"] as? Bool, true, "the baseline ran both models: \(subs[0])")
        XCTAssertEqual(subs[1]["valid"] as? Bool, false)
        XCTAssertEqual(subs[1]["score"] as? Double, 864_000)
        let models = try XCTUnwrap(subs[1]["models"] as? [[String: Any]])
        XCTAssertEqual(models.map { $0["model"] as? String }, ["MMoE", "WDL"])
        XCTAssertNotNil(models[0]["seconds"] as? Double, "the submission's MMoE ran")
        XCTAssertTrue((models[1]["failure"] as? String ?? "").hasPrefix("not run on this host: "), "\(models[1])")
        XCTAssertTrue(r.out.contains("INVALID"), r.out)
        // The stored report scores the missing model as a failure too, not as a smaller valid sum.
        let report = try RectuneCLI.run(["contest", "report", "--db", dir.appendingPathComponent("r.sqlite").path, "--format", "json"], in: dir)
        XCTAssertEqual(report.status, 0, report.err)
        let stored = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report.out.utf8)) as? [String: Any], report.out)
        let storedSubs = try XCTUnwrap(stored["submissions"] as? [[String: Any]])
        XCTAssertEqual(storedSubs.map { $0["valid"] as? Bool }, [true, false])
        XCTAssertEqual((storedSubs[1]["models"] as? [[String: Any]])?.map { $0["model"] as? String }, ["MMoE", "WDL"])
    }

    func testScaledContestWritesTheScoreboardAndResumes() throws {
        let tuned = dir.appendingPathComponent("tuned.yaml").path
        try "name: tuned\nmodels:\n  wdl: {stage: \"on\"}\n".write(toFile: tuned, atomically: true, encoding: .utf8)
        let r = try contest(["--submission", tuned, "--json", "board.json"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("Contest scoreboard"), r.out)
        XCTAssertTrue(r.out.contains("tuned vs baseline"), r.out)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("board.json"))) as? [String: Any])
        let subs = try XCTUnwrap(json["submissions"] as? [[String: Any]])
        XCTAssertEqual(subs.map { $0["submission"] as? String }, ["baseline", "tuned"])
        for s in subs {
            XCTAssertEqual(s["valid"] as? Bool, true, "\(s)")
            let models = try XCTUnwrap(s["models"] as? [[String: Any]])
            XCTAssertEqual(models.map { $0["model"] as? String }, ["MMoE", "WDL"], "the scorer's order")
            XCTAssertEqual(models.map { $0["steps"] as? Int }, [28, 9], "steps × scale")
            let seconds = models.compactMap { $0["seconds"] as? Double }
            XCTAssertEqual(seconds.count, 2)
            XCTAssertEqual(s["score"] as? Double ?? 0, seconds.reduce(0, +), accuracy: 1e-9)
            XCTAssertNotNil(models[0]["auc_by_task"], "MMoE reports clk and buy beside the pooled AUC")
        }
        let wdlSettings = try XCTUnwrap((subs[1]["models"] as? [[String: Any]])?[1]["settings"] as? [String: String])
        XCTAssertEqual(wdlSettings["stage"], "on")
        XCTAssertEqual(wdlSettings["allocator"], "system")
        XCTAssertNotNil((json["ratios"] as? [[String: Any]])?.first?["speedup"])
        // The runs are in the store, and their checkpoints were written and removed.
        let runs = try RectuneCLI.run(["runs", "--db", dir.appendingPathComponent("r.sqlite").path], in: dir)
        XCTAssertEqual(runs.status, 0, runs.err)
        XCTAssertTrue(runs.out.contains("contest.tuned.wdl"), runs.out)
        // The stored contest in every report format.
        let db = dir.appendingPathComponent("r.sqlite").path
        let report = try RectuneCLI.run(["contest", "report", "--db", db, "--format", "json"], in: dir)
        XCTAssertEqual(report.status, 0, report.err)
        let reported = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report.out.utf8)) as? [String: Any], report.out)
        XCTAssertEqual((reported["submissions"] as? [[String: Any]])?.map { $0["score"] as? Double }, subs.map { $0["score"] as? Double })
        XCTAssertEqual((reported["claims"] as? [[String: Any]])?.count, 6)
        for (format, marker) in [("text", "Published claims"), ("md", "| model | steps | floor |"), ("csv", "submission,repeat,model"),
                                 ("html", "<table>"), ("ipynb", "\"nbformat\" : 4")] {
            let r = try RectuneCLI.run(["contest", "report", "--db", db, "--format", format], in: dir)
            XCTAssertEqual(r.status, 0, "\(format): \(r.err)")
            XCTAssertTrue(r.out.contains(marker), "\(format): \(r.out.prefix(400))")
        }
        try validateNotebook(db: db)
        // `rectune report` of a contest experiment is the scoreboard too (or, asked, the plain report).
        let viaReport = try RectuneCLI.run(["report", "contest.tuned.wdl", "--db", db, "--format", "md"], in: dir)
        XCTAssertEqual(viaReport.status, 0, viaReport.err)
        XCTAssertTrue(viaReport.out.contains("# Contest scoreboard") && viaReport.out.contains("| MMoE |"), viaReport.out)
        let plain = try RectuneCLI.run(["report", "contest.tuned.wdl", "--db", db, "--format", "md", "--no-scoreboard"], in: dir)
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertFalse(plain.out.contains("# Contest scoreboard"), plain.out)
        // --resume: everything is stored, nothing runs again, the same board comes back.
        let again = try contest(["--submission", tuned, "--resume", "--json", "again.json"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertFalse(again.err.contains("[1/"), "a finished run ran again: \(again.err)")
        let second = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("again.json"))) as? [String: Any])
        XCTAssertEqual((second["submissions"] as? [[String: Any]])?.map { $0["score"] as? Double }, subs.map { $0["score"] as? Double })
    }

    /// The contest notebook validates against nbformat and its code cells rebuild the scoreboard table
    /// and plot (scripts/validate_notebook.py; skipped where python3 lacks nbformat).
    func validateNotebook(db: String) throws {
        func python(_ args: [String]) throws -> (status: Int32, out: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3"] + args
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        guard (try? python(["-c", "import nbformat"]))?.status == 0 else {
            throw XCTSkip("python3 with nbformat is not installed (pip install nbformat); contest notebook validation skipped")
        }
        let nb = try RectuneCLI.run(["contest", "report", "--db", db, "--format", "ipynb"], in: dir)
        XCTAssertEqual(nb.status, 0, nb.err)
        let path = dir.appendingPathComponent("contest.ipynb").path
        try nb.out.write(toFile: path, atomically: true, encoding: .utf8)
        var argv = [Self.root.appendingPathComponent("scripts/validate_notebook.py").path, path]
        let canExecute = try python(["-c", "import pandas, matplotlib"]).status == 0
        if canExecute { argv.append("--execute-code") }
        let result = try python(argv)
        XCTAssertEqual(result.status, 0, result.out)
        XCTAssertTrue(result.out.contains("valid nbformat 4"), result.out)
        if canExecute { XCTAssertTrue(result.out.contains("every code cell ran"), result.out) }
    }

    func testAnAUCBelowItsFloorScores864000() throws {
        let r = try contest(["--json", "-"], floor: "0.999")
        XCTAssertEqual(r.status, 0, r.err)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.prefix { $0 != "\u{0}" }.split(separator: "\nContest scoreboard")[0].utf8)) as? [String: Any], r.out)
        XCTAssertEqual(json["score"] as? Double, 864_000)
        XCTAssertEqual(json["valid"] as? Bool, false)
        let wdl = try XCTUnwrap((json["models"] as? [[String: Any]])?.last)
        XCTAssertEqual(wdl["passed"] as? Bool, false)
        XCTAssertEqual(wdl["floor"] as? Double, 0.999)
        XCTAssertTrue(r.out.contains("INVALID"), r.out)
    }

    /// Ctrl-C during a contest stops the current run (stored as interrupted), prints the board of what
    /// ran and exits 130; --resume runs the rest. Before, `contest run` had no signal handler: Ctrl-C
    /// killed it with no board and left the run `running`.
    func testCtrlCStopsTheContestWithABoardAndResumeFinishesIt() throws {
        let r = try RectuneCLI.runInterrupted(["contest", "run", "--contest", try contestFile(wdlFloor: "0"),
                                               "--baseline", Self.root.appendingPathComponent("Experiments/contest/baseline.yaml").path,
                                               "--models", "wdl,mmoe", "--scale", "0.01", "--db", dir.appendingPathComponent("r.sqlite").path],
                                              in: dir, after: "[1/2]", delay: 0.3)
        XCTAssertEqual(r.status, 130, r.out + r.err)
        XCTAssertTrue(r.err.contains("stopping the current run"), r.err)
        XCTAssertTrue(r.out.contains("Contest scoreboard") && r.out.contains("interrupted: --resume continues it"), r.out)
        let resumed = try contest(["--resume"], scale: "0.01")
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertFalse(resumed.out.contains("interrupted"), resumed.out)
        XCTAssertFalse(resumed.out.contains("not run"), resumed.out)
        XCTAssertTrue(resumed.out.contains("MMoE   277") && resumed.out.contains("WDL    89"), resumed.out)
    }

    func testResumeWithNothingStoredAndBadSubmissionsAreUsageErrors() throws {
        let r = try contest(["--resume"])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("nothing to resume"), r.err)
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "models:\n  deepfm:\n    indicator: scater\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let b = try contest(["--submission", bad])
        XCTAssertEqual(b.status, 2, b.err)
        XCTAssertTrue(b.err.contains("bad.yaml:3:16"), b.err)
        XCTAssertTrue(b.err.contains("did you mean 'scatter'?"), b.err)
    }
}
