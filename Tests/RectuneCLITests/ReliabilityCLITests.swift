import Foundation
import TestSupport
import XCTest

/// Issue 12 and the CLI bullet of issue 8, end to end: one exit-code table for every subcommand,
/// `--help` everywhere, reading commands that never create a store and read read-only media, and
/// `kill -9` of a sweep (its trainer dies with it; the stale row is recognised at once).
final class ReliabilityCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-reliability") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @discardableResult
    func rectune(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try RectuneCLI.run(args, in: dir)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let subcommands = ["train", "bench", "gen-data", "measure", "doctor", "plan", "sweep", "tune", "runs", "show",
                              "report", "compare", "check"]

    func testHelpWorksOnEverySubcommand() throws {
        for sub in Self.subcommands {
            let r = try rectune([sub, "--help"])
            XCTAssertEqual(r.status, 0, "\(sub) --help: \(r.err)")
            XCTAssertTrue(r.out.contains("USAGE: rectune \(sub)"), "\(sub) --help printed: \(r.out.prefix(200)) \(r.err.prefix(200))")
        }
        let root = try rectune(["--help"])
        XCTAssertEqual(root.status, 0)
        XCTAssertTrue(root.out.contains("Exit:"), "the exit codes are summarised in the root help")
    }

    /// Every subcommand that touches the store takes the same `--db` option.
    func testEveryStoreCommandTakesTheSameDbOption() throws {
        for sub in ["sweep", "tune", "runs", "show", "report", "compare", "check"] {
            let r = try rectune([sub, "--help"])
            XCTAssertTrue(r.out.contains("--db <path>") && r.out.contains("The result store (SQLite file)."), "\(sub): \(r.out)")
        }
    }

    /// The README's exit-code table, subcommand by subcommand.
    func testExitCodeTable() throws {
        let missing = dir.appendingPathComponent("nowhere/typo.sqlite").path
        let failing = try write("fail.yaml", """
        name: all-fail
        command: [/bin/sh, -c, 'exit 3']
        repeats: 2
        """)
        let db = dir.appendingPathComponent("store/r.sqlite").path
        let cases: [(args: [String], status: Int32)] = [
            (["--no-such-option"], 2),
            (["train", "--steps", "-1"], 2),
            (["train", "--batch", "0"], 2),
            (["bench", "--no-such-option"], 2),
            (["gen-data", "--no-such-option"], 2),
            (["measure"], 2),
            (["measure", "--", "/bin/sh", "-c", "exit 3"], 3),
            (["measure", "--", "rectune-no-such-command-xyz"], 127),
            (["doctor", "--no-such-option"], 2),
            (["plan", "no-such-spec.yaml"], 2),
            (["sweep", "no-such-spec.yaml", "--db", db], 2),
            (["sweep", failing, "--db", db, "--no-measure"], 4),
            (["sweep", failing, "--db", db, "--no-measure", "--resume", "--new"], 2),
            (["tune", "no-such-spec.yaml", "--db", db], 2),
            (["tune", failing, "--db", db, "--budget", "0"], 2),
            (["runs", "--db", missing], 2),
            (["runs", "no-such-experiment", "--db", db], 2),
            (["runs", "--db", db], 0),
            (["show", "999", "--db", db], 2),
            (["show", "1", "--db", missing], 2),
            (["report", "--db", missing], 2),
            (["report", "no-such-experiment", "--db", db], 2),
            (["compare", "a", "b", "--db", missing], 2),
            (["check", "--baseline", "a", "--candidate", "b", "--db", missing], 2),
            (["check"], 2),
        ]
        for c in cases {
            let r = try rectune(c.args)
            XCTAssertEqual(r.status, c.status, "rectune \(c.args.joined(separator: " ")): \(r.err.suffix(300))")
            XCTAssertNotEqual(r.status, 64, "usage errors exit 2, never 64")
        }
        let negative = try rectune(["train", "--steps", "-1"])
        XCTAssertTrue(negative.err.contains("--steps must be at least 1, got -1"), "not 'Missing value': \(negative.err)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "reading commands never create a store")
        XCTAssertFalse(FileManager.default.fileExists(atPath: (missing as NSString).deletingLastPathComponent), "…nor its directory")
    }

    /// A store on read-only media can still be read (runs, show, report).
    func testReadingCommandsWorkOnAReadOnlyStore() throws {
        let script = try write("ok.sh", "echo '{\"samples_per_sec\": 100}'\n")
        let spec = try write("ok.yaml", "name: ro\ncommand: [/bin/sh, \(script)]\nrepeats: 2\n")
        let mount = dir.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        guard shell("mount -t tmpfs -o size=8m rectune-ro '\(mount.path)'") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
        }
        defer { _ = shell("umount '\(mount.path)'") }
        let db = mount.appendingPathComponent("r.sqlite").path
        let sweep = try rectune(["sweep", spec, "--db", db, "--no-measure"])
        XCTAssertEqual(sweep.status, 0, sweep.err)
        XCTAssertEqual(shell("mount -o remount,ro '\(mount.path)'"), 0)
        let runs = try rectune(["runs", "--db", db])
        XCTAssertEqual(runs.status, 0, runs.err)
        XCTAssertTrue(runs.out.contains("2 run(s)"), runs.out)
        XCTAssertEqual(try rectune(["show", "1", "--db", db]).status, 0)
        let report = try rectune(["report", "--db", db, "--format", "md"])
        XCTAssertEqual(report.status, 0, report.err)
        let write = try rectune(["sweep", spec, "--db", db, "--no-measure", "--new"])
        XCTAssertEqual(write.status, 2, "a sweep cannot open a read-only store for writing: \(write.err)")
    }

    /// `kill -9` of `rectune sweep` while a trainer (ignoring SIGTERM, with a background child)
    /// runs under measure: the trainer and its child die with the sweep, `runs` shows the row as
    /// interrupted at once, and `--resume` retries it exactly once.
    func testKill9OfTheSweepLeavesNothingRunningAndResumeRetriesOnce() throws {
        let flag = dir.appendingPathComponent("hang").path
        FileManager.default.createFile(atPath: flag, contents: nil)
        let trainer = try write("trainer.sh", """
        #!/bin/sh
        echo $$ >> "$1/pids"
        if [ -e '\(flag)' ]; then
          trap '' TERM
          sleep 60 &
          echo $! >> "$1/pids"
          sleep 60
        fi
        echo '{"samples_per_sec": 10}'
        """)
        let spec = try write("k.yaml", "name: killed\ncommand: [/bin/sh, \(trainer), '{run_dir}']\nrepeats: 1\n")
        let db = dir.appendingPathComponent("store/r.sqlite").path
        let sweep = Process()
        sweep.executableURL = RectuneCLI.binary
        sweep.arguments = ["sweep", spec, "--db", db]
        sweep.currentDirectoryURL = dir
        sweep.standardOutput = FileHandle.nullDevice
        sweep.standardError = FileHandle.nullDevice
        try sweep.run()
        let runs = dir.appendingPathComponent("store/runs")
        var pids: [Int32] = []
        for _ in 0..<1000 where pids.count < 2 {
            usleep(10_000)
            let files = (FileManager.default.enumerator(atPath: runs.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix("/pids") }
            pids = files.flatMap { ((try? String(contentsOfFile: runs.appendingPathComponent($0).path, encoding: .utf8)) ?? "")
                .split(separator: "\n").compactMap { Int32($0) } }
        }
        XCTAssertEqual(pids.count, 2, "the trainer and its background child started")
        kill(sweep.processIdentifier, SIGKILL)
        sweep.waitUntilExit()
        XCTAssertEqual(waitUntilGone(pids, seconds: 10), [], "the trainer and its child died with the sweep (measure escalated SIGTERM to SIGKILL)")

        let listed = try rectune(["runs", "killed", "--db", db])
        XCTAssertTrue(listed.out.contains("interrupted"), "the stale running row is recognised without re-sweeping: \(listed.out)")
        try FileManager.default.removeItem(atPath: flag)
        let resumed = try rectune(["sweep", spec, "--db", db, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let after = try rectune(["runs", "killed", "--db", db])
        XCTAssertTrue(after.out.contains("2 run(s)"), "one interrupted row, one retry: \(after.out)")
        XCTAssertEqual(after.out.components(separatedBy: " ok ").count - 1, 1, after.out)
    }

    /// Two `rectune sweep` processes of one spec on one store (item 4): every planned run executes
    /// exactly once, in its own folder, and every external result is stored ok (none clobbered).
    func testTwoConcurrentSweepProcessesRunEachRunOnce() throws {
        let trainer = try write("t.sh", "#!/bin/sh\necho $$ >> \"$1/../pids-all\"\nsleep 0.4\necho '{\"samples_per_sec\": 10}'\n")
        let spec = try write("c.yaml", "name: twice\ncommand: [/bin/sh, \(trainer), '{run_dir}']\nrepeats: 3\nfactors: {k: [a, b]}\n")
        let db = dir.appendingPathComponent("store/r.sqlite").path
        _ = try rectune(["plan", spec])
        let errs = (0..<2).map { dir.appendingPathComponent("sweep\($0).err") }
        let sweeps = try (0..<2).map { i -> Process in
            let p = Process()
            p.executableURL = RectuneCLI.binary
            p.arguments = ["sweep", spec, "--db", db]
            p.currentDirectoryURL = dir
            p.standardOutput = FileHandle.nullDevice
            FileManager.default.createFile(atPath: errs[i].path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: errs[i])
            return p
        }
        for p in sweeps { try p.run() }
        for p in sweeps { p.waitUntilExit() }
        XCTAssertEqual(sweeps.map(\.terminationStatus), [0, 0],
                       errs.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }.joined(separator: "\n---\n"))
        let listed = try rectune(["runs", "twice", "--db", db])
        XCTAssertTrue(listed.out.contains("6 run(s)"), "6 planned runs, 6 rows: \(listed.out)")
        XCTAssertEqual(listed.out.components(separatedBy: " ok ").count - 1, 6, listed.out)
        let starts = try String(contentsOfFile: dir.appendingPathComponent("store/runs/e1/pids-all").path, encoding: .utf8)
        XCTAssertEqual(starts.split(separator: "\n").count, 6, "each run's trainer started once")
    }

    /// Pids of `pids` still alive (not zombies) after waiting up to `seconds`.
    func waitUntilGone(_ pids: [Int32], seconds: Double) -> [Int32] {
        let deadline = Date().addingTimeInterval(seconds)
        var alive = pids
        while Date() < deadline {
            alive = pids.filter { pid in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return false }
                let state = stat[stat.index(close, offsetBy: 2)]
                return state != "Z" && state != "X"
            }
            if alive.isEmpty { return [] }
            usleep(20_000)
        }
        return alive
    }

    @discardableResult
    func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2>/dev/null"]
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
