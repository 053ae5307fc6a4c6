import Foundation
import Glibc
import TestSupport
import XCTest
@testable import RecSystem

final class CountedProcessTests: XCTestCase {
    private func python3() throws -> String {
        guard let path = try? CountedProcess.resolve("python3", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin") else {
            throw XCTSkip("python3 not installed")
        }
        return path
    }

    /// The counters attached before exec agree with the child's own wait4 rusage.
    func testMinorFaultsAgreeWithWait4Rusage() throws {
        let script = "b = b'\\x01' * (48 << 20); print(len(b))"
        let devnull = open("/dev/null", O_WRONLY)
        defer { close(devnull) }
        var p = CountedProcess(argv: [try python3(), "-c", script], events: ["minor-faults", "context-switches", "task-clock"])
        p.standardOutput = devnull
        let result = try p.run()
        XCTAssertEqual(result.exitStatus, 0)
        XCTAssertNil(result.signal)
        let faults = try XCTUnwrap(result.counters["minor-faults"]?.value, result.counters["minor-faults"]?.unavailable ?? "")
        let rusage = Double(result.rusage.minflt)
        XCTAssertGreaterThan(rusage, Double((48 << 20) / Workload.pageSize), "the script touched 48 MiB")
        // The rusage also holds the few faults between fork and execve, before the counters were enabled.
        assertClose(faults, rusage, rtol: 0.03, atol: 200, "perf minor-faults vs wait4 ru_minflt")
        XCTAssertGreaterThan(result.counters["task-clock"]?.value ?? 0, 0)
        XCTAssertGreaterThan(result.wallSeconds, 0)
    }

    /// Children of the child are counted too (inherit), once they are reaped.
    func testGrandchildrenAreCounted() throws {
        let py = try python3()
        let script = "\(py) -c \"b = b'\\\\x01' * (32 << 20)\"; \(py) -c \"b = b'\\\\x01' * (32 << 20)\""
        let result = try CountedProcess(argv: ["/bin/sh", "-c", script], events: ["minor-faults"]).run()
        XCTAssertEqual(result.exitStatus, 0)
        let faults = try XCTUnwrap(result.counters["minor-faults"]?.value)
        XCTAssertGreaterThan(faults, Double(2 * (32 << 20) / Workload.pageSize), "two python grandchildren touching 32 MiB each")
        assertClose(faults, Double(result.rusage.minflt), rtol: 0.03, atol: 300)
    }

    func testExitStatusAndSignalAreReported() throws {
        let exited = try CountedProcess(argv: ["/bin/sh", "-c", "exit 3"], events: []).run()
        XCTAssertEqual(exited.exitStatus, 3)
        XCTAssertNil(exited.signal)
        XCTAssertEqual(exited.shellStatus, 3)
        let killed = try CountedProcess(argv: ["/bin/sh", "-c", "kill -9 $$"], events: []).run()
        XCTAssertNil(killed.exitStatus)
        XCTAssertEqual(killed.signal, SIGKILL)
        XCTAssertEqual(killed.shellStatus, 137)
        XCTAssertFalse(killed.timedOut)
    }

    func testTimeoutTerminatesTheProcessGroup() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pidFile = dir.appendingPathComponent("background.pid").path
        let result = try CountedProcess(argv: ["/bin/sh", "-c", "sleep 30 & echo $! > '\(pidFile)'; sleep 30; wait"], events: [],
                                        timeout: .milliseconds(300), killGrace: .seconds(5)).run()
        XCTAssertTrue(result.timedOut)
        XCTAssertEqual(result.signal, SIGTERM)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let background = try XCTUnwrap(Int32(text), "pid file: \(text)")
        XCTAssertTrue(Self.waitUntilGone(background), "the background sleep of the same group was terminated too")
    }

    /// True once `pid` no longer runs (absent, or a zombie awaiting its new parent), polling up to 10 s.
    private static func waitUntilGone(_ pid: Int32) -> Bool {
        for _ in 0..<1000 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return true }
            let state = stat[stat.index(close, offsetBy: 2)]
            if state == "Z" || state == "X" { return true }
            usleep(10_000)
        }
        return false
    }

    func testTimeoutEscalatesToSIGKILLWhenTERMIsIgnored() throws {
        let result = try CountedProcess(argv: ["/bin/sh", "-c", "trap '' TERM; sleep 30"], events: [],
                                        timeout: .milliseconds(200), killGrace: .milliseconds(200)).run()
        XCTAssertTrue(result.timedOut)
        XCTAssertEqual(result.signal, SIGKILL)
        XCTAssertEqual(result.shellStatus, 128 + SIGKILL)
    }

    func testFastCommandWithTimeoutIsNotKilled() throws {
        let result = try CountedProcess(argv: ["/bin/sh", "-c", "exit 0"], events: [], timeout: .seconds(30)).run()
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.exitStatus, 0)
    }

    func testStandardOutputGoesToTheGivenDescriptor() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        var p = CountedProcess(argv: ["echo", "hello from the child"], events: ["minor-faults"])
        p.standardOutput = fds[1]
        let result = try p.run()
        close(fds[1])
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fds[0], &buffer, buffer.count)
        close(fds[0])
        XCTAssertEqual(result.exitStatus, 0)
        XCTAssertEqual(String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self), "hello from the child\n")
    }

    func testEnvironmentIsPassed() throws {
        let result = try CountedProcess(argv: ["/bin/sh", "-c", "test \"$RECTUNE_PROBE\" = yes"], events: [],
                                        environment: ["RECTUNE_PROBE": "yes", "PATH": "/usr/bin:/bin"]).run()
        XCTAssertEqual(result.exitStatus, 0)
    }

    func testMissingCommandIsReportedNotRun() {
        XCTAssertThrowsError(try CountedProcess(argv: ["rectune-no-such-command-xyz"]).run()) { error in
            guard case CountedProcessError.commandNotFound(let name) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "rectune-no-such-command-xyz")
            XCTAssertEqual((error as? CountedProcessError)?.shellStatus, 127)
        }
    }

    func testExecFailureCarriesTheErrno() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("not-executable").path
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        XCTAssertThrowsError(try CountedProcess(argv: [file]).run()) { error in
            guard case CountedProcessError.exec(let path, let errno) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, file)
            XCTAssertEqual(errno.symbolicName, "EACCES")
        }
    }
}
