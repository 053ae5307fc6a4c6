/// Two-level fractional factorial designs 2^(k−p) of a requested resolution.
///
/// The first `m` factors form a full 2^m factorial (the base); each further factor is the
/// product of a set of base columns (its generator word). The resolution is the shortest word
/// of the defining relation (all products of the generator words with their factors). Generators
/// are found by a depth-first search over base-column subsets, largest subsets first (which
/// favours minimum aberration), for the smallest `m` that reaches the resolution; e.g. 4 factors
/// at resolution IV give D = ABC (8 runs), 6 factors at IV give E = ABCD, F = ABC…-style words
/// of 16 runs, 5 factors at V give E = ABCD (16 runs).
///
/// Generator signs are chosen so the run with every base factor low has every factor low: the
/// all-low configuration (usually the baseline) is always part of the fraction.
public enum FractionalDesign {
    /// The largest number of factors supported (the generator search stays instant up to here).
    public static let maxFactors = 12

    /// A design: `rows` of ±1 levels (one column per factor) and the generator words used
    /// (bit masks over the base factors, one per generated factor).
    public struct Matrix: Sendable, Equatable {
        /// Number of base factors (`rows.count == 1 << baseFactors`).
        public var baseFactors: Int
        /// Bit mask of base columns multiplied to get each generated factor.
        public var generators: [Int]
        /// `rows[i][j]` is −1 (low) or +1 (high) for factor j in run i.
        public var rows: [[Int]]
        /// The shortest word of the defining relation (`Int.max` for a full factorial).
        public var resolution: Int
    }

    /// The smallest design with `factors` two-level factors and at least `resolution`; nil when
    /// `factors` is larger than `maxFactors`.
    public static func make(factors k: Int, resolution: Int) -> Matrix? {
        guard k >= 1, k <= maxFactors else { return nil }
        var m = 1
        while (1 << m) < k + 1 && m < k { m += 1 }
        while m <= k {
            if m == k { return build(base: k, generators: []) }
            var chosen: [Int] = []
            if search(base: m, needed: k - m, resolution: resolution, candidates: candidates(base: m, resolution: resolution), from: 0, chosen: &chosen) {
                return build(base: m, generators: chosen)
            }
            m += 1
        }
        return nil
    }

    /// Base-column subsets usable as generator words: at least `resolution − 1` columns (so the
    /// word with its own factor is long enough), largest first, then by mask.
    static func candidates(base m: Int, resolution: Int) -> [Int] {
        (1..<(1 << m)).filter { $0.nonzeroBitCount >= max(2, resolution - 1) }
            .sorted { ($0.nonzeroBitCount, -$0) > ($1.nonzeroBitCount, -$1) }
    }

    private static func search(base m: Int, needed: Int, resolution: Int, candidates: [Int], from: Int, chosen: inout [Int]) -> Bool {
        if chosen.count == needed { return true }
        var i = from
        while i < candidates.count {
            chosen.append(candidates[i])
            if shortestWord(base: m, generators: chosen) >= resolution,
               search(base: m, needed: needed, resolution: resolution, candidates: candidates, from: i + 1, chosen: &chosen) {
                return true
            }
            chosen.removeLast()
            i += 1
        }
        return false
    }

    /// Shortest word in the defining relation of the generators (each generator word includes its
    /// own factor, represented by a bit above the base bits).
    static func shortestWord(base m: Int, generators: [Int]) -> Int {
        let p = generators.count
        guard p > 0 else { return Int.max }
        var shortest = Int.max
        for subset in 1..<(1 << p) {
            var baseMask = 0, extra = 0
            for j in 0..<p where subset & (1 << j) != 0 { baseMask ^= generators[j]; extra += 1 }
            shortest = min(shortest, baseMask.nonzeroBitCount + extra)
        }
        return shortest
    }

    private static func build(base m: Int, generators: [Int]) -> Matrix {
        var rows: [[Int]] = []
        for run in 0..<(1 << m) {
            // Base factor j is high when bit (m−1−j) of the run index is set: the first factor varies slowest.
            var row = (0..<m).map { j in run & (1 << (m - 1 - j)) != 0 ? 1 : -1 }
            for g in generators {
                var product = 1
                for j in 0..<m where g & (1 << j) != 0 { product *= row[j] }
                // Sign so that all-low base gives low: product of w lows is (−1)^w.
                let sign = g.nonzeroBitCount % 2 == 0 ? -1 : 1
                row.append(product * sign)
            }
            rows.append(row)
        }
        return Matrix(baseFactors: m, generators: generators, rows: rows,
                      resolution: shortestWord(base: m, generators: generators))
    }
}
