import RecContract
/// One estimated effect of a factor (or a pair of factors) on a metric.
public struct Effect: Sendable, Codable {
    /// The factor (knob) name.
    public var factor: String
    /// For a factor with more than two levels: the level compared with the first level; nil for 2-level factors.
    public var level: String?
    /// For an interaction: the second factor; nil for a main effect.
    public var secondFactor: String?
    /// The effect in the metric's unit.
    public var estimate: Double
    /// Percentile-bootstrap CI of the estimate; nil when no cell has two or more runs.
    public var ci: ConfidenceInterval?
    /// estimate / grand mean (nil when the grand mean is 0).
    public var relative: Double?

    /// An effect from its parts.
    public init(factor: String, level: String? = nil, secondFactor: String? = nil, estimate: Double,
                ci: ConfidenceInterval?, relative: Double?) {
        self.factor = factor
        self.level = level
        self.secondFactor = secondFactor
        self.estimate = estimate
        self.ci = ci
        self.relative = relative
    }
}

/// Main effects and two-factor interactions of a factorial (full or fractional) experiment.
///
/// Runs are grouped into cells by their whole config; each cell contributes its mean once (unweighted
/// means), so a cell with a failed repeat does not tilt the estimates. With c(f=v) the average of the cell
/// means whose factor f has value v:
/// - main effect of a 2-level factor: c(high) - c(low), levels ordered as given in `levels`;
/// - factor with k > 2 levels: one effect per level L ≠ first: c(L) - c(first);
/// - interaction of two 2-level factors A, B: (c(++) + c(--) - c(+-) - c(-+)) / 2.
/// For balanced full factorials these are the textbook contrasts. Observations missing a listed factor, or
/// with a value not in its level list, are ignored. CIs come from a bootstrap over runs that resamples
/// within each cell. An effect whose levels never occur has estimate NaN.
public enum FactorialEffects {
    /// Main effect of each factor in `levels`, in that order.
    public static func mainEffects(_ observations: [(config: [String: String], value: Double)],
                                   levels: [(factor: String, levels: [String])], level: Double = 0.95, seed: UInt64 = 1,
                                   resamples: Int = 2000) -> [Effect] {
        let design = Design(observations, levels: levels)
        return design.effects(mainSpecs(design, levels), level: level, resamples: resamples, seed: seed)
    }

    typealias Spec = (String, String?, String?, ([Double]) -> Double)

    static func mainSpecs(_ design: Design, _ levels: [(factor: String, levels: [String])]) -> [Spec] {
        var specs: [Spec] = []
        for (f, ls) in levels where ls.count >= 2 {
            for k in 1..<ls.count {
                let hi = design.cells(where: [(f, ls[k])]), lo = design.cells(where: [(f, ls[0])])
                specs.append((f, ls.count > 2 ? ls[k] : nil, nil, { m in
                    Design.average(m, hi) - Design.average(m, lo)
                }))
            }
        }
        return specs
    }

    /// Interaction of each pair of 2-level factors in `levels` (pairs in the order given).
    public static func interactions(_ observations: [(config: [String: String], value: Double)],
                                    levels: [(factor: String, levels: [String])], level: Double = 0.95, seed: UInt64 = 1,
                                    resamples: Int = 2000) -> [Effect] {
        let design = Design(observations, levels: levels)
        return design.effects(interactionSpecs(design, levels), level: level, resamples: resamples, seed: seed)
    }

    static func interactionSpecs(_ design: Design, _ levels: [(factor: String, levels: [String])]) -> [Spec] {
        let two = levels.filter { $0.levels.count == 2 }
        var specs: [Spec] = []
        for i in two.indices {
            for j in two.indices where j > i {
                let (a, la) = two[i], (b, lb) = two[j]
                let pp = design.cells(where: [(a, la[1]), (b, lb[1])]), mm = design.cells(where: [(a, la[0]), (b, lb[0])])
                let pm = design.cells(where: [(a, la[1]), (b, lb[0])]), mp = design.cells(where: [(a, la[0]), (b, lb[1])])
                specs.append((a, nil, b, { m in
                    (Design.average(m, pp) + Design.average(m, mm) - Design.average(m, pm) - Design.average(m, mp)) / 2
                }))
            }
        }
        return specs
    }
}

extension FactorialEffects {
    /// One cell of a factorial design prepared elsewhere: its config, its values and the bootstrap means of
    /// its resamples (`Bootstrap.draws(...).means`, one per resample; a single entry for a one-run cell).
    public struct Cell: Sendable {
        public var config: [String: String]
        public var values: [Double]
        public var meanDraws: [Double]
        /// A cell from its parts.
        public init(config: [String: String], values: [Double], meanDraws: [Double]) {
            self.config = config; self.values = values; self.meanDraws = meanDraws
        }
    }

    /// Main effects and interactions from cells whose resample means are already drawn (one bootstrap per
    /// configuration and metric, shared with the report's summaries): resample r of every effect is the
    /// contrast of the cells' r-th resample means — the same estimator as `mainEffects`/`interactions`,
    /// without drawing again. Cells whose config misses a factor or level are ignored.
    public static func effects(cells: [Cell], levels: [(factor: String, levels: [String])], level: Double = 0.95)
        -> (main: [Effect], interactions: [Effect]) {
        let kept = cells.filter { c in
            !c.values.isEmpty && levels.allSatisfy { f in c.config[f.factor].map { f.levels.contains($0) } ?? false }
        }
        var design = Design([], levels: levels)
        design.configs = kept.map(\.config)
        design.cells = kept.map(\.values)
        let draws = kept.map(\.meanDraws)
        let main = mainSpecs(design, levels), inter = interactionSpecs(design, levels)
        return (design.effects(main, level: level, draws: draws), design.effects(inter, level: level, draws: draws))
    }
}

/// Observations grouped into cells (one per distinct config), the shared machinery of `FactorialEffects`.
struct Design {
    var configs: [[String: String]] = []
    var cells: [[Double]] = []

    init(_ observations: [(config: [String: String], value: Double)], levels: [(factor: String, levels: [String])]) {
        var index: [String: Int] = [:]
        for o in observations where o.value.isFinite {
            guard levels.allSatisfy({ f in o.config[f.factor].map { f.levels.contains($0) } ?? false }) else { continue }
            let key = o.config.keys.sorted().map { "\($0)=\(o.config[$0]!)" }.joined(separator: "\u{1F}")
            if let i = index[key] { cells[i].append(o.value) } else {
                index[key] = cells.count
                cells.append([o.value])
                configs.append(o.config)
            }
        }
    }

    /// The cells matching every (factor, value) condition (looked up once, not per resample).
    func cells(where conditions: [(String, String)]) -> [Int] {
        cells.indices.filter { i in conditions.allSatisfy { configs[i][$0.0] == $0.1 } }
    }

    /// Mean of the cell means (`means[i]` for cell i) over the cells `which`.
    static func average(_ means: [Double], _ which: [Int]) -> Double {
        guard !which.isEmpty else { return .nan }
        var s = 0.0
        for i in which { s += means[i] }
        return s / Double(which.count)
    }

    /// Effects with CIs from per-cell resample means drawn elsewhere (`draws[g][r]`; one entry = a fixed cell).
    func effects(_ specs: [(String, String?, String?, ([Double]) -> Double)], level: Double, draws: [[Double]]) -> [Effect] {
        let means = cells.map(Descriptive.mean)
        let grand = Descriptive.mean(means)
        let resamples = draws.map(\.count).max() ?? 1
        var cis: [ConfidenceInterval]?
        if cells.contains(where: { $0.count > 1 }) && !specs.isEmpty && resamples > 1 {
            var m = means
            var columns = [[Double]](repeating: [Double](repeating: 0, count: resamples), count: specs.count)
            for r in 0..<resamples {
                for g in draws.indices where draws[g].count == resamples { m[g] = draws[g][r] }
                for k in specs.indices { columns[k][r] = specs[k].3(m) }
            }
            cis = columns.map { Bootstrap.percentileInterval($0, level: level) }
        }
        return specs.indices.map { k in
            let e = specs[k].3(means)
            return Effect(factor: specs[k].0, level: specs[k].1, secondFactor: specs[k].2, estimate: e,
                          ci: cis?[k], relative: grand.isFinite && grand != 0 ? e / grand : nil)
        }
    }

    func effects(_ specs: [(String, String?, String?, ([Double]) -> Double)], level: Double, resamples: Int,
                 seed: UInt64) -> [Effect] {
        let means = cells.map(Descriptive.mean)
        let grand = Descriptive.mean(means)
        let estimates = specs.map { $0.3(means) }
        let canResample = cells.contains { $0.count > 1 }
        var cis: [ConfidenceInterval]?
        if canResample && !specs.isEmpty {
            // The same draws as `Bootstrap.groupedCI` (cells in order, singletons kept), but each resampled
            // cell is reduced to its mean on the fly: no resample arrays are built.
            var rng = Xoshiro256(seed: seed)
            var m = means
            var columns = [[Double]](repeating: [Double](repeating: 0, count: max(resamples, 1)), count: specs.count)
            for r in 0..<max(resamples, 1) {
                for g in cells.indices where cells[g].count > 1 {
                    let cell = cells[g], n = cell.count
                    var sum = 0.0
                    for _ in 0..<n { sum += cell[rng.nextIndex(n)] }
                    m[g] = sum / Double(n)
                }
                for k in specs.indices { columns[k][r] = specs[k].3(m) }
            }
            cis = columns.map { Bootstrap.percentileInterval($0, level: level) }
        }
        return specs.indices.map { k in
            Effect(factor: specs[k].0, level: specs[k].1, secondFactor: specs[k].2, estimate: estimates[k],
                   ci: cis?[k], relative: grand.isFinite && grand != 0 ? estimates[k] / grand : nil)
        }
    }
}
