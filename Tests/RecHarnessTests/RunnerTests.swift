import Foundation
import Synchronization
import TestSupport
import XCTest
@testable import RecHarness

final class RunnerTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-runner") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testFaultsAreStoredAsFailedRunsAndTheSweepGoesOn() async throws {
        let store = try ResultStore.temporary()
        var options = try RunnerFakeEngine.options(store: store, dir: dir)
        let pidFile = dir.appendingPathComponent("grandchild.pid").path
        setenv("FAKE_PIDFILE", pidFile, 1)
        defer { unsetenv("FAKE_PIDFILE") }
        options.stderrTailLines = 40
        let spec = try RunnerFakeEngine.spec("""
        name: faults
        timeout: 1.5
        order: sequential
        repeats: 1
        factors:
          executor: [pool, inline, costmodel]
          allocator: [system, adaptive]
          bf16: [off, on]
          stage: [off, on]
          micro_batch: [1, 2]
          numa: [off, interleave]
        """, dir: dir)
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertEqual(summary.planned, 8)
        XCTAssertEqual(summary.executed, [.ok: 2, .crashed: 1, .failed: 1, .timeout: 1, .invalid: 3])
        XCTAssertFalse(summary.interrupted)

        let runs = try store.runs(experimentID: summary.experimentID)
        func run(_ knob: String, _ value: String) -> RunRecord { runs.first { $0.config[knob] == value }! }
        let crashed = run("executor", "inline")
        XCTAssertEqual(crashed.status, .crashed)
        XCTAssertEqual(crashed.signal, SIGSEGV)
        XCTAssertTrue(crashed.stderrTail.contains("fake engine starting inline"), crashed.stderrTail)
        let exited = run("executor", "costmodel")
        XCTAssertEqual(exited.status, .failed)
        XCTAssertEqual(exited.exitCode, 3)
        XCTAssertTrue(exited.stderrTail.hasSuffix("error: bad flag"), exited.stderrTail)
        let hung = run("allocator", "adaptive")
        XCTAssertEqual(hung.status, .timeout)
        XCTAssertEqual(hung.signal, SIGKILL, "SIGTERM was ignored, so the group got SIGKILL")
        XCTAssertTrue(hung.stderrTail.contains("timed out"), hung.stderrTail)
        let grandchild = pid_t(try String(contentsOfFile: pidFile, encoding: .utf8))!
        // Dead, or a zombie waiting for init to reap it (containers' pid 1 may be slow to reap).
        let stat = (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first ?? "gone"
        XCTAssertTrue(stat.isEmpty || state == "Z", "the hung engine's child was killed with its process group: state \(state)")
        XCTAssertEqual(run("bf16", "on").status, .invalid)
        XCTAssertTrue(run("bf16", "on").stderrTail.contains("not a JSON object"))
        XCTAssertEqual(run("stage", "on").status, .invalid)
        XCTAssertTrue(run("stage", "on").stderrTail.contains("'auc'"))
        // The engine ran another value than requested: the run is invalid, with the difference.
        let lied = run("numa", "interleave")
        XCTAssertEqual(lied.status, .invalid)
        XCTAssertTrue(lied.stderrTail.contains("numa: requested interleave, engine ran local"), lied.stderrTail)
        XCTAssertEqual(lied.effectiveConfig?["numa"], "local", "the store keeps what the engine echoed")
        for r in runs where r.status != .ok { XCTAssertTrue(r.metrics.isEmpty, "a failed run stores no metrics") }

        let ok = run("micro_batch", "2")
        XCTAssertEqual(ok.status, .ok)
        XCTAssertEqual(ok.metric("samples_per_sec"), 2000)
        XCTAssertEqual(ok.effectiveConfig?["micro_batch"], "2")
        XCTAssertEqual(ok.metric("step_ms.p99"), 9)
        XCTAssertEqual(ok.metric("minor-faults"), 400)
        XCTAssertEqual(ok.metric("minor_faults_per_step"), 40)
        XCTAssertEqual(ok.metric("minor_faults_per_step", phase: "warmup"), 100)
        XCTAssertEqual(ok.metric("steals_per_step"), 3)
        XCTAssertNil(ok.metric("cycles"), "an unavailable counter is never a 0 metric")
        XCTAssertEqual(ok.unavailable["cycles"], "perf_event_open(cycles): ENOENT")
    }

    func testRerunningTheSameSpecSkipsRunsAlreadyOk() async throws {
        let store = try ResultStore.temporary()
        let options = try RunnerFakeEngine.options(store: store, dir: dir)
        let spec = try RunnerFakeEngine.spec("name: again\nrepeats: 2\nfactors: {executor: [pool, costmodel], micro_batch: [1, 2]}\n", dir: dir)
        let first = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertEqual(first.ok, 4)
        XCTAssertEqual(first.failed, 2)
        let second = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertEqual(second.experimentID, first.experimentID)
        XCTAssertFalse(second.createdExperiment)
        XCTAssertEqual(second.skipped, 4)
        XCTAssertEqual(second.executed, [.failed: 2], "only the failed runs are retried")
        var changed = spec
        changed.spec.steps = 11
        let third = try await SweepRunner(store: store, options: options).run(changed)
        XCTAssertNotEqual(third.experimentID, first.experimentID, "a changed spec is a new experiment")
        XCTAssertEqual(third.skipped, 0)
    }

    func testInterruptedSweepResumesWithoutDuplicatesOrLosses() async throws {
        let store = try ResultStore.temporary()
        setenv("FAKE_SLEEP", "0.3", 1)
        defer { unsetenv("FAKE_SLEEP") }
        var options = try RunnerFakeEngine.options(store: store, dir: dir)
        let started = Counter()
        let box = RunnerBox()
        options.progress = { line, final in
            if !final, started.increment() == 3 { box.runner?.requestStop() }
        }
        let spec = try RunnerFakeEngine.spec("name: resume\nrepeats: 3\nfactors: {micro_batch: [1, 2]}\n", dir: dir)
        let runner = SweepRunner(store: store, options: options)
        box.runner = runner
        let partial = try await runner.run(spec)
        XCTAssertTrue(partial.interrupted)
        XCTAssertEqual(partial.executed, [.ok: 2, .interrupted: 1])
        let afterStop = try store.runs(experimentID: partial.experimentID)
        XCTAssertEqual(afterStop.map(\.status), [.ok, .ok, .interrupted])

        var resumeOptions = try RunnerFakeEngine.options(store: store, dir: dir)
        resumeOptions.resume = true
        let rest = try await SweepRunner(store: store, options: resumeOptions).run(spec)
        XCTAssertFalse(rest.interrupted)
        XCTAssertEqual(rest.experimentID, partial.experimentID)
        XCTAssertEqual(rest.skipped, 2)
        XCTAssertEqual(rest.ok, 4)
        let ok = try store.runs(experimentID: partial.experimentID).filter { $0.status == .ok }
        XCTAssertEqual(ok.count, 6, "every planned run is stored ok")
        XCTAssertEqual(Set(ok.map { RunKey(configHash: $0.configHash, repeatIndex: $0.repeatIndex) }).count, 6, "no duplicates")
    }

    func testCancellingTheTaskStopsTheCurrentRun() async throws {
        let store = try ResultStore.temporary()
        setenv("FAKE_SLEEP", "30", 1)
        defer { unsetenv("FAKE_SLEEP") }
        let options = try RunnerFakeEngine.options(store: store, dir: dir)
        let spec = try RunnerFakeEngine.spec("name: cancel\nrepeats: 2\n", dir: dir)
        let task = Task { try await SweepRunner(store: store, options: options).run(spec) }
        try await Task.sleep(nanoseconds: 400_000_000)
        task.cancel()
        let summary = try await task.value
        XCTAssertTrue(summary.interrupted)
        XCTAssertEqual(summary.executed, [.interrupted: 1])
    }

    func testResumeWithNothingStoredIsAnError() async throws {
        let store = try ResultStore.temporary()
        var options = try RunnerFakeEngine.options(store: store, dir: dir)
        options.resume = true
        let spec = try RunnerFakeEngine.spec("name: none\n", dir: dir)
        do {
            _ = try await SweepRunner(store: store, options: options).run(spec)
            XCTFail("expected nothingToResume")
        } catch RunnerError.nothingToResume {}
    }

    func testExternalCommandTemplatesAndResultRules() async throws {
        let store = try ResultStore.temporary()
        var options = try RunnerFakeEngine.options(store: store, dir: dir)
        options.measureExternalCommands = false
        let spec = try RunnerFakeEngine.spec("""
        name: ext
        engine:
          command: [sh, -c, 'echo "mode=$MODE steps={steps} model={model} arg=$0"; echo "speed: $((100 * $0)).5 samples/s"', '{threads}']
          env: {mode: MODE}
          result: {regex: {samples_per_sec: 'speed: ([0-9.]+) samples/s'}}
        model: toy
        factors: {threads: [1, 3], mode: [x, y]}
        design: full
        repeats: 1
        """, dir: dir)
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertEqual(summary.ok, 4)
        let runs = try store.runs(experimentID: summary.experimentID)
        XCTAssertEqual(Set(runs.compactMap { $0.metric("samples_per_sec") }), [100.5, 300.5])
        let line = try store.commandLine(runID: runs.first { $0.config["mode"] == "y" }!.id)
        XCTAssertTrue(line.hasPrefix("MODE=y sh -c"), line)
    }

    func testHarnessOverheadBetweenRuns() async throws {
        let store = try ResultStore.temporary()
        var options = try RunnerFakeEngine.options(store: store, dir: dir)
        options.measureExternalCommands = false
        let spec = try RunnerFakeEngine.spec("name: overhead\nrepeats: 20\nengine: {command: ['true'], result: {regex: {x: '()'}}}\n", dir: dir)
        let summary = try await SweepRunner(store: store, options: options).run(spec)
        XCTAssertEqual(summary.executed, [.invalid: 20], "`true` prints nothing, so every run is invalid — but it ran")
        XCTAssertEqual(summary.gapsSeconds.count, 19)
        let gaps = summary.gapsSeconds.sorted()
        print(String(format: "harness overhead between runs: median %.1f ms, max %.1f ms over %d gaps",
                     gaps[gaps.count / 2] * 1000, gaps.last! * 1000, gaps.count))
    }
}

/// A thread-safe counter for progress callbacks.
final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}

/// Lets a progress callback reach the runner created after it.
final class RunnerBox: @unchecked Sendable {
    // Written once before the sweep starts, read from the progress callback afterwards (happens-before via task start).
    var runner: SweepRunner?
}
