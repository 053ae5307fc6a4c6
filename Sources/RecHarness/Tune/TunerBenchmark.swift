import Foundation
import RecContract
import RecStats

/// Random search at a budget (the comparison for `rectune bench --tuner`): uniformly drawn
/// distinct configurations (the baseline first), each run once at full scale, until the next one
/// is predicted to overrun the budget; the winner is the best observed objective among the
/// configurations whose observed constraint metric clears `bound ± margin` (the baseline when none).
public enum RandomSearch {
    public struct Result: Sendable {
        public var chosen: TuneConfig
        public var trials: Int
        public var spentSeconds: Double
    }

    public static func run(space: SearchSpace, settings: TuneSettings, evaluator: any TuneEvaluator, budgetSeconds: Double,
                           seed: UInt64) async throws -> Result {
        var rng = SeededGenerator(seed: seed)
        var seen: Set<TuneConfig> = []
        var spent = 0.0
        var costs: [Double] = []
        var best: (TuneConfig, Double)? = nil
        let base = space.baseline
        var next: TuneConfig? = base
        var attempts = 0
        while let c = next {
            if !costs.isEmpty, spent + Descriptive.mean(costs) > budgetSeconds { break }
            guard let r = try await evaluator.run(Trial(config: c, scale: 1, repeatIndex: 0), timeLimit: nil) else { break }
            spent += r.cost
            costs.append(r.cost)
            seen.insert(c)
            let feasible = settings.constraint.map { con in r.constraint.map { con.atLeast ? $0 >= con.required : $0 <= con.required } ?? false } ?? true
            if r.ok, feasible, let o = r.objective {
                let score = settings.minimize ? o : -o
                if best == nil || score < best!.1 { best = (c, score) }
            }
            next = nil
            while next == nil && attempts < 10_000 && seen.count < space.size {
                attempts += 1
                var assignment: [String: String] = [:]
                for d in space.dimensions { assignment[d.name] = d.values[Int(rng.next() % UInt64(d.values.count))] }
                let candidate = space.effective(assignment)
                if !seen.contains(candidate) { next = candidate }
            }
        }
        return Result(chosen: best?.0 ?? base, trials: costs.count, spentSeconds: spent)
    }
}

/// The tuner benchmark on a synthetic objective with a known optimum (figures, not a test):
/// the tuner and random search get the same budget over several noise seeds; each is scored by the
/// true (noise-free) objective of what it chose relative to the true optimum, and by how often what
/// it chose breaks the constraint.
public enum TunerBenchmark {
    /// A space shaped like the contest knobs: executor (3), inter threads (3), allocator with a
    /// dependent warm-up (3), stage with a dependent capacity (3), micro-batch (3), bf16 — the
    /// fastest configuration (bf16 on) loses AUC below the floor: a trap.
    public static func problem(seed: UInt64) -> (SearchSpace, TuneSettings, SyntheticObjective) {
        func dim(_ k: Knob, _ values: [String]) -> TuneDimension { TuneDimension(name: k.name, values: values, condition: k.spec.appliesWhen) }
        let space = SearchSpace(model: "wdl", dimensions: [
            dim(.executor, ["pool", "inline", "costmodel"]),
            dim(.interThreads, ["2", "1", "4"]),
            dim(.allocator, ["system", "adaptive"]),
            dim(.allocWarmupSteps, ["10", "5", "20"]),
            dim(.stage, ["off", "on"]),
            dim(.stageCapacity, ["4", "2", "8"]),
            dim(.microBatch, ["1", "2", "4"]),
            dim(.bf16, ["off", "on"]),
        ])
        let objective = SyntheticObjective(multipliers: [
            "executor": ["pool": 1, "inline": 1.25, "costmodel": 0.85],
            "inter_threads": ["2": 1, "1": 1.1, "4": 1.04],
            "allocator": ["system": 1, "adaptive": 0.93],
            "alloc_warmup_steps": ["10": 1, "5": 1.03, "20": 0.96],
            "stage": ["off": 1, "on": 0.9],
            "stage_capacity": ["4": 1, "2": 1.02, "8": 0.99],
            "micro_batch": ["1": 1, "2": 0.8, "4": 0.88],
            "bf16": ["off": 1, "on": 0.7],
        ], aucShifts: [
            "bf16": ["on": -0.012],
            "micro_batch": ["4": -0.002],
        ], seed: seed)
        objective.baseAUC = 0.712
        objective.noise = 0.04
        objective.aucNoise = 0.001
        var settings = TuneSettings()
        settings.objective = "train_seconds"
        settings.minimize = true
        settings.constraint = TuneConstraint(metric: "auc", atLeast: true, bound: 0.705, margin: 0.001)
        settings.seed = seed
        return (space, settings, objective)
    }

    /// Every effective configuration of `space` (small spaces only).
    public static func allConfigs(_ space: SearchSpace) -> [TuneConfig] { space.allConfigs(limit: .max) ?? [] }

    public struct Row: Sendable, Codable {
        public var method: String
        public var seeds: Int
        /// Mean of true objective(chosen) / true objective(optimum) (1 = found the optimum).
        public var meanRegret: Double
        public var worstRegret: Double
        public var foundOptimum: Int
        public var violations: Int
        public var meanTrials: Double
        public var meanSpentMinutes: Double
    }

    /// Runs both methods over `seeds` noise seeds at `budgetMinutes` and returns one row per method.
    public static func run(seeds: Int, budgetMinutes: Double) async throws -> [Row] {
        var rows: [Row] = []
        for method in ["tuner", "random search"] {
            var regrets: [Double] = [], found = 0, violations = 0, trials: [Double] = [], spent: [Double] = []
            for s in 1...seeds {
                let (space, settings, objective) = problem(seed: UInt64(s))
                let feasible = allConfigs(space).filter { objective.trueAUC($0) >= settings.constraint!.bound }
                let optimum = feasible.min { objective.trueSeconds($0) < objective.trueSeconds($1) }!
                let chosen: TuneConfig
                if method == "tuner" {
                    let outcome = try await Tuner(space: space, settings: settings, evaluator: objective, budgetSeconds: budgetMinutes * 60).run()
                    chosen = outcome.chosen
                    trials.append(Double(outcome.executedTrials)); spent.append(outcome.spentSeconds / 60)
                } else {
                    let r = try await RandomSearch.run(space: space, settings: settings, evaluator: objective, budgetSeconds: budgetMinutes * 60, seed: UInt64(s))
                    chosen = r.chosen
                    trials.append(Double(r.trials)); spent.append(r.spentSeconds / 60)
                }
                let regret = objective.trueSeconds(chosen) / objective.trueSeconds(optimum)
                regrets.append(regret)
                if chosen == optimum { found += 1 }
                if objective.trueAUC(chosen) < settings.constraint!.bound { violations += 1 }
            }
            rows.append(Row(method: method, seeds: seeds, meanRegret: Descriptive.mean(regrets), worstRegret: regrets.max() ?? .nan,
                            foundOptimum: found, violations: violations, meanTrials: Descriptive.mean(trials),
                            meanSpentMinutes: Descriptive.mean(spent)))
        }
        return rows
    }
}
