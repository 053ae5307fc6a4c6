import Foundation
import RecContract
import RecStats

/// `rectune contest report`: the scoreboard of stored contest runs in every report format, with
/// the contest's own board as reference ratios and COMPETITION.md's claims evaluated.
public enum ContestReport {
    /// Output formats.
    public static let formats = ["text", "md", "csv", "json", "html", "ipynb"]

    /// Rebuilds the board of the latest contest in `store` (the scale of the most recent contest
    /// experiment, or `scale`); submissions in `only` when given. Nil when the store has none.
    /// The baseline submission comes first. Throws `StoreError`.
    public static func board(store: ResultStore, scale: Double? = nil, only: [String]? = nil, failedScore: Double = 864_000) throws -> ContestBoard? {
        let tagged = try store.experiments().compactMap { e in ContestTag.find(in: e.specText).map { (e, $0) } }
        guard let latest = tagged.max(by: { $0.0.created < $1.0.created }) else { return nil }
        let wanted = scale ?? latest.1.scale
        // Per (submission, model): the most recent experiment at that scale.
        var pick: [String: (ExperimentRecord, ContestTag)] = [:]
        for (e, t) in tagged where t.scale == wanted && (only == nil || only!.contains(t.submission)) {
            let key = "\(t.submission)|\(t.model)"
            if let old = pick[key], old.0.created > e.created { continue }
            pick[key] = (e, t)
        }
        let names = Set(pick.values.map(\.1.submission))
        var order = names.sorted()
        if let i = order.firstIndex(of: "baseline") { order.remove(at: i); order.insert("baseline", at: 0) }
        var boards: [SubmissionBoard] = []
        var repeatsAll = 1
        var data = ""
        // Every model some submission ran: a submission without it (not run on this host, e.g.
        // bf16 where oneDNN has none) scores it as a failure, as the contest run's board did.
        var models: [String: ContestTag] = [:]
        for (_, t) in pick.values where models[t.model] == nil { models[t.model] = t }
        let modelOrder = models.keys.sorted { (Submission.contestModels.firstIndex(of: $0) ?? 99) < (Submission.contestModels.firstIndex(of: $1) ?? 99) }
        for name in order {
            let mine = pick.values.filter { $0.1.submission == name }
            let repeats = mine.map(\.1.repeats).max() ?? 1
            repeatsAll = max(repeatsAll, repeats)
            var table: [[ModelOutcome]] = Array(repeating: [], count: repeats)
            for model in modelOrder {
                guard let (e, t) = pick["\(name)|\(model)"] else {
                    let t = models[model]!
                    for r in 0..<repeats {
                        table[r].append(ModelOutcome(model: t.model, label: t.label, steps: t.steps, seconds: nil, auc: nil, floor: t.floor,
                                                     failure: "not run (no stored runs of this submission's \(t.label))", settings: [:]))
                    }
                    continue
                }
                data = t.data
                let runs = try store.runs(experimentID: e.id)
                for r in 0..<repeats {
                    table[r].append(ContestRunner.outcome(runs: runs, repeatIndex: r, model: t.model, label: t.label, steps: t.steps, floor: t.floor,
                                                          settings: t.settings))
                }
            }
            boards.append(SubmissionBoard(name: name, path: mine.first?.1.file ?? "", repeats: table, failedScore: failedScore))
        }
        return ContestBoard(submissions: boards, scale: wanted, repeats: repeatsAll, data: data, interrupted: false)
    }

    /// The report in `format` (one of `formats`).
    public static func render(_ board: ContestBoard, format: String) throws -> Data {
        let claims = ContestClaims.evaluate(board)
        switch format {
        case "text": return Data((board.text() + "\n\n" + claimsText(claims) + "\n").utf8)
        case "md": return Data(markdown(board, claims).utf8)
        case "csv": return Data(csv(board).utf8)
        case "json":
            var object = board.jsonObject()
            object["claims"] = claims.map { c -> [String: Any] in
                var o: [String: Any] = ["claim": c.claim.name, "source": c.claim.source, "claimed_speedup": c.claim.speedup, "verdict": c.verdict,
                                        "explanation": c.explanation]
                if let s = c.speedup { o["measured_speedup"] = s }
                if let ci = c.ci { o["ci"] = [ci.lower, ci.upper] }
                if let s = c.submission { o["submission"] = s }
                return o
            }
            return try JSONFinite.data(object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        case "html": return Data(html(board, claims).utf8)
        case "ipynb": return try notebook(board, claims)
        default: throw RunnerError.data("unknown format '\(format)' (\(formats.joined(separator: ", ")))")
        }
    }

    static func claimsText(_ claims: [ContestClaims.Result]) -> String {
        (["Published claims (COMPETITION.md):"] + claims.map { "  \($0.claim.name) [\($0.claim.source)]: \($0.verdict.uppercased()) — \($0.explanation)" })
            .joined(separator: "\n")
    }

    /// Rows of the per-model comparison: baseline vs each other submission.
    struct Row {
        var model: String, steps: Int
        var cells: [(seconds: Double?, ci: ConfidenceInterval?, auc: Double?, passed: Bool, settings: [String: String])]
        var floor: Double?
    }

    static func rows(_ board: ContestBoard) -> [Row] {
        guard let first = board.submissions.first else { return [] }
        return first.rows.map { r in
            Row(model: r.outcome.label, steps: r.outcome.steps, cells: board.submissions.map { s in
                guard let x = s.rows.first(where: { $0.outcome.model == r.outcome.model }) else { return (nil, nil, nil, false, [:]) }
                return (x.outcome.seconds, x.secondsCI, x.outcome.auc, x.passedAll, x.outcome.settings)
            }, floor: r.outcome.floor)
        }
    }

    static func f(_ v: Double?, _ format: String = "%.2f") -> String { v.map { String(format: format, $0) } ?? "—" }

    static func markdown(_ board: ContestBoard, _ claims: [ContestClaims.Result]) -> String {
        let subs = board.submissions
        var out = ["# Contest scoreboard", "",
                   String(format: "Scale %g (the scorer's steps × %g), %d repeat(s), data: %@. Seconds are the contest's timed window (`contest_seconds`), medians with 95%% bootstrap CIs over repeats.", board.scale, board.scale, board.repeats, board.data), ""]
        var header = "| model | steps | floor |"
        var rule = "|---|---|---|"
        for s in subs { header += " \(s.name) s | \(s.name) AUC |"; rule += "---|---|" }
        if subs.count > 1 { header += " speedup vs \(subs[0].name) |"; rule += "---|" }
        header += " reference best s (contest) |"; rule += "---|"
        out += [header, rule]
        for row in rows(board) {
            var line = "| \(row.model) | \(row.steps) | \(row.floor.map { String(format: "%.3f", $0) } ?? "underived") |"
            for c in row.cells {
                let ci = c.ci.map { String(format: " [%.2f–%.2f]", $0.lower, $0.upper) } ?? ""
                line += " \(f(c.seconds))\(ci) | \(f(c.auc, "%.4f"))\(c.passed ? "" : " ✗") |"
            }
            if subs.count > 1 {
                let b = row.cells[0].seconds
                line += " " + row.cells.dropFirst().map { c in (b != nil && c.seconds != nil) ? String(format: "%.2f×", b! / c.seconds!) : "—" }.joined(separator: ", ") + " |"
            }
            line += " \(ContestBoard.reference.bestPerModel[row.model.lowercased()].map { String(Int($0)) } ?? "—") |"
            out.append(line)
        }
        out.append("")
        for (k, s) in subs.enumerated() {
            out.append("- **\(s.name)**: total \(f(Descriptive.median(s.totals))) s, score \(s.valid ? f(s.score) : "864000 (invalid)")"
                       + (k > 0 ? { let (r, ci) = board.ratio(k); guard r.isFinite else { return ", no speedup (no training seconds)" }; return String(format: ", speedup %.2f×", 1 / r) + (ci.map { String(format: " (CI %.2f–%.2f×)", 1 / $0.upper, 1 / $0.lower) } ?? "") }() : ""))
        }
        out.append(String(format: "- **The contest's board** (another machine, full scale; compare ratios): baseline ≈ %.0f s, best %.2f s (%@) = %.2f×.",
                          ContestBoard.reference.baseline, ContestBoard.reference.best, ContestBoard.reference.bestTeam, ContestBoard.reference.bestSpeedup))
        if subs.count > 1 {
            out += ["", "## Winning settings (differences from the baseline)", ""]
            for row in rows(board) {
                let base = row.cells[0].settings
                for (k, c) in row.cells.enumerated().dropFirst() {
                    let diff = c.settings.filter { base[$0.key] != $0.value }.sorted { $0.key < $1.key }.map { "`\($0.key)=\($0.value)`" }
                    out.append("- \(row.model), \(subs[k].name): \(diff.isEmpty ? "baseline settings" : diff.joined(separator: " "))")
                }
            }
        }
        out += ["", "## Published claims (COMPETITION.md)", "", "| claim | source | verdict | evidence |", "|---|---|---|---|"]
        for c in claims { out.append("| \(c.claim.name) | \(c.claim.source) | \(c.verdict) | \(c.explanation) |") }
        return out.joined(separator: "\n") + "\n"
    }

    static func csv(_ board: ContestBoard) -> String {
        var lines = ["submission,repeat,model,steps,seconds,auc,floor,passed,score,valid,settings"]
        for s in board.submissions {
            for (r, outcomes) in s.repeats.enumerated() {
                let score = s.scores[r]
                for o in outcomes {
                    let settings = o.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    lines.append([s.name, String(r), o.label, String(o.steps), o.seconds.map { String($0) } ?? "", o.auc.map { String($0) } ?? "",
                                  o.floor.map { String($0) } ?? "", o.passed ? "true" : "false", String(score.score), score.valid ? "true" : "false",
                                  "\"\(settings)\""].joined(separator: ","))
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func html(_ board: ContestBoard, _ claims: [ContestClaims.Result]) -> String {
        // The Markdown report's content as HTML tables (self-contained, no network).
        var body = ""
        var inTable = false
        for line in markdown(board, claims).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("|") {
                if line.hasPrefix("|---") { continue }
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map { escape($0.trimmingCharacters(in: .whitespaces)) }
                if !inTable { body += "<table>\n<tr>" + cells.map { "<th>\($0)</th>" }.joined() + "</tr>\n"; inTable = true }
                else { body += "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n" }
                continue
            }
            if inTable { body += "</table>\n"; inTable = false }
            if line.hasPrefix("# ") { body += "<h1>\(escape(String(line.dropFirst(2))))</h1>\n" }
            else if line.hasPrefix("## ") { body += "<h2>\(escape(String(line.dropFirst(3))))</h2>\n" }
            else if line.hasPrefix("- ") { body += "<p>• \(escape(String(line.dropFirst(2))).replacingOccurrences(of: "**", with: ""))</p>\n" }
            else if !line.isEmpty { body += "<p>\(escape(line))</p>\n" }
        }
        if inTable { body += "</table>\n" }
        return """
        <!doctype html><html><head><meta charset="utf-8"><title>Contest scoreboard</title>
        <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}</style>
        </head><body>
        \(body)</body></html>

        """
    }

    static func notebook(_ board: ContestBoard, _ claims: [ContestClaims.Result]) throws -> Data {
        let boardJSON = String(decoding: try render(board, format: "json"), as: UTF8.self)
        func cell(_ type: String, _ source: String) -> [String: Any] {
            var c: [String: Any] = ["cell_type": type, "metadata": [String: Any](), "source": source.split(separator: "\n", omittingEmptySubsequences: false).map { $0 + "\n" }]
            if type == "code" { c["outputs"] = [Any](); c["execution_count"] = NSNull() }
            return c
        }
        let nb: [String: Any] = [
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": ["kernelspec": ["name": "python3", "display_name": "Python 3", "language": "python"]],
            "cells": [
                cell("markdown", markdown(board, claims)),
                cell("code", "import json\nimport pandas as pd\nboard = json.loads(r'''\(boardJSON)''')\nsubs = board.get('submissions', [board])\nrows = [dict(submission=s.get('submission', 'baseline'), **{k: m[k] for k in ('model', 'steps', 'seconds', 'auc', 'floor', 'passed')}) for s in subs for m in s['models']]\ndf = pd.DataFrame(rows)\ndf"),
                cell("code", "df.pivot(index='model', columns='submission', values='seconds').plot.barh(title='contest seconds per model')"),
            ],
        ]
        return try JSONSerialization.data(withJSONObject: nb, options: [.prettyPrinted, .sortedKeys])
    }
}
