import Foundation

/// The terminal (`text`) and Markdown (`md`) reports: the same tables in two notations.
public enum SummaryReport {
    /// Which notation to render.
    public enum Style: Sendable { case text, markdown }

    /// The per-config table: varying knobs, samples/s median [CI], ratio vs baseline [CI] + verdict,
    /// the other metrics' medians (or `n/a (reason)`), run counts and a noisy flag.
    public static func configTable(_ a: ExperimentAnalysis) -> ReportTable {
        let primary = a.metrics.first ?? "samples_per_sec"
        let others = a.metrics.dropFirst()
        var header = ["config"] + a.varyingKnobs
        header += ["\(RunMetrics.label(primary)) median [95% CI]", "vs baseline [CI]", "verdict"]
        header += others.map { RunMetrics.label($0) }
        header += ["runs", "noisy"]
        let right = header.indices.map { $0 > a.varyingKnobs.count && $0 != a.varyingKnobs.count + 3 }
        let rows = a.configs.map { c -> [String] in
            var row = [c.isBaseline && c.label != "baseline" ? "\(c.label) (baseline)" : c.label]
            row += a.varyingKnobs.map { c.knobs[$0] ?? "" }
            row.append(Fmt.metricCell(c.result(primary), ci: true))
            if c.isBaseline {
                row += ["1x", ""]
            } else if let cmp = c.comparison(primary) {
                row += [Fmt.change(cmp), Fmt.verdict(cmp)]
            } else {
                row += ["–", ""]
            }
            for m in others {
                var cell = Fmt.metricCell(c.result(m))
                if !c.isBaseline, let v = c.comparison(m), v.verdict.isJudgement {
                    cell += v.verdict == .improved ? " (+)" : " (-)"
                }
                row.append(cell)
            }
            row.append(c.failedCount > 0 ? "\(c.okRunIDs.count) ok, \(c.failedCount) failed" : "\(c.okRunIDs.count)")
            let noisy = c.metrics.filter { $0.stats?.isNoisy == true }.map { RunMetrics.label($0.metric) }
            row.append(noisy.isEmpty ? "" : "noisy: " + noisy.joined(separator: ", "))
            return row
        }
        return ReportTable(header: header, rows: rows, rightAligned: right)
    }

    /// Every metric of every non-baseline config against the baseline.
    public static func comparisonTable(_ a: ExperimentAnalysis) -> ReportTable {
        let header = ["config", "metric", "baseline", "candidate", "change [95% CI]", "threshold", "p (BH q)", "verdict"]
        var rows: [[String]] = []
        for c in a.configs where !c.isBaseline {
            for cmp in c.comparisons {
                rows.append([c.label, RunMetrics.label(cmp.metric), Fmt.num(cmp.baselineMedian), Fmt.num(cmp.candidateMedian),
                             Fmt.change(cmp), cmp.threshold, Fmt.pq(cmp), Fmt.verdict(cmp)])
            }
        }
        return ReportTable(header: header, rows: rows, rightAligned: [false, false, true, true, true, true, true, false])
    }

    /// Main effects (and interactions) table.
    public static func effectsTable(_ a: ExperimentAnalysis) -> ReportTable {
        let header = ["metric", "factor", "level", "effect [95% CI]", "relative"]
        let rows = a.effects.map { e -> [String] in
            let factor = e.secondFactor.map { "\(e.factor) × \($0)" } ?? e.factor
            let level = e.secondLevel.map { "\(e.level) × \($0)" } ?? e.level
            return [RunMetrics.label(e.metric), factor, level, Fmt.withCI(e.estimate), Fmt.percent(e.relative)]
        }
        return ReportTable(header: header, rows: rows, rightAligned: [false, false, false, true, true])
    }

    /// Claims: claimed vs measured and the status.
    public static func claimsTable(_ a: ExperimentAnalysis) -> ReportTable {
        let header = ["when", "config", "metric", "claimed", "measured [95% CI]", "status", "source"]
        let rows = a.claims.map { r -> [String] in
            let when = r.claim.when.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let measured = r.measured.map { r.isRatio ? Fmt.ratioCI($0) : Fmt.withCI($0) } ?? r.note
            return [when, r.configLabel ?? "–", RunMetrics.label(r.claim.metric), r.claim.expect, measured, r.status.rawValue, r.claim.source]
        }
        return ReportTable(header: header, rows: rows)
    }

    /// Failed runs with their reason.
    public static func failuresTable(_ a: ExperimentAnalysis) -> ReportTable {
        ReportTable(header: ["run", "config", "repeat", "status", "reason"],
                    rows: a.failedRuns.map { ["\($0.runID)", $0.configLabel, "\($0.repeatIndex + 1)", $0.status, $0.reason] })
    }

    /// One line describing the host.
    public static func hostLine(_ h: HostFingerprint) -> String {
        let gib = Double(h.memoryBytes) / Double(1 << 30)
        return "host \(h.hostname): \(h.cpuModel), \(h.logicalCores) cores, \(h.numaNodes) NUMA node(s), "
            + String(format: "%.0f GiB", gib) + ", \(h.kernel), oneDNN \(h.onednnVersion) \(h.onednnISA), "
            + "rectune \(h.rectuneVersion) \(h.gitCommit.prefix(10))"
    }

    /// What the markers and columns mean (shown under every text and Markdown report).
    public static let legend = "+ improved  - regressed  = unchanged  ? inconclusive  ~ changed (a neutral diagnostic moved; "
        + "no good or bad)  — neutral, no clear change. Improved/regressed need the Benjamini–Hochberg q (over the report's "
        + "non-deterministic, non-neutral comparisons) < alpha, a change beyond the metric's threshold and a CI excluding no "
        + "change. Deterministic metrics (n_eff = 1: fixed-seed AUC/logloss, zero-variance counters) have no p or CI and are "
        + "judged on the threshold alone. noisy = the median's 95% CI half-width exceeds the threshold. "
        + "n/a (reason) = not measured, never 0."

    /// Renders the whole report.
    public static func render(_ a: ExperimentAnalysis, style: Style) -> String {
        let md = style == .markdown
        func heading(_ t: String, level: Int = 2) -> String {
            md ? String(repeating: "#", count: level) + " \(t)\n\n" : "\(t)\n" + String(repeating: level == 1 ? "=" : "-", count: t.count) + "\n"
        }
        func table(_ t: ReportTable) -> String { md ? t.markdown() + "\n" : t.text() + "\n" }
        let ok = a.configs.reduce(0) { $0 + $1.okRunIDs.count }
        var out = heading("Experiment \(a.experimentName) (#\(a.experimentID))", level: 1)
        if !md { out += "\n" }
        let interrupted = a.totalRuns - ok - a.failedRuns.count
        out += "\(a.design) design, \(a.configs.count) configs, \(a.totalRuns) runs (\(ok) ok, \(a.failedRuns.count) failed"
            + (interrupted > 0 ? ", \(interrupted) interrupted" : "") + "), "
        out += "created \(ISO8601DateFormatter().string(from: a.created))\n"
        out += (md ? "\n_" : "") + hostLine(a.host) + (md ? "_\n\n" : "\n\n")
        out += heading("Configurations")
        out += table(configTable(a))
        if a.configs.contains(where: { !$0.isBaseline && !$0.comparisons.isEmpty }) {
            out += heading("Against the baseline")
            out += table(comparisonTable(a))
        }
        if !a.effects.isEmpty {
            out += heading(a.design == "full" || a.design.hasPrefix("fractional") ? "Main effects and interactions" : "Effects vs baseline")
            out += table(effectsTable(a))
        }
        if !a.claims.isEmpty {
            out += heading("Claims")
            out += table(claimsTable(a))
        }
        if !a.failedRuns.isEmpty {
            out += heading("Failed runs")
            out += table(failuresTable(a))
        }
        out += md ? legend.replacingOccurrences(of: "n/a (reason)", with: "`n/a (reason)`") + "\n" : legend + "\n"
        return out
    }
}
