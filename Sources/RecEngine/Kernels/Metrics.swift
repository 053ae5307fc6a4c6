import Glibc

/// Evaluation metrics on a held-out slice: exact rank-based AUC and mean logloss.
///
/// Not a hot path (run once per evaluation), so these allocate freely.
public enum Metrics {
    /// ROC AUC, exact: the Mann–Whitney U statistic of the positives' scores divided by
    /// `positives × negatives`. Tied scores get the average of their ranks, so a tie between a
    /// positive and a negative counts one half. A label counts as positive when it is > 0.5.
    /// Returns NaN when either class is absent (AUC is undefined); also NaN if a score is NaN.
    public static func auc(scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Float>) -> Double {
        if scores.count != labels.count { fatalError("Metrics.auc: \(scores.count) scores but \(labels.count) labels") }
        let n = scores.count
        var positives = 0
        for k in 0..<n where labels[k] > 0.5 { positives += 1 }
        let negatives = n - positives
        if positives == 0 || negatives == 0 { return .nan }
        for k in 0..<n where scores[k].isNaN { return .nan }

        var order = Array(0..<n)
        order.sort { scores[$0] < scores[$1] }
        // Sum of (1-based, tie-averaged) ranks of the positives.
        var rankSum: Double = 0
        var start = 0
        while start < n {
            var end = start + 1
            while end < n && scores[order[end]] == scores[order[start]] { end += 1 }
            // Ranks start+1 ... end share their average.
            let averageRank = Double(start + 1 + end) / 2
            var tiedPositives = 0
            for k in start..<end where labels[order[k]] > 0.5 { tiedPositives += 1 }
            rankSum += averageRank * Double(tiedPositives)
            start = end
        }
        let p = Double(positives)
        let u = rankSum - p * (p + 1) / 2
        return u / (p * Double(negatives))
    }

    /// Mean binary cross-entropy `−[y·ln p + (1−y)·ln(1−p)]` with `p` clipped to `[1e-7, 1 − 1e-7]`
    /// (computed in Double). NaN for empty input.
    public static func logloss(probabilities: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Float>) -> Double {
        if probabilities.count != labels.count {
            fatalError("Metrics.logloss: \(probabilities.count) probabilities but \(labels.count) labels")
        }
        if probabilities.isEmpty { return .nan }
        let lo = 1e-7, hi = 1 - 1e-7
        var total: Double = 0
        for k in 0..<probabilities.count {
            let p = min(max(Double(probabilities[k]), lo), hi)
            let y = Double(labels[k])
            total -= y * log(p) + (1 - y) * log(1 - p)
        }
        return total / Double(probabilities.count)
    }
}
