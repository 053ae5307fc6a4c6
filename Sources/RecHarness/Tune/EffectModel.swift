import Foundation
import RecStats

/// An additive model of the screening results: y = b0 + Σ b(knob, level) over the knob levels a
/// configuration sets (baseline levels and knobs that do not apply contribute 0), fitted by least
/// squares over every screening trial. For the objective, y is its logarithm, so a coefficient is
/// a ratio (multiplicative speedups add up); for the constraint metric, y is the value itself.
///
/// Least squares rather than level averages: a random design over many knobs is unbalanced, and
/// averages per level would carry the effects of the knobs that happen to vary with it (a strong
/// knob such as bf16 would leak into every other). On an orthogonal (fractional) design the two agree.
/// A dependent knob's coefficients are nested under its prerequisite (`alloc_warmup_steps=20` is
/// the change from the warm-up's baseline value under `allocator: adaptive`).
struct EffectModel {
    /// The model's terms: (knob, level), one per non-baseline level seen in the data.
    var terms: [(knob: String, level: String)]
    var intercept: Double
    /// Coefficient per term (NaN when the design cannot separate it from the others).
    var coefficients: [Double]
    /// Two-sided 95% half-widths (nil without residual degrees of freedom).
    var halfWidths: [Double]?

    /// The model's prediction for `config`.
    func predict(_ config: TuneConfig) -> Double {
        var y = intercept
        for (i, t) in terms.enumerated() where config[t.knob] == t.level && coefficients[i].isFinite { y += coefficients[i] }
        return y
    }

    /// The coefficient and CI of (knob, level), if it is in the model.
    func effect(_ knob: String, _ level: String) -> (estimate: Double, ci: ConfidenceInterval?)? {
        guard let i = terms.firstIndex(where: { $0.knob == knob && $0.level == level }), coefficients[i].isFinite else { return nil }
        let ci = halfWidths.map { ConfidenceInterval(lower: coefficients[i] - $0[i], upper: coefficients[i] + $0[i], level: 0.95) }
        return (coefficients[i], ci)
    }

    /// Fits y over `observations` for the knobs of `space`; nil with no observations.
    static func fit(_ observations: [(config: TuneConfig, y: Double)], space: SearchSpace) -> EffectModel? {
        guard !observations.isEmpty else { return nil }
        var terms: [(knob: String, level: String)] = []
        for d in space.dimensions {
            for level in d.values.dropFirst() where observations.contains(where: { $0.config[d.name] == level }) {
                terms.append((d.name, level))
            }
        }
        var active = Array(terms.indices)
        let y = observations.map(\.y)
        while true {
            let x = observations.map { o in [1.0] + active.map { o.config[terms[$0].knob] == terms[$0].level ? 1.0 : 0.0 } }
            switch solve(x, y) {
            case .singular(let column):
                // Column `column` (0 = intercept) is a combination of the others: leave that term out.
                guard column > 0 else { return nil }
                active.remove(at: column - 1)
            case .solved(let beta, let xtxInverse):
                var coefficients = [Double](repeating: .nan, count: terms.count)
                for (k, t) in active.enumerated() { coefficients[t] = beta[k + 1] }
                let n = observations.count, p = active.count + 1
                var halfWidths: [Double]? = nil
                if n > p {
                    let rss = zip(x, y).reduce(0.0) { s, row in
                        let fitted = zip(row.0, beta).reduce(0.0) { $0 + $1.0 * $1.1 }
                        return s + (row.1 - fitted) * (row.1 - fitted)
                    }
                    let sigma2 = rss / Double(n - p)
                    let t = tQuantile975(df: n - p)
                    var hw = [Double](repeating: .nan, count: terms.count)
                    for (k, term) in active.enumerated() { hw[term] = t * (sigma2 * xtxInverse[k + 1][k + 1]).squareRoot() }
                    halfWidths = hw
                }
                return EffectModel(terms: terms, intercept: beta[0], coefficients: coefficients, halfWidths: halfWidths)
            }
        }
    }

    enum Solution { case solved([Double], [[Double]]), singular(Int) }

    /// Least squares by the normal equations (Gauss–Jordan with partial pivoting on XᵀX; the
    /// models are small: at most a few dozen terms).
    static func solve(_ x: [[Double]], _ y: [Double]) -> Solution {
        let p = x[0].count
        var a = [[Double]](repeating: [Double](repeating: 0, count: 2 * p + 1), count: p)
        for (row, yi) in zip(x, y) {
            for i in 0..<p {
                for j in 0..<p { a[i][j] += row[i] * row[j] }
                a[i][2 * p] += row[i] * yi
            }
        }
        for i in 0..<p { a[i][p + i] = 1 }
        let scale = (0..<p).map { a[$0][$0] }.max() ?? 1
        for c in 0..<p {
            let pivot = (c..<p).max { abs(a[$0][c]) < abs(a[$1][c]) }!
            guard abs(a[pivot][c]) > 1e-9 * max(scale, 1) else { return .singular(c) }
            a.swapAt(c, pivot)
            let d = a[c][c]
            for j in 0..<(2 * p + 1) { a[c][j] /= d }
            for r in 0..<p where r != c && a[r][c] != 0 {
                let f = a[r][c]
                for j in 0..<(2 * p + 1) { a[r][j] -= f * a[c][j] }
            }
        }
        return .solved((0..<p).map { a[$0][2 * p] }, (0..<p).map { Array(a[$0][p..<(2 * p)]) })
    }

    /// Two-sided 95% Student t quantile.
    static func tQuantile975(df: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086]
        if df >= 1 && df <= table.count { return table[df - 1] }
        return df < 1 ? .infinity : df <= 30 ? 2.05 : df <= 60 ? 2.01 : 1.96
    }
}
