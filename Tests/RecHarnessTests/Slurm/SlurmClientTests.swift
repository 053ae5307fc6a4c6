import Foundation
@testable import RecHarness
import TestSupport
import XCTest

/// Parsing of Slurm's outputs (no cluster needed).
final class SlurmParsingTests: XCTestCase {
    func testArrayIndexRanges() {
        XCTAssertEqual(SlurmClient.indices("0"), [0])
        XCTAssertEqual(SlurmClient.indices("2-5"), [2, 3, 4, 5])
        XCTAssertEqual(SlurmClient.indices("1,3,7-9"), [1, 3, 7, 8, 9])
        XCTAssertEqual(SlurmClient.indices("2-5%2"), [2, 3, 4, 5])
        XCTAssertEqual(SlurmClient.indices("x"), [])
    }

    func testRecordsOfOneArrayOnly() {
        let text = """
        JobId=7 ArrayJobId=5 ArrayTaskId=2-4%1 JobName=rectune JobState=PENDING Reason=JobArrayTaskLimit
        JobId=6 ArrayJobId=5 ArrayTaskId=1 JobName=rectune JobState=TIMEOUT Reason=TimeLimit
        JobId=5 ArrayJobId=5 ArrayTaskId=0 JobName=rectune JobState=CANCELLED by 0 Reason=None
        JobId=9 ArrayJobId=8 ArrayTaskId=0 JobName=other JobState=COMPLETED
        """
        let states = SlurmClient.parseRecords(text, jobID: "5")
        XCTAssertEqual(states, [0: .cancelled, 1: .timeout, 2: .pending, 3: .pending, 4: .pending])
        XCTAssertEqual(SlurmJobState(word: "NODE_FAIL"), .nodeFail)
        XCTAssertEqual(SlurmJobState(word: "RUNNING+"), .running)
        XCTAssertFalse(SlurmJobState.requeued.isTerminal)
        XCTAssertTrue(SlurmJobState.outOfMemory.isTerminal)
    }

    func testSbatchArguments() {
        var r = SlurmClient.ArrayRequest(script: "/shared/run.sh", count: 4, outputPattern: "/shared/%A_%a.out", workingDirectory: "/shared")
        r.maxInFlight = 2; r.partition = "cpu"; r.timeLimitSeconds = 185; r.extraArguments = ["--qos=perf"]
        XCTAssertEqual(r.arguments, ["--parsable", "--job-name=rectune", "--array=0-3%2", "--output=/shared/%A_%a.out", "--chdir=/shared",
                                     "--partition=cpu", "--time=3:05", "--exclusive", "--no-requeue", "--qos=perf", "/shared/run.sh"])
    }
}

/// The client against a real single-node cluster started by `deploy/slurm/local-cluster.sh`.
final class SlurmClusterTests: XCTestCase {
    nonisolated(unsafe) static var cluster: LocalSlurmCluster?  // set in class setUp before any test runs, read-only after

    override class func setUp() { cluster = try? LocalSlurmCluster.start() }
    override class func tearDown() { cluster?.stop() }

    func client() throws -> SlurmClient {
        guard let cluster = Self.cluster else {
            throw XCTSkip("slurm-wlm/munge not installed or not startable here (.ci/run installs them): \(LocalSlurmCluster.lastError)")
        }
        return SlurmClient(environment: cluster.environment)
    }

    func testPreflightNamesAMissingPartition() async throws {
        let slurm = try client()
        try await slurm.preflight(partition: "rectune")
        do {
            try await slurm.preflight(partition: "gpu-nope")
            XCTFail("a missing partition must fail before submission")
        } catch let e as SlurmError {
            XCTAssertTrue(e.message.contains("partition 'gpu-nope' does not exist"), e.message)
        }
    }

    func testArrayElementsEndInTheirOwnStates() async throws {
        let slurm = try client()
        let dir = try makeTemporaryDirectory("rectune-slurm-client")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("job.sh")
        try """
        #!/bin/sh
        case "$SLURM_ARRAY_TASK_ID" in
          0) exit 0 ;;
          1) exit 3 ;;
          2) kill -9 $$ ;;
        esac
        """.write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        var request = SlurmClient.ArrayRequest(script: script.path, count: 3, outputPattern: dir.path + "/%A_%a.out",
                                               workingDirectory: dir.path)
        request.exclusive = false
        let job = try await slurm.submit(request)
        var states: [Int: SlurmJobState] = [:]
        for _ in 0..<300 {
            states = try await slurm.elementStates(jobID: job)
            if states.count == 3 && states.values.allSatisfy(\.isTerminal) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(states[0], .completed)
        XCTAssertEqual(states[1], .failed)
        XCTAssertEqual(states[2], .failed)
    }
}

/// A single-node Slurm cluster for tests: started with the project's deploy script, stopped after.
struct LocalSlurmCluster {
    nonisolated(unsafe) static var lastError = ""
    let directory: String
    var environment: [String: String] { ["SLURM_CONF": directory + "/slurm.conf"] }

    static var script: String {
        RepositoryRoot.url.appendingPathComponent("deploy/slurm/local-cluster.sh").path
    }

    static func start() throws -> LocalSlurmCluster {
        let dir = ProcessInfo.processInfo.environment["RECTUNE_SLURM_DIR"] ?? "/tmp/rectune-slurm-tests"
        let r = try shell([script, "start"], environment: ["RECTUNE_SLURM_DIR": dir])
        guard r.status == 0 else { lastError = r.output; throw SlurmError(r.output) }
        return LocalSlurmCluster(directory: dir)
    }

    func stop() { _ = try? Self.shell([Self.script, "stop"], environment: ["RECTUNE_SLURM_DIR": directory]) }

    /// Brings a downed node back to idle (RESUME, or IDLE when Slurm refuses RESUME for its state).
    static func resume(node: String, client: SlurmClient) async throws {
        for _ in 0..<100 {
            let state = try await client.command("sinfo", ["-h", "-N", "-o", "%T"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
            if state.hasPrefix("idle") { return }
            try await client.command("scontrol", ["update", "NodeName=\(node)", "State=RESUME"], allowFailure: true)
            try await Task.sleep(for: .milliseconds(200))
        }
        throw SlurmError("node \(node) did not come back to idle")
    }

    static func shell(_ argv: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        // system(3) waits for exactly its own child. (Foundation's Process.waitUntilExit was seen to
        // miss the exit of this script once it had started daemons, leaving the test waiting.)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-slurm-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(quote($0.value))" }.joined(separator: " ")
        let status = system("\(env) /bin/bash \(argv.map(quote).joined(separator: " ")) </dev/null >\(quote(log)) 2>&1")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (status == 0 ? 0 : 1, output)
    }
}
