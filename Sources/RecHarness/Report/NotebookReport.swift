import Foundation

/// A Jupyter notebook (nbformat 4.5) of an experiment: a Markdown summary, the runs embedded as JSON
/// and loaded into a pandas DataFrame, then cells that rebuild the summary table (median per config,
/// ratio vs baseline) and the main plots with matplotlib (ratio vs baseline with CI error bars, AUC vs
/// throughput). Validate with `scripts/validate_notebook.py` (Python `nbformat`).
public enum NotebookReport {
    /// The default output path: `notebooks-export/<experiment>.ipynb` (name made file-safe).
    public static func defaultPath(for experiment: String) -> String {
        let safe = experiment.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }
        return "notebooks-export/\(String(safe)).ipynb"
    }

    /// The notebook as JSON text.
    /// - Throws: an encoding error if a value cannot be serialised (does not happen for finite data).
    public static func render(_ a: ExperimentAnalysis, data: ExperimentData) throws -> String {
        let steady = RunMetrics.steadySteps(data.spec)
        let labels = Dictionary(a.configs.map { ($0.configHash, $0.label) }, uniquingKeysWith: { x, _ in x })
        let knobs = CSVReport.knobColumns(data)
        let metricCols = CSVReport.wideMetricColumns(data)
        // Runs in report order: the baseline config first, then the configs as the report lists them.
        let configRank = Dictionary(a.configs.enumerated().map { ($1.configHash, $0) }, uniquingKeysWith: { x, _ in x })
        let baselineHash = a.baseline?.configHash
        let ordered = data.runs.sorted { (configRank[$0.configHash] ?? .max, $0.id) < (configRank[$1.configHash] ?? .max, $1.id) }
        let runs: [[String: Any]] = ordered.map { run in
            var row: [String: Any] = ["run_id": run.id, "config": labels[run.configHash] ?? run.configHash,
                                      "is_baseline": run.configHash == baselineHash, "config_hash": run.configHash,
                                      "repeat": run.repeatIndex + 1, "status": run.status.rawValue,
                                      "started": CSVReport.timestamp(run.started), "duration_s": run.durationSeconds]
            for k in knobs { row["knob_" + k] = run.config[k] ?? NSNull() }
            for m in metricCols { row[m] = RunMetrics.value(m, in: run, steadySteps: steady).map { $0 as Any } ?? NSNull() }
            return row
        }
        // The DataFrame's columns, deliberately ordered: identity, knobs, then metrics in the report's order.
        let analysed = a.metrics.filter(metricCols.contains) + a.metrics.filter { !metricCols.contains($0) }
        let columns = ["run_id", "config", "is_baseline", "repeat", "status"] + knobs.map { "knob_" + $0 }
            + analysed.filter(metricCols.contains) + metricCols.filter { !analysed.contains($0) }
            + ["config_hash", "started", "duration_s"]
        func finite(_ x: Double?) -> Any { x.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() }
        let comparisons: [[String: Any]] = a.configs.flatMap { c in
            c.comparisons.compactMap { cmp -> [String: Any]? in
                guard let r = cmp.ratio else { return nil }
                return ["config": c.label, "metric": cmp.metric, "ratio": finite(r.value), "low": finite(r.low), "high": finite(r.high),
                        "difference": finite(cmp.difference?.value), "diff_low": finite(cmp.difference?.low),
                        "diff_high": finite(cmp.difference?.high), "p": finite(cmp.pValue), "q": finite(cmp.qValue),
                        "deterministic": cmp.deterministic, "neutral": cmp.neutral, "threshold": cmp.threshold,
                        "verdict": cmp.verdict.rawValue]
            }
        }
        let baseline = a.baseline?.label ?? ""
        let primary = a.metrics.first ?? "samples_per_sec"

        var cells: [[String: Any]] = []
        func markdown(_ text: String) {
            cells.append(["cell_type": "markdown", "id": "cell-\(cells.count + 1)", "metadata": [String: Any](), "source": lines(text)])
        }
        func code(_ text: String) {
            cells.append(["cell_type": "code", "id": "cell-\(cells.count + 1)", "metadata": [String: Any](), "execution_count": NSNull(),
                          "outputs": [Any](), "source": lines(text)])
        }
        markdown("""
        # rectune experiment `\(a.experimentName)` (#\(a.experimentID))

        \(a.design) design, \(a.configs.count) configs, \(a.totalRuns) runs. \(SummaryReport.hostLine(a.host))

        \(SummaryReport.configTable(a).markdown())
        The cells below rebuild this table and the main plots from the embedded runs (pandas, matplotlib).
        """)
        code("""
        import json
        import pandas as pd
        import matplotlib.pyplot as plt

        # One row per run (steady-state metrics; NaN = not measured, never 0). Knob columns are prefixed knob_.
        RUNS_JSON = \(try pythonString(json(runs)))
        # Ratio vs baseline with the bootstrap 95% CI, as computed by rectune.
        COMPARISONS_JSON = \(try pythonString(json(comparisons)))
        BASELINE = \(try pythonString(baseline))
        METRICS = \(try json(a.metrics))
        # Column order (identity, knobs, metrics in report order) and config order (baseline first).
        COLUMNS = \(try json(columns))
        CONFIG_ORDER = \(try json(a.configs.map(\.label)))
        runs = pd.DataFrame(json.loads(RUNS_JSON), columns=COLUMNS)
        comparisons = pd.DataFrame(json.loads(COMPARISONS_JSON))
        runs.head()
        """)
        code("""
        # Summary: median of every metric per config over the ok runs, and the ratio to the baseline median.
        ok = runs[runs["status"] == "ok"]
        metrics = [m for m in METRICS if m in ok.columns]
        summary = ok.groupby("config")[metrics].median()
        summary = summary.reindex([c for c in CONFIG_ORDER if c in summary.index])  # baseline first
        summary["runs"] = ok.groupby("config").size()
        if BASELINE in summary.index:
            for m in metrics:
                summary[m + " / baseline"] = summary[m] / summary.loc[BASELINE, m]
        summary
        """)
        code("""
        # Ratio vs baseline per config with 95% CI error bars (\(primary)).
        metric = \(try pythonString(primary))
        c = comparisons[comparisons["metric"] == metric] if len(comparisons) else comparisons
        if len(c):
            colors = {"improved": "#1a9850", "regressed": "#d73027", "unchanged": "#7f8c8d", "inconclusive": "#e6a100"}
            fig, ax = plt.subplots(figsize=(8, 0.45 * len(c) + 1.2))
            y = range(len(c))
            ax.barh(list(y), c["ratio"] - 1, left=1, color=[colors.get(v, "#4575b4") for v in c["verdict"]], alpha=0.6)
            ax.errorbar(c["ratio"], list(y), xerr=[c["ratio"] - c["low"], c["high"] - c["ratio"]], fmt="none", ecolor="black", capsize=3)
            ax.axvline(1, color="black", linestyle="--", linewidth=1)
            ax.set_yticks(list(y))
            ax.set_yticklabels(c["config"])
            ax.set_xlabel(metric + " ratio vs baseline")
            plt.tight_layout()
            plt.show()
        """)
        code("""
        # AUC vs throughput, one point per ok run, coloured by config.
        if {"samples_per_sec", "auc"} <= set(ok.columns):
            fig, ax = plt.subplots(figsize=(8, 5))
            for name, g in ok.dropna(subset=["samples_per_sec", "auc"]).groupby("config"):
                ax.scatter(g["samples_per_sec"], g["auc"], label=name, alpha=0.75)
            ax.set_xlabel("samples/s")
            ax.set_ylabel("AUC")
            ax.legend(fontsize=8, loc="best")
            plt.tight_layout()
            plt.show()
        """)
        let notebook: [String: Any] = [
            "nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": ["kernelspec": ["display_name": "Python 3", "language": "python", "name": "python3"],
                         "language_info": ["name": "python"],
                         "rectune": ["experiment": a.experimentName, "experiment_id": a.experimentID]],
        ]
        return try json(notebook, pretty: true) + "\n"
    }

    /// Notebook sources are lists of lines, each but the last ending in a newline.
    static func lines(_ text: String) -> [String] {
        let parts = text.components(separatedBy: "\n")
        return parts.enumerated().map { $0.offset < parts.count - 1 ? $0.element + "\n" : $0.element }.filter { !$0.isEmpty }
    }

    static func json(_ value: Any, pretty: Bool = false) throws -> String {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]
        if pretty { options.insert(.prettyPrinted) }
        return String(decoding: try JSONSerialization.data(withJSONObject: value, options: options), as: UTF8.self)
    }

    /// A Python string literal for `text` (a JSON string literal is one).
    static func pythonString(_ text: String) throws -> String { try json(text) }
}
