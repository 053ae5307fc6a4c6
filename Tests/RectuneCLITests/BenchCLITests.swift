import Foundation
import TestSupport
import XCTest

/// `rectune bench` on the real binary: the roofline columns and the critical path (figures are
/// not asserted, only that they are there and consistent with each other).
final class BenchCLITests: XCTestCase {
    func testBenchPrintsRooflineAndCriticalPath() throws {
        let dir = try makeTemporaryDirectory("rectune-bench-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try RectuneCLI.run(["bench", "--models", "wdl", "--contest", "none", "--sequence", "none", "--in-memory-only",
                                    "--rows", "12000", "--batch", "128", "--steps", "3", "--warmup-steps", "1", "--profile"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let host = try XCTUnwrap(lines.first { $0.hasPrefix("host GEMM rate: ") }, r.out)
        XCTAssertTrue(host.contains("GFLOP/s per core (fp32"), host)
        // WDL's default tower 429→1024→512→256→1 plus the wide 13→1 linear: 6.570 MFLOP/sample.
        let dense = try XCTUnwrap(lines.first { $0.hasPrefix("  wdl roofline: ") }, r.out)
        XCTAssertTrue(dense.contains("6.570 dense MFLOP/sample"), dense)
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("wdl ") && $0.contains("in-memory") }, r.out)
        XCTAssertTrue(row.contains("%"), row)
        if ProcessInfo.processInfo.activeProcessorCount >= 2 {
            // Two cores: the rate of both running GEMMs at once, and a second (busy) roofline beside the nominal one.
            let busy = try XCTUnwrap(lines.first { $0.hasPrefix("host GEMM rate with all 2 cores busy at once: ") }, r.out)
            XCTAssertTrue(busy.contains(" + ") && busy.contains("one core alone"), busy)
            XCTAssertTrue(dense.contains("; busy: ") && dense.hasSuffix("samples/s"), dense)
            XCTAssertEqual(row.filter { $0 == "%" }.count, 2, row)
        }
        let path = try XCTUnwrap(lines.first { $0.contains("critical path of one wdl step") }, r.out)
        XCTAssertTrue(path.contains("nodes"), path)
        XCTAssertTrue(lines.contains { $0.contains("wdl.dnn.0.fwd") && $0.contains("GFLOP/s") }, r.out)
    }
}
