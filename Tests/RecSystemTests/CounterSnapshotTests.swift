import XCTest
@testable import RecSystem

final class CounterSnapshotTests: XCTestCase {
    private func snapshot(_ raw: (UInt64, UInt64, UInt64)?, unavailable: String? = nil) -> CounterSnapshot {
        CounterSnapshot(entries: [.init(name: "e", unit: "", encoding: nil, scope: "user+kernel",
                                        raw: raw.map { (value: $0.0, enabled: $0.1, running: $0.2) }, unavailable: unavailable)])
    }

    func testMultiplexedPhaseIsScaledByEnabledOverRunning() throws {
        let r = try XCTUnwrap(snapshot((1100, 3000, 1500)).delta(since: snapshot((100, 1000, 1000))).first)
        XCTAssertEqual(r.rawValue, 1000)
        XCTAssertEqual(r.timeEnabled, 2000)
        XCTAssertEqual(r.timeRunning, 500)
        XCTAssertEqual(r.value, 4000)
        XCTAssertTrue(r.scaled)
    }

    func testFullyRunningPhaseIsNotScaled() throws {
        let r = try XCTUnwrap(snapshot((700, 900, 900)).delta(since: snapshot((200, 400, 400))).first)
        XCTAssertEqual(r.value, 500)
        XCTAssertFalse(r.scaled)
    }

    func testPhaseThatNeverRanIsUnavailableNotZero() throws {
        let r = try XCTUnwrap(snapshot((0, 900, 0)).delta(since: snapshot((0, 400, 0))).first)
        XCTAssertNil(r.value)
        XCTAssertNotNil(r.unavailable)
    }

    func testUnavailableEventStaysUnavailable() throws {
        let r = try XCTUnwrap(snapshot(nil, unavailable: "perf_event_open(e): ENOENT").totals.first)
        XCTAssertNil(r.value)
        XCTAssertEqual(r.unavailable, "perf_event_open(e): ENOENT")
    }
}
