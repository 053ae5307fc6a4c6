import RecContract
import Foundation

/// The exact null distribution of the Mann–Whitney U statistic (no ties).
///
/// Under H0 every one of the C(m+n, m) arrangements of the pooled ranks is equally likely, and the number
/// of arrangements with U = u is the coefficient of q^u in the Gaussian binomial
/// [m+n choose m]_q = Π_{i=1..m} (1 - q^{n+i}) / (1 - q^i), with m = min(n_x, n_y).
/// Multiplying by (1 - q^{n+i}) and dividing by (1 - q^i) in turn keeps every coefficient an exact integer
/// (after step i they are those of [n+i choose i]_q), so 128-bit integers give exact counts as long as
/// C(m+n, m) < 2^120; the cost is O(m² n).
enum MannWhitneyExact {
    /// Whether C(n1+n2, min) is small enough for exact 128-bit counting.
    static func fits(_ n1: Int, _ n2: Int) -> Bool {
        let m = min(n1, n2), n = max(n1, n2)
        var log2Binomial = 0.0
        for i in 1...max(m, 1) where m > 0 { log2Binomial += log2(Double(n + i)) - log2(Double(i)) }
        return log2Binomial < 120
    }

    /// Counts of each U = 0 ... m·n (symmetric), as exact integers.
    static func counts(_ n1: Int, _ n2: Int) -> [Int128] {
        let m = min(n1, n2), n = max(n1, n2)
        let top = m * n
        var c = [Int128](repeating: 0, count: top + 1)
        c[0] = 1
        for i in stride(from: 1, through: m, by: 1) {
            let shift = n + i
            // multiply by (1 - q^shift): highest index first, so each coefficient is read before it changes
            if shift <= top {
                for k in stride(from: top, through: shift, by: -1) { c[k] -= c[k - shift] }
            }
            // divide by (1 - q^i): c[k] += c[k - i], lowest index first (exact: the product is divisible)
            if i <= top {
                for k in i...top { c[k] += c[k - i] }
            }
        }
        return c
    }

    /// P(U ≥ u) under H0.
    static func sf(_ u: Int, _ n1: Int, _ n2: Int) -> Double {
        let c = counts(n1, n2)
        let top = c.count - 1
        if u <= 0 { return 1 }
        if u > top { return 0 }
        var total: Int128 = 0
        for v in c { total += v }
        // sum the smaller tail exactly, as SciPy does through symmetry
        var tail: Int128 = 0
        if u > top - u {
            for k in u...top { tail += c[k] }
            return Double(tail) / Double(total)
        } else {
            for k in 0..<u { tail += c[k] }
            return 1 - Double(tail) / Double(total)
        }
    }
}
