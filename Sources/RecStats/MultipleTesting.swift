/// Multiplicity control over the comparisons of one report or one gate check.
public enum MultipleTesting {
    /// Benjamini–Hochberg adjusted p-values (q-values), in input order: q_(i) = min_{j ≥ i} min(1, m·p_(j)/j)
    /// over the ascending p-values, m = number of p-values (what R's `p.adjust(method = "BH")` and
    /// `scipy.stats.false_discovery_control` return). Calling a comparison significant when q < α keeps the
    /// expected share of false discoveries among them at most α (for independent or positively dependent tests).
    public static func benjaminiHochberg(_ p: [Double]) -> [Double] {
        let m = p.count
        guard m > 0 else { return [] }
        let order = p.indices.sorted { p[$0] < p[$1] }
        var q = [Double](repeating: 1, count: m)
        var running = 1.0
        for rank in stride(from: m, through: 1, by: -1) {
            let i = order[rank - 1]
            running = min(running, p[i] * Double(m) / Double(rank))
            q[i] = min(running, 1)
        }
        return q
    }

    /// Sets `qValue` on every tested comparison (`Compare.isTested`) in `comparisons` and judges every one:
    /// tested comparisons on their q-value, the others (deterministic, neutral) on their raw p.
    public static func adjustAndJudge(_ comparisons: inout [Comparison], rule: ComparisonRule) {
        let tested = comparisons.indices.filter { Compare.isTested(comparisons[$0]) }
        let q = benjaminiHochberg(tested.map { comparisons[$0].pValue! })
        for (k, i) in tested.enumerated() { comparisons[i].qValue = q[k] }
        for i in comparisons.indices {
            Compare.judge(&comparisons[i], decisionP: comparisons[i].qValue ?? comparisons[i].pValue, rule: rule)
        }
    }
}
