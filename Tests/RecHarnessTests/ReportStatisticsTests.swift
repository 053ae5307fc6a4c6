import Foundation
@testable import RecHarness
import RecStats
import TestSupport
import XCTest

/// How the reports show the statistics: neutral diagnostics, deterministic metrics, q-values, infinite
/// ratios, zero baselines, JSON non-finite numbers, the noisy flag and the ablation effect CIs.
final class ReportStatisticsTests: XCTestCase {
    func analysis() -> ExperimentAnalysis {
        ExperimentAnalyzer().analyze(AnalysisFixtures.ablation())
    }

    func testNeutralDiagnosticsShowChangedNeverABadge() throws {
        // steals/step doubles under stage=on: a neutral diagnostic
        let spec = AnalysisFixtures.spec(factors: [Factor(name: "stage", levels: ["off", "on"])], baseline: ["stage": "off"])
        var base = AnalysisFixtures.ConfigPlan(knobs: ["stage": "off"], values: AnalysisFixtures.baseValues)
        base.noise = 0.01
        var on = base
        on.knobs["stage"] = "on"
        on.values["steals_per_step"] = 80
        let a = ExperimentAnalyzer().analyze(AnalysisFixtures.data(spec: spec, plans: [base, on]))
        let steals = try XCTUnwrap(a.configs[1].comparison("steals_per_step"))
        XCTAssertTrue(steals.neutral)
        XCTAssertEqual(steals.verdict, .changed, steals.reason)
        XCTAssertNil(steals.qValue, "neutral: not in the BH family")
        let text = SummaryReport.render(a, style: .text)
        XCTAssertTrue(text.contains("~ changed"), text)
        let configRow = try XCTUnwrap(SummaryReport.configTable(a).rows.last)
        XCTAssertFalse(configRow.contains { $0.contains("40.0 (+)") || $0.hasSuffix("(-)") && $0.contains("80") }, "\(configRow)")
        let html = HTMLReport.render(a, data: AnalysisFixtures.data(spec: spec, plans: [base, on]))
        XCTAssertFalse(html.contains("class=\"badge\" style=\"background:#9aa3b5\""), "changed is never a badge")
    }

    func testDeterministicAUCShowsNEffOneAndNoInterval() throws {
        // AUC identical across repeats (fixed seed): deterministic, judged on the absolute threshold
        let spec = AnalysisFixtures.spec(factors: [Factor(name: "stage", levels: ["off", "on"])], baseline: ["stage": "off"])
        var base = AnalysisFixtures.ConfigPlan(knobs: ["stage": "off"], values: AnalysisFixtures.baseValues)
        var on = base
        on.knobs["stage"] = "on"
        var data = AnalysisFixtures.data(spec: spec, plans: [base, on])
        for i in data.runs.indices {
            let auc = data.runs[i].config["stage"] == "on" ? 0.7612 : 0.7762
            data.runs[i].metrics = data.runs[i].metrics.map { $0.name == "auc" ? MetricValue(name: "auc", value: auc) : $0 }
        }
        base.noise = 0
        let a = ExperimentAnalyzer().analyze(data)
        let auc = try XCTUnwrap(a.configs[1].comparison("auc"))
        XCTAssertTrue(auc.deterministic)
        XCTAssertEqual(auc.verdict, .regressed, auc.reason)
        XCTAssertNil(auc.pValue)
        XCTAssertNil(auc.qValue)
        XCTAssertEqual(Fmt.pq(auc), "n_eff = 1")
        XCTAssertEqual(Fmt.change(auc), "-0.0150", "absolute threshold: the difference, no CI")
        XCTAssertEqual(auc.threshold, "±0.001")
        let text = SummaryReport.render(a, style: .text)
        XCTAssertTrue(text.contains("n_eff = 1"), text)
    }

    func testQValuesAreShownAndAtLeastP() throws {
        let a = analysis()
        let tested = a.configs.flatMap(\.comparisons).filter { $0.qValue != nil }
        XCTAssertFalse(tested.isEmpty)
        for c in tested { XCTAssertGreaterThanOrEqual(c.qValue!, c.pValue! - 1e-15) }
        XCTAssertTrue(SummaryReport.render(a, style: .markdown).contains("p (BH q)"))
    }

    func testInfiniteEndsAndZeroBaselines() throws {
        XCTAssertEqual(Fmt.ratioCI(Interval(value: 1.2, low: 0.936, high: .infinity)), "1.200x [0.936, ∞]")
        XCTAssertEqual(Fmt.num(.infinity), "∞")
        // a measured metric whose baseline median is 0: a verdict with an explanation, not n/a
        let spec = AnalysisFixtures.spec(factors: [Factor(name: "stage", levels: ["off", "on"])], baseline: ["stage": "off"],
                                         metrics: ["samples_per_sec", "major_faults_per_step"])
        var base = AnalysisFixtures.ConfigPlan(knobs: ["stage": "off"], values: ["samples_per_sec": 1000, "major_faults_per_step": 0])
        var on = base
        on.knobs["stage"] = "on"
        on.values["major_faults_per_step"] = 5
        base.noise = 0.01
        let a = ExperimentAnalyzer().analyze(AnalysisFixtures.data(spec: spec, plans: [base, on]))
        let faults = try XCTUnwrap(a.configs[1].comparison("major_faults_per_step"))
        XCTAssertEqual(faults.verdict, .regressed, faults.reason)
        XCTAssertTrue(faults.reason.contains("baseline"), faults.reason)
        XCTAssertFalse(Fmt.verdict(faults).hasPrefix("n/a"))
        XCTAssertTrue(Fmt.change(faults).hasPrefix("+4.9") || Fmt.change(faults).hasPrefix("+5"), "a difference, not a ratio: \(Fmt.change(faults))")
    }

    func testJSONWritesNonFiniteNumbersAsNull() throws {
        struct Box: Encodable { var a = Double.nan; var b = Double.infinity; var c = -Double.infinity; var d = 1.5; var s = "inf" }
        let text = try ReportRenderer.json(Box())
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertTrue(object["a"] is NSNull && object["b"] is NSNull && object["c"] is NSNull, text)
        XCTAssertEqual(object["d"] as? Double, 1.5)
        XCTAssertEqual(object["s"] as? String, "inf", "real strings are untouched")
        // a whole report round-trips as JSON
        _ = try JSONSerialization.jsonObject(with: Data(try ReportRenderer.json(analysis()).utf8))
    }

    func testNoisyMeansTheMedianIsNotPinnedDownToTheThreshold() throws {
        let spec = AnalysisFixtures.spec(factors: [Factor(name: "stage", levels: ["off", "on"])], baseline: ["stage": "off"],
                                         metrics: ["samples_per_sec"])
        var quiet = AnalysisFixtures.ConfigPlan(knobs: ["stage": "off"], values: ["samples_per_sec": 1000])
        quiet.noise = 0.003
        var loud = quiet
        loud.knobs["stage"] = "on"
        loud.noise = 0.08
        let a = ExperimentAnalyzer().analyze(AnalysisFixtures.data(spec: spec, plans: [quiet, loud]))
        let q = try XCTUnwrap(a.configs[0].result("samples_per_sec")?.stats), l = try XCTUnwrap(a.configs[1].result("samples_per_sec")?.stats)
        XCTAssertFalse(q.isNoisy)
        XCTAssertTrue(l.isNoisy)
        XCTAssertEqual(l.isNoisy, (l.median.high - l.median.low) / 2 / l.median.value > 0.02, "the documented rule")
    }

    func testAblationEffectCIIsTheDifferenceCI() throws {
        let a = analysis()
        let cmp = try XCTUnwrap(a.configs.first { $0.label == "stage=on" }?.comparison("samples_per_sec"))
        let effect = try XCTUnwrap(a.effects.first { $0.metric == "samples_per_sec" && $0.factor == "stage" })
        XCTAssertEqual(effect.estimate, cmp.difference)
        XCTAssertLessThan(effect.estimate.low, effect.estimate.value)
        XCTAssertGreaterThan(effect.estimate.high, effect.estimate.value)
    }

    func testReportMetricArgumentValidation() throws {
        let data = AnalysisFixtures.ablation()
        XCTAssertThrowsError(try MetricArgument.parse("samples_per_sek", known: data.metricNames)) { e in
            XCTAssertTrue("\(e)".contains("did you mean 'samples_per_sec'"), "\(e)")
        }
        let p = try MetricArgument.parse("auc:abs:0.002", known: data.metricNames)
        XCTAssertEqual(p.threshold, .absolute(0.002))
    }

    func testFastCoordinateFormattingMatchesPrintf() {
        var rng = Xoshiro256(seed: 1)
        for _ in 0..<2000 {
            let x = (rng.nextUnit() - 0.5) * 2000
            XCTAssertEqual(Double(SVG.f(x))!, Double(String(format: "%.2f", x))!, accuracy: 0.0100001, "\(x)")
        }
        XCTAssertEqual(SVG.f(3), "3.00")
        XCTAssertEqual(SVG.f(-1.5), "-1.50")
        XCTAssertEqual(SVG.f(0.07), "0.07")
        XCTAssertEqual(SVG.f(123.456), "123.46")
    }
}
