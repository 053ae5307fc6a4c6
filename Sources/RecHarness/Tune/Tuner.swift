import Foundation
import RecContract
import RecStats

/// A constraint-aware tuner for noisy objectives under a wall-time budget.
///
/// Stages (DESIGN: screening → racing → confirmation):
/// 0. Calibration: the baseline once at full scale (its cost predicts every later trial's, its
///    constraint value anchors the reduced-scale floors). It is repeat 1 of the baseline's confirmation.
/// 1. Screening at `scales[0]`: a two-level fractional design (resolution IV) when every knob has two
///    values, else a seeded random design (`DesignExpander.random`), `screenRepeats` repeats with
///    varied seeds, interleaved. Main effects per knob level (ratio of the objective, shift of the
///    constraint metric, bootstrap CIs; a dependent knob only where it applies) come from here, and
///    so does one more candidate: every knob at its best level whose constraint shift keeps the floor.
/// 2. Racing at each middle scale: the survivors and the baseline, `raceRepeats` each, interleaved;
///    a candidate is dropped when it failed, when its constraint metric is clearly below the floor
///    (shifted by the baseline's own change at that scale), or when it is worse than the best
///    (one-sided Mann–Whitney, p < alpha); then successive halving keeps 1/eta (at least
///    `confirmCandidates`).
/// 3. Confirmation at full scale: the finalists and the baseline interleaved, `confirmRepeats` each.
///    A finalist is chosen only when every repeat keeps the bound, its one-sided 95% confidence
///    bound clears `bound ± margin`, and it beats the baseline (one-sided Mann–Whitney, p < alpha);
///    the best such finalist wins, else the baseline does.
///
/// With a budget, confirmation is reserved first, screening and racing fit in the rest (designs and
/// repeats shrink to fit, predicted from measured costs: cost ≈ a + b·scale per configuration), and no
/// trial starts whose predicted cost would overrun. Trials already stored (an interrupted tune) are
/// reused, not rerun: every decision depends only on trial results and the seed, so a resumed tune
/// asks for exactly the trials the interrupted one would have.
public final class Tuner {
    public let space: SearchSpace
    public let settings: TuneSettings
    public let evaluator: any TuneEvaluator
    public let budgetSeconds: Double?
    /// The fewest full-scale repeats per side of a confirmation: with 3 against 3 the smallest
    /// one-sided Mann–Whitney p-value is 1/20 = 0.05, never below alpha = 0.05; with 4, 1/70.
    public static let minimumConfirmRepeats = 4
    /// Progress lines.
    public var log: (String) -> Void = { _ in }

    private var results: [Trial: TrialResult] = [:]
    private var orderedTrials: [Trial] = []
    private var issued: [String: Int] = [:]          // "key@scale" → repeats issued
    private var spent = 0.0
    private var executedCount = 0
    private var reusedCount = 0
    private var interrupted = false
    private var budgetNote: String? = nil
    private var stages: [TuneStage] = []

    public init(space: SearchSpace, settings: TuneSettings, evaluator: any TuneEvaluator, budgetSeconds: Double? = nil) {
        self.space = space; self.settings = settings; self.evaluator = evaluator
        self.budgetSeconds = budgetSeconds ?? settings.budgetMinutes.map { $0 * 60 }
    }

    // MARK: Running

    /// Runs the whole tune (or continues a stored one). Returns early with `interrupted` set when the
    /// evaluator is interrupted.
    public func run() async throws -> TuneOutcome {
        let base = space.baseline
        let scales = settings.scales
        let full = scales.last!
        let s0 = scales[0]
        // 0. Calibration.
        guard try await evaluate(Trial(config: base, scale: full, repeatIndex: nextRepeat(base, full)), limit: budgetSeconds) else {
            return finish(base: base, finalists: [], effects: [], note: interrupted ? nil : "the budget does not cover one full-scale baseline run")
        }
        stages.append(TuneStage(name: "calibration", scale: full, configs: 1, trials: 1, dropped: [], survivors: []))

        // 1. Screening.
        // The confirmation is planned first; on a short budget it shrinks (fewer finalists, then fewer
        // repeats, down to 1 × 4: with 3 per side Mann–Whitney cannot reach p < 0.05) until it takes at most half of what is left.
        var plannedFinalists = settings.confirmCandidates, plannedRepeats = settings.confirmRepeats
        if let B = budgetSeconds {
            while confirmationCost(finalists: plannedFinalists, repeats: plannedRepeats, base: base) > 0.5 * (B - spent) {
                if plannedFinalists > 1 { plannedFinalists -= 1 } else if plannedRepeats > Self.minimumConfirmRepeats { plannedRepeats -= 1 } else { break }
            }
            if plannedFinalists < settings.confirmCandidates || plannedRepeats < settings.confirmRepeats {
                log("budget: confirmation planned with \(plannedFinalists) finalist(s) × \(plannedRepeats) repeats")
            }
        }
        let reserve = confirmationCost(finalists: plannedFinalists, repeats: plannedRepeats, base: base)
        let middle = Array(scales.dropFirst().dropLast())
        var design = screeningDesign(base: base)
        if let B = budgetSeconds {
            let allowance = (B - spent - reserve) * (middle.isEmpty ? 1.0 : 0.5)
            let perConfig = Double(settings.screenRepeats) * predict(base, s0) * 1.1
            let fit = perConfig > 0 ? Int(allowance / perConfig) : design.count
            if fit < design.count {
                let shrunk = max(fit, 0)
                log("budget: screening shrinks from \(design.count) to \(max(shrunk, 1)) configurations")
                if shrunk < design.count { design = screeningDesign(base: base, count: max(shrunk, 1)) }
            }
        }
        var screened = 0
        if design.count >= 2 {
            log("screening: \(design.count) configurations × \(settings.screenRepeats) repeats at scale \(TuneFormat.number(s0))")
            screened = try await runInterleaved(design, scale: s0, repeats: settings.screenRepeats, limit: budgetSeconds.map { $0 - reserve }, seed: settings.seed)
            if interrupted { return finish(base: base, finalists: [], effects: [], note: nil) }
        } else {
            budgetNote = "the budget leaves no room for screening; nothing beyond the baseline was tried"
        }
        let models = screeningModels(design: design, scale: s0)
        let effects = models.2
        var dropped: [(TuneConfig, String)] = []
        var candidates = design.filter { $0 != base }.filter { c in
            if let why = dropReason(c, scale: s0) { dropped.append((c, why)); return false }
            return true
        }
        candidates = rank(candidates, scale: s0)
        let keep = max(plannedFinalists, Int((Double(candidates.count) / Double(settings.eta)).rounded(.up)))
        for c in candidates.dropFirst(keep) { dropped.append((c, "halved (screening rank)")) }
        candidates = Array(candidates.prefix(keep))
        // The screening models' best predictions join the race (the optimum is rarely in the design itself).
        for c in predictedBest((models.0, models.1), scale: s0, count: settings.confirmCandidates + 1)
        where c != base && !candidates.contains(c) && !dropped.contains(where: { $0.0 == c }) {
            log("candidate predicted by the screening model: \(c.label(relativeTo: base))")
            candidates.append(c)
        }
        stages.append(TuneStage(name: "screening", scale: s0, configs: design.count, trials: screened, dropped: dropped.map { ($0.0.label(relativeTo: base), $0.1) },
                                survivors: candidates.map { $0.label(relativeTo: base) }))

        // 2. Racing.
        for (i, s) in middle.enumerated() where candidates.count > 0 {
            let last = i == middle.count - 1
            var repeats = settings.raceRepeats
            if let B = budgetSeconds {
                let perRepeat = (candidates + [base]).reduce(0) { $0 + predict($1, s) } * 1.1
                while repeats > 0 && spent + Double(repeats) * perRepeat > B - reserve { repeats -= 1 }
                if repeats < settings.raceRepeats { log("budget: racing at scale \(TuneFormat.number(s)) with \(repeats) repeats") }
                if repeats == 0 { budgetNote = "the budget ended racing before scale \(TuneFormat.number(s))"; break }
            }
            log("racing: \(candidates.count) candidates + baseline × \(repeats) repeats at scale \(TuneFormat.number(s))")
            let n = try await runInterleaved(candidates + [base], scale: s, repeats: repeats, limit: budgetSeconds.map { $0 - reserve },
                                             seed: settings.seed &+ UInt64(i + 1))
            if interrupted { return finish(base: base, finalists: candidates, effects: effects, note: nil) }
            var roundDropped: [(TuneConfig, String)] = []
            candidates = candidates.filter { c in
                if let why = dropReason(c, scale: s) { roundDropped.append((c, why)); return false }
                return true
            }
            candidates = rank(candidates, scale: s)
            if let best = candidates.first {
                let bestValues = objectives(best, s)
                candidates = candidates.filter { c in
                    guard c != best else { return true }
                    let p = MannWhitney.test(objectives(c, s), bestValues, alternative: settings.minimize ? .greater : .less).pValue
                    if p < settings.alpha { roundDropped.append((c, "worse than \(best.label(relativeTo: base)) (p=\(TuneFormat.number(p)))")); return false }
                    return true
                }
            }
            let k = last ? plannedFinalists : max(plannedFinalists, Int((Double(candidates.count) / Double(settings.eta)).rounded(.up)))
            for c in candidates.dropFirst(k) { roundDropped.append((c, "halved (rank at scale \(TuneFormat.number(s)))")) }
            candidates = Array(candidates.prefix(k))
            stages.append(TuneStage(name: "racing", scale: s, configs: candidates.count + roundDropped.count, trials: n,
                                    dropped: roundDropped.map { ($0.0.label(relativeTo: base), $0.1) }, survivors: candidates.map { $0.label(relativeTo: base) }))
        }
        var finalists = Array(candidates.prefix(plannedFinalists))

        // 3. Confirmation.
        var repeats = plannedRepeats
        if let B = budgetSeconds {
            while !finalists.isEmpty && spent + confirmationCost(finalists: finalists.count, repeats: repeats, base: base) > B {
                if repeats > Self.minimumConfirmRepeats { repeats -= 1 } else { finalists.removeLast(); repeats = plannedRepeats }
            }
            if finalists.isEmpty && !candidates.isEmpty {
                budgetNote = "the budget left no room to confirm a candidate at full scale (\(settings.confirmRepeats) repeats needs about "
                    + "\(TuneFormat.number(confirmationCost(finalists: 1, repeats: Self.minimumConfirmRepeats, base: base) / 60)) more minutes)"
            }
        }
        if !finalists.isEmpty {
            log("confirmation: \(finalists.count) finalist(s) + baseline × \(repeats) repeats at full scale")
            let n = try await runInterleaved(finalists + [base], scale: full, repeats: repeats, limit: budgetSeconds, seed: settings.seed &+ 1000)
            if interrupted { return finish(base: base, finalists: finalists, effects: effects, note: nil) }
            stages.append(TuneStage(name: "confirmation", scale: full, configs: finalists.count + 1, trials: n, dropped: [],
                                    survivors: finalists.map { $0.label(relativeTo: base) }))
        }
        return finish(base: base, finalists: finalists, effects: effects, note: budgetNote)
    }

    /// Runs `configs × repeats` at `scale` repeat-major (every config once per round, rounds after the
    /// first shuffled); returns the trials run or reused. Stops at an interruption or the budget `limit`.
    private func runInterleaved(_ configs: [TuneConfig], scale: Double, repeats: Int, limit: Double?, seed: UInt64) async throws -> Int {
        var rng = SeededGenerator(seed: seed)
        var count = 0
        for r in 0..<repeats {
            let round = r == 0 ? configs : configs.shuffled(using: &rng)
            for c in round {
                // A config already at this many repeats at this scale (the calibrated baseline) is not run again.
                if issuedCount(c, scale) > r { continue }
                guard try await evaluate(Trial(config: c, scale: scale, repeatIndex: nextRepeat(c, scale)), limit: limit) else { return count }
                count += 1
            }
        }
        return count
    }

    /// Evaluates one trial (reusing a stored result); false when interrupted or over `limit`.
    private func evaluate(_ trial: Trial, limit: Double?) async throws -> Bool {
        let key = "\(trial.config.key)@\(trial.scale)"
        if let r = try evaluator.stored(trial) {
            record(trial, r, key: key)
            reusedCount += 1
            return true
        }
        if let limit, spent + predict(trial.config, trial.scale) > limit {
            budgetNote = budgetNote ?? "the budget stopped the tune before \(trial)"
            return false
        }
        guard let r = try await evaluator.run(trial, timeLimit: pruneLimit(trial)) else { interrupted = true; return false }
        record(trial, r, key: key)
        executedCount += 1
        let value = r.objective.map(TuneFormat.number) ?? "failed: \(r.failure ?? "no objective")"
        log("  \(trial.config.label(relativeTo: space.baseline)) @\(TuneFormat.number(trial.scale)) #\(trial.repeatIndex + 1): \(settings.objective) \(value)"
            + (r.constraint.map { ", \(settings.constraint?.metric ?? "constraint") \(TuneFormat.number($0))" } ?? "")
            + " (\(TuneFormat.number(r.cost))s, spent \(TuneFormat.number(spent / 60)) min)")
        return true
    }

    /// The pruning limit of a trial: `pruneFactor` × the baseline's mean measured cost at the
    /// trial's scale (its predicted cost before it is measured there) + `pruneSlackSeconds`; nil for
    /// the baseline itself (the reference is never pruned) and with pruning off.
    func pruneLimit(_ trial: Trial) -> Double? {
        guard settings.pruneFactor > 0, trial.config != space.baseline else { return nil }
        let measured = trials(space.baseline, trial.scale).filter(\.ok).map(\.cost)
        let reference = measured.isEmpty ? predict(space.baseline, trial.scale) : Descriptive.mean(measured)
        guard reference > 0 else { return nil }
        return settings.pruneFactor * reference + settings.pruneSlackSeconds
    }

    private func record(_ trial: Trial, _ r: TrialResult, key: String) {
        if results.updateValue(r, forKey: trial) == nil { orderedTrials.append(trial) }
        issued[key] = max(issued[key] ?? 0, trial.repeatIndex + 1)
        spent += r.cost
    }

    private func issuedCount(_ c: TuneConfig, _ s: Double) -> Int { issued["\(c.key)@\(s)"] ?? 0 }
    private func nextRepeat(_ c: TuneConfig, _ s: Double) -> Int { issuedCount(c, s) }

    // MARK: Data

    private func trials(_ c: TuneConfig, _ s: Double) -> [TrialResult] {
        (0..<issuedCount(c, s)).compactMap { results[Trial(config: c, scale: s, repeatIndex: $0)] }
    }
    private func objectives(_ c: TuneConfig, _ s: Double) -> [Double] { trials(c, s).compactMap { $0.ok ? $0.objective : nil } }
    private func constraints(_ c: TuneConfig, _ s: Double) -> [Double] { trials(c, s).compactMap { $0.ok ? $0.constraint : nil } }

    /// The bound at `scale`: the constraint's bound shifted by the baseline's own change from full scale.
    private func bound(at scale: Double) -> Double? {
        guard let c = settings.constraint else { return nil }
        let full = settings.scales.last!
        guard scale != full else { return c.bound }
        let atScale = constraints(space.baseline, scale), atFull = constraints(space.baseline, full)
        guard !atScale.isEmpty, !atFull.isEmpty else { return c.bound }
        return c.bound + (Descriptive.mean(atScale) - Descriptive.mean(atFull))
    }

    /// Why `c` leaves the race at `scale`, or nil: a failed trial, or its constraint metric clearly
    /// on the wrong side of the (shifted) bound: mean ± 2 pooled SDs / √n, or every repeat when no SD is known.
    private func dropReason(_ c: TuneConfig, scale: Double) -> String? {
        let ts = trials(c, scale)
        if let f = ts.first(where: { !$0.ok }) { return "failed: \(f.failure ?? "no \(settings.objective)")" }
        guard let constraint = settings.constraint, let b = bound(at: scale) else { return nil }
        let values = ts.compactMap(\.constraint)
        guard !values.isEmpty else { return "no \(constraint.metric) measured" }
        let sign = constraint.atLeast ? 1.0 : -1.0
        let mean = Descriptive.mean(values)
        if let sd = pooledConstraintSD(scale) {
            if sign * (mean - b) + 2 * sd / Double(values.count).squareRoot() < 0 {
                return "\(constraint.metric) \(TuneFormat.number(mean)) clearly beyond the bound \(TuneFormat.number(b)) at this scale"
            }
        } else if values.allSatisfy({ sign * ($0 - b) < 0 }) {
            return "\(constraint.metric) \(TuneFormat.number(mean)) beyond the bound \(TuneFormat.number(b)) in every repeat"
        }
        return nil
    }

    /// Pooled within-configuration SD of the constraint metric at `scale` (configs with ≥ 2 repeats).
    private func pooledConstraintSD(_ scale: Double) -> Double? {
        var ss = 0.0, df = 0
        var seen = Set<String>()
        for t in orderedTrials where t.scale == scale && results[t]!.ok && seen.insert(t.config.key).inserted {
            let v = constraints(t.config, scale)
            guard v.count >= 2 else { continue }
            let m = Descriptive.mean(v)
            ss += v.reduce(0) { $0 + ($1 - m) * ($1 - m) }
            df += v.count - 1
        }
        return df >= 2 ? (ss / Double(df)).squareRoot() : nil
    }

    /// Whether the mean constraint value of `c` at `scale` keeps the bound plus margin (a prediction).
    private func predictedFeasible(_ c: TuneConfig, _ scale: Double) -> Bool {
        guard let constraint = settings.constraint, let b = bound(at: scale) else { return true }
        let v = constraints(c, scale)
        guard !v.isEmpty else { return false }
        let sign = constraint.atLeast ? 1.0 : -1.0
        return sign * (Descriptive.mean(v) - b) >= constraint.margin
    }

    /// Best first: configurations predicted to keep the constraint, then by median objective.
    private func rank(_ configs: [TuneConfig], scale: Double) -> [TuneConfig] {
        let sign = settings.minimize ? 1.0 : -1.0
        let keyed = configs.map { c -> (TuneConfig, Int, Double) in
            let o = objectives(c, scale)
            return (c, predictedFeasible(c, scale) ? 0 : 1, o.isEmpty ? .infinity : sign * Descriptive.median(o))
        }
        return keyed.sorted { ($0.1, $0.2, $0.0.key) < ($1.1, $1.2, $1.0.key) }.map(\.0)
    }

    // MARK: Cost prediction

    /// Predicted cost (seconds) of one trial of `c` at `scale`: a least-squares line a + b·scale over
    /// every measured trial, times the configuration's own measured ratio to that line.
    func predict(_ c: TuneConfig, _ scale: Double) -> Double {
        // In trial order (not the dictionary's), so a resumed tune predicts bit for bit the same.
        let points = orderedTrials.map { ($0.scale, results[$0]!.cost) }
        guard !points.isEmpty else { return 0 }
        let line = Self.fit(points)
        func at(_ s: Double) -> Double { max(line.a + line.b * s, 1e-9) }
        var ratios: [Double] = []
        for t in orderedTrials where t.config == c { ratios.append(results[t]!.cost / at(t.scale)) }
        let factor = ratios.isEmpty ? 1 : min(max(Descriptive.mean(ratios), 0.2), 5)
        return at(scale) * factor
    }

    static func fit(_ points: [(Double, Double)]) -> (a: Double, b: Double) {
        let n = Double(points.count)
        let mx = points.reduce(0) { $0 + $1.0 } / n, my = points.reduce(0) { $0 + $1.1 } / n
        let sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        guard sxx > 1e-12 else { return (0, mx > 0 ? my / mx : my) }      // one scale: cost ∝ scale
        let b = max(points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / sxx, 0)
        let a = max(my - b * mx, 0)
        return (a, b)
    }

    private func confirmationCost(finalists: Int, repeats: Int, base: TuneConfig) -> Double {
        let full = settings.scales.last!
        let baseDone = issuedCount(base, full)
        return Double(finalists * repeats + max(repeats - baseDone, 0)) * predict(base, full) * 1.1
    }

    // MARK: Screening design and effects

    /// The screening configurations this tune would run without a budget cap (for `--dry-run`).
    public func plannedScreening() -> [TuneConfig] { screeningDesign(base: space.baseline) }

    /// Default screening size: two configurations per non-baseline level (the effect model's terms) plus 2, between 8 and 32,
    /// at most the size of the space.
    public static func screeningSize(_ space: SearchSpace) -> Int {
        let levels = space.dimensions.reduce(0) { $0 + $1.values.count - 1 }
        return min(max(2 * levels + 2, 8), 32, space.size)
    }

    /// The screening configurations, the baseline first: a resolution-IV fractional design when
    /// every knob has two values and it fits `count`, else a random design of `count` distinct
    /// effective configurations.
    func screeningDesign(base: TuneConfig, count wanted: Int? = nil) -> [TuneConfig] {
        let count = wanted ?? settings.screenConfigs ?? Self.screeningSize(space)
        let dims = space.dimensions
        guard !dims.isEmpty else { return [base] }
        let factors = dims.map { Factor(name: $0.name, levels: $0.values) }
        let baseRun = RunConfig(keys: dims.map(\.name), values: Dictionary(uniqueKeysWithValues: dims.map { ($0.name, $0.baseline) }))
        var configs: [TuneConfig] = []
        func add(_ r: RunConfig) { let c = space.effective(r.values); if !configs.contains(c) { configs.append(c) } }
        // Fractional when every knob has two values and the design fits (no budget cap: always).
        if dims.allSatisfy({ $0.values.count == 2 }), dims.count <= FractionalDesign.maxFactors,
           let rows = try? DesignExpander.fractional(factors, base: baseRun, resolution: 4) {
            add(baseRun)
            rows.forEach(add)
            if configs.count <= (wanted ?? settings.screenConfigs ?? Int.max) { return configs }
            configs = []
        }
        let draw = min(space.size, max(count * 3, count + 8))
        add(baseRun)
        for r in DesignExpander.random(factors, base: baseRun, count: draw, seed: settings.seed) where configs.count < count { add(r) }
        return configs
    }

    /// The screening models (objective in logs, constraint metric as is) and the main effect of
    /// every knob level against the knob's baseline level, with 95% CIs (`EffectModel`).
    private func screeningModels(design: [TuneConfig], scale: Double) -> (EffectModel?, EffectModel?, [KnobEffect]) {
        var logObs: [(config: TuneConfig, y: Double)] = [], conObs: [(config: TuneConfig, y: Double)] = []
        for c in design {
            for t in trials(c, scale) where t.ok {
                logObs.append((c, Foundation.log(t.objective!)))
                if let v = t.constraint { conObs.append((c, v)) }
            }
        }
        let obj = EffectModel.fit(logObs, space: space), con = EffectModel.fit(conObs, space: space)
        var effects: [KnobEffect] = []
        for d in space.dimensions {
            for level in d.values.dropFirst() {
                guard let e = obj?.effect(d.name, level) else { continue }
                let shift = con?.effect(d.name, level)
                effects.append(KnobEffect(knob: d.name, level: level, baselineLevel: d.baseline, ratio: Foundation.exp(e.estimate),
                                          ratioCI: e.ci.map { ConfidenceInterval(lower: Foundation.exp($0.lower), upper: Foundation.exp($0.upper), level: $0.level) },
                                          constraintShift: shift?.estimate, constraintCI: shift?.ci,
                                          configs: design.filter { $0[d.name] == level }.count, condition: d.condition?.description))
            }
        }
        return (obj, con, effects)
    }

    /// The configurations the screening models predict best among those predicted to keep the
    /// (scaled) bound plus margin: every effective configuration of the space when it has at most
    /// `SearchSpace.enumerationLimit`, else a greedy walk knob by knob from the baseline.
    private func predictedBest(_ models: (EffectModel?, EffectModel?), scale: Double, count: Int) -> [TuneConfig] {
        guard let obj = models.0 else { return [] }
        let sign = settings.minimize ? 1.0 : -1.0
        func feasible(_ c: TuneConfig) -> Bool {
            guard let constraint = settings.constraint, let con = models.1, let b = bound(at: scale) else { return true }
            let v = con.predict(c)
            return (constraint.atLeast ? v - b : b - v) >= constraint.margin
        }
        if let all = space.allConfigs(limit: SearchSpace.enumerationLimit) {
            return all.filter(feasible).map { ($0, sign * obj.predict($0)) }
                .sorted { ($0.1, $0.0.key) < ($1.1, $1.0.key) }.prefix(count).map(\.0)
        }
        var current = space.baseline.values
        var improved = true
        while improved {
            improved = false
            for d in space.dimensions {
                for v in d.values where v != current[d.name] {
                    var trial = current; trial[d.name] = v
                    let c = space.effective(trial), now = space.effective(current)
                    if feasible(c) && sign * obj.predict(c) < sign * obj.predict(now) - 1e-12 { current = trial; improved = true }
                }
            }
        }
        return [space.effective(current)]
    }

    // MARK: Decision

    private func finish(base: TuneConfig, finalists: [TuneConfig], effects: [KnobEffect], note: String?) -> TuneOutcome {
        let full = settings.scales.last!
        let baseObj = objectives(base, full)
        var reports: [FinalistReport] = []
        for f in finalists {
            let o = objectives(f, full), con = constraints(f, full)
            var r = FinalistReport(config: f, label: f.label(relativeTo: base), objective: o, constraint: con)
            guard o.count >= 2, baseObj.count >= 2 else { r.verdict = "not confirmed (too few full-scale runs)"; reports.append(r); continue }
            r.speedup = settings.minimize ? Descriptive.median(baseObj) / Descriptive.median(o) : Descriptive.median(o) / Descriptive.median(baseObj)
            r.speedupCI = settings.minimize ? Bootstrap.ratioCI(candidate: baseObj, baseline: o, seed: settings.seed)
                                            : Bootstrap.ratioCI(candidate: o, baseline: baseObj, seed: settings.seed)
            r.pValue = MannWhitney.test(o, baseObj, alternative: settings.minimize ? .less : .greater).pValue
            if let c = settings.constraint {
                r.constraintBound = Self.confidenceBound(con, lower: c.atLeast)
                let every = con.count == o.count && con.allSatisfy(c.allows)
                let clears = r.constraintBound.map { c.atLeast ? $0 >= c.required : $0 <= c.required } ?? false
                r.feasible = every && clears && con.count >= 2
            } else { r.feasible = true }
            let better = (r.pValue ?? 1) < settings.alpha && (r.speedup ?? 0) > 1
            r.verdict = !r.feasible ? "rejected: \(settings.constraint?.metric ?? "constraint") not clearly within the bound"
                : !better ? "rejected: not clearly better than the baseline" : "accepted"
            reports.append(r)
        }
        let accepted = reports.filter { $0.verdict == "accepted" }.max { ($0.speedup ?? 0) < ($1.speedup ?? 0) }
        var outcome = TuneOutcome(space: space, settings: settings, baseline: base, chosen: accepted?.config.config ?? base)
        outcome.finalists = reports
        outcome.effects = effects
        outcome.stages = stages
        outcome.baselineObjective = baseObj
        outcome.baselineConstraint = constraints(base, full)
        outcome.spentSeconds = spent
        outcome.budgetSeconds = budgetSeconds
        outcome.executedTrials = executedCount
        outcome.reusedTrials = reusedCount
        outcome.interrupted = interrupted
        outcome.note = note
        if let a = accepted {
            outcome.speedup = a.speedup; outcome.speedupCI = a.speedupCI
        } else {
            outcome.fallbackReason = interrupted ? "interrupted" : finalists.isEmpty
                ? (note ?? "no candidate survived screening and racing")
                : "no finalist was both clearly better than the baseline and clearly within the constraint"
        }
        return outcome
    }

    /// One-sided 95% confidence bound of the mean (Student t): the lower bound when `lower`.
    static func confidenceBound(_ xs: [Double], lower: Bool) -> Double? {
        guard xs.count >= 2 else { return nil }
        let t = tQuantile95(df: xs.count - 1)
        let half = t * Descriptive.stddev(xs) / Double(xs.count).squareRoot()
        return lower ? Descriptive.mean(xs) - half : Descriptive.mean(xs) + half
    }

    /// One-sided 95% Student t quantile (two-sided 90%).
    static func tQuantile95(df: Int) -> Double {
        let table: [Double] = [6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
                               1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725]
        if df >= 1 && df <= table.count { return table[df - 1] }
        return df < 1 ? .infinity : df <= 30 ? 1.70 : df <= 60 ? 1.67 : 1.645
    }
}
