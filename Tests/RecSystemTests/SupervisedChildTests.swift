import Foundation
import Glibc
import TestSupport
import XCTest
@testable import RecSystem

/// The one process supervisor (issue 12 items 1–3).
final class SupervisedChildTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-supervisor") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func pid(in file: String) throws -> Int32 {
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let p = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return p }
            usleep(10_000)
        }
        throw XCTSkip("the child never wrote \(file)")
    }

    func gone(_ pid: Int32) -> Bool {
        for _ in 0..<500 {
            if !SupervisedChild.isAlive(pid) { return true }
            usleep(10_000)
        }
        return false
    }

    /// Item 1: a background child of a command that exits normally is killed with its group.
    func testGroupIsKilledAfterANormalExit() throws {
        let file = dir.appendingPathComponent("bg.pid").path
        let child = try SupervisedChild.spawn(.init(argv: ["/bin/sh", "-c", "sleep 60 & echo $! > '\(file)'; exit 0"]))
        try child.release()
        let exit = child.wait()
        XCTAssertEqual(exit.termination, .exited(0))
        XCTAssertNil(exit.stopReason)
        XCTAssertTrue(gone(try pid(in: file)), "the background sleep died with the group")
    }

    /// Item 1: a stop (a forwarded SIGTERM) escalates to SIGKILL when the command ignores SIGTERM.
    func testStopEscalatesToSIGKILL() throws {
        let file = dir.appendingPathComponent("bg.pid").path
        let child = try SupervisedChild.spawn(.init(argv: ["/bin/sh", "-c", "trap '' TERM; sleep 60 & echo $! > '\(file)'; while :; do sleep 1; done"]))
        try child.release()
        let background = try pid(in: file)
        let exit = child.wait(grace: .milliseconds(300), shouldStop: { SIGTERM })
        XCTAssertEqual(exit.stopReason, .stopped(signal: SIGTERM))
        XCTAssertTrue(exit.escalated)
        XCTAssertEqual(exit.termination, .signaled(SIGKILL))
        XCTAssertTrue(gone(background))
    }

    /// Item 2: the child gets its parent-death signal when the thread that spawned it ends.
    func testParentDeathSignalKillsTheChild() throws {
        final class Box: @unchecked Sendable { var child: SupervisedChild? }  // written by the thread, read after join
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.child = try? SupervisedChild.spawn(.init(argv: ["/bin/sleep", "60"]))
            try? box.child?.release()
            done.signal()
        }
        thread.start()
        done.wait()
        let child = try XCTUnwrap(box.child)
        // The spawning thread has ended (or is ending): the kernel sends SIGKILL to the child.
        let exit = child.wait(deadline: .now + .seconds(10))
        XCTAssertEqual(exit.termination, .signaled(SIGKILL), "killed by PR_SET_PDEATHSIG, not by the 10 s deadline")
        XCTAssertNil(exit.stopReason)
    }

    /// Item 3: exit statuses and signals are decoded once, here.
    func testTerminationDecoding() throws {
        for (script, want) in [("exit 7", SupervisedChild.Termination.exited(7)), ("kill -SEGV $$", .signaled(SIGSEGV))] {
            let child = try SupervisedChild.spawn(.init(argv: ["/bin/sh", "-c", script]))
            try child.release()
            XCTAssertEqual(child.wait().termination, want, script)
        }
        XCTAssertEqual(SupervisedChild.Termination.signaled(SIGKILL).shellStatus, 137)
    }
}
