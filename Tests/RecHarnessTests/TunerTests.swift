import Foundation
import RecContract
import TestSupport
import XCTest
@testable import RecHarness

/// The tuner on synthetic objectives with a known optimum and noise, and on the fake engine through
/// the store (resume after interruption).
final class TunerTests: XCTestCase {
    // MARK: A synthetic problem with a clear optimum and a trap

    /// Optimum that keeps the floor: executor=costmodel allocator=adaptive alloc_warmup_steps=20
    /// micro_batch=2 (bf16=on is 40% faster but costs 0.02 AUC: below the floor).
    static func problem(seed: UInt64, floor: Double = 0.70) -> (SearchSpace, TuneSettings, SyntheticObjective) {
        func dim(_ k: Knob, _ values: [String]) -> TuneDimension { TuneDimension(name: k.name, values: values, condition: k.spec.appliesWhen) }
        let space = SearchSpace(model: "wdl", dimensions: [
            dim(.executor, ["pool", "inline", "costmodel"]),
            dim(.allocator, ["system", "adaptive"]),
            dim(.allocWarmupSteps, ["10", "5", "20"]),
            dim(.microBatch, ["1", "2", "4"]),
            dim(.bf16, ["off", "on"]),
            dim(.stage, ["off", "on"]),
        ])
        let objective = SyntheticObjective(multipliers: [
            "executor": ["pool": 1, "inline": 1.3, "costmodel": 0.85],
            "allocator": ["system": 1, "adaptive": 0.92],
            "alloc_warmup_steps": ["10": 1, "5": 1.08, "20": 0.9],
            "micro_batch": ["1": 1, "2": 0.8, "4": 0.9],
            "bf16": ["off": 1, "on": 0.6],
            "stage": ["off": 1, "on": 1.1],
        ], aucShifts: ["bf16": ["on": -0.02]], seed: seed)
        objective.baseAUC = 0.71
        objective.noise = 0.03
        objective.aucNoise = 0.001
        var settings = TuneSettings()
        settings.objective = "train_seconds"
        settings.minimize = true
        settings.constraint = TuneConstraint(metric: "auc", atLeast: true, bound: floor, margin: 0.002)
        settings.seed = seed
        return (space, settings, objective)
    }

    static let optimum = TuneConfig(["executor": "costmodel", "allocator": "adaptive", "alloc_warmup_steps": "20",
                                     "micro_batch": "2", "bf16": "off", "stage": "off"])

    func testFindsTheKnownOptimumOverSeeds() async throws {
        var found = 0
        for seed in 1...6 {
            let (space, settings, objective) = Self.problem(seed: UInt64(seed))
            let outcome = try await Tuner(space: space, settings: settings, evaluator: objective).run()
            XCTAssertFalse(outcome.interrupted)
            if outcome.chosen == Self.optimum { found += 1 } else { print("seed \(seed):\n\(outcome.render())") }
            // Whatever it chose is truly faster than the baseline, and its speedup CI says so.
            XCTAssertTrue(outcome.improved, "seed \(seed): \(outcome.render())")
            XCTAssertLessThan(objective.trueSeconds(outcome.chosen), objective.trueSeconds(outcome.baseline) * 0.8, "seed \(seed)")
            XCTAssertGreaterThan(outcome.speedupCI?.lower ?? 0, 1, "seed \(seed)")
            // The true speedup of the optimum is 1 / (0.85 · 0.92 · 0.9 · 0.8) = 1.78.
            XCTAssertEqual(outcome.speedup ?? 0, objective.trueSeconds(outcome.baseline) / objective.trueSeconds(outcome.chosen), accuracy: 0.15)
        }
        XCTAssertGreaterThanOrEqual(found, 5, "the optimum was found in \(found) of 6 seeds")
    }

    func testNeverChoosesTheTrapBelowTheFloor() async throws {
        for seed in 1...6 {
            let (space, settings, objective) = Self.problem(seed: UInt64(seed))
            let outcome = try await Tuner(space: space, settings: settings, evaluator: objective).run()
            XCTAssertNotEqual(outcome.chosen["bf16"], "on", "seed \(seed) chose the trap")
            XCTAssertGreaterThanOrEqual(objective.trueAUC(outcome.chosen), settings.constraint!.bound)
            // The screening saw the trap: bf16=on is the fastest level and costs AUC.
            let bf16 = try XCTUnwrap(outcome.effects.first { $0.knob == "bf16" && $0.level == "on" })
            XCTAssertLessThan(bf16.ratio, 0.75)
            XCTAssertLessThan(bf16.constraintShift ?? 0, -0.01)
        }
        // The trap is real: without the constraint the tuner takes it.
        var (space, settings, objective) = Self.problem(seed: 1)
        settings.constraint = nil
        let unconstrained = try await Tuner(space: space, settings: settings, evaluator: objective).run()
        XCTAssertEqual(unconstrained.chosen["bf16"], "on", unconstrained.render())
    }

    func testKeepsTheBaselineWhenEveryChangeBreaksTheFloor() async throws {
        let (space, settings, objective) = Self.problem(seed: 3)
        // Every non-baseline level costs 0.02 AUC: nothing faster keeps the floor.
        objective.aucShifts = Dictionary(uniqueKeysWithValues: space.dimensions.map { d in
            (d.name, Dictionary(uniqueKeysWithValues: d.values.dropFirst().map { ($0, -0.02) }))
        })
        let outcome = try await Tuner(space: space, settings: settings, evaluator: objective).run()
        XCTAssertEqual(outcome.chosen, outcome.baseline, outcome.render())
        XCTAssertNotNil(outcome.fallbackReason)
        XCTAssertTrue(outcome.render().contains("baseline kept"))
        XCTAssertTrue(outcome.submissionYAML(name: "t", model: "wdl", source: "x.yaml").contains("  wdl: {}"))
    }

    func testKeepsTheBaselineWhenNothingIsBetter() async throws {
        let (space, settings, objective) = Self.problem(seed: 4)
        // Every non-baseline level is slower.
        objective.multipliers = Dictionary(uniqueKeysWithValues: space.dimensions.map { d in
            (d.name, Dictionary(uniqueKeysWithValues: d.values.dropFirst().map { ($0, 1.15) }))
        })
        objective.aucShifts = [:]
        let outcome = try await Tuner(space: space, settings: settings, evaluator: objective).run()
        XCTAssertEqual(outcome.chosen, outcome.baseline, outcome.render())
    }

    func testHonoursTheBudget() async throws {
        for (seed, minutes) in [(1, 25.0), (2, 40.0), (3, 60.0)] {
            let (space, settings, objective) = Self.problem(seed: UInt64(seed))
            let budget = minutes * 60
            let outcome = try await Tuner(space: space, settings: settings, evaluator: objective, budgetSeconds: budget).run()
            // No trial starts unless its predicted cost fits; noise can make the last one a little dearer.
            XCTAssertLessThanOrEqual(outcome.spentSeconds, budget * 1.05, "budget \(minutes) min: \(outcome.render())")
            XCTAssertEqual(objective.executed.reduce(0) { $0 + objective.storage.results[$1]!.cost }, outcome.spentSeconds, accuracy: 1e-6)
            XCTAssertGreaterThanOrEqual(objective.trueAUC(outcome.chosen), settings.constraint!.bound)
            if minutes >= 40 {
                XCTAssertTrue(outcome.improved, "budget \(minutes) min: \(outcome.render())")
                XCTAssertLessThan(objective.trueSeconds(outcome.chosen), objective.trueSeconds(outcome.baseline) * 0.85)
            }
        }
        // Less than a confirmation: the baseline is kept, with the reason, and the budget is not overrun.
        let (space, settings, objective) = Self.problem(seed: 5)
        let outcome = try await Tuner(space: space, settings: settings, evaluator: objective, budgetSeconds: 300).run()
        XCTAssertEqual(outcome.chosen, outcome.baseline)
        XCTAssertLessThanOrEqual(outcome.spentSeconds, 300)
        XCTAssertTrue((outcome.fallbackReason ?? "").contains("budget"), outcome.render())
    }

    func testPrunesPathologicallySlowTrialsAndStillFindsTheOptimum() async throws {
        func tune(pruneFactor: Double) async throws -> (TuneOutcome, SyntheticObjective, TuneSettings) {
            var (space, settings, objective) = Self.problem(seed: 2)
            // stage=on is a pathology (40× slower, as oversubscribed OpenMP teams were on a loaded host).
            objective.multipliers["stage"] = ["off": 1, "on": 40]
            settings.pruneFactor = pruneFactor
            let outcome = try await Tuner(space: space, settings: settings, evaluator: objective).run()
            return (outcome, objective, settings)
        }
        let (pruned, objective, settings) = try await tune(pruneFactor: 3)
        let (unpruned, _, _) = try await tune(pruneFactor: 0)
        let results = objective.executed.map { objective.storage.results[$0]! }
        let prunedTrials = zip(objective.executed, results).filter { $0.1.pruned }
        XCTAssertFalse(prunedTrials.isEmpty, pruned.render())
        for (trial, r) in prunedTrials {
            XCTAssertEqual(trial.config["stage"], "on", "only the pathology is pruned: \(trial)")
            // Stopped at 3 × the baseline's cost at its scale (+10 s), far below the 40× it would have taken.
            XCTAssertLessThan(r.cost, 3 * 1.2 * (trial.scale * 100 + 2) + settings.pruneSlackSeconds, "\(trial)")
        }
        XCTAssertTrue(results.filter { !$0.pruned }.allSatisfy { $0.ok })
        XCTAssertEqual(pruned.chosen["stage"], "off")
        XCTAssertTrue(pruned.improved, pruned.render())
        // Pruning saves most of what the pathology would have cost.
        XCTAssertLessThan(pruned.spentSeconds, unpruned.spentSeconds * 0.6, "pruned \(pruned.spentSeconds) s vs \(unpruned.spentSeconds) s")
    }

    func testResumesAfterInterruptionWithoutRepeatingTrials() async throws {
        let (space, settings, reference) = Self.problem(seed: 7)
        let uninterrupted = try await Tuner(space: space, settings: settings, evaluator: reference).run()

        let storage = SyntheticObjective.Storage()
        let (_, _, first) = Self.problem(seed: 7)
        let shared = SyntheticObjective(multipliers: first.multipliers, aucShifts: first.aucShifts, seed: 7, storage: storage)
        shared.baseAUC = first.baseAUC; shared.noise = first.noise; shared.aucNoise = first.aucNoise
        shared.interruptAfter = 23
        let partial = try await Tuner(space: space, settings: settings, evaluator: shared).run()
        XCTAssertTrue(partial.interrupted)
        XCTAssertEqual(partial.executedTrials, 23)
        XCTAssertTrue(partial.render().contains("INTERRUPTED"))

        let resumedEvaluator = SyntheticObjective(multipliers: first.multipliers, aucShifts: first.aucShifts, seed: 7, storage: storage)
        resumedEvaluator.baseAUC = first.baseAUC; resumedEvaluator.noise = first.noise; resumedEvaluator.aucNoise = first.aucNoise
        let resumed = try await Tuner(space: space, settings: settings, evaluator: resumedEvaluator).run()
        XCTAssertFalse(resumed.interrupted)
        XCTAssertEqual(resumed.reusedTrials, 23)
        XCTAssertTrue(Set(shared.executed).isDisjoint(with: resumedEvaluator.executed), "a finished trial ran again")
        XCTAssertEqual(Set(shared.executed).union(resumedEvaluator.executed), Set(reference.executed))
        XCTAssertEqual(shared.executed.count + resumedEvaluator.executed.count, reference.executed.count)
        XCTAssertEqual(resumed.chosen, uninterrupted.chosen)
        XCTAssertEqual(resumed.speedup ?? 0, uninterrupted.speedup ?? 1, accuracy: 1e-9)
    }

    func testRespectsKnobDependencies() async throws {
        for seed in 1...3 {
            let (space, settings, objective) = Self.problem(seed: UInt64(seed))
            let outcome = try await Tuner(space: space, settings: settings, evaluator: objective).run()
            XCTAssertFalse(objective.executed.isEmpty)
            for t in objective.executed where t.config["alloc_warmup_steps"] != nil {
                XCTAssertEqual(t.config["allocator"], "adaptive", "alloc_warmup_steps set without allocator adaptive: \(t)")
            }
            // Configurations that differ only in an inert knob are one trial.
            XCTAssertTrue(objective.executed.contains { $0.config["alloc_warmup_steps"] != nil }, "the dependent knob was never tried")
            if outcome.chosen["alloc_warmup_steps"] != nil { XCTAssertEqual(outcome.chosen["allocator"], "adaptive") }
            for e in outcome.effects where e.knob == "alloc_warmup_steps" { XCTAssertEqual(e.condition, "allocator is adaptive") }
        }
        let (space, _, _) = Self.problem(seed: 1)
        XCTAssertEqual(space.effective(["allocator": "system", "alloc_warmup_steps": "20"]), space.effective(["allocator": "system"]))
        XCTAssertNil(space.effective(["allocator": "system", "alloc_warmup_steps": "20"])["alloc_warmup_steps"])
        XCTAssertEqual(space.effective(["allocator": "adaptive"])["alloc_warmup_steps"], "10")
    }

    func testFractionalScreeningWhenEveryKnobHasTwoValues() throws {
        func dim(_ k: Knob, _ values: [String]) -> TuneDimension { TuneDimension(name: k.name, values: values, condition: k.spec.appliesWhen) }
        let space = SearchSpace(model: "wdl", dimensions: [dim(.bf16, ["off", "on"]), dim(.stage, ["off", "on"]), dim(.pinThreads, ["off", "on"]),
                                                           dim(.allocator, ["system", "adaptive"]), dim(.executor, ["pool", "costmodel"])])
        let tuner = Tuner(space: space, settings: TuneSettings(), evaluator: SyntheticObjective(multipliers: [:], seed: 1))
        let design = tuner.plannedScreening()
        // 5 two-level factors at resolution IV: 16 runs, balanced, the baseline first.
        XCTAssertEqual(design.count, 16)
        XCTAssertEqual(design[0], space.baseline)
        for d in space.dimensions { XCTAssertEqual(design.filter { $0[d.name] == d.values[1] }.count, 8, d.name) }
    }

    // MARK: Search space and spec

    func testSearchSpaceFromTheRegistryKeepsOnlyKnobsThatApply() throws {
        let wdl = try SpecParser.parse("name: t\nmodel: wdl\ntune: {}\n", path: "t.yaml").spec
        let space = try SearchSpace(spec: wdl, settings: wdl.tune!)
        XCTAssertTrue(space.names.contains("executor"))
        XCTAssertTrue(space.names.contains("alloc_warmup_steps"))
        XCTAssertFalse(space.names.contains("indicator"), "indicator applies to contest DeepFM only")
        XCTAssertFalse(space.names.contains("emb_fusion"), "emb_fusion does not apply to criteo data")
        XCTAssertFalse(space.names.contains("numa"))
        XCTAssertFalse(space.names.contains("seed"))
        let deepfm = try SpecParser.parse("name: t\nmodel: deepfm\nfixed: {dataset: eleme}\ntune: {exclude: [pin_threads]}\n", path: "t.yaml").spec
        let contest = try SearchSpace(spec: deepfm, settings: deepfm.tune!)
        XCTAssertTrue(contest.names.contains("indicator"))
        XCTAssertTrue(contest.names.contains("emb_fusion"))
        XCTAssertFalse(contest.names.contains("pin_threads"))
        // The baseline value comes first; a spec baseline moves it.
        let based = try SpecParser.parse("name: t\nmodel: wdl\nbaseline: {executor: costmodel}\ntune: {knobs: {executor: [pool, costmodel]}}\n",
                                         path: "t.yaml").spec
        XCTAssertEqual(try SearchSpace(spec: based, settings: based.tune!).dimensions.map(\.values), [["costmodel", "pool"]])
    }

    func testTuneSectionParses() throws {
        let spec = try SpecParser.parse("""
        name: t
        model: wdl
        tune:
          knobs:
            executor: [pool, costmodel]
            micro_batch: [1, 2]
            bf16:
          objective: step_ms.mean
          constraint: "auc >= 0.70"
          margin: 0.002
          budget_minutes: 30
          scales: [0.05, 0.2, 1]
          confirm_repeats: 6
        """, path: "t.yaml").spec
        let t = try XCTUnwrap(spec.tune)
        XCTAssertEqual(t.knobs.map(\.name), ["executor", "micro_batch", "bf16"])
        XCTAssertNil(t.knobs[2].values)
        XCTAssertTrue(t.minimize, "step_ms.mean is lower-is-better in the catalog")
        XCTAssertEqual(t.constraint, TuneConstraint(metric: "auc", atLeast: true, bound: 0.70, margin: 0.002))
        XCTAssertEqual(t.budgetMinutes, 30)
        XCTAssertEqual(t.scales, [0.05, 0.2, 1])
        XCTAssertEqual(t.confirmRepeats, 6)
        XCTAssertFalse(try SpecParser.parse("name: t\ntune: {}\n", path: "t.yaml").spec.tune!.minimize)
    }

    func testTuneSectionErrorsNameFileLineAndValue() {
        func expect(_ body: String, line: Int, keyPath: String, _ fragments: [String], file: StaticString = #filePath, lineNo: UInt = #line) {
            XCTAssertThrowsError(try SpecParser.parse("name: t\nmodel: wdl\ntune:\n" + body, path: "t.yaml"), file: file, line: lineNo) { error in
                guard let e = error as? SpecError else { return XCTFail("not a SpecError: \(error)", file: file, line: lineNo) }
                XCTAssertEqual(e.line, line, "\(e)", file: file, line: lineNo)
                XCTAssertEqual(e.keyPath, keyPath, "\(e)", file: file, line: lineNo)
                XCTAssertTrue(e.description.hasPrefix("t.yaml:\(line):"), "\(e)", file: file, line: lineNo)
                for f in fragments { XCTAssertTrue(e.description.contains(f), "'\(f)' not in: \(e)", file: file, line: lineNo) }
            }
        }
        expect("  knobs:\n    executr: [pool]\n", line: 5, keyPath: "tune.knobs.executr", ["unknown knob", "'executr'", "did you mean 'executor'"])
        expect("  knobs:\n    micro_batch: [1, 0]\n", line: 5, keyPath: "tune.knobs.micro_batch[1]", ["not an allowed value", "'0'"])
        expect("  knobs:\n    indicator: [dense, scatter]\n", line: 5, keyPath: "tune.knobs.indicator", ["never applies to model wdl", "deepfm"])
        expect("  constraint: auc > 0.7\n", line: 4, keyPath: "tune.constraint", ["metric >= number", "'auc > 0.7'"])
        expect("  constraint: acu >= 0.7\n", line: 4, keyPath: "tune.constraint", ["unknown metric", "auc"])
        expect("  objective: samples_per_second\n", line: 4, keyPath: "tune.objective", ["unknown metric", "samples_per_sec"])
        expect("  scales: [0.1, 0.5]\n", line: 4, keyPath: "tune.scales", ["must end with 1"])
        expect("  scales: [0.5, 0.1, 1]\n", line: 4, keyPath: "tune.scales[1]", ["must increase"])
        expect("  budget: 30\n", line: 4, keyPath: "tune.budget", ["unknown key", "budget_minutes"])
        expect("  margin: 0.01\n", line: 4, keyPath: "tune.margin", ["needs a `constraint:`"])
        expect("  knobs:\n    inter_threads:\n    costmodel_start:\n", line: 6, keyPath: "tune.knobs.costmodel_start", ["no default value list"])
    }

    func testStoreEvaluatorPrunesAHangingTrial() async throws {
        let dir = try makeTemporaryDirectory("rectune-tuner-prune")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ResultStore.temporary()
        let options = try RunnerFakeEngine.options(store: store, dir: dir)
        // The fake engine hangs for 60 s under allocator=adaptive (ignoring SIGTERM, with a grandchild).
        let spec = try RunnerFakeEngine.spec("""
        name: fake-prune
        tune:
          knobs: {micro_batch: [1, 2], allocator: [system, adaptive]}
          scales: [0.5, 1]
          screen_repeats: 1
          confirm_repeats: 4
          confirm_candidates: 1
          prune_factor: 2
        """, dir: dir)
        var settings = try XCTUnwrap(spec.spec.tune)
        XCTAssertEqual(settings.pruneFactor, 2)
        settings.pruneSlackSeconds = 1
        let space = try SearchSpace(spec: spec.spec, settings: settings)
        let evaluator = StoreTrialEvaluator(spec: spec, store: store, options: options, settings: settings)
        let started = Date()
        let outcome = try await Tuner(space: space, settings: settings, evaluator: evaluator).run()
        XCTAssertLessThan(Date().timeIntervalSince(started), 45, "a hanging trial must be stopped, not waited for (60 s each)")
        XCTAssertEqual(outcome.chosen, TuneConfig(["micro_batch": "2", "allocator": "system"]), outcome.render())
        let screening = try XCTUnwrap(store.experiments().first { $0.name == "fake-prune.tune@0.5" })
        let hung = try store.runs(experimentID: screening.id).filter { $0.config["allocator"] == "adaptive" }
        XCTAssertFalse(hung.isEmpty)
        for r in hung {
            XCTAssertEqual(r.status, .timeout)
            XCTAssertLessThan(r.durationSeconds, 15)
            XCTAssertTrue(evaluator.result(r, stage: evaluator.stageSpec(0.5)).pruned)
        }
        XCTAssertTrue(outcome.stages.first { $0.name == "screening" }!.dropped.contains { $0.config.contains("allocator=adaptive") })
    }

    func testPruneFactorMustBeZeroOrAtLeastOne() throws {
        let dir = try makeTemporaryDirectory("rectune-tuner-prune-spec")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try RunnerFakeEngine.spec("name: p\ntune:\n  knobs: [micro_batch]\n  prune_factor: 0.5\n", dir: dir)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("tune.prune_factor") && text.contains("0.5") && text.contains("runner-test.yaml:8"), text)
        }
    }

    func testReadmeDocumentsEveryTuneKey() throws {
        let root = RepositoryRoot.url
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try XCTUnwrap(readme.range(of: "## Tuning: `rectune tune`"), "README has no tuning section")
        let rest = readme[start.upperBound...]
        let section = rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)]
        for key in SpecParser.tuneKeys { XCTAssertTrue(section.contains("\(key):"), "README's tuning section does not document tune.\(key)") }
    }

    // MARK: Through the store, on the fake engine

    func testStoreEvaluatorTunesFakeEngineAndResumesWithoutRerunning() async throws {
        let dir = try makeTemporaryDirectory("rectune-tuner")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ResultStore.temporary()
        let options = try RunnerFakeEngine.options(store: store, dir: dir)
        let log = dir.appendingPathComponent("starts.log").path
        setenv("FAKE_LOG", log, 1)
        defer { unsetenv("FAKE_LOG") }
        // The fake engine: samples_per_sec = 1000 × micro_batch; stage=on gives no AUC (a failed trial).
        let spec = try RunnerFakeEngine.spec("""
        name: fake-tune
        tune:
          knobs: {micro_batch: [1, 2, 4], stage: [off, on]}
          constraint: "auc >= 0.7"
          scales: [0.5, 1]
          screen_repeats: 1
          confirm_repeats: 4
          confirm_candidates: 1
        """, dir: dir)
        let settings = try XCTUnwrap(spec.spec.tune)
        let space = try SearchSpace(spec: spec.spec, settings: settings)

        // Interrupted after 5 trials (a Ctrl-C), then resumed.
        let first = StoreTrialEvaluator(spec: spec, store: store, options: options, settings: settings)
        let stopping = Interrupting(first, after: 5)
        let partial = try await Tuner(space: space, settings: settings, evaluator: stopping).run()
        XCTAssertTrue(partial.interrupted)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, 5)
        XCTAssertTrue(try first.hasStoredTrials(scales: settings.scales))

        let second = StoreTrialEvaluator(spec: spec, store: store, options: options, settings: settings)
        let outcome = try await Tuner(space: space, settings: settings, evaluator: second).run()
        XCTAssertFalse(outcome.interrupted)
        XCTAssertEqual(outcome.reusedTrials, 5)
        XCTAssertEqual(outcome.chosen, TuneConfig(["micro_batch": "4", "stage": "off"]), outcome.render())
        XCTAssertEqual(outcome.speedup ?? 0, 4, accuracy: 1e-9)
        let starts = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count
        XCTAssertEqual(starts, outcome.executedTrials + 5, "every trial ran exactly once")
        XCTAssertTrue(outcome.stages.first { $0.name == "screening" }!.dropped.contains { $0.config.contains("stage=on") && $0.reason.contains("failed") })

        // Every trial is a run in the store, one experiment per scale.
        let experiments = try store.experiments().map(\.name).sorted()
        XCTAssertEqual(experiments, ["fake-tune.tune@0.5", "fake-tune.tune@1"])
        let full = try XCTUnwrap(store.experiments().first { $0.name == "fake-tune.tune@1" })
        let runs = try store.runs(experimentID: full.id)
        XCTAssertEqual(runs.filter { $0.config["micro_batch"] == "4" && $0.status == .ok }.count, 4)

        // A third tune finds everything stored and runs nothing.
        let third = StoreTrialEvaluator(spec: spec, store: store, options: options, settings: settings)
        let again = try await Tuner(space: space, settings: settings, evaluator: third).run()
        XCTAssertEqual(again.executedTrials, 0)
        XCTAssertEqual(again.chosen, outcome.chosen)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, starts)

        let yaml = outcome.submissionYAML(name: "fake-tuned", model: spec.spec.model, source: "fake.yaml")
        XCTAssertTrue(yaml.contains("  wdl: {micro_batch: \"4\", stage: \"off\"}"), yaml)
        XCTAssertTrue(yaml.contains("4x vs baseline"), yaml)
        XCTAssertTrue(outcome.json().contains("\"speedup\" : 4"), outcome.json())
        let combined = TuneOutcome.submissionYAML(name: "two", description: "d", models: [("wdl", ["bf16": "on"]), ("dien", [:])])
        XCTAssertEqual(combined, "# rectune contest submission\nname: \"two\"\ndescription: \"d\"\nmodels:\n  wdl: {bf16: \"on\"}\n  dien: {}\n")
    }

    /// Where the engine has no bf16 (an AVX2 host), `tune` and `contest tune` do not search
    /// `bf16=on`: the value is left out, named with the reason, and a knob left with its baseline
    /// alone is no longer searched; with bf16 the space is unchanged.
    func testBF16OnIsNotSearchedWhereTheHostHasNone() {
        let space = SearchSpace(model: "wdl", dimensions: [TuneDimension(name: "bf16", values: ["off", "on"]),
                                                           TuneDimension(name: "stage", values: ["off", "on"])])
        let narrowed = space.leavingOutUnsupported(bf16Unsupported: "no bf16 here")
        XCTAssertEqual(narrowed.space.dimensions.map(\.name), ["stage"])
        XCTAssertEqual(narrowed.notRunHere, ["bf16=on: --bf16 on: no bf16 here"])
        let same = space.leavingOutUnsupported(bf16Unsupported: nil)
        XCTAssertEqual(same.space.dimensions, space.dimensions)
        XCTAssertEqual(same.notRunHere, [])
    }
}

/// Wraps an evaluator and reports an interruption after `after` executed trials.
private final class Interrupting: TuneEvaluator {
    let inner: any TuneEvaluator
    var remaining: Int
    init(_ inner: any TuneEvaluator, after: Int) { self.inner = inner; remaining = after }
    func stored(_ trial: Trial) throws -> TrialResult? { try inner.stored(trial) }
    func run(_ trial: Trial, timeLimit: Double?) async throws -> TrialResult? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        return try await inner.run(trial, timeLimit: timeLimit)
    }
}
