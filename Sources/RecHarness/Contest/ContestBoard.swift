import Foundation
import RecContract
import RecStats

/// One submission's contest results: every repeat's per-model outcomes, scored by the contest's rule.
public struct SubmissionBoard: Sendable {
    public var name: String
    public var path: String
    /// Per repeat, the models in the scorer's order.
    public var repeats: [[ModelOutcome]]
    public var failedScore: Double

    /// Each repeat's (score, valid).
    public var scores: [(score: Double, valid: Bool)] { repeats.map { ContestScore.score($0, failedScore: failedScore) } }
    /// Each repeat's sum of training seconds over the models that produced one.
    public var totals: [Double] { repeats.map { $0.reduce(0) { $0 + ($1.seconds ?? 0) } } }
    /// Valid only when every repeat is.
    public var valid: Bool { !repeats.isEmpty && scores.allSatisfy(\.valid) }
    /// The median score over repeats (864000 as soon as one repeat is invalid).
    public var score: Double { valid ? Descriptive.median(scores.map(\.score)) : failedScore }

    /// Per model: median seconds with a bootstrap CI over repeats, median AUC, and whether every repeat passed.
    public struct ModelRow: Sendable {
        public var outcome: ModelOutcome
        public var secondsCI: ConfidenceInterval?
        public var passedAll: Bool
        public var failures: [String]
    }

    public var rows: [ModelRow] {
        guard let first = repeats.first else { return [] }
        return first.indices.map { m in
            let all = repeats.map { $0[m] }
            var o = first[m]
            let seconds = all.compactMap(\.seconds), aucs = all.compactMap(\.auc)
            o.seconds = seconds.isEmpty ? nil : Descriptive.median(seconds)
            o.auc = aucs.isEmpty ? nil : Descriptive.median(aucs)
            let ci = seconds.count > 1 ? Bootstrap.percentileCI(seconds, statistic: Descriptive.median) : nil
            return ModelRow(outcome: o, secondsCI: ci, passedAll: all.allSatisfy(\.passed), failures: Array(Set(all.compactMap(\.verdict))).sorted())
        }
    }
}

/// The contest's scoreboard for one or more submissions (the first is the reference for ratios).
public struct ContestBoard: Sendable {
    public var submissions: [SubmissionBoard]
    public var scale: Double
    public var repeats: Int
    public var data: String
    public var interrupted: Bool

    /// The contest's own final board (another machine; reference ratios only, COMPETITION.md).
    public static let reference = (baseline: 2070.0, best: 568.29, bestTeam: "MetaSpore", bestSpeedup: 3.65,
                                   bestPerModel: ["dien": 160.0, "din": 79, "dlrm": 76, "deepfm": 42, "mmoe": 120, "wdl": 92])

    /// A submission's total seconds over the first's, with a bootstrap CI over repeats (median ratio).
    /// NaN, without a CI, when either submission has no seconds at all (its runs never ran).
    public func ratio(_ k: Int) -> (ratio: Double, ci: ConfidenceInterval?) {
        let a = submissions[k].totals, b = submissions[0].totals
        let candidate = Descriptive.median(a), baseline = Descriptive.median(b)
        guard candidate > 0, baseline > 0 else { return (.nan, nil) }
        return (candidate / baseline, a.count > 1 && b.count > 1 ? Bootstrap.ratioCI(candidate: a, baseline: b) : nil)
    }

    private func modelJSON(_ row: SubmissionBoard.ModelRow) -> [String: Any] {
        let o = row.outcome
        var m: [String: Any] = ["model": o.label, "steps": o.steps, "seconds": o.seconds ?? NSNull(), "auc": o.auc ?? NSNull(),
                                "floor": o.floor ?? NSNull(), "passed": row.passedAll, "settings": o.settings]
        if let ci = row.secondsCI { m["seconds_ci"] = [ci.lower, ci.upper] }
        if let t = o.aucByTask { m["auc_by_task"] = t }
        if !row.failures.isEmpty { m["failure"] = row.failures.joined(separator: "; ") }
        return m
    }

    private func submissionJSON(_ s: SubmissionBoard) -> [String: Any] {
        var o: [String: Any] = ["submission": s.name, "file": s.path, "score": s.score, "valid": s.valid,
                                "models": s.rows.map(modelJSON), "repeat_scores": s.scores.map(\.score),
                                "total_seconds": Descriptive.median(s.totals)]
        if s.totals.count > 1 {
            let ci = Bootstrap.percentileCI(s.totals, statistic: Descriptive.median)
            o["total_seconds_ci"] = [ci.lower, ci.upper]
        }
        return o
    }

    /// The scoreboard as JSON: one submission → `{"score", "valid", "models": […]}`; several →
    /// `{"submissions": [that, …], "ratios": [{submission, baseline, ratio, ci, speedup}]}`.
    public func json() throws -> Data {
        try JSONFinite.data(jsonObject(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// The board as a JSON object, before writing (`json()`, and `contest report --format json`, which adds the
    /// claims: it builds on this object rather than reading `json()` back, whose numbers Foundation's JSON
    /// reader does not always return bit for bit).
    func jsonObject() -> [String: Any] {
        var object: [String: Any]
        if submissions.count == 1 {
            object = submissionJSON(submissions[0])
        } else {
            object = ["submissions": submissions.map(submissionJSON)]
            object["ratios"] = submissions.indices.dropFirst().map { k -> [String: Any] in
                let (r, ci) = ratio(k)
                var o: [String: Any] = ["submission": submissions[k].name, "baseline": submissions[0].name, "ratio_of_totals": r, "speedup": 1 / r]
                if let ci { o["ratio_ci"] = [ci.lower, ci.upper]; o["speedup_ci"] = [1 / ci.upper, 1 / ci.lower] }
                return o
            }
        }
        object["scale"] = scale
        object["repeats"] = repeats
        object["data"] = data
        if interrupted { object["interrupted"] = true }
        object["reference"] = ["baseline_s": Self.reference.baseline, "best_s": Self.reference.best, "best_team": Self.reference.bestTeam,
                               "best_speedup": Self.reference.bestSpeedup, "best_per_model_s": Self.reference.bestPerModel,
                               "note": "the contest's own board (another machine, full scale): compare ratios, not seconds"] as [String: Any]
        return object
    }

    /// The scoreboard as terminal text.
    public func text() -> String {
        func f(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "—" }
        var out: [String] = []
        out.append(String(format: "Contest scoreboard — scale %g (steps × %g), %d repeat(s), data %@", scale, scale, repeats, data))
        for s in submissions {
            out.append("")
            out.append("submission \(s.name) (\(s.path))")
            var table = [["model", "steps", "seconds", "95% CI", "AUC", "floor", "passed", "settings"]]
            for row in s.rows {
                let o = row.outcome
                let ci = row.secondsCI.map { String(format: "%.2f–%.2f", $0.lower, $0.upper) } ?? ""
                let auc = f(o.auc, "%.4f") + (o.aucByTask.map { " (" + $0.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", ") + ")" } ?? "")
                let settings = o.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                table.append([o.label, String(o.steps), f(o.seconds, "%.2f"), ci, auc, o.floor.map { String(format: "%.3f", $0) } ?? "underived",
                              row.passedAll ? "yes" : "NO", settings])
            }
            out.append(contentsOf: Self.align(table))
            for row in s.rows where !row.failures.isEmpty { out.append("  \(row.outcome.label): \(row.failures.joined(separator: "; "))") }
            let total = Descriptive.median(s.totals)
            out.append(String(format: "  total training seconds %.2f; score %@ (%@)", total,
                              s.valid ? String(format: "%.2f", s.score) : String(format: "%.0f", s.score),
                              s.valid ? "valid" : "INVALID: a model failed or missed its floor → the contest's 864000"))
        }
        if submissions.count > 1 {
            out.append("")
            for k in submissions.indices.dropFirst() {
                let (r, ci) = ratio(k)
                guard r.isFinite else {
                    out.append("\(submissions[k].name) vs \(submissions[0].name): no ratio (one of them has no training seconds)")
                    continue
                }
                let ciText = ci.map { String(format: " (95%% CI %.2f–%.2f×)", 1 / $0.upper, 1 / $0.lower) } ?? ""
                out.append(String(format: "%@ vs %@: total seconds ratio %.3f → speedup %.2f×%@", submissions[k].name, submissions[0].name, r, 1 / r, ciText))
            }
        }
        out.append(String(format: "reference (the contest's board, another machine, full scale): baseline ≈ %.0f s, best %.2f s (%@) = %.2f×; per-model best s: %@",
                          Self.reference.baseline, Self.reference.best, Self.reference.bestTeam, Self.reference.bestSpeedup,
                          Submission.contestModels.map { "\($0) \(Int(Self.reference.bestPerModel[$0]!))" }.joined(separator: ", ")))
        if interrupted { out.append("(interrupted: --resume continues it)") }
        return out.joined(separator: "\n")
    }

    static func align(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        return rows.map { r in "  " + r.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
    }
}
