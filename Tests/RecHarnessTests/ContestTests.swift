import TestSupport
import XCTest
import Foundation
import RecContract
@testable import RecHarness

/// The contest's rules (Experiments/contest/contest.yaml), its scoring, and submission parsing.
final class ContestTests: XCTestCase {
    static let root = RepositoryRoot.url
    static func file(_ name: String) -> String { root.appendingPathComponent("Experiments/contest/\(name)").path }
    static let contest = try! ContestDefinition.load(file("contest.yaml"))

    func outcome(_ model: String, seconds: Double?, auc: Double?, floor: Double?, failure: String? = nil) -> ModelOutcome {
        ModelOutcome(model: model, label: model.uppercased(), steps: 10, seconds: seconds, auc: auc, floor: floor, failure: failure)
    }

    // MARK: The contest file

    /// The shipped contest file holds run_models.py's order, steps and floors.
    func testContestFileHoldsTheScorersNumbers() throws {
        let c = Self.contest
        XCTAssertEqual(c.entries.map(\.label), ["DIEN", "DIN", "DLRM", "DeepFM", "MMoE", "WDL"])
        XCTAssertEqual(c.entries.map(\.steps), [2700, 16000, 11600, 700, 27700, 8900])
        XCTAssertEqual(c.entries.map(\.realFloor), [0.745, 0.707, 0, 0, 0.753, 0])
        XCTAssertEqual(c.batch, 512)
        XCTAssertEqual(c.failedScore, 864_000)
        XCTAssertEqual(c.seed, 2021)
        XCTAssertEqual(c.entry("wdl")?.generatedFloor, 0)
        // Derived from the baseline's measured AUC on the generated data (contest.yaml says how).
        XCTAssertEqual(c.entry("din")?.generatedFloor, 0.609)
        XCTAssertEqual(c.entry("dien")?.generatedFloor, 0.594)
        XCTAssertEqual(c.entry("dlrm")?.settings["hash_buckets"], "100000")
        XCTAssertNotNil(c.generatedSizes["eleme"])
    }

    // MARK: Scoring

    func testScoreIsTheSumOfTrainingSecondsWhenEveryModelPasses() {
        let outcomes = [outcome("dien", seconds: 300, auc: 0.75, floor: 0.745), outcome("wdl", seconds: 200.5, auc: 0.6, floor: 0),
                        outcome("mmoe", seconds: 100, auc: 0.753, floor: 0.753)]  // equal to the floor passes (`auc < floor` fails)
        let s = ContestScore.score(outcomes)
        XCTAssertTrue(s.valid)
        XCTAssertEqual(s.score, 600.5)
    }

    func testAnAUCBelowItsFloorScores864000() {
        let outcomes = [outcome("dien", seconds: 300, auc: 0.7449, floor: 0.745), outcome("wdl", seconds: 200, auc: 0.6, floor: 0)]
        let s = ContestScore.score(outcomes)
        XCTAssertFalse(s.valid)
        XCTAssertEqual(s.score, 864_000)
        XCTAssertEqual(outcomes[0].verdict, "AUC 0.7449 below the floor 0.745")
        XCTAssertNil(outcomes[1].verdict)
    }

    func testAFailedModelScores864000() {
        let failed = outcome("din", seconds: nil, auc: nil, floor: 0.707, failure: "run crashed")
        let s = ContestScore.score([outcome("wdl", seconds: 10, auc: 0.6, floor: 0), failed])
        XCTAssertEqual(s.score, 864_000)
        XCTAssertFalse(s.valid)
        XCTAssertEqual(ContestScore.score([outcome("wdl", seconds: 10, auc: 0.6, floor: 0)], failedScore: 5).score, 10)
        XCTAssertEqual(ContestScore.score([outcome("wdl", seconds: nil, auc: 0.6, floor: 0)], failedScore: 5).score, 5, "no seconds = failed")
        XCTAssertEqual(ContestScore.score([]).score, 864_000, "nothing ran: not a valid contest")
        let underived = outcome("din", seconds: 10, auc: 0.9, floor: nil)
        XCTAssertFalse(underived.passed, "an underived floor cannot be passed")
    }

    func testBoardTakesMediansAndRatiosOverRepeats() throws {
        func rep(_ a: Double, _ b: Double) -> [ModelOutcome] { [outcome("wdl", seconds: a, auc: 0.6, floor: 0), outcome("dlrm", seconds: b, auc: 0.6, floor: 0)] }
        let base = SubmissionBoard(name: "baseline", path: "b.yaml", repeats: [rep(10, 20), rep(12, 22), rep(11, 21)], failedScore: 864_000)
        let fast = SubmissionBoard(name: "fast", path: "f.yaml", repeats: [rep(5, 10), rep(6, 11), rep(5.5, 10.5)], failedScore: 864_000)
        let board = ContestBoard(submissions: [base, fast], scale: 0.1, repeats: 3, data: "generated", interrupted: false)
        XCTAssertEqual(base.score, 32)
        XCTAssertEqual(base.rows.map { $0.outcome.seconds }, [11, 21])
        XCTAssertEqual(board.ratio(1).ratio, 0.5, accuracy: 1e-12)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: board.json()) as? [String: Any])
        let subs = try XCTUnwrap(json["submissions"] as? [[String: Any]])
        XCTAssertEqual(subs.count, 2)
        XCTAssertEqual(subs[1]["score"] as? Double, 16)
        XCTAssertEqual(subs[1]["valid"] as? Bool, true)
        let models = try XCTUnwrap(subs[0]["models"] as? [[String: Any]])
        XCTAssertEqual(Set(models[0].keys).isSuperset(of: ["model", "steps", "seconds", "auc", "floor", "passed", "settings"]), true)
        let ratios = try XCTUnwrap(json["ratios"] as? [[String: Any]])
        XCTAssertEqual(ratios[0]["speedup"] as? Double ?? 0, 2, accuracy: 1e-12)
        XCTAssertNotNil(ratios[0]["ratio_ci"])
        let single = try XCTUnwrap(try JSONSerialization.jsonObject(with: ContestBoard(submissions: [base], scale: 1, repeats: 3, data: "g", interrupted: false).json()) as? [String: Any])
        XCTAssertEqual(single["score"] as? Double, 32)
        XCTAssertNotNil(single["models"])
        XCTAssertTrue(board.text().contains("speedup 2.00×"), board.text())
    }

    /// `contest report --format json` writes the board's numbers exactly as `contest run --json` does.
    /// It used to read the board's JSON back and write it again, and Foundation's JSON reader does not
    /// always return the double that was written (3.6352266969999993 reads back as 3.635226696999998),
    /// so a score could differ in its last digits between the two (a CI failure of ContestRunCLITests).
    func testReportJSONWritesTheBoardsNumbersUnchanged() throws {
        let seconds = Double(bitPattern: 4_615_368_221_599_025_646)  // 3.6352266969999993
        let board = ContestBoard(submissions: [SubmissionBoard(name: "baseline", path: "b.yaml",
                                                               repeats: [[outcome("wdl", seconds: seconds, auc: 0.6, floor: 0)]],
                                                               failedScore: 864_000)],
                                 scale: 1, repeats: 1, data: "g", interrupted: false)
        func lines(_ data: Data, _ key: String) -> [String] {
            String(decoding: data, as: UTF8.self).split(separator: "\n")
                .filter { $0.contains("\"\(key)\"") }.map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: ","))) }
        }
        let written = try board.json(), reported = try ContestReport.render(board, format: "json")
        XCTAssertEqual(lines(written, "score"), ["\"score\" : \(seconds)"], String(decoding: written, as: UTF8.self))
        for key in ["score", "seconds", "auc"] {
            XCTAssertEqual(lines(reported, key), lines(written, key), key)
        }
    }

    /// A contest whose runs stopped after the baseline's first model (a store failure, Ctrl-C): the
    /// other submission has no seconds at all. Its board still writes as JSON (it threw "Invalid number
    /// value (inf) in JSON write" on a full-scale run) with no ratio, and the text says why.
    func testABoardWhoseRunsStoppedEarlyStillWritesWithoutARatio() throws {
        let ran = SubmissionBoard(name: "baseline", path: "b.yaml",
                                  repeats: [[outcome("dien", seconds: 553, auc: 0.62, floor: 0.594),
                                             outcome("din", seconds: nil, auc: nil, floor: 0.609, failure: "not run (interrupted)")]],
                                  failedScore: 864_000)
        let none = SubmissionBoard(name: "tuned", path: "t.yaml",
                                   repeats: [[outcome("dien", seconds: nil, auc: nil, floor: 0.594, failure: "not run (interrupted)"),
                                              outcome("din", seconds: nil, auc: nil, floor: 0.609, failure: "not run (interrupted)")]],
                                   failedScore: 864_000)
        for board in [ContestBoard(submissions: [ran, none], scale: 1, repeats: 1, data: "g", interrupted: true),
                      ContestBoard(submissions: [none, ran], scale: 1, repeats: 1, data: "g", interrupted: true)] {
            XCTAssertTrue(board.ratio(1).ratio.isNaN)
            XCTAssertNil(board.ratio(1).ci)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: board.json()) as? [String: Any])
            let ratio = try XCTUnwrap((json["ratios"] as? [[String: Any]])?.first)
            XCTAssertTrue(ratio["speedup"] is NSNull, "\(ratio)")
            XCTAssertTrue(ratio["ratio_of_totals"] is NSNull, "\(ratio)")
            XCTAssertEqual(json["interrupted"] as? Bool, true)
            XCTAssertTrue(board.text().contains("no ratio (one of them has no training seconds)"), board.text())
            XCTAssertFalse(board.text().contains("inf"), board.text())
            let report = try ContestReport.render(board, format: "json")
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: report))
        }
        XCTAssertTrue(JSONFinite.sanitized(["a": [1.0, .infinity, -.infinity, .nan], "b": ["c": Double.nan]] as [String: Any]) is [String: Any])
        let clean = try XCTUnwrap(JSONFinite.sanitized(["a": [1.0, .infinity, .nan]] as [String: Any]) as? [String: Any])
        XCTAssertEqual((clean["a"] as? [Any])?.map { $0 is NSNull }, [false, true, true])
    }

    /// A claim is judged only on a submission that changes its knob alone; the verdict follows the speedup.
    func testClaimsNeedAnIsolatingSubmissionAndFollowTheSpeedup() {
        func sub(_ name: String, _ seconds: [Double], _ settings: [String: String]) -> SubmissionBoard {
            SubmissionBoard(name: name, path: "\(name).yaml", repeats: seconds.map { s in
                [ModelOutcome(model: "deepfm", label: "DeepFM", steps: 10, seconds: s, auc: 0.6, floor: 0, settings: settings)]
            }, failedScore: 864_000)
        }
        let base = sub("baseline", [10, 10.2, 9.9], ["indicator": "dense", "stage": "off"])
        func verdict(_ other: SubmissionBoard) -> ContestClaims.Result {
            ContestClaims.evaluate(ContestBoard(submissions: [base, other], scale: 1, repeats: 3, data: "g", interrupted: false))
                .first { $0.claim.knob == "indicator" }!
        }
        XCTAssertEqual(verdict(sub("fast", [1.0, 1.1, 0.9], ["indicator": "scatter", "stage": "off"])).verdict, "reproduced")
        XCTAssertEqual(verdict(sub("meh", [5, 5.1, 4.9], ["indicator": "scatter", "stage": "off"])).verdict, "refuted", "2× is not 6.67×")
        let confounded = verdict(sub("both", [1.0, 1.1, 0.9], ["indicator": "scatter", "stage": "on"]))
        XCTAssertEqual(confounded.verdict, "inconclusive")
        XCTAssertNil(confounded.speedup)
        XCTAssertTrue(confounded.explanation.contains("changes only indicator=scatter"), confounded.explanation)
    }

    // MARK: Submissions

    func parse(_ text: String, base: Submission? = nil) throws -> Submission {
        try Submission.parse(text, path: "sub.yaml", contest: Self.contest, base: base)
    }

    func assertError(_ text: String, line: Int, column: Int? = nil, contains parts: [String], file: StaticString = #filePath, lineNo: UInt = #line) {
        XCTAssertThrowsError(try parse(text, base: try? Submission.load(Self.file("baseline.yaml"), contest: Self.contest)), file: file, line: lineNo) { e in
            guard let error = e as? SpecError else { return XCTFail("not a SpecError: \(e)", file: file, line: lineNo) }
            XCTAssertEqual(error.line, line, error.description, file: file, line: lineNo)
            if let column { XCTAssertEqual(error.column, column, error.description, file: file, line: lineNo) }
            XCTAssertTrue(error.description.hasPrefix("sub.yaml:\(line):"), error.description, file: file, line: lineNo)
            for p in parts { XCTAssertTrue(error.description.contains(p), "'\(p)' not in: \(error.description)", file: file, line: lineNo) }
        }
    }

    func testShippedSubmissionsParse() throws {
        let base = try Submission.load(Self.file("baseline.yaml"), contest: Self.contest)
        XCTAssertEqual(base.name, "baseline")
        XCTAssertEqual(Set(base.models.keys), Set(Submission.contestModels))
        XCTAssertEqual(base.settings["deepfm"]?["indicator"], "dense")
        XCTAssertEqual(base.settings["mmoe"]?["stage"], "on")
        XCTAssertEqual(base.settings["wdl"]?["stage"], "off")
        XCTAssertEqual(base.settings["dien"]?["rnn"], "unfused")
        let tuned = try Submission.load(Self.file("hand-tuned.yaml"), contest: Self.contest, base: base)
        let merged = tuned.merged(over: base)
        XCTAssertEqual(merged["deepfm"]?["indicator"], "scatter", "the submission overrides the baseline")
        XCTAssertEqual(merged["deepfm"]?["allocator"], "system", "knobs it does not name stay the baseline's")
        XCTAssertEqual(merged["mmoe"], base.settings["mmoe"], "a model it does not name runs the baseline")
        // The writer's text reads back to the same submission.
        let again = try Submission.parse(tuned.yaml(), path: "again.yaml", contest: Self.contest, base: base)
        XCTAssertEqual(again.settings, tuned.settings)
        XCTAssertEqual(again.name, tuned.name)
        // The tuned submissions name every model; the one for hosts without bf16 never asks for it
        // (there, a bf16 model is not run and scores as a failure).
        for (name, bf16Allowed) in [("tuned-2core-vm.yaml", true), ("tuned-2core-avx2.yaml", false)] {
            let s = try Submission.load(Self.file(name), contest: Self.contest, base: base)
            XCTAssertEqual(Set(s.models.keys), Set(Submission.contestModels), name)
            if !bf16Allowed {
                for (model, knobs) in s.merged(over: base) {
                    XCTAssertNotEqual(knobs["bf16"], "on", "\(name): \(model)")
                }
            }
        }
    }

    func testNameDefaultsToTheFileName() throws {
        let s = try Submission.parse("models:\n  wdl: {bf16: \"on\"}\n", path: "dir/tuned-7.yaml", contest: Self.contest)
        XCTAssertEqual(s.name, "tuned-7")
        XCTAssertEqual(s.settings["wdl"]?["bf16"], "on")
        XCTAssertEqual(try parse("models:\n  wdl: {micro_batch: 02, stage: yes}\n").settings["wdl"], ["micro_batch": "2", "stage": "on"], "canonical values")
    }

    func testUnknownKnobNamesFileLineAndSuggests() {
        assertError("name: x\nmodels:\n  wdl:\n    excutor: pool\n", line: 4, column: 5, contains: ["models.wdl.excutor", "unknown knob", "did you mean 'executor'?"])
    }

    func testValueOutsideTheDomainNamesTheValue() {
        assertError("models:\n  wdl: {executor: pol}\n", line: 2, contains: ["'pol'", "did you mean 'pool'?", "allowed: pool, inline, costmodel"])
        assertError("models:\n  dlrm: {micro_batch: 0}\n", line: 2, contains: ["models.dlrm.micro_batch", "'0'"])
    }

    func testKnobThatDoesNotApplyToTheModelIsAnError() {
        // indicator applies to DeepFM on Ele.me only (registry appliesWhen).
        assertError("models:\n  wdl:\n    indicator: scatter\n", line: 3, contains: ["does not apply to wdl", "model is deepfm"])
        // stage_capacity needs stage on: wdl's baseline has stage off.
        assertError("models:\n  wdl: {stage_capacity: 8}\n", line: 2, contains: ["stage_capacity", "stage is on"])
        // …and is fine once the submission turns stage on.
        XCTAssertNoThrow(try parse("models:\n  wdl: {stage: \"on\", stage_capacity: 8}\n",
                                   base: try Submission.load(Self.file("baseline.yaml"), contest: Self.contest)))
    }

    func testModelSettingsAndUnknownModelsAreRefused() {
        assertError("models:\n  wdl: {hash_buckets: 10}\n", line: 2, contains: ["model/data setting"])
        assertError("models:\n  wdll: {}\n", line: 2, contains: ["unknown key", "did you mean 'wdl'?"])
        assertError("model:\n  wdl: {}\n", line: 1, contains: ["unknown key", "did you mean 'models'?"])
        XCTAssertThrowsError(try parse("models:\n  wdl: {bf16: on\n")) { e in
            XCTAssertTrue("\(e)".hasPrefix("sub.yaml:") && "\(e)".contains("invalid YAML"), "\(e)")
        }
    }

    /// Every contest model runs in this build, and DIN/DIEN's knobs (`rnn`) are validated like the others'.
    func testEveryContestModelIsAvailableAndValidated() throws {
        for e in Self.contest.entries { XCTAssertNil(e.unavailableReason, e.model) }
        assertError("models:\n  dien: {rnn: fusd}\n", line: 2, contains: ["'fusd'"])
        assertError("models:\n  din: {rnn: fused}\n", line: 2, contains: ["does not apply to din"])
    }

    // MARK: contest tune

    /// `contest tune`'s experiment of a model is the contest's own spec of the baseline (same steps,
    /// data, checkpoints) under its own name and without the contest tag, so its trials never show
    /// up as contest runs; the objective is the timed window and the constraint the model's floor.
    func testContestTuneUsesTheContestsExperimentAndFloor() throws {
        let base = try Submission.load(Self.file("baseline.yaml"), contest: Self.contest)
        let tuner = ContestTuner(runner: ContestRunner(definition: Self.contest, baseline: base))
        var options = ContestTuneOptions()
        options.run.scale = 0.1
        options.margin = 0.003
        let dien = Self.contest.entry("dien")!
        let loaded = try tuner.spec(entry: dien, options: options, dataPath: "/data/books")
        XCTAssertNil(ContestTag.find(in: loaded.text), "a tune trial must not be read as a contest run")
        XCTAssertEqual(loaded.spec.name, "contest-tune.dien@0.1")
        XCTAssertEqual(loaded.spec.steps, 270)
        XCTAssertEqual(loaded.spec.checkpoint, true)
        XCTAssertEqual(loaded.spec.fixed["rnn"], "unfused")
        XCTAssertEqual(loaded.spec.fixed["stage"], "on")
        let settings = try tuner.settings(entry: dien, options: options)
        XCTAssertEqual(settings.objective, "contest_seconds")
        XCTAssertTrue(settings.minimize)
        XCTAssertEqual(settings.constraint, TuneConstraint(metric: "auc", atLeast: true, bound: 0.594, margin: 0.003))
        options.run.realData = "/data/tianchi"
        XCTAssertEqual(try tuner.settings(entry: dien, options: options).constraint?.bound, 0.745, "real data: the contest's floor")
        XCTAssertNil(try tuner.settings(entry: Self.contest.entry("wdl")!, options: options).constraint, "no floor, no constraint")
        // The search space is the baseline's: rnn is searched for DIEN with `unfused` (the baseline) first.
        let space = try SearchSpace(spec: loaded.spec, settings: settings)
        XCTAssertEqual(space.dimension("rnn")?.values.first, "unfused")
        XCTAssertEqual(space.baseline["rnn"], "unfused")
        // An underived floor refuses to tune rather than guess.
        var contest = Self.contest
        contest.entries[0].generatedFloor = nil
        let strict = ContestTuner(runner: ContestRunner(definition: contest, baseline: base))
        options.run.realData = nil
        XCTAssertThrowsError(try strict.settings(entry: contest.entries[0], options: options)) { e in
            XCTAssertTrue("\(e)".contains("not derived"), "\(e)")
        }
        // The submission names only improved models' settings; a kept baseline is an empty map.
        let yaml = ContestTuner.submissionYAML(name: "t", results: [ContestTuneResult(model: "wdl", label: "WDL", outcome: nil, skipped: "x")], scale: 0.1)
        let parsed = try Submission.parse(yaml, path: "t.yaml", contest: Self.contest, base: base)
        XCTAssertEqual(parsed.name, "t")
        XCTAssertTrue(parsed.settings.isEmpty)
    }

    /// The generated spec of one model carries the contest's numbers and the merged settings.
    func testRunSpecCarriesTheContestsNumbers() throws {
        let base = try Submission.load(Self.file("baseline.yaml"), contest: Self.contest)
        let tuned = try Submission.load(Self.file("hand-tuned.yaml"), contest: Self.contest, base: base)
        var options = ContestRunOptions()
        options.scale = 0.1
        let runner = ContestRunner(definition: Self.contest, baseline: base)
        let text = runner.specText(submission: tuned, entry: Self.contest.entry("deepfm")!, options: options, dataPath: "/data/eleme")
        let spec = try SpecParser.parse(text, path: "gen.yaml").spec
        XCTAssertEqual(spec.steps, 70)
        XCTAssertEqual(spec.batch, 512)
        XCTAssertEqual(spec.warmupSteps, 0)
        XCTAssertEqual(spec.checkpoint, true)
        XCTAssertEqual(spec.data, .file(path: "/data/eleme"))
        XCTAssertEqual(spec.fixed["indicator"], "scatter")
        XCTAssertEqual(spec.fixed["dataset"], "eleme")
        XCTAssertEqual(spec.fixed["hash_buckets"], "10000")
        XCTAssertEqual(spec.fixed["seed"], "2021")
        XCTAssertEqual(spec.fixed["eval_rows"], "0")
        XCTAssertEqual(options.steps(Self.contest.entry("dien")!), 270)
        options.scale = 0.0001
        XCTAssertEqual(options.steps(Self.contest.entry("deepfm")!), 1, "at least one step")
    }
}
