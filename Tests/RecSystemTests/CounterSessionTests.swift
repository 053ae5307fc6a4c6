import Foundation
import XCTest
@testable import RecSystem

final class CounterSessionTests: XCTestCase {
    private let pages = 4000

    private func minorFaults(_ readings: [CounterReading], file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        let r = try XCTUnwrap(readings["minor-faults"], "no minor-faults reading", file: file, line: line)
        return try XCTUnwrap(r.value, "minor-faults unavailable: \(r.unavailable ?? "?")", file: file, line: line)
    }

    private func requireSoftwareCounters(_ session: CounterSession) throws {
        if let reason = session.unavailable["minor-faults"] {
            throw XCTSkip("perf_event software counters unavailable here: \(reason)")
        }
    }

    func testTouchedPagesShowAsMinorFaultsInTheirPhaseOnly() throws {
        let session = CounterSession(events: ["minor-faults", "task-clock"])
        try requireSoftwareCounters(session)
        session.start()
        let s0 = session.read()
        Workload.touchFreshPages(pages)
        let s1 = session.read()
        Workload.compute(iterations: 20_000_000)
        let s2 = session.read()

        let touching = try minorFaults(s1.delta(since: s0))
        let computing = try minorFaults(s2.delta(since: s1))
        XCTAssertGreaterThanOrEqual(touching, Double(pages), "phase that touched \(pages) pages")
        XCTAssertLessThan(computing, Double(pages) / 20, "phase that only computed")
        let clock = try XCTUnwrap(s2.delta(since: s1)["task-clock"])
        XCTAssertEqual(clock.unit, "ns")
        XCTAssertGreaterThan(clock.value ?? 0, 0)
        XCTAssertFalse(clock.scaled, "software events are never multiplexed")
    }

    func testStoppedSessionDoesNotCount() throws {
        let session = CounterSession(events: ["minor-faults"])
        try requireSoftwareCounters(session)
        let before = session.read()
        Workload.touchFreshPages(pages)
        XCTAssertEqual(try minorFaults(session.read().delta(since: before)), 0, "not started yet")
        session.start()
        session.stop()
        let s0 = session.read()
        Workload.touchFreshPages(pages)
        XCTAssertEqual(try minorFaults(session.read().delta(since: s0)), 0, "stopped")
    }

    /// A thread created after the session opened is counted (inherit), while it lives and after it exits.
    func testWorkerThreadFaultsAreCountedThroughInherit() throws {
        let session = CounterSession(events: ["minor-faults"], inherit: true)
        try requireSoftwareCounters(session)
        session.start()
        let s0 = session.read()
        let (touched, release, finished) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let pages = self.pages
        let worker = Thread {
            Workload.touchFreshPages(pages)
            touched.signal()
            release.wait()
            finished.signal()
        }
        worker.start()
        touched.wait()
        let whileAlive = try minorFaults(session.read().delta(since: s0))
        release.signal()
        finished.wait()
        usleep(50_000)  // let the thread finish exiting so its counts fold into the parent event
        let afterExit = try minorFaults(session.read().delta(since: s0))
        XCTAssertGreaterThanOrEqual(whileAlive, Double(pages), "live worker thread's faults")
        XCTAssertGreaterThanOrEqual(afterExit, whileAlive, "exited worker's faults stay counted")
    }

    func testWithoutInheritWorkerThreadFaultsAreNotCounted() throws {
        let session = CounterSession(events: ["minor-faults"], inherit: false)
        try requireSoftwareCounters(session)
        session.start()
        let s0 = session.read()
        let done = DispatchSemaphore(value: 0)
        let pages = self.pages
        Thread { Workload.touchFreshPages(pages); done.signal() }.start()
        done.wait()
        XCTAssertLessThan(try minorFaults(session.read().delta(since: s0)), Double(pages) / 2)
    }

    /// A thread that existed before the session opened is counted only with `allThreads`.
    func testPreexistingThreadIsCountedOnlyWithAllThreads() throws {
        let go = DispatchSemaphore(value: 0), touched = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0)
        let pages = self.pages
        Thread {
            started.signal()
            for _ in 0..<2 { go.wait(); Workload.touchFreshPages(pages); touched.signal() }
        }.start()
        started.wait()
        let callingThreadOnly = CounterSession(events: ["minor-faults"])
        let wholeProcess = CounterSession(events: ["minor-faults"], allThreads: true)
        try requireSoftwareCounters(callingThreadOnly)
        XCTAssertGreaterThan(wholeProcess.slots[0].descriptors.count, 1, "one fd per existing thread")
        for (session, expectCounted) in [(callingThreadOnly, false), (wholeProcess, true)] {
            session.start()
            let s0 = session.read()
            go.signal()
            touched.wait()
            let faults = try minorFaults(session.read().delta(since: s0))
            if expectCounted {
                XCTAssertGreaterThanOrEqual(faults, Double(pages), "allThreads counts the pre-existing thread")
            } else {
                XCTAssertLessThan(faults, Double(pages) / 2, "a pre-existing thread is not inherited")
            }
        }
    }

    func testHardwareEventsAreUnavailableWithAReason() throws {
        let session = CounterSession(events: ["cycles", "instructions", "minor-faults"])
        if session.available.contains("cycles") {
            throw XCTSkip("this machine exposes a hardware PMU: cycles is countable here")
        }
        let reason = try XCTUnwrap(session.unavailable["cycles"])
        XCTAssertTrue(reason.contains("perf_event_open(cycles)"), reason)
        XCTAssertTrue(["ENOENT", "EOPNOTSUPP", "ENODEV", "EACCES", "EPERM"].contains { reason.contains($0) }, reason)
        session.start()
        let readings = session.read().totals
        XCTAssertNil(readings["cycles"]?.value, "an unavailable event must not read as a number")
        XCTAssertEqual(readings["cycles"]?.unavailable, reason)
        XCTAssertNil(readings.values["cycles"])
    }

    func testUnknownEventNameIsUnavailableWithLibpfmReason() throws {
        let session = CounterSession(events: ["no-such-event-xyz", "minor-faults"])
        let reason = try XCTUnwrap(session.unavailable["no-such-event-xyz"])
        XCTAssertTrue(reason.contains("PFM_ERR_NOTFOUND"), reason)
        XCTAssertTrue(reason.contains("event not found"), reason)
        XCTAssertFalse(session.available.contains("no-such-event-xyz"))
        XCTAssertEqual(session.read().names, ["no-such-event-xyz", "minor-faults"], "kept in session order")
    }

    func testLibpfmFullNamesWork() throws {
        let session = CounterSession(events: ["perf::PERF_COUNT_SW_PAGE_FAULTS_MIN"])
        if let reason = session.unavailable.values.first { throw XCTSkip("software counters unavailable: \(reason)") }
        session.start()
        let s0 = session.read()
        Workload.touchFreshPages(pages)
        let r = try XCTUnwrap(session.read().delta(since: s0).first)
        XCTAssertGreaterThanOrEqual(r.value ?? 0, Double(pages))
        XCTAssertEqual(r.encoding?.hasPrefix("perf::PERF_COUNT_SW_PAGE_FAULTS_MIN"), true)
    }

    /// As an unprivileged user at perf_event_paranoid 2 gets: user-mode page faults still count.
    func testUserOnlyScopeStillCountsUserPageFaults() throws {
        let session = CounterSession(events: ["minor-faults"], targets: [0], inherit: true, enableOnExec: false, forceUserOnly: true)
        try requireSoftwareCounters(session)
        session.start()
        let s0 = session.read()
        Workload.touchFreshPages(pages)
        let r = try XCTUnwrap(session.read().delta(since: s0)["minor-faults"])
        XCTAssertEqual(r.scope, "user")
        XCTAssertGreaterThanOrEqual(r.value ?? 0, Double(pages))
    }
}
