import Foundation
import RecSystem
import Synchronization
import TestSupport
import XCTest
@testable import RecHarness

/// The fault suite of issue 12: trainers that crash, hang, ignore SIGTERM, fork, print bad JSON;
/// two concurrent sweeps; a stop request; a store deleted, read-only or on a full tmpfs. Each test
/// injects faults and asserts the run's status, that nothing is left running (a /proc scan of the
/// trainers' process groups and of the pids they reported), and that no run is lost or duplicated.
/// The totals are printed after the suite ("fault suite totals: …").
final class FaultsTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-faults") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Injected / recorded correctly / lost / duplicated / processes left, over the whole suite.
    static let totals = Mutex((injected: 0, correct: 0, lost: 0, duplicated: 0, left: 0))

    override class func tearDown() {
        let t = totals.withLock { $0 }
        print("fault suite totals: \(t.injected) faults injected, \(t.correct) recorded correctly, \(t.lost) runs lost, "
              + "\(t.duplicated) duplicated, \(t.left) processes left")
        super.tearDown()
    }

    /// Records one injected fault: whether it was recorded correctly, runs lost/duplicated and processes left.
    func tally(correct: Bool, lost: Int = 0, duplicated: Int = 0, left: Int = 0, _ what: String,
               file: StaticString = #filePath, line: UInt = #line) {
        Self.totals.withLock { $0.injected += 1; $0.correct += correct ? 1 : 0; $0.lost += lost; $0.duplicated += duplicated; $0.left += left }
        XCTAssertTrue(correct, "\(what): not recorded correctly", file: file, line: line)
        XCTAssertEqual(lost, 0, "\(what): runs lost", file: file, line: line)
        XCTAssertEqual(duplicated, 0, "\(what): runs duplicated", file: file, line: line)
        XCTAssertEqual(left, 0, "\(what): processes left running", file: file, line: line)
    }

    /// A trainer whose behaviour is its first argument; it writes its pid and any child's pid into
    /// `<run_dir>/pids` so the test can check that none is left.
    static let trainer = #"""
    #!/usr/bin/env python3
    import sys, os, json, time, signal, subprocess
    mode, run_dir = sys.argv[1], sys.argv[2]
    def note(pid):
        with open(os.path.join(run_dir, "pids"), "a") as f: f.write("%d\n" % pid)
    note(os.getpid())
    def child():
        c = subprocess.Popen(["sleep", "60"]); note(c.pid); return c
    result = {"samples_per_sec": 1000.0, "auc": 0.75}
    sys.stderr.write("trainer %s starting\n" % mode); sys.stderr.flush()
    if mode == "crash": os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "exit3": sys.stderr.write("error: bad flag\n"); sys.exit(3)
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN); child(); time.sleep(60)
    if mode == "fork": child()
    if mode == "badjson": print("this is not json {"); sys.exit(0)
    if mode == "booljson": print(json.dumps({"samples_per_sec": True})); sys.exit(0)
    time.sleep(float(os.environ.get("FAULT_SLEEP", "0")))
    print(json.dumps(result))
    """#

    func options(store: ResultStore, measure: Bool = true) throws -> SweepOptions {
        var o = SweepOptions(storePath: store.path, executablePath: RectuneCLI.binary.path)
        o.killGraceSeconds = 0.5
        o.host = StoreTests.host
        o.measureExternalCommands = measure
        o.dataDirectory = dir.appendingPathComponent("data").path
        return o
    }

    func spec(_ name: String, modes: [String], timeout: Double = 30, repeats: Int = 1) throws -> LoadedSpec {
        let script = dir.appendingPathComponent("trainer.py").path
        try Self.trainer.write(toFile: script, atomically: true, encoding: .utf8)
        return try SpecParser.parse("""
        name: \(name)
        command: [python3, \(script), '{mode}', '{run_dir}']
        repeats: \(repeats)
        timeout: \(timeout)
        order: sequential
        factors:
          mode: [\(modes.joined(separator: ", "))]
        """, path: "\(name).yaml")
    }

    /// Pids the trainers of `runs` reported that still run after up to 5 s (they may take a moment to die).
    func leftovers(_ runs: [RunRecord]) -> [Int32] {
        var pids: [Int32] = []
        for r in runs where !r.runDirectory.isEmpty {
            let text = (try? String(contentsOfFile: r.runDirectory + "/pids", encoding: .utf8)) ?? ""
            pids += text.split(separator: "\n").compactMap { Int32($0) }
        }
        for _ in 0..<500 {
            let alive = pids.filter { SupervisedChild.isAlive($0) || !SupervisedChild.livingMembers(ofGroup: $0).isEmpty }
            if alive.isEmpty { return [] }
            usleep(10_000)
        }
        return pids.filter { SupervisedChild.isAlive($0) }
    }

    func duplicates(_ runs: [RunRecord]) -> Int {
        let ok = runs.filter { $0.status == .ok }
        return ok.count - Set(ok.map { RunKey(configHash: $0.configHash, repeatIndex: $0.repeatIndex) }).count
    }

    // MARK: Misbehaving trainers (items 1, 11)

    func testMisbehavingTrainersUnderMeasureAndWithout() throws {
        for measure in [true, false] {
            do {
                let store = try ResultStore(path: dir.appendingPathComponent("m\(measure)/r.sqlite").path)
                let spec = try spec("trainers-\(measure)", modes: ["ok", "crash", "exit3", "hang", "fork", "badjson", "booljson"], timeout: 1.5)
                let summary = try runSync(SweepRunner(store: store, options: try options(store: store, measure: measure)), spec)
                let runs = try store.runs(experimentID: summary.experimentID)
                XCTAssertEqual(runs.count, 7)
                let left = leftovers(runs)
                func status(_ mode: String) -> RunStatus? { runs.first { $0.config["mode"] == mode }?.status }
                let expected: [String: RunStatus] = ["ok": .ok, "crash": .crashed, "exit3": .failed, "hang": .timeout,
                                                    "fork": .ok, "badjson": .invalid, "booljson": .invalid]
                for (mode, want) in expected.sorted(by: { $0.key < $1.key }) where mode != "ok" {
                    let leftHere = mode == "hang" || mode == "fork" ? left.count : 0
                    tally(correct: status(mode) == want, lost: status(mode) == nil ? 1 : 0, left: leftHere,
                          "\(mode) (\(measure ? "measure" : "no-measure")): \(String(describing: status(mode)))")
                }
                XCTAssertEqual(status("ok"), .ok)
                XCTAssertEqual(summary.exitStatus, 4, "a sweep with failed runs exits 4")
                XCTAssertEqual(left, [], "nothing left running")
                let crashed = runs.first { $0.config["mode"] == "crash" }
                XCTAssertEqual(crashed?.signal, SIGSEGV)
                XCTAssertTrue(runs.first { $0.config["mode"] == "booljson" }?.stderrTail.contains("samples_per_sec") ?? false)
            }
        }
    }

    /// A stop request (Ctrl-C) while a trainer that ignores SIGTERM runs under measure: the run is
    /// interrupted, the forwarded SIGTERM escalates to SIGKILL, and its background child is gone.
    func testStopRequestEscalatesThroughMeasure() async throws {
        let store = try ResultStore(path: dir.appendingPathComponent("stop/r.sqlite").path)
        let runner = SweepRunner(store: store, options: try options(store: store))
        let spec = try spec("stop", modes: ["hang"])
        let task = Task { try await runner.run(spec) }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        runner.requestStop()
        let summary = try await task.value
        let runs = try store.runs(experimentID: summary.experimentID)
        let left = leftovers(runs)
        tally(correct: runs.map(\.status) == [.interrupted] && summary.exitStatus == 130, lost: runs.isEmpty ? 1 : 0, left: left.count,
              "Ctrl-C during a SIGTERM-ignoring trainer under measure")
    }

    // MARK: Concurrency (item 4)

    func testTwoConcurrentSweepsRunEveryRunOnce() async throws {
        setenv("FAULT_SLEEP", "0.3", 1)
        defer { unsetenv("FAULT_SLEEP") }
        let path = dir.appendingPathComponent("shared/r.sqlite").path
        let a = try ResultStore(path: path), b = try ResultStore(path: path)
        let spec = try spec("concurrent", modes: ["ok", "fork"], repeats: 2)
        let runnerA = SweepRunner(store: a, options: try options(store: a))
        let runnerB = SweepRunner(store: b, options: try options(store: b))
        async let first = runnerA.run(spec)
        async let second = runnerB.run(spec)
        let (sa, sb) = try await (first, second)
        XCTAssertEqual(sa.experimentID, sb.experimentID)
        let runs = try a.runs(experimentID: sa.experimentID)
        let dup = duplicates(runs)
        let ok = runs.filter { $0.status == .ok }
        XCTAssertEqual(sa.ok + sb.ok, 4, "each planned run executed by exactly one sweep")
        XCTAssertEqual(Set(runs.map(\.runDirectory)).count, runs.count, "run folders are unique per run row")
        tally(correct: ok.count == 4 && runs.count == 4, lost: max(0, 4 - ok.count), duplicated: dup + max(0, runs.count - 4),
              left: leftovers(runs).count, "two concurrent sweeps of one spec")
    }

    // MARK: The store (item 5)

    func testDeletedStoreFailsLoudlyAndResumeIngestsTheKeptOutcome() async throws {
        setenv("FAULT_SLEEP", "0.6", 1)
        defer { unsetenv("FAULT_SLEEP") }
        let path = dir.appendingPathComponent("gone/r.sqlite").path
        let store = try ResultStore(path: path)
        var options = try options(store: store)
        let deleted = Mutex(false)
        options.progress = { line, final in
            // Delete the store while the first run is running.
            if !final, deleted.withLock({ let was = $0; $0 = true; return !was }) {
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) {
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                }
            }
        }
        let spec = try spec("deleted", modes: ["ok", "fork"], repeats: 1)
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertNotNil(summary.storeFailure, "the sweep noticed the store is gone")
        XCTAssertEqual(summary.exitStatus, 5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let kept = RunOutcomeFile.scan(runsRoot: options.runDirectory, name: "deleted", specHash: spec.hash)
        XCTAssertEqual(kept.count, 1, "the outcome of the run whose store write failed is kept in its run folder")

        // A new store at the same path: --resume ingests the kept outcome once and runs the rest.
        let fresh = try ResultStore(path: path)
        var resume = try self.options(store: fresh)
        resume.resume = true
        let rest = try await SweepRunner(store: fresh, options: resume).run(spec)
        XCTAssertEqual(rest.ingested, 1)
        let again = try await SweepRunner(store: fresh, options: resume).run(spec)
        XCTAssertEqual(again.ingested, 0, "ingested exactly once")
        let runs = try fresh.runs(experimentID: rest.experimentID)
        let ok = runs.filter { $0.status == .ok }
        tally(correct: summary.exitStatus == 5 && rest.ingested == 1, lost: max(0, 2 - ok.count), duplicated: duplicates(runs),
              left: leftovers(runs).count, "store deleted during a sweep")
    }

    /// A `sqlite3` shell reading the store in a loop while a sweep writes it (a user watching a long
    /// contest): before the fix, the read-back of a finished run through a fresh read-only connection
    /// failed with "disk I/O error" within a few hundred runs, the sweep stopped with a store
    /// failure, and `contest run` then lost its whole board. Now no run fails and none is lost.
    func testASQLiteShellReadingTheStoreDoesNotStopTheSweep() async throws {
        guard let shell = ["/usr/bin/sqlite3", "/bin/sqlite3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("the sqlite3 shell is not installed (apt-get install sqlite3; `make test` installs it)")
        }
        let path = dir.appendingPathComponent("watched.sqlite").path
        let store = try ResultStore(path: path)
        let options = try options(store: store, measure: false)
        let spec = try SpecParser.parse("""
            name: watched
            command: [sh, -c, 'echo "{\\"samples_per_sec\\": 1000}"', '{mode}']
            repeats: 400
            timeout: 30
            order: sequential
            factors:
              mode: [a]
            """, path: "watched.yaml")
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "while :; do \(shell) '\(path)' 'SELECT count(*) FROM runs' >/dev/null 2>&1; sleep 0.01; done"]
        try reader.run()
        defer { reader.terminate(); reader.waitUntilExit() }
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertNil(summary.storeFailure, "a concurrent reader stopped the sweep")
        let runs = try store.runs(experimentID: summary.experimentID)
        let ok = runs.filter { $0.status == .ok }.count
        tally(correct: summary.storeFailure == nil && ok == 400, lost: max(0, 400 - ok), duplicated: duplicates(runs),
              "a sqlite3 shell reading the store during a sweep")
    }

    /// Two stores in one folder share its `runs/`. A sweep into the second runs its own runs: it
    /// does not take the first store's kept outcomes as its own (a second full-scale contest into
    /// `--db full2.sqlite` beside `full.sqlite` "finished" in seconds with the first one's runs).
    /// A store deleted and made again at the same path still ingests its outcomes (the test above).
    func testASecondStoreInTheSameFolderRunsItsOwnRuns() async throws {
        let spec = try spec("shared-folder", modes: ["ok", "exit3"], repeats: 2)
        let first = try ResultStore(path: dir.appendingPathComponent("one.sqlite").path)
        let a = try await SweepRunner(store: first, options: try options(store: first, measure: false)).run(spec)
        XCTAssertEqual(a.executed[.ok], 2)
        XCTAssertEqual(RunOutcomeFile.scan(runsRoot: dir.appendingPathComponent("runs").path, name: "shared-folder", specHash: spec.hash).count, 4,
                       "both stores' folder holds the first sweep's outcome files")
        let second = try ResultStore(path: dir.appendingPathComponent("two.sqlite").path)
        let b = try await SweepRunner(store: second, options: try options(store: second, measure: false)).run(spec)
        XCTAssertEqual(b.ingested, 0, "another store's outcomes were ingested")
        XCTAssertEqual(b.executed[.ok], 2)
        XCTAssertEqual(b.executed[.failed], 2)
        let runs = try second.runs(experimentID: b.experimentID)
        tally(correct: b.ingested == 0 && runs.count == 4, lost: max(0, 4 - runs.count), duplicated: duplicates(runs),
              left: leftovers(runs).count, "a second store in the same folder")
    }

    func testFullDiskStoreWriteKeepsTheOutcome() async throws {
        let mount = dir.appendingPathComponent("tiny")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        guard Self.mountTmpfs(mount.path, size: "400k") else { throw XCTSkip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)") }
        defer { Self.unmount(mount.path) }
        let path = mount.appendingPathComponent("r.sqlite").path
        let store = try ResultStore(path: path)
        var options = try options(store: store)
        options.runDirectory = dir.appendingPathComponent("runs").path    // run folders on a disk with room
        let filler = mount.appendingPathComponent("filler").path
        options.progress = { _, final in
            // Fill the tmpfs up to ENOSPC while the run is running (after it was claimed).
            if !final { DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { FaultsTests.shell("dd if=/dev/zero of='\(filler)' bs=4096") } }
        }
        setenv("FAULT_SLEEP", "0.8", 1)
        defer { unsetenv("FAULT_SLEEP") }
        // Big stderr tails make the store write need pages the full tmpfs cannot give.
        options.stderrTailLines = 4000
        let spec = try spec("full", modes: ["ok"], repeats: 1)
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        let kept = RunOutcomeFile.scan(runsRoot: options.runDirectory, name: "full", specHash: spec.hash)
        print("full tmpfs: store failure: \(summary.storeFailure ?? "none"); outcomes kept: \(kept.count)")
        if summary.storeFailure == nil {
            // SQLite found room in pages it already had: the run must then be stored.
            let runs = try store.runs(experimentID: summary.experimentID)
            tally(correct: runs.map(\.status) == [.ok], lost: runs.isEmpty ? 1 : 0, "store on a full tmpfs (write fit)")
        } else {
            XCTAssertEqual(summary.exitStatus, 5)
            tally(correct: kept.count == 1, lost: kept.isEmpty ? 1 : 0, "store on a full tmpfs")
        }
    }

    // MARK: helpers

    /// Runs a sweep to completion from synchronous test code.
    func runSync(_ runner: SweepRunner, _ spec: LoadedSpec) throws -> SweepSummary {
        let box = Mutex<Result<SweepSummary, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { let s = try await runner.run(spec); box.withLock { $0 = .success(s) } } catch { box.withLock { $0 = .failure(error) } }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }

    static func mountTmpfs(_ path: String, size: String) -> Bool {
        shell("mount -t tmpfs -o size=\(size) rectune-test '\(path)'") == 0
    }

    static func unmount(_ path: String) { _ = shell("umount '\(path)'") }

    @discardableResult
    static func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2>/dev/null"]
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

extension FaultsTests {
    /// Item 16: a trainer that writes 20 MB to stderr: the run log is capped, its end (the error) kept.
    func testHugeStderrIsCapped() throws {
        let store = try ResultStore(path: dir.appendingPathComponent("log/r.sqlite").path)
        var options = try options(store: store, measure: false)
        options.logLimitBytes = 1 << 20
        let spec = try SpecParser.parse("""
        name: chatty
        command: [python3, -c, "import sys; sys.stderr.write('x' * 20000000 + '\\\\nerror: the real reason\\\\n'); sys.exit(2)"]
        repeats: 1
        """, path: "chatty.yaml")
        let summary = try runSync(SweepRunner(store: store, options: options), spec)
        let run = try XCTUnwrap(store.runs(experimentID: summary.experimentID).first)
        let size = (try FileManager.default.attributesOfItem(atPath: run.runDirectory + "/stderr.txt")[.size] as? Int) ?? 0
        XCTAssertLessThanOrEqual(size, (1 << 20) + 200)
        tally(correct: run.status == .failed && run.stderrTail.hasSuffix("error: the real reason") && size <= (1 << 20) + 200,
              "trainer writing 20 MB of stderr")
    }
}

extension FaultsTests {
    /// Item 5: the store file is corrupted in place (same inode, header overwritten) while a run runs:
    /// the store write fails loudly (exit 5) and the outcome is kept in the run folder.
    func testCorruptedStoreKeepsTheOutcome() async throws {
        setenv("FAULT_SLEEP", "0.6", 1)
        defer { unsetenv("FAULT_SLEEP") }
        let path = dir.appendingPathComponent("corrupt/r.sqlite").path
        let store = try ResultStore(path: path)
        var options = try options(store: store)
        let once = Mutex(false)
        options.progress = { _, final in
            if !final, once.withLock({ let was = $0; $0 = true; return !was }) {
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) {
                    // Overwrite the header and the first pages, and drop the WAL: what a bad disk or a stray `dd` does.
                    FaultsTests.shell("dd if=/dev/urandom of='\(path)' bs=4096 count=4 conv=notrunc; rm -f '\(path)-wal' '\(path)-shm'")
                }
            }
        }
        let spec = try spec("corrupt", modes: ["ok"], repeats: 1)
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        let kept = RunOutcomeFile.scan(runsRoot: options.runDirectory, name: "corrupt", specHash: spec.hash)
        print("corrupted store: store failure: \(summary.storeFailure ?? "none"); outcomes kept: \(kept.count)")
        tally(correct: summary.exitStatus == 5 && kept.map(\.outcome.status) == [.ok], lost: kept.isEmpty ? 1 : 0,
              "store corrupted during a sweep")
    }
}
