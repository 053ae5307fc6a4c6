import RecContract
import Foundation

/// One side of a comparison, prepared once: the raw samples, their summary and their bootstrap draws.
///
/// A report builds one `Sample` per configuration and metric and pairs it with the baseline's, so the
/// baseline is bootstrapped once, not once per comparison, and the median/mean CIs, the ratio CI and the
/// difference CI all come from the same resamples.
public struct Sample: Sendable {
    /// The samples as given (non-finite values included, so a comparison can name them).
    public let raw: [Double]
    /// The finite samples.
    public let values: [Double]
    /// Summary of the finite samples (CIs from `draws`).
    public let summary: Summary
    /// Bootstrap draws of the finite samples.
    public let draws: Bootstrap.Draws

    /// Prepares `samples` with `rule`'s resamples and level; `seed` must differ between the sides that
    /// will be compared (their draws are paired index by index and must be independent).
    public init(_ samples: [Double], rule: ComparisonRule = ComparisonRule(), seed: UInt64) {
        raw = samples
        values = samples.filter(\.isFinite)
        draws = Bootstrap.draws(values, resamples: rule.resamples, seed: seed)
        summary = Summary.of(samples, draws: draws, level: rule.level, noisyCV: rule.noisyCV)
    }
}

/// Compares a candidate with a baseline on one metric and gives a verdict.
///
/// Statistics (`measure`): ratio = candidate median / baseline median and difference = candidate median −
/// baseline median, each with a percentile-bootstrap CI from the same paired resamples; the two-sided
/// Mann–Whitney p (exact conditional permutation p at small n, ties included); the Hodges–Lehmann shift.
///
/// The change that matters is the metric's `ChangeThreshold` t: relative (|ratio − 1| vs t, the ratio CI vs
/// [1 − t, 1 + t]) or absolute (|difference| vs t, the difference CI vs [−t, t]) for bounded metrics such as
/// AUC and logloss. The verdict (`judge`), applied in order, with `p*` the p-value used for the decision
/// (the Benjamini–Hochberg q-value inside a report, else the raw p):
/// 1. A NaN or infinite sample on either side → **inconclusive** (the reason names the sample and value).
/// 2. Fewer than `rule.minSamples` samples on either side → **inconclusive**.
/// 3. **Deterministic** metrics — seed-deterministic ones (AUC, logloss, losses with a fixed seed: repeats
///    are copies, n_eff = 1) or zero variance on both sides — have no p and no CI: the change of the medians
///    beyond t → improved / regressed by polarity; otherwise **unchanged**.
/// 4. Baseline median 0 with a relative threshold (ratio undefined): judged on the difference: p* < α and a
///    difference CI excluding 0 → direction of the difference; otherwise **inconclusive**.
/// 5. p* < α **and** the change beyond t **and** its CI excludes "no change" → improved / regressed.
/// 6. The CI lies inside the ±t band → **unchanged** (a change as large as t is ruled out).
/// 7. Otherwise → **inconclusive**.
/// A `neutral` metric (diagnostic counter) gets **changed** where another would be improved/regressed.
public enum Compare {
    /// Compares `candidate` with `baseline` for metric `name` (p used as is; no multiplicity correction).
    /// - Parameters:
    ///   - polarity: defaults to the metric catalog's.
    ///   - threshold: defaults to the catalog's threshold for a catalog metric, else `rule.threshold` (relative).
    ///   - deterministic: defaults to the catalog's `seedDeterministic` (pass false when repeats vary the seed).
    public static func metric(_ name: String, baseline: [Double], candidate: [Double], polarity: Polarity? = nil,
                              threshold: ChangeThreshold? = nil, deterministic: Bool? = nil,
                              rule: ComparisonRule = .init()) -> Comparison {
        let b = Sample(baseline, rule: rule, seed: rule.seed), c = Sample(candidate, rule: rule, seed: rule.seed &+ 2)
        var cmp = measure(name, baseline: b, candidate: c, polarity: polarity, threshold: threshold,
                          deterministic: deterministic, rule: rule)
        judge(&cmp, decisionP: cmp.pValue, rule: rule)
        return cmp
    }

    /// The threshold of `name` when nobody overrides it: the catalog's, else `rule.threshold` (relative).
    public static func defaultThreshold(_ name: String, rule: ComparisonRule) -> ChangeThreshold {
        MetricCatalog.spec(name)?.threshold ?? .relative(rule.threshold)
    }

    /// The statistics of a comparison without a verdict (verdict `.inconclusive`, reason empty); call `judge`.
    public static func measure(_ name: String, baseline b: Sample, candidate c: Sample, polarity: Polarity? = nil,
                               threshold: ChangeThreshold? = nil, deterministic: Bool? = nil,
                               rule: ComparisonRule = .init()) -> Comparison {
        let spec = MetricCatalog.specOrGuess(name)
        let pol = polarity ?? spec.polarity
        let t = threshold ?? defaultThreshold(name, rule: rule)
        let bx = b.values, cx = c.values
        let constant = b.summary.isConstant && c.summary.isConstant
        let seedFixed = deterministic ?? spec.seedDeterministic
        let isDeterministic = (seedFixed && !bx.isEmpty && !cx.isEmpty) || constant
        let ratio = Bootstrap.ratio(c.summary.median, b.summary.median)
        let difference = c.summary.median - b.summary.median
        var ratioCI: ConfidenceInterval?, differenceCI: ConfidenceInterval?, p: Double?
        if !isDeterministic {
            if bx.count >= 2 && cx.count >= 2 {
                ratioCI = Bootstrap.pairedCI(c.draws.medians, b.draws.medians, level: rule.level, Bootstrap.ratio)
                differenceCI = Bootstrap.pairedCI(c.draws.medians, b.draws.medians, level: rule.level, -)
            }
            p = (bx.isEmpty || cx.isEmpty) ? nil : MannWhitney.test(cx, bx).pValue
        }
        var out = Comparison(metric: name, polarity: pol, baseline: b.summary, candidate: c.summary, ratio: ratio, ratioCI: ratioCI,
                             pValue: p, shift: HodgesLehmann.shift(cx, bx), verdict: .inconclusive, reason: "")
        out.difference = difference
        out.differenceCI = differenceCI
        out.threshold = t
        out.deterministic = isDeterministic
        out.seedDeterministic = seedFixed && !constant
        out.nonFinite = nonFinite(b.raw, c.raw)
        return out
    }

    /// Whether the comparison takes part in multiplicity correction and in the gate's verdict: it has a
    /// p-value, is not deterministic and its metric is not neutral.
    public static func isTested(_ c: Comparison) -> Bool {
        !c.deterministic && c.polarity != .neutral && c.pValue.map { $0.isFinite } == true && c.nonFinite == nil
    }

    /// Sets `c.verdict` and `c.reason` from its statistics, deciding significance with `decisionP`
    /// (the q-value in a report; the raw p for a single comparison). See the type's documentation.
    public static func judge(_ c: inout Comparison, decisionP: Double?, rule: ComparisonRule) {
        let pol = c.polarity, t = c.threshold
        func direction(up: Bool) -> Verdict {
            pol == .neutral ? .changed : ((up == (pol == .higherIsBetter)) ? .improved : .regressed)
        }
        func set(_ v: Verdict, _ why: String) { c.verdict = v; c.reason = why }
        let b = c.baseline, cand = c.candidate
        let tText = t.description

        // 1. non-finite input
        if let nf = c.nonFinite { return set(.inconclusive, nf) }
        // 2. sample size
        if b.n < rule.minSamples || cand.n < rule.minSamples {
            return set(.inconclusive, "too few samples: baseline n=\(b.n), candidate n=\(cand.n), need \(rule.minSamples) each")
        }
        let up = cand.median > b.median
        let change = changeText(c)
        // 3. deterministic
        if c.deterministic {
            let why = c.seedDeterministic ? "seed-deterministic with a fixed seed (repeats do not replicate it), n_eff = 1" : "deterministic (zero variance), n_eff = 1"
            if beyond(c, t) {
                return set(direction(up: up), "\(why): \(fmt(b.median)) → \(fmt(cand.median)), \(change) beyond \(tText)")
            }
            return set(.unchanged, "\(why): \(fmt(b.median)) → \(fmt(cand.median)), \(change) within \(tText)")
        }
        let pv = decisionP ?? .nan
        let pName = decisionP == c.pValue ? "p" : "q"
        let pText = "\(pName)=\(fmt(pv, 4))"
        // 4. zero baseline with a relative threshold: no ratio, judge the difference
        if b.median == 0, case .relative = t {
            let dci = c.differenceCI
            let dText = "difference \(fmt(c.difference))" + (dci.map { " CI [\(fmt($0.lower)), \(fmt($0.upper))]" } ?? "")
            if pv < rule.alpha, let dci, dci.lower > 0 || dci.upper < 0 {
                return set(direction(up: c.difference > 0),
                           "baseline median is 0 (ratio undefined): \(dText) excludes 0, \(pText) < \(fmt(rule.alpha))")
            }
            return set(.inconclusive, "baseline median is 0 (ratio undefined): \(dText), \(pText)")
        }
        let band: (lo: Double, hi: Double, none: Double, ci: ConfidenceInterval?)
        switch t {
        case .relative(let r): band = (1 - r, 1 + r, 1, c.ratioCI)
        case .absolute(let a): band = (-a, a, 0, c.differenceCI)
        }
        guard let ci = band.ci else { return set(.inconclusive, "no interval (fewer than two samples)") }
        let ciText = "\(change) CI [\(fmtCI(ci.lower, t)), \(fmtCI(ci.upper, t))]"
        let big = beyond(c, t)
        let excludes = ci.lower > band.none || ci.upper < band.none
        // 5. significant change beyond the threshold
        if pv < rule.alpha && big && excludes {
            return set(direction(up: up), "\(pText) < \(fmt(rule.alpha)), \(ciText) excludes no change, beyond \(tText)")
        }
        // 6. interval inside the equivalence band
        if ci.lower >= band.lo && ci.upper <= band.hi {
            return set(.unchanged, "\(ciText) inside \(tText) (\(pText))")
        }
        // 7. undecided
        var why: [String] = []
        if !(pv < rule.alpha) { why.append("\(pText) ≥ \(fmt(rule.alpha))") }
        if !big { why.append("change within \(tText)") }
        if !excludes { why.append("CI includes no change") }
        set(.inconclusive, "\(ciText) wider than \(tText): " + why.joined(separator: ", "))
    }

    /// Whether the point change of `c` exceeds threshold `t` (relative: |ratio − 1|, absolute: |difference|).
    public static func beyond(_ c: Comparison, _ t: ChangeThreshold) -> Bool {
        switch t {
        case .relative(let r): relativeChange(c.candidate.median, c.baseline.median) > r
        case .absolute(let a): abs(c.difference) > a
        }
    }

    /// The change in the threshold's terms: `ratio 0.981` or `difference -0.0150`.
    static func changeText(_ c: Comparison) -> String {
        switch c.threshold {
        case .relative: "ratio \(fmt(c.ratio))"
        case .absolute: "difference \(fmt(c.difference, 4))"
        }
    }

    static func fmtCI(_ x: Double, _ t: ChangeThreshold) -> String {
        if case .absolute = t { return fmt(x, 4) }
        return fmt(x)
    }

    static func nonFinite(_ baseline: [Double], _ candidate: [Double]) -> String? {
        for (label, xs) in [("baseline", baseline), ("candidate", candidate)] {
            if let i = xs.firstIndex(where: { !$0.isFinite }) {
                return "\(label) sample \(i) is \(xs[i]); statistics need finite values"
            }
        }
        return nil
    }

    /// |c - b| / |b| (infinity when b is 0 and c is not, 0 when both are 0).
    static func relativeChange(_ c: Double, _ b: Double) -> Double {
        if b == 0 { return c == 0 ? 0 : .infinity }
        return abs(c - b) / abs(b)
    }

    static func fmt(_ x: Double, _ digits: Int = 3) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "∞" : "-∞") }
        if x != 0 && (abs(x) >= 1e6 || abs(x) < 1e-3) { return String(format: "%.\(digits)g", x) }
        return String(format: "%.\(digits)f", x)
    }
}
