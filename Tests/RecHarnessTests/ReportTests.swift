import CSV
import Foundation
@testable import RecHarness
import TestSupport
import XCTest

final class ReportTests: XCTestCase {
    static func parseCSV(_ text: String) throws -> [[String]] {
        let reader = try CSVReader(string: text)
        var rows: [[String]] = []
        while let row = reader.next() { rows.append(row) }
        return rows
    }

    func testTidyCSVHasOneRowPerRunMetricAndUnavailableRows() throws {
        let data = AnalysisFixtures.ablation(unavailableFaults: true, failed: true)
        let rows = try Self.parseCSV(try CSVReport.tidy(data))
        let header = try XCTUnwrap(rows.first)
        let knobs = CSVReport.knobColumns(data)
        XCTAssertEqual(knobs, ["stage", "allocator", "executor"])
        XCTAssertEqual(header, ["run_id", "experiment", "config", "is_baseline", "config_hash", "repeat", "status", "started", "duration_s"]
                       + knobs + ["metric", "phase", "value", "unit", "source", "scaled", "note"])
        let expected = data.runs.reduce(0) { n, r in n + max(1, r.metrics.count + r.unavailable.count) }
        XCTAssertEqual(rows.count - 1, expected)
        XCTAssertTrue(rows.allSatisfy { $0.count == header.count })
        let col = { (name: String) in header.firstIndex(of: name)! }
        // Unavailable counters: empty value, never "0", reason in note.
        let unavailable = rows.filter { $0[col("source")] == "unavailable" }
        XCTAssertEqual(unavailable.count, data.runs.filter { $0.status == .ok }.count)
        XCTAssertTrue(unavailable.allSatisfy { $0[col("value")].isEmpty && $0[col("note")].contains("EACCES") })
        // The failed run has one row with its reason.
        let failed = rows.filter { $0[col("status")] == "failed" }
        XCTAssertEqual(failed.count, 1)
        XCTAssertTrue(failed[0][col("note")].contains("exit 134"))
        // Values round-trip.
        let sps = rows.first { $0[col("metric")] == "samples_per_sec" }!
        let run = data.runs.first { String($0.id) == sps[0] }!
        XCTAssertEqual(Double(sps[col("value")]), run.metric("samples_per_sec"))
    }

    func testWideCSVHasOneRowPerRunAndOneColumnPerMetric() throws {
        let data = AnalysisFixtures.ablation(unavailableFaults: true)
        let rows = try Self.parseCSV(try CSVReport.wide(data))
        let header = rows[0]
        XCTAssertEqual(rows.count - 1, data.runs.count)
        XCTAssertEqual(header.count, 9 + 3 + ExperimentSpec.defaultMetrics.count)
        XCTAssertEqual(Array(header.suffix(5)), ExperimentSpec.defaultMetrics)
        // label, baseline flag, start time and duration next to every run
        let cfg = header.firstIndex(of: "config")!, isBase = header.firstIndex(of: "is_baseline")!
        let started = header.firstIndex(of: "started")!, dur = header.firstIndex(of: "duration_s")!
        let baseRows = rows.dropFirst().filter { $0[isBase] == "1" }
        XCTAssertFalse(baseRows.isEmpty)
        XCTAssertTrue(baseRows.allSatisfy { $0[cfg] == "baseline" })
        XCTAssertTrue(rows.dropFirst().filter { $0[isBase] == "0" }.allSatisfy { $0[cfg] != "baseline" && !$0[cfg].isEmpty })
        XCTAssertTrue(rows.dropFirst().allSatisfy { ISO8601DateFormatter.withFractionalSeconds.date(from: $0[started]) != nil }, rows[1][started])
        XCTAssertTrue(rows.dropFirst().allSatisfy { Double($0[dur]) != nil })
        let faults = header.firstIndex(of: "minor_faults_per_step")!
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0[faults].isEmpty }, "unavailable must be empty, not 0")
        let sps = header.firstIndex(of: "samples_per_sec")!
        XCTAssertTrue(rows.dropFirst().allSatisfy { Double($0[sps]) ?? 0 > 5000 })
    }

    func testWideCSVKeepsWholeRunMetricsAndQuotesFields() throws {
        var data = AnalysisFixtures.ablation()
        data.runs[0].metrics.append(MetricValue(name: "wall_s", phase: "total", value: 12.5, unit: "s"))
        data.runs[1].stderrTail = "boom, \"quoted\"\nlast"
        let rows = try Self.parseCSV(try CSVReport.wide(data))
        let wall = try XCTUnwrap(rows[0].firstIndex(of: "wall_s"), "wall_s (phase total) is a wide column")
        XCTAssertEqual(rows[1][wall], "12.5")
        // RFC 4180 quoting round-trips through a real CSV reader
        var w = CSVReport.Writer()
        w.fields(["a,b", "say \"hi\"", "two\nlines", "plain"])
        XCTAssertEqual(try Self.parseCSV(w.text), [["a,b", "say \"hi\"", "two\nlines", "plain"]])
    }

    func testMarkdownTablesAreWellFormed() throws {
        let a = ExperimentAnalyzer().analyze(AnalysisFixtures.ablation(claims: [
            Claim(when: ["stage": "on"], metric: "samples_per_sec", expect: ">= 1.3x baseline", source: "a|b pipe"),
        ], failed: true))
        let md = SummaryReport.render(a, style: .markdown)
        let lines = md.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var tables = 0
        var i = 0
        while i < lines.count {
            guard lines[i].hasPrefix("|") else { i += 1; continue }
            let cells = { (l: String) in l.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count - 1 }
            let width = cells(lines[i])
            XCTAssertTrue(lines[i + 1].allSatisfy { "|-: ".contains($0) }, "separator after header: \(lines[i + 1])")
            XCTAssertEqual(cells(lines[i + 1]), width)
            var j = i + 2
            while j < lines.count, lines[j].hasPrefix("|") {
                XCTAssertEqual(cells(lines[j]), width, "row \(lines[j])")
                j += 1
            }
            XCTAssertGreaterThan(j, i + 2, "table without rows")
            tables += 1
            i = j
        }
        XCTAssertEqual(tables, 5, md) // configs, vs baseline, effects, claims, failed runs
        XCTAssertTrue(md.contains("# Experiment fixture"))
        XCTAssertTrue(md.contains("a\\|b pipe"))
        XCTAssertTrue(md.contains("host test-host: Intel Xeon Test CPU"))
    }

    func testTextTableIsAligned() {
        let t = ReportTable(header: ["config", "samples/s"], rows: [["baseline", "10000"], ["stage=on", "20000.5"]],
                            rightAligned: [false, true])
        let lines = t.text().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[1], "--------  ---------")
        XCTAssertEqual(lines[2], "baseline      10000")
        XCTAssertEqual(lines[3], "stage=on    20000.5")
    }

    func testChartTickLabelsStayDistinctOnNarrowRanges() {
        let s = SVG.Scale(covering: [0.9952, 1.0048], p0: 0, p1: 100)
        let labels = SVG.tickLabels(s.ticks())
        XCTAssertGreaterThanOrEqual(labels.count, 3)
        XCTAssertEqual(Set(labels).count, labels.count, "\(labels)")
        XCTAssertEqual(SVG.tickLabels([0, 50_000, 100_000]), ["0", "50k", "100k"])
    }

    func testJSONReportDecodesBack() throws {
        let data = AnalysisFixtures.ablation()
        let text = try ReportRenderer.render(data, format: .json)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let back = try decoder.decode(ExperimentAnalysis.self, from: Data(text.utf8))
        XCTAssertEqual(back.configs.count, 3)
        XCTAssertEqual(back.configs.first { $0.label == "stage=on" }?.comparison("samples_per_sec")?.verdict, .improved)
    }
}

extension ISO8601DateFormatter {
    static var withFractionalSeconds: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
