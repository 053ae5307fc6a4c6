import Foundation
import XCTest
@testable import RecSystem

final class MeasureReportTests: XCTestCase {
    private func result(exit: Int32?, signal: Int32?) -> CountedProcessResult {
        CountedProcessResult(
            argv: ["python3", "-c", "pass"], executablePath: "/usr/bin/python3", pid: 42, exitStatus: exit, signal: signal,
            timedOut: false, wallSeconds: 1.5,
            counters: [
                CounterReading(name: "minor-faults", value: 1234, rawValue: 1234, timeEnabled: 10, timeRunning: 10),
                CounterReading(name: "task-clock", value: 5e8, rawValue: 500_000_000, timeEnabled: 10, timeRunning: 10, unit: "ns"),
                CounterReading(name: "cycles", value: nil, unavailable: "perf_event_open(cycles): ENOENT (No such file or directory)"),
            ],
            rusage: ResourceUsage(minflt: 1300, majflt: 0, nvcsw: 3, nivcsw: 4, maxrssKB: 9000, userSeconds: 0.25, systemSeconds: 0.125))
    }

    private func object(_ report: MeasureReport) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
    }

    func testJSONHasTheContractKeysAndExplicitNulls() throws {
        let json = try object(MeasureReport(result(exit: nil, signal: 9)))
        XCTAssertEqual(Set(json.keys), ["argv", "exit_status", "signal", "timed_out", "wall_s", "counters", "counter_info", "rusage"])
        XCTAssertTrue(json["exit_status"] is NSNull, "exit_status must be an explicit null when killed")
        XCTAssertEqual(json["signal"] as? Int, 9)
        XCTAssertEqual(json["argv"] as? [String], ["python3", "-c", "pass"])
        XCTAssertEqual(json["wall_s"] as? Double, 1.5)
        let counters = try XCTUnwrap(json["counters"] as? [String: Double])
        XCTAssertEqual(counters, ["minor-faults": 1234, "task-clock": 5e8], "unavailable events are not in counters")
        let info = try XCTUnwrap(json["counter_info"] as? [String: [String: Any]])
        XCTAssertEqual(info["cycles"]?.keys.sorted(), ["unavailable"])
        XCTAssertEqual(info["minor-faults"]?["source"] as? String, "perf_event")
        XCTAssertEqual(info["minor-faults"]?["scaled"] as? Bool, false)
        XCTAssertEqual(info["minor-faults"]?["time_enabled"] as? Int, 10)
        XCTAssertEqual(info["task-clock"]?["unit"] as? String, "ns")
        let rusage = try XCTUnwrap(json["rusage"] as? [String: Any])
        XCTAssertEqual(Set(rusage.keys), ["minflt", "majflt", "nvcsw", "nivcsw", "maxrss_kb", "user_s", "sys_s"])
        XCTAssertEqual(rusage["maxrss_kb"] as? Int, 9000)
    }

    func testExitedProcessHasNullSignal() throws {
        let json = try object(MeasureReport(result(exit: 0, signal: nil)))
        XCTAssertEqual(json["exit_status"] as? Int, 0)
        XCTAssertTrue(json["signal"] is NSNull)
    }

    func testTableShowsCountsAndNotSupportedReasons() {
        let table = MeasureReport(result(exit: 0, signal: nil)).table()
        XCTAssertTrue(table.contains("1,234      minor-faults"), table)
        XCTAssertTrue(table.contains("500.00 msec      task-clock"), table)
        XCTAssertTrue(table.contains("cycles  <not supported: perf_event_open(cycles): ENOENT"), table)
        XCTAssertTrue(table.contains("1.500000000 seconds time elapsed"), table)
        XCTAssertTrue(table.contains("minflt 1,300"), table)
    }
}
