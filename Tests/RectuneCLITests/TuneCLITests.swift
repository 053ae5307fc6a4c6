import Foundation
import TestSupport
import XCTest

/// `rectune tune` end to end on an external command whose speed and AUC depend on its knobs:
/// the submission file, the JSON, resume without rerunning, and the errors.
final class TuneCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-tune-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func rectune(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try RectuneCLI.run(args, in: dir) }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testTuneWritesASubmissionAndResumesWithoutRerunning() throws {
        // samples/s = 1000 × micro_batch (× 1.5 with stage on, but then the AUC is 0.6: a trap);
        // every start is logged.
        let log = dir.appendingPathComponent("starts.log").path
        let script = try write("engine.sh", """
        echo "$1 $2" >> \(log)
        if [ "$2" = on ]; then echo "{\\"samples_per_sec\\": $((1500 * $1)), \\"auc\\": 0.6}"
        else echo "{\\"samples_per_sec\\": $((1000 * $1)), \\"auc\\": 0.75}"; fi
        """)
        let spec = try write("tune.yaml", """
        name: cli-tune
        command: [/bin/sh, \(script), "{micro_batch}", "{stage}"]
        baseline: {micro_batch: 1, stage: "off"}
        tune:
          knobs: {micro_batch: [1, 2, 4], stage: ["off", "on"]}
          objective: samples_per_sec
          constraint: "auc >= 0.7"
          scales: [0.5, 1]
          screen_repeats: 1
          confirm_repeats: 4
          confirm_candidates: 1
        """)
        let r = try rectune(["tune", spec, "--db", "t.sqlite", "--out", "sub.yaml", "--json", "out.json", "--no-measure"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("result: micro_batch=4"), r.out)
        XCTAssertTrue(r.out.contains("speedup 4× vs baseline"), r.out)
        let submission = try String(contentsOf: dir.appendingPathComponent("sub.yaml"), encoding: .utf8)
        XCTAssertTrue(submission.contains("name: \"cli-tune-tuned\""), submission)
        XCTAssertTrue(submission.contains("models:\n  wdl: {micro_batch: \"4\", stage: \"off\"}"), submission)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out.json"))) as! [String: Any]
        XCTAssertEqual(json["chosen"] as? [String: String], ["micro_batch": "4", "stage": "off"])
        XCTAssertEqual(json["speedup"] as? Double, 4)
        let starts = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count
        XCTAssertGreaterThan(starts, 8)

        // Everything is stored: a resumed tune runs nothing and decides the same.
        let again = try rectune(["tune", spec, "--db", "t.sqlite", "--resume", "--no-measure"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(again.out.contains("trials: 0 run, \(starts) reused"), again.out)
        XCTAssertTrue(again.out.contains("result: micro_batch=4"), again.out)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, starts)

        // The runs are in the store like a sweep's.
        let runs = try rectune(["runs", "cli-tune.tune@1", "--db", "t.sqlite"])
        XCTAssertEqual(runs.status, 0, runs.err)

        let nothing = try rectune(["tune", spec, "--db", "other.sqlite", "--resume", "--no-measure"])
        XCTAssertEqual(nothing.status, 2)
        XCTAssertTrue(nothing.err.contains("nothing to resume"), nothing.err)

        let dry = try rectune(["tune", spec, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.err)
        XCTAssertTrue(dry.out.contains("micro_batch: 1, 2, 4"), dry.out)
    }

    func testBadTuneSectionIsAnErrorWithFileAndLine() throws {
        let spec = try write("bad.yaml", "name: bad\nmodel: wdl\ntune:\n  knobs:\n    alloc_warmup_step: [5, 10]\n")
        let r = try rectune(["tune", spec, "--db", "t.sqlite"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("bad.yaml:5:5: error: tune.knobs.alloc_warmup_step: unknown knob"), r.err)
        XCTAssertTrue(r.err.contains("did you mean 'alloc_warmup_steps'"), r.err)
    }
}
