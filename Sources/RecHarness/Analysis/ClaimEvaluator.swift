import Foundation

/// Checks spec claims against the analysed configurations.
enum ClaimEvaluator {
    static func evaluate(_ claims: [Claim], configs: [ConfigAnalysis]) -> [ClaimResult] {
        var out: [ClaimResult] = []
        for claim in claims {
            let expectation: ClaimExpectation
            do { expectation = try ClaimExpectation.parse(claim.expect) } catch {
                out.append(ClaimResult(claim: claim, configLabel: nil, measured: nil, isRatio: false, status: .noData,
                                       note: String(describing: error)))
                continue
            }
            var matching = configs.filter { c in claim.when.allSatisfy { c.knobs[$0.key] == $0.value } }
                .filter { !(expectation.relative && $0.isBaseline) }
            // Prefer the configs that differ from the baseline only in the claim's knobs (the ablation reading).
            if let base = configs.first(where: \.isBaseline) {
                let pure = matching.filter { c in c.knobs.allSatisfy { claim.when[$0.key] != nil || base.knobs[$0.key] == $0.value } }
                if !pure.isEmpty { matching = pure }
            }
            if matching.isEmpty {
                let when = claim.when.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                out.append(ClaimResult(claim: claim, configLabel: nil, measured: nil, isRatio: expectation.relative,
                                       status: .noData, note: "no configuration with \(when)"))
                continue
            }
            for c in matching {
                let measured: Interval?
                var note = ""
                if expectation.relative {
                    measured = c.comparison(claim.metric)?.ratio
                    if measured == nil { note = "n/a (\(c.comparison(claim.metric)?.reason ?? "metric not analysed"))" }
                } else {
                    measured = c.result(claim.metric)?.stats?.median
                    if measured == nil { note = "n/a (\(c.result(claim.metric)?.unavailableReason ?? "metric not analysed"))" }
                }
                let status = measured.map(expectation.evaluate) ?? .noData
                out.append(ClaimResult(claim: claim, configLabel: c.label, measured: measured, isRatio: expectation.relative,
                                       status: status, note: note))
            }
        }
        return out
    }
}
