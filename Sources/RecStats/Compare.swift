import RecContract
import Foundation

/// Compares a candidate with a baseline on one metric and gives a verdict.
///
/// The rule, applied in order (t = `rule.threshold`, α = `rule.alpha`, ratio = candidate median / baseline
/// median, CI = percentile-bootstrap CI of that ratio, p = two-sided Mann–Whitney p-value):
/// 1. A NaN or infinite sample on either side → **inconclusive** (the reason names the sample and value).
/// 2. Fewer than `rule.minSamples` samples on either side → **inconclusive**.
/// 3. Deterministic counters (every sample equal on both sides): |ratio - 1| > t → **improved** or
///    **regressed** by polarity; otherwise **unchanged**. Noise cannot explain a difference of constants.
/// 4. Baseline median 0 (ratio undefined): p < α and a non-zero Hodges–Lehmann shift → direction of the
///    shift; otherwise **inconclusive**.
/// 5. p < α **and** |ratio - 1| > t **and** the CI excludes 1 → **improved** or **regressed** by polarity.
/// 6. The CI lies inside [1 - t, 1 + t] → **unchanged**: the data rule out a change as large as the
///    threshold (whether or not a smaller change is significant).
/// 7. Otherwise → **inconclusive**: too noisy, or too few samples, to tell.
///
/// Ratios assume a positive metric (rates, times, counts); with a negative baseline median the direction is
/// taken from the sign of the difference.
public enum Compare {
    /// Compares `candidate` with `baseline` for metric `name`; `polarity` defaults to the metric catalog's.
    public static func metric(_ name: String, baseline: [Double], candidate: [Double], polarity: Polarity? = nil,
                              rule: ComparisonRule = .init()) -> Comparison {
        let pol = polarity ?? MetricCatalog.specOrGuess(name).polarity
        let b = Summary.of(baseline, level: rule.level, resamples: rule.resamples, seed: rule.seed, noisyCV: rule.noisyCV)
        let c = Summary.of(candidate, level: rule.level, resamples: rule.resamples, seed: rule.seed &+ 2, noisyCV: rule.noisyCV)
        let bx = baseline.filter(\.isFinite), cx = candidate.filter(\.isFinite)
        let ratio = Bootstrap.ratio(c.median, b.median)
        let shift = HodgesLehmann.shift(cx, bx)
        let p: Double? = (bx.isEmpty || cx.isEmpty) ? nil : MannWhitney.test(cx, bx).pValue
        let ci: ConfidenceInterval? = (bx.count < 2 || cx.count < 2) ? nil
            : Bootstrap.ratioCI(candidate: cx, baseline: bx, level: rule.level, resamples: rule.resamples, seed: rule.seed &+ 4)

        func result(_ v: Verdict, _ why: String) -> Comparison {
            Comparison(metric: name, polarity: pol, baseline: b, candidate: c, ratio: ratio, ratioCI: ci, pValue: p,
                       shift: shift, verdict: v, reason: why)
        }
        func direction(up: Bool) -> Verdict {
            (up == (pol == .higherIsBetter)) ? .improved : .regressed
        }
        let tPct = fmt(rule.threshold * 100, 1) + "%"

        // 1. non-finite input
        for (label, xs) in [("baseline", baseline), ("candidate", candidate)] {
            if let i = xs.firstIndex(where: { !$0.isFinite }) {
                return result(.inconclusive, "\(label) sample \(i) is \(xs[i]); statistics need finite values")
            }
        }
        // 2. sample size
        if b.n < rule.minSamples || c.n < rule.minSamples {
            return result(.inconclusive, "too few samples: baseline n=\(b.n), candidate n=\(c.n), need \(rule.minSamples) each")
        }
        let up = c.median > b.median
        // 3. deterministic counters
        if b.isConstant && c.isConstant {
            let rel = relativeChange(c.median, b.median)
            if rel > rule.threshold {
                return result(direction(up: up), "deterministic (zero variance): \(fmt(b.median)) → \(fmt(c.median)), ratio \(fmt(ratio)) beyond ±\(tPct)")
            }
            return result(.unchanged, "deterministic (zero variance): ratio \(fmt(ratio)) within ±\(tPct)")
        }
        let pv = p ?? .nan
        let pText = "p=\(fmt(pv, 4))"
        // 4. zero baseline: no ratio
        if b.median == 0 {
            if pv < rule.alpha && shift != 0 {
                return result(direction(up: shift > 0), "baseline median is 0 (ratio undefined); \(pText) < \(fmt(rule.alpha)), shift \(fmt(shift))")
            }
            return result(.inconclusive, "baseline median is 0 (ratio undefined) and \(pText) ≥ \(fmt(rule.alpha))")
        }
        guard let ci else { return result(.inconclusive, "no ratio interval (fewer than two samples)") }
        let ciText = "ratio \(fmt(ratio)) CI [\(fmt(ci.lower)), \(fmt(ci.upper))]"
        let big = relativeChange(c.median, b.median) > rule.threshold
        let excludesOne = ci.lower > 1 || ci.upper < 1
        // 5. significant change beyond the threshold
        if pv < rule.alpha && big && excludesOne {
            return result(direction(up: up), "\(pText) < \(fmt(rule.alpha)), \(ciText) excludes 1, change beyond ±\(tPct)")
        }
        // 6. interval inside the equivalence band
        if ci.lower >= 1 - rule.threshold && ci.upper <= 1 + rule.threshold {
            return result(.unchanged, "\(ciText) inside ±\(tPct) (\(pText))")
        }
        // 7. undecided
        var why: [String] = []
        if !(pv < rule.alpha) { why.append("\(pText) ≥ \(fmt(rule.alpha))") }
        if !big { why.append("change within ±\(tPct)") }
        if !excludesOne { why.append("CI includes 1") }
        return result(.inconclusive, "\(ciText) wider than ±\(tPct): " + why.joined(separator: ", "))
    }

    /// |c - b| / |b| (infinity when b is 0 and c is not, 0 when both are 0).
    static func relativeChange(_ c: Double, _ b: Double) -> Double {
        if b == 0 { return c == 0 ? 0 : .infinity }
        return abs(c - b) / abs(b)
    }

    static func fmt(_ x: Double, _ digits: Int = 3) -> String {
        guard x.isFinite else { return "\(x)" }
        if x != 0 && (abs(x) >= 1e6 || abs(x) < 1e-3) { return String(format: "%.\(digits)g", x) }
        return String(format: "%.\(digits)f", x)
    }
}
