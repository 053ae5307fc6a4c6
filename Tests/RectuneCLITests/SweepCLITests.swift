import Foundation
import TestSupport
import XCTest

/// `rectune plan / sweep / runs / show` end to end, as a user runs them.
final class SweepCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-sweep-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static var binary: URL { RectuneCLI.binary }

    @discardableResult
    func rectune(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try RectuneCLI.run(args, in: dir)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A command engine that sleeps, then prints a JSON line (sh printf with octal braces).
    static func slowSpec(name: String, sleep: String) -> String {
        """
        name: \(name)
        command: [/bin/sh, -c, "sleep \(sleep); printf '\\\\173\\"samples_per_sec\\": %s\\\\175\\\\n' {sps}"]
        repeats: 3
        order: sequential
        factors:
          sps: ["100", "200"]
        """
    }

    func testPlanPrintsRunsAndErrorsPointAtTheLine() throws {
        let spec = try write("p.yaml", "name: p\nfactors:\n  executor: [pool, inline]\n  stage: [off, on]\nrepeats: 2\ndesign: full\n")
        let plan = try rectune(["plan", spec])
        XCTAssertEqual(plan.status, 0, plan.err)
        XCTAssertTrue(plan.out.contains("4 configurations × 2 repeats = 8 runs"), plan.out)
        XCTAssertTrue(plan.out.contains("[executor=inline stage=on] repeat 2/2"), plan.out)
        let bad = try write("bad.yaml", "name: p\nfactors:\n  executor: [pool, inlined]\n")
        let error = try rectune(["plan", bad])
        XCTAssertEqual(error.status, 2)
        XCTAssertTrue(error.err.contains("bad.yaml:3:"), error.err)
        XCTAssertTrue(error.err.contains("did you mean 'inline'"), error.err)
    }

    func testSweepRunsShowAndDryRun() throws {
        let spec = try write("s.yaml", Self.slowSpec(name: "cli-sweep", sleep: "0"))
        let db = dir.appendingPathComponent("store/r.sqlite").path
        let dry = try rectune(["sweep", spec, "--db", db, "--dry-run", "--no-measure"])
        XCTAssertEqual(dry.status, 0, dry.err)
        XCTAssertTrue(dry.out.contains("6 of 6 runs would run"), dry.out)
        let sweep = try rectune(["sweep", spec, "--db", db, "--no-measure"])
        XCTAssertEqual(sweep.status, 0, sweep.err)
        XCTAssertTrue(sweep.out.contains("6 ok, 0 failed"), sweep.out)
        XCTAssertTrue(sweep.out.contains("rectune report 1 --db \(db)"), sweep.out)
        XCTAssertTrue(sweep.err.contains("[6/6]"), sweep.err)
        let again = try rectune(["sweep", spec, "--db", db, "--no-measure", "--dry-run"])
        XCTAssertTrue(again.out.contains("0 of 6 runs would run (6 already stored"), again.out)
        let runs = try rectune(["runs", "cli-sweep", "--db", db])
        XCTAssertEqual(runs.status, 0, runs.err)
        XCTAssertTrue(runs.out.contains("6 run(s)"), runs.out)
        XCTAssertTrue(runs.out.contains("sps=200"), runs.out)
        let show = try rectune(["show", "2", "--db", db, "--json"])
        XCTAssertEqual(show.status, 0, show.err)
        let json = try JSONSerialization.jsonObject(with: Data(show.out.utf8)) as? [String: Any]
        XCTAssertEqual(json?["status"] as? String, "ok")
        XCTAssertTrue((json?["commandLine"] as? String)?.contains("sleep 0") == true)
    }

    /// The runs of a sweep under `weight_layout: timed` share one layout choice file in the store's
    /// runs folder: the first run times DLRM's large shapes and records them, the second reads
    /// them (its `dense.layout_choices_from_file` counter says how many layers did), and each
    /// stored command line names the file.
    func testTimedSweepRunsShareTheirLayoutChoices() throws {
        try XCTSkipIf(ProcessInfo.processInfo.environment["RECTUNE_LAYOUT_CHOICES"] != nil,
                      "RECTUNE_LAYOUT_CHOICES is set for the tests: the sweep would use that file")
        let spec = try write("timed.yaml", """
        name: timed-choices
        engine: rectune
        model: dlrm
        data: {synthetic_rows: 2000, seed: 1}
        batch: 64
        steps: 2
        warmup_steps: 1
        repeats: 2
        order: sequential
        timeout: 300
        fixed: {weight_layout: timed, eval_rows: 500}
        """)
        let sweep = try rectune(["sweep", spec, "--db", "r.sqlite"])
        XCTAssertEqual(sweep.status, 0, sweep.out + sweep.err)
        XCTAssertTrue(sweep.out.contains("2 ok, 0 failed"), sweep.out)
        let file = dir.appendingPathComponent("runs/weight-layout-choices.json")
        let contents = try JSONSerialization.jsonObject(with: try Data(contentsOf: file)) as? [String: Any]
        let entries = try XCTUnwrap(contents?["entries"] as? [[String: Any]], "\(file.path) holds the choices")
        XCTAssertGreaterThan(entries.count, 0)
        var fromFile: [Double] = []
        for id in ["1", "2"] {
            let show = try rectune(["show", id, "--db", "r.sqlite", "--json"])
            XCTAssertEqual(show.status, 0, show.err)
            let run = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(show.out.utf8)) as? [String: Any])
            XCTAssertTrue((run["commandLine"] as? String)?.hasPrefix("RECTUNE_LAYOUT_CHOICES=\(file.path) ") == true,
                          "\(run["commandLine"] ?? "no command line")")
            let metrics = try XCTUnwrap(run["metrics"] as? [[String: Any]])
            let counter = try XCTUnwrap(metrics.first { $0["name"] as? String == "dense.layout_choices_from_file" && $0["phase"] as? String == "steady" },
                                        "run \(id) stores dense.layout_choices_from_file")
            fromFile.append(try XCTUnwrap(counter["value"] as? Double))
        }
        XCTAssertEqual(fromFile[0], 0, "the first run timed its shapes")
        XCTAssertGreaterThanOrEqual(fromFile[1], Double(entries.count), "the second read every recorded shape")
    }

    func testCtrlCMarksTheRunInterruptedAndASecondSweepCompletes() throws {
        let spec = try write("i.yaml", Self.slowSpec(name: "cli-interrupt", sleep: "0.4"))
        let db = dir.appendingPathComponent("r.sqlite").path
        // Wait until two runs have finished, then Ctrl-C during the third.
        let r = try RectuneCLI.runInterrupted(["sweep", spec, "--db", db, "--no-measure"], in: dir, after: "[2/6]", delay: 0.15)
        XCTAssertEqual(r.status, 130, r.out)
        XCTAssertTrue(r.out.contains("interrupted"), r.out)

        let interrupted = try rectune(["runs", "cli-interrupt", "--db", db, "--status", "interrupted"])
        XCTAssertTrue(interrupted.out.contains("1 run(s)"), interrupted.out)
        let resumed = try rectune(["sweep", spec, "--db", db, "--no-measure", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.out.contains("4 ok, 0 failed, 2 already done"), resumed.out)
        let ok = try rectune(["runs", "cli-interrupt", "--db", db, "--status", "ok"])
        XCTAssertTrue(ok.out.contains("6 run(s)"), ok.out)
    }

    func testEndToEndSweepWithTheBuiltInEngine() throws {
        let spec = try write("e.yaml", """
        name: cli-engine
        model: wdl
        data: {synthetic_rows: 3000, seed: 1}
        batch: 128
        steps: 6
        warmup_steps: 2
        repeats: 1
        timeout: 120
        fixed: {eval_rows: 500, embedding_dim: 4}
        factors: {allocator: [system, adaptive]}
        """)
        let db = dir.appendingPathComponent("e.sqlite").path
        let sweep = try rectune(["sweep", spec, "--db", db])
        let show = try rectune(["show", "1", "--db", db])
        XCTAssertEqual(sweep.status, 0, sweep.out + sweep.err)
        XCTAssertTrue(sweep.out.contains("2 ok, 0 failed"), sweep.out + show.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data/criteo-synth-3000-1.tsv").path))
        XCTAssertTrue(show.out.contains("samples_per_sec"), show.out)
    }
}
