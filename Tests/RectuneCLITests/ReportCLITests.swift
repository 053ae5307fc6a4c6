import Foundation
import TestSupport
import XCTest

/// Runs the built `rectune` binary as a user would: sweep a tiny external-command spec into a temporary
/// store, then report, compare and check it.
final class ReportCLITests: XCTestCase {
    static var binary: URL { RectuneCLI.binary }

    /// Runs rectune with `args` in `dir`; returns exit status, stdout and stderr.
    @discardableResult
    static func rectune(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) {
        try RectuneCLI.run(args, in: dir)
    }

    /// A spec whose "training" prints a deterministic JSON result (`{` and `}` as printf octal escapes,
    /// because spec templates use braces for placeholders): samples/s = {sps}, step p99 = 50 ms.
    static let spec = """
    name: cli-fixture
    command: [/bin/sh, -c, "printf '\\\\173\\"samples_per_sec\\": %s, \\"step_ms\\": \\\\173\\"p99\\": 50\\\\175\\\\175\\\\n' {sps}"]
    repeats: 3
    steps: 10
    factors:
      sps: ["1000", "700"]
    baseline: {sps: "1000"}
    design: ablation
    metrics: [samples_per_sec, step_ms.p99, minor_faults_per_step]

    """

    /// A temporary directory with `spec.yaml` swept into `r.sqlite`.
    static func sweptStore() throws -> URL {
        let dir = try makeTemporaryDirectory("rectune-cli-report")
        try spec.write(to: dir.appendingPathComponent("spec.yaml"), atomically: true, encoding: .utf8)
        let sweep = try rectune(["sweep", "spec.yaml", "--db", "r.sqlite"], in: dir)
        struct SweepFailed: Error { let status: Int32; let err: String }
        guard sweep.status == 0 else { throw SweepFailed(status: sweep.status, err: String(sweep.err.suffix(400))) }
        return dir
    }

    func testReportFormatsEndToEnd() throws {
        let dir = try Self.sweptStore()
        defer { try? FileManager.default.removeItem(at: dir) }

        let text = try Self.rectune(["report", "--db", "r.sqlite", "--latest"], in: dir)
        XCTAssertEqual(text.status, 0, text.err)
        XCTAssertTrue(text.out.contains("Experiment cli-fixture"), text.out)
        XCTAssertTrue(text.out.contains("sps=700"), text.out)
        XCTAssertTrue(text.out.contains("0.700x"), text.out)
        XCTAssertTrue(text.out.contains("REGRESSED"), text.out)

        let md = try Self.rectune(["report", "cli-fixture", "--db", "r.sqlite", "--format", "md"], in: dir)
        XCTAssertEqual(md.status, 0, md.err)
        XCTAssertTrue(md.out.contains("| config | sps |"), md.out)

        let csv = try Self.rectune(["report", "--db", "r.sqlite", "--format", "csv-wide"], in: dir)
        XCTAssertEqual(csv.out.split(separator: "\n").count, 1 + 6, csv.out)

        for (format, file) in [("html", "out/r.html"), ("ipynb", "out/r.ipynb"), ("json", "out/r.json")] {
            let r = try Self.rectune(["report", "--db", "r.sqlite", "--format", format, "--out", file], in: dir)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.err.contains("wrote \(format) report"), r.err)
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), file)
        }
        let nb = try Self.rectune(["report", "--db", "r.sqlite", "--format", "ipynb"], in: dir)
        XCTAssertEqual(nb.status, 0, nb.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("notebooks-export/cli-fixture.ipynb").path))

        let missing = try Self.rectune(["report", "nope", "--db", "r.sqlite"], in: dir)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.err.contains("no experiment 'nope'") && missing.err.contains("cli-fixture"), missing.err)
        let noStore = try Self.rectune(["report", "--db", "absent.sqlite"], in: dir)
        XCTAssertEqual(noStore.status, 2)
        XCTAssertTrue(noStore.err.contains("no result store at absent.sqlite"), noStore.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("absent.sqlite").path), "reading must not create a store")

        let cmp = try Self.rectune(["compare", "cli-fixture:sps=1000", "cli-fixture:sps=700", "--db", "r.sqlite", "--format", "md"], in: dir)
        XCTAssertEqual(cmp.status, 0, cmp.err)
        // constant repeats are deterministic: no CI, n_eff = 1, judged on the threshold alone
        XCTAssertTrue(cmp.out.contains("| samples/s | 1000 | 700.0 | 0.700x | ±2% | n_eff = 1 | - REGRESSED |"), cmp.out)
        let cmpThreshold = try Self.rectune(["compare", "cli-fixture:sps=1000", "cli-fixture:sps=700", "--db", "r.sqlite",
                                             "--metric", "samples_per_sec:40%"], in: dir)
        XCTAssertEqual(cmpThreshold.status, 0, cmpThreshold.err)
        XCTAssertTrue(cmpThreshold.out.contains("±40%") && cmpThreshold.out.contains("= unchanged"), cmpThreshold.out)
        // --fail-on-regression: exit 1 on the regression above, 0 when nothing regressed.
        let gated = try Self.rectune(["compare", "cli-fixture:sps=1000", "cli-fixture:sps=700", "--db", "r.sqlite",
                                      "--fail-on-regression"], in: dir)
        XCTAssertEqual(gated.status, 1, gated.out + gated.err)
        let gatedWide = try Self.rectune(["compare", "cli-fixture:sps=1000", "cli-fixture:sps=700", "--db", "r.sqlite",
                                          "--metric", "samples_per_sec:40%", "--fail-on-regression"], in: dir)
        XCTAssertEqual(gatedWide.status, 0, gatedWide.out + gatedWide.err)
        let typo = try Self.rectune(["report", "--db", "r.sqlite", "--metric", "samples_per_secc"], in: dir)
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.err.contains("did you mean 'samples_per_sec'"), typo.err)
    }
}
