import Foundation
@testable import RecHarness
import TestSupport
import XCTest

/// HTML and notebook exports: self-contained, escaped, rendered by headless Chromium, valid nbformat.
final class ReportHTMLTests: XCTestCase {
    static let repoRoot = RepositoryRoot.url

    /// Runs `argv` (PATH lookup through /usr/bin/env), returning exit status and combined output.
    static func run(_ argv: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// The ablation fixture with a hostile config value and spec text.
    static func hostileData() -> ExperimentData {
        var data = AnalysisFixtures.ablation(claims: [Claim(when: ["stage": "on"], metric: "samples_per_sec", expect: ">= 1.3x baseline",
                                                            source: "<img src=http://evil.example/x.png>")], failed: true)
        for i in data.runs.indices where data.runs[i].config["stage"] == "on" {
            data.runs[i].config["stage"] = "on<script>alert(1)</script>"
        }
        data.spec.claims[0].when = ["stage": "on<script>alert(1)</script>"]
        data.experiment.specText = "name: fixture\n# <script>alert('spec')</script> & more\n"
        return data
    }

    func testHTMLIsSelfContainedAndEscaped() throws {
        let data = Self.hostileData()
        let html = try ReportRenderer.render(data, format: .html)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("<svg"))
        XCTAssertFalse(html.lowercased().contains("<script"), "no scripts, and hostile names must be escaped")
        XCTAssertFalse(html.contains("<img"))
        XCTAssertTrue(html.contains("on&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;spec&#39;)&lt;/script&gt; &amp; more"))
        let external = try NSRegularExpression(pattern: #"<[^>]*\s(src|href)\s*=\s*["']?\s*(https?:)?//"#, options: .caseInsensitive)
        XCTAssertEqual(external.numberOfMatches(in: html, range: NSRange(html.startIndex..., in: html)), 0)
        XCTAssertFalse(html.contains("@import"))
        XCTAssertFalse(html.contains("url("))
        // Every chart section is there.
        for section in ["Effect of each configuration vs baseline", "Per-config distributions", "Counters per step",
                        "AUC vs throughput", "Claims", "Failed runs", "Spec"] {
            XCTAssertTrue(html.contains("<h2>\(section)</h2>"), section)
        }
        // Balanced svg elements.
        XCTAssertEqual(html.components(separatedBy: "<svg").count, html.components(separatedBy: "</svg>").count)
    }

    func testHTMLRendersInHeadlessChromium() throws {
        guard let chromium = Self.which("chromium") ?? Self.which("chromium-browser") ?? Self.which("google-chrome") else {
            throw XCTSkip("chromium is not installed (apt-get install -y chromium); HTML render check skipped")
        }
        let dir = try makeTemporaryDirectory("rectune-html")
        defer { try? FileManager.default.removeItem(at: dir) }
        let htmlURL = dir.appendingPathComponent("report.html")
        let png = dir.appendingPathComponent("report.png")
        try ReportRenderer.render(Self.hostileData(), format: .html).write(to: htmlURL, atomically: true, encoding: .utf8)
        let result = try Self.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                                   "--user-data-dir=\(dir.appendingPathComponent("profile").path)",
                                   "--window-size=1200,2400", "--screenshot=\(png.path)", htmlURL.absoluteString])
        XCTAssertEqual(result.status, 0, result.output)
        let bytes = try Data(contentsOf: png)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        XCTAssertGreaterThan(bytes.count, 30_000, "a blank page compresses to a few KB; charts and tables do not")
        if let keep = ProcessInfo.processInfo.environment["RECTUNE_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: png, to: URL(fileURLWithPath: keep))
        }
    }

    func testNotebookIsValidNbformat() throws {
        let data = AnalysisFixtures.ablation(unavailableFaults: true)
        let text = try ReportRenderer.render(data, format: .ipynb)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(json["nbformat"] as? Int, 4)
        let cells = try XCTUnwrap(json["cells"] as? [[String: Any]])
        XCTAssertEqual(cells.map { $0["cell_type"] as? String }, ["markdown", "code", "code", "code", "code"])
        let source = cells.compactMap { ($0["source"] as? [String])?.joined() }.joined(separator: "\n")
        XCTAssertTrue(source.contains("pd.DataFrame(json.loads(RUNS_JSON), columns=COLUMNS)"))
        // deliberate column order (identity, knobs, metrics) and the baseline config first
        XCTAssertTrue(source.contains("COLUMNS = [\"run_id\",\"config\",\"is_baseline\",\"repeat\",\"status\",\"knob_"), source)
        XCTAssertTrue(source.contains("CONFIG_ORDER = [\"baseline\""), source)
        XCTAssertTrue(source.contains("reindex"), source)
        XCTAssertTrue(source.contains("groupby(\"config\")"))
        XCTAssertTrue(source.contains("errorbar"))
        XCTAssertEqual(NotebookReport.defaultPath(for: "wdl ablation/1"), "notebooks-export/wdl_ablation_1.ipynb")

        guard Self.which("python3") != nil, try Self.run(["python3", "-c", "import nbformat"]).status == 0 else {
            throw XCTSkip("python3 with nbformat is not installed (pip install nbformat); notebook validation skipped")
        }
        let dir = try makeTemporaryDirectory("rectune-nb")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("fixture.ipynb")
        try text.write(to: path, atomically: true, encoding: .utf8)
        let script = Self.repoRoot.appendingPathComponent("scripts/validate_notebook.py").path
        var argv = ["python3", script, path.path]
        let canExecute = try Self.run(["python3", "-c", "import pandas, matplotlib"]).status == 0
        if canExecute { argv.append("--execute-code") }
        let result = try Self.run(argv)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("valid nbformat 4"), result.output)
        if canExecute { XCTAssertTrue(result.output.contains("every code cell ran"), result.output) }

        // The validator really rejects a broken notebook.
        let broken = dir.appendingPathComponent("broken.ipynb")
        try text.replacingOccurrences(of: "\"cell_type\" : \"code\"", with: "\"cell_type\" : \"bogus\"")
            .write(to: broken, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Self.run(["python3", script, broken.path]).status, 1)
    }
}
