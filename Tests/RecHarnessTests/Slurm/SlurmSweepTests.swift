import Foundation
@testable import RecHarness
import TestSupport
import XCTest

/// `sweep --backend slurm` against a real single-node cluster: the same runs as a local sweep, and
/// faults (crash, Slurm's time limit, scancel, the node going down, bad input) each recorded once.
final class SlurmSweepTests: XCTestCase {
    nonisolated(unsafe) static var cluster: LocalSlurmCluster?  // set in class setUp, read-only after
    override class func setUp() { cluster = try? LocalSlurmCluster.start() }
    override class func tearDown() { cluster?.stop() }

    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-slurm-sweep") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func slurmOptions() throws -> SlurmOptions {
        guard let cluster = Self.cluster else {
            throw XCTSkip("slurm-wlm/munge not installed or not startable here (.ci/run installs them): \(LocalSlurmCluster.lastError)")
        }
        var o = SlurmOptions(sharedDirectory: dir.appendingPathComponent("shared").path)
        o.environment = cluster.environment
        o.pollSeconds = 0.3
        o.exclusive = false
        o.rectuneExecutable = try RectuneCLI.requireBinary().path
        return o
    }

    /// A runner with the fake engine, its run folders and data on the shared directory.
    func runner(_ store: ResultStore, _ slurm: SlurmOptions?) throws -> SweepRunner {
        var o = try RunnerFakeEngine.options(store: store, dir: dir)
        if let slurm { o.runDirectory = slurm.runsDirectory; o.dataDirectory = slurm.dataDirectory }
        return SweepRunner(store: store, options: o)
    }

    static let faultSpec = """
    name: slurm-faults
    timeout: 3
    order: sequential
    repeats: 1
    factors:
      executor: [pool, inline, costmodel]
      bf16: [off, on]
      micro_batch: [1, 2]
      numa: [off, interleave]
    """

    func testSlurmSweepStoresTheSameRunsAsALocalSweep() async throws {
        let slurm = try slurmOptions()
        let spec = try RunnerFakeEngine.spec(Self.faultSpec, dir: dir)
        let localStore = try ResultStore.temporary()
        let local = try await runner(localStore, nil).run(spec)
        let slurmStore = try ResultStore.temporary()
        let remote = try await runner(slurmStore, slurm).runOnSlurm(spec, slurm: slurm)

        XCTAssertEqual(remote.planned, local.planned)
        XCTAssertEqual(remote.executed, local.executed)
        XCTAssertEqual(remote.executed, [.ok: 2, .crashed: 1, .failed: 1, .invalid: 2])
        func byKey(_ store: ResultStore, _ id: Int64) throws -> [String: (RunStatus, Set<String>)] {
            var out: [String: (RunStatus, Set<String>)] = [:]
            for r in try store.runs(experimentID: id) {
                XCTAssertNil(out["\(r.configHash)-\(r.repeatIndex)"], "stored twice: \(r.config)")
                out["\(r.configHash)-\(r.repeatIndex)"] = (r.status, Set(r.metrics.map { "\($0.phase)/\($0.name)" }))
            }
            return out
        }
        let l = try byKey(localStore, local.experimentID), s = try byKey(slurmStore, remote.experimentID)
        XCTAssertEqual(Set(l.keys), Set(s.keys), "same run keys")
        for (key, (status, metrics)) in l {
            XCTAssertEqual(s[key]?.0, status, key)
            XCTAssertEqual(s[key]?.1, metrics, "same metric names for \(key)")
        }
        let crashed = try slurmStore.runs(experimentID: remote.experimentID).first { $0.config["executor"] == "inline" }!
        XCTAssertEqual(crashed.signal, SIGSEGV)
        XCTAssertTrue(crashed.runDirectory.hasPrefix(slurm.runsDirectory), crashed.runDirectory)
        // Sweeping again retries exactly the runs that did not end ok, as a local sweep does; ok runs stay once.
        let again = try await runner(slurmStore, slurm).runOnSlurm(spec, slurm: slurm)
        XCTAssertEqual(again.executed, [.crashed: 1, .failed: 1, .invalid: 2])
        let all = try slurmStore.runs(experimentID: remote.experimentID)
        XCTAssertEqual(all.count, remote.planned + 4)
        XCTAssertEqual(all.filter { $0.status == .ok }.count, 2)
    }

    func testCancelledAndDownedElementsAreRecordedOnceAndResumeRerunsThem() async throws {
        let slurm = try slurmOptions()
        setenv("FAKE_SLEEP", "20", 1)
        defer { unsetenv("FAKE_SLEEP") }
        let spec = try RunnerFakeEngine.spec("name: slurm-cancel\ntimeout: 60\nrepeats: 2\nfactors: {micro_batch: [1, 2]}\n", dir: dir)
        let store = try ResultStore.temporary()
        let sweep = try runner(store, slurm)
        let client = SlurmClient(environment: slurm.environment)
        let task = Task { try await sweep.runOnSlurm(spec, slurm: slurm) }
        // When the first element runs: take the node down (its job dies), then cancel the rest.
        var jobID = ""
        for _ in 0..<200 {
            let queue = try await client.command("squeue", ["-h", "-o", "%F %t"], allowFailure: true).out
            if let line = queue.split(separator: "\n").first(where: { $0.hasSuffix(" R") }) { jobID = String(line.split(separator: " ")[0]); break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertFalse(jobID.isEmpty, "no element started")
        let node = try await client.command("sinfo", ["-h", "-N", "-o", "%N"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        try await client.command("scontrol", ["update", "NodeName=\(node)", "State=DOWN", "Reason=rectune-test"])
        try await Task.sleep(for: .seconds(2))
        try await client.cancel(jobID: jobID)
        try await LocalSlurmCluster.resume(node: node, client: client)
        let summary = try await task.value
        let runs = try store.runs(experimentID: summary.experimentID)
        XCTAssertEqual(runs.count, 4, "every planned run stored once")
        XCTAssertTrue(runs.allSatisfy { $0.status == .interrupted || $0.status == .failed }, runs.map(\.status.rawValue).joined(separator: " "))
        XCTAssertTrue(runs.contains { $0.stderrTail.contains("NODE_FAIL") || $0.stderrTail.contains("CANCELLED") || $0.status == .interrupted },
                      runs.map(\.stderrTail).joined(separator: "\n---\n"))

        // --resume reruns them (not the dead ones: those are recorded) — all four end ok.
        unsetenv("FAKE_SLEEP")
        var resume = try RunnerFakeEngine.options(store: store, dir: dir)
        resume.runDirectory = slurm.runsDirectory; resume.dataDirectory = slurm.dataDirectory; resume.resume = true
        let rerun = try await SweepRunner(store: store, options: resume).runOnSlurm(spec, slurm: slurm)
        XCTAssertEqual(rerun.executed, [.ok: 4])
        XCTAssertEqual(try store.completedKeys(experimentID: summary.experimentID).count, 4)
    }

    func testSlurmsOwnTimeLimitIsRecordedAsTimeout() async throws {
        var slurm = try slurmOptions()
        slurm.timeLimitSeconds = 5  // Slurm enforces it at its own ~30 s granularity
        setenv("FAKE_SLEEP", "300", 1)
        defer { unsetenv("FAKE_SLEEP") }
        let spec = try RunnerFakeEngine.spec("name: slurm-timeout\ntimeout: 600\nrepeats: 1\n", dir: dir)
        let store = try ResultStore.temporary()
        let summary = try await runner(store, slurm).runOnSlurm(spec, slurm: slurm)
        let run = try XCTUnwrap(try store.runs(experimentID: summary.experimentID).first)
        // Slurm signals the element at its limit; the element records the stop and Slurm's TIMEOUT names it.
        XCTAssertEqual(run.status, .timeout, run.stderrTail)
        XCTAssertTrue(run.stderrTail.contains("TIMEOUT"), run.stderrTail)
    }

    func testCoordinatorKilledWithSIGKILLLosesNothingAndResumeSubmitsNothingTwice() async throws {
        let slurm = try slurmOptions()
        let spec = dir.appendingPathComponent("k.yaml")
        try #"""
        name: slurm-kill
        command: [/bin/sh, -c, "sleep 1; printf '\\173\"samples_per_sec\": %s\\175\\n' {sps}"]
        repeats: 2
        factors: {sps: ["1000", "2000"]}
        baseline: {sps: "1000"}
        metrics: [samples_per_sec]
        """#.write(to: spec, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("k.sqlite").path
        let args = ["sweep", spec.path, "--db", db, "--backend", "slurm", "--shared-dir", slurm.sharedDirectory, "--no-exclusive"]
        let coordinator = Process()
        coordinator.executableURL = try RectuneCLI.requireBinary()
        coordinator.arguments = args
        coordinator.environment = ProcessInfo.processInfo.environment.merging(slurm.environment) { _, new in new }
        coordinator.standardOutput = FileHandle.nullDevice
        coordinator.standardError = FileHandle.nullDevice
        try coordinator.run()
        // Kill it once its array is submitted and an element runs.
        let client = SlurmClient(environment: slurm.environment)
        for _ in 0..<200 {
            if try await client.command("squeue", ["-h", "-t", "R", "-o", "%i"], allowFailure: true).out.contains("_") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(coordinator.processIdentifier, SIGKILL)
        coordinator.waitUntilExit()

        setenv("SLURM_CONF", slurm.environment["SLURM_CONF"]!, 1)
        defer { unsetenv("SLURM_CONF") }
        let resumed = try RectuneCLI.run(args + ["--resume"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.out + resumed.err)
        let store = try ResultStore(readingAt: db)
        let runs = try store.runs(experimentID: try XCTUnwrap(store.experiments().first).id)
        XCTAssertEqual(runs.count, 4, "every planned run stored once: \(runs.map(\.status.rawValue))")
        XCTAssertEqual(runs.filter { $0.status == .ok }.count, 4, runs.map(\.stderrTail).joined(separator: "\n---\n"))
        let manifests = SlurmManifest.all(in: slurm.slurmDirectory)
        XCTAssertEqual(manifests.reduce(0) { $0 + $1.elements.count }, 4, "no run submitted twice")
    }

    func testBadInputFailsBeforeAnythingIsSubmitted() async throws {
        var slurm = try slurmOptions()
        let spec = try RunnerFakeEngine.spec("name: slurm-bad\nrepeats: 1\n", dir: dir)
        let store = try ResultStore.temporary()
        func expectError(_ options: SlurmOptions, _ text: String, line: UInt = #line) async throws {
            do {
                _ = try await runner(store, options).runOnSlurm(spec, slurm: options)
                XCTFail("expected an error containing '\(text)'", line: line)
            } catch let e as SlurmError {
                XCTAssertTrue(e.message.contains(text), e.message, line: line)
            }
            XCTAssertEqual(try store.experiments().count, 0, "nothing planned or stored", line: line)
        }
        slurm.partition = "no-such-partition"
        try await expectError(slurm, "partition 'no-such-partition' does not exist")
        slurm.partition = nil
        var unwritable = slurm
        unwritable.sharedDirectory = "/proc/rectune-not-writable"
        try await expectError(unwritable, "is not writable")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        setenv("PATH", dir.path, 1)
        defer { setenv("PATH", path, 1) }
        try await expectError(slurm, "sbatch is not on PATH")
    }
}
