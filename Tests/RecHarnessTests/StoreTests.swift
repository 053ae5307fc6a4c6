import GRDB
import TestSupport
import XCTest
@testable import RecHarness

final class StoreTests: XCTestCase {
    static let host = HostFingerprint(hostname: "h", cpuModel: "cpu", cpuFlags: "avx2", logicalCores: 2, numaNodes: 1,
                                      memoryBytes: 8 << 30, kernel: "Linux 6", perfEventParanoid: 2, onednnVersion: "2.6.3",
                                      onednnISA: "avx2", toolchain: "swift 6.3", rectuneVersion: "0.1.0", gitCommit: "abc")

    /// The host's git commit is the executable's own work tree's HEAD (through its branch ref, or
    /// packed), and nil for an executable outside any work tree even when the current directory is
    /// inside one: that repository says nothing about the code that runs, and it made a sweep and its
    /// `--resume` from another directory look like two hosts.
    func testGitCommitIsTheExecutablesWorkTreeNotTheCurrentDirectorys() throws {
        let root = try makeTemporaryDirectory("rectune-git-commit")
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        let commit = String(repeating: "1234abcd", count: 5), packed = String(repeating: "9876fedc", count: 5)
        func repo(_ name: String, head: String, refs: [String: String] = [:], packedRefs: String? = nil) throws -> URL {
            let git = root.appendingPathComponent(name).appendingPathComponent(".git")
            try fm.createDirectory(at: git.appendingPathComponent("refs/heads"), withIntermediateDirectories: true)
            try (head + "\n").write(to: git.appendingPathComponent("HEAD"), atomically: true, encoding: .utf8)
            for (ref, value) in refs { try (value + "\n").write(to: git.appendingPathComponent(ref), atomically: true, encoding: .utf8) }
            if let packedRefs { try packedRefs.write(to: git.appendingPathComponent("packed-refs"), atomically: true, encoding: .utf8) }
            return git.deletingLastPathComponent()
        }
        let built = try repo("checkout", head: "ref: refs/heads/main", refs: ["refs/heads/main": commit])
        let packedRepo = try repo("packed", head: "ref: refs/heads/dev", packedRefs: "# pack-refs\n\(packed) refs/heads/dev\n")
        let detached = try repo("detached", head: commit)
        XCTAssertEqual(HostFingerprintCollector.gitCommit(executable: built.path + "/.build/release/rectune"), commit)
        XCTAssertEqual(HostFingerprintCollector.gitCommit(executable: packedRepo.path + "/.build/x86_64-unknown-linux-gnu/release/rectune"), packed)
        XCTAssertEqual(HostFingerprintCollector.gitCommit(executable: detached.path + "/bin/rectune"), commit)

        let previous = fm.currentDirectoryPath
        XCTAssertTrue(fm.changeCurrentDirectoryPath(built.path))
        defer { fm.changeCurrentDirectoryPath(previous) }
        let outside = root.appendingPathComponent("installed/bin/rectune").path
        XCTAssertNil(HostFingerprintCollector.gitCommit(executable: outside), "the current directory's repository is not the executable's")
        XCTAssertNil(HostFingerprintCollector.gitCommit(executable: ""))
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256Digest.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Digest.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256Digest.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256Digest.hex(String(repeating: "a", count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testHostsExperimentsRunsAndMetricsRoundTrip() throws {
        let store = try ResultStore.temporary()
        let hostID = try store.upsertHost(Self.host)
        XCTAssertEqual(try store.upsertHost(Self.host), hostID, "the same fingerprint is stored once")
        XCTAssertEqual(try store.host(id: hostID), Self.host)
        var other = Self.host; other.gitCommit = "def"
        XCTAssertNotEqual(try store.upsertHost(other), hostID)

        let text = "name: rt\nfactors: {bf16: [off, on]}\n"
        let (e1, created1) = try store.findOrCreateExperiment(name: "rt", specText: text, specHash: "h1", hostID: hostID)
        let (e1again, created2) = try store.findOrCreateExperiment(name: "rt", specText: text, specHash: "h1", hostID: hostID)
        let (e2, _) = try store.findOrCreateExperiment(name: "rt", specText: text, specHash: "h2", hostID: hostID)
        XCTAssertTrue(created1); XCTAssertFalse(created2)
        XCTAssertEqual(e1again.id, e1.id)
        XCTAssertNotEqual(e2.id, e1.id)
        XCTAssertEqual(try store.experiment(named: "rt")?.id, e2.id, "latest with that name")
        XCTAssertEqual(try store.experiments().map(\.id), [e2.id, e1.id])
        XCTAssertEqual(try store.latestExperiment()?.id, e2.id)

        let run = try store.insertRun(experimentID: e1.id, config: ["bf16": "on"], configHash: "c1", repeatIndex: 2, commandLine: "x --bf16 on")
        try store.finishRun(id: run, outcome: RunOutcome(
            status: .ok, exitCode: 0, durationSeconds: 1.5,
            metrics: [MetricValue(name: "samples_per_sec", value: 1234.5, unit: "samples/s"),
                      MetricValue(name: "minor-faults", phase: "warmup", value: 99, source: "perf_event", scaled: true),
                      MetricValue(name: "bad", value: .nan)],
            unavailable: ["cycles": "ENOENT"]))
        let failed = try store.insertRun(experimentID: e1.id, config: ["bf16": "off"], configHash: "c0", repeatIndex: 0)
        try store.finishRun(id: failed, outcome: RunOutcome(status: .crashed, signal: 11, stderrTail: "boom", durationSeconds: 0.1))

        let data = try store.loadExperimentData(e1.id)
        XCTAssertEqual(data.spec.factors.map(\.name), ["bf16"])
        XCTAssertEqual(data.host, Self.host)
        XCTAssertEqual(data.runs.count, 2)
        let r = data.runs[0]
        XCTAssertEqual(r.config, ["bf16": "on"])
        XCTAssertEqual(r.repeatIndex, 2)
        XCTAssertEqual(r.status, .ok)
        XCTAssertEqual(r.metric("samples_per_sec"), 1234.5)
        XCTAssertEqual(r.metrics.first { $0.name == "minor-faults" }, MetricValue(name: "minor-faults", phase: "warmup", value: 99, source: "perf_event", scaled: true))
        XCTAssertNil(r.metric("bad"), "non-finite values are never stored")
        XCTAssertEqual(r.unavailable, ["cycles": "ENOENT"])
        XCTAssertEqual(data.runs[1].status, .crashed)
        XCTAssertEqual(data.runs[1].signal, 11)
        XCTAssertEqual(data.runs[1].stderrTail, "boom")
        XCTAssertEqual(try store.runs(ids: [failed]).map(\.id), [failed])
        XCTAssertEqual(try store.commandLine(runID: run), "x --bf16 on")
        XCTAssertEqual(try store.completedKeys(experimentID: e1.id), [RunKey(configHash: "c1", repeatIndex: 2)])
        XCTAssertEqual(try store.runs(experimentID: nil, statuses: [.crashed, .failed]).map(\.id), [failed])
    }

    func testStaleRunningRunsBecomeInterrupted() throws {
        let store = try ResultStore.temporary()
        let hostID = try store.upsertHost(Self.host)
        let e = try store.findOrCreateExperiment(name: "s", specText: "name: s\n", specHash: "h", hostID: hostID).record
        let run = try store.insertRun(experimentID: e.id, config: [:], configHash: "c", repeatIndex: 0)
        XCTAssertEqual(try store.runs(ids: [run])[0].status, .running)
        XCTAssertEqual(try store.markStaleRunning(experimentID: e.id), 1)
        XCTAssertEqual(try store.runs(ids: [run])[0].status, .interrupted)
        XCTAssertTrue(try store.completedKeys(experimentID: e.id).isEmpty)
    }

    func testMigratesAnOldDatabaseKeepingItsData() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-mig-\(UUID().uuidString)")
        let path = dir.appendingPathComponent("sub/old.sqlite").path
        do {
            let old = try ResultStore(path: path, migrations: 1)
            XCTAssertEqual(try old.appliedMigrations(), ["v1-tables"])
            let hostID = try old.upsertHost(Self.host)
            let e = try old.findOrCreateExperiment(name: "m", specText: "name: m\n", specHash: "h", hostID: hostID).record
            let run = try old.insertRun(experimentID: e.id, config: ["a": "1"], configHash: "c", repeatIndex: 0)
            try old.finishRun(id: run, outcome: RunOutcome(status: .ok, durationSeconds: 1, metrics: [MetricValue(name: "auc", value: 0.7)]))
        }
        let store = try ResultStore(path: path)
        XCTAssertEqual(try store.appliedMigrations(), StoreSchema.versions)
        let value = try store.pool.read { db in
            try Double.fetchOne(db, sql: "SELECT value FROM run_metrics WHERE experiment = 'm' AND metric = 'auc'")
        }
        XCTAssertEqual(value, 0.7)
        XCTAssertEqual(try store.experiments().count, 1)
        let journal = try store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journal, "wal")
    }

    func testDocumentedQueriesRun() throws {
        let store = try ResultStore.temporary()
        let hostID = try store.upsertHost(Self.host)
        let e = try store.findOrCreateExperiment(name: "q", specText: "name: q\n", specHash: "h", hostID: hostID).record
        for (alloc, faults) in [("system", 40.0), ("adaptive", 2.0)] {
            for rep in 0..<3 {
                let id = try store.insertRun(experimentID: e.id, config: ["allocator": alloc], configHash: alloc, repeatIndex: rep)
                try store.finishRun(id: id, outcome: RunOutcome(status: .ok, durationSeconds: 1, metrics: [
                    MetricValue(name: "samples_per_sec", value: 1000 + Double(rep)),
                    MetricValue(name: "minor_faults_per_step", value: faults + Double(rep), source: "derived")]))
            }
        }
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT json_extract(r.config_json, '$.allocator') AS allocator, avg(m.value) AS faults
                FROM runs r JOIN metrics m ON m.run_id = r.id
                WHERE r.status = 'ok' AND m.name = 'minor_faults_per_step' AND m.phase = 'steady'
                GROUP BY allocator ORDER BY allocator
                """)
        }
        XCTAssertEqual(rows.map { $0["allocator"] as String }, ["adaptive", "system"])
        XCTAssertEqual(rows.map { $0["faults"] as Double }, [3.0, 41.0])
    }
}
