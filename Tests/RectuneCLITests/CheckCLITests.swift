import Foundation
import TestSupport
import XCTest

/// `rectune check` exit codes and output, run as a CI job would run it.
final class CheckCLITests: XCTestCase {
    func testCheckExitCodes() throws {
        let dir = try ReportCLITests.sweptStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        func check(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try ReportCLITests.rectune(["check", "--db", "r.sqlite"] + args, in: dir)
        }
        // Deterministic results: 30% slower is a regression (exit 1), the reverse is not (exit 0).
        let slow = try check(["--baseline", "cli-fixture:sps=1000", "--candidate", "cli-fixture:sps=700"])
        XCTAssertEqual(slow.status, 1, slow.out + slow.err)
        XCTAssertTrue(slow.out.contains("| samples_per_sec | 1000 | 700.0 |"), slow.out)
        XCTAssertTrue(slow.out.contains("**REGRESSION: samples_per_sec -30.0%"), slow.out)
        XCTAssertEqual(try check(["--baseline", "cli-fixture:sps=700", "--candidate", "cli-fixture:sps=1000"]).status, 0)
        // The baseline config's runs picked by id (from the wide CSV) against the same config by selector.
        let csv = try ReportCLITests.rectune(["report", "--db", "r.sqlite", "--format", "csv-wide"], in: dir).out
        var ids: [String] = []
        let header = csv.split(separator: "\n").first.map { $0.split(separator: ",", omittingEmptySubsequences: false) } ?? []
        let sps = try XCTUnwrap(header.firstIndex(of: "sps"), csv)
        for line in csv.split(separator: "\n").dropFirst() {
            let cells: [Substring] = line.split(separator: ",", omittingEmptySubsequences: false)
            if cells.count > sps && cells[sps] == "1000" { ids.append(String(cells[0])) }
        }
        XCTAssertEqual(ids.count, 3, csv)
        let same = try check(["--baseline", "cli-fixture:sps=1000", "--candidate", "runs:" + ids.joined(separator: ",")])
        XCTAssertEqual(same.status, 0, same.out + same.err)
        XCTAssertTrue(same.out.contains("**NO REGRESSION**"), same.out)

        // A metric nobody measured is inconclusive (3), or a failure with --inconclusive-fails.
        let na = try check(["--baseline", "cli-fixture:sps=1000", "--candidate", "cli-fixture:sps=700", "--metric", "auc:0.01"])
        XCTAssertEqual(na.status, 3, na.out + na.err)
        XCTAssertTrue(na.out.contains("INCONCLUSIVE"), na.out)
        XCTAssertEqual(try check(["--baseline", "cli-fixture:sps=1000", "--candidate", "cli-fixture:sps=700", "--metric", "auc",
                                  "--inconclusive-fails"]).status, 1)

        // Usage and data errors: 2.
        for args in [["--baseline", "nope", "--candidate", "cli-fixture"],
                     ["--baseline", "cli-fixture:sps=3", "--candidate", "cli-fixture"],
                     ["--baseline", "cli-fixture"],
                     ["--baseline", "cli-fixture", "--candidate", "cli-fixture", "--metric", "samples_per_sec:fast"],
                     ["--ab", "only-one.yaml"]] {
            let r = try check(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.out) \(r.err)")
            XCTAssertTrue(r.err.hasPrefix("error: "), r.err)
        }
    }

    func testAbCommandMeasuresBothNow() throws {
        let dir = try makeTemporaryDirectory("rectune-cli-ab")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The commands print their own result (braces via printf, a constant): B is 3x slower in samples/s.
        let a = #"printf '\173"samples_per_sec": 3000\175\n'"#
        let b = #"printf '\173"samples_per_sec": 1000\175\n'"#
        let r = try ReportCLITests.rectune(["check", "--db", "ab.sqlite", "--ab-command", a, b, "--repeats", "3",
                                            "--metric", "samples_per_sec"], in: dir)
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains("baseline: 3 ok runs · candidate: 3 ok runs"), r.out)
        XCTAssertTrue(r.out.contains("**REGRESSION: samples_per_sec -66.7%"), r.out)
    }
}
