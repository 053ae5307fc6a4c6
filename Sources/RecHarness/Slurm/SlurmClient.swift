import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A Slurm job's (or array element's) state, as `squeue`, `scontrol`, `sacct` and the
/// job-completion log spell it.
public enum SlurmJobState: String, Sendable, Codable, CaseIterable {
    case pending = "PENDING", configuring = "CONFIGURING", running = "RUNNING", completing = "COMPLETING"
    case requeued = "REQUEUED", resizing = "RESIZING", suspended = "SUSPENDED"
    case completed = "COMPLETED", failed = "FAILED", timeout = "TIMEOUT", nodeFail = "NODE_FAIL"
    case preempted = "PREEMPTED", cancelled = "CANCELLED", outOfMemory = "OUT_OF_MEMORY"
    case bootFail = "BOOT_FAIL", deadline = "DEADLINE", revoked = "REVOKED"

    /// Parses a state word (`CANCELLED by 0` and `RUNNING+` style suffixes are ignored).
    public init?(word: String) {
        let head = word.split(whereSeparator: { $0 == " " || $0 == "+" }).first.map(String.init) ?? word
        self.init(rawValue: head.uppercased())
    }

    /// Whether the element will not run (again) by itself.
    public var isTerminal: Bool {
        switch self {
        case .pending, .configuring, .running, .completing, .requeued, .resizing, .suspended: false
        default: true
        }
    }
}

/// Why talking to Slurm failed, naming the command and what it said.
public struct SlurmError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// Talks to a Slurm cluster through its client commands (`sbatch`, `squeue`, `scontrol`, `sacct`,
/// `scancel`, `sinfo`), run with swift-subprocess. Nothing here assumes the controller is local:
/// the commands find it through `SLURM_CONF` / the system's slurm.conf, as they do for users.
public struct SlurmClient: Sendable {
    /// Extra environment for every command (e.g. `SLURM_CONF`).
    public var environment: [String: String]

    public init(environment: [String: String] = [:]) { self.environment = environment }

    /// One array submission.
    public struct ArrayRequest: Sendable {
        /// The batch script (its path on the shared filesystem).
        public var script: String
        /// Element indices `0..<count`.
        public var count: Int
        /// At most this many elements at once (`--array=0-N%K`); nil = as many as fit.
        public var maxInFlight: Int?
        public var partition: String?
        /// Per-element time limit in seconds (Slurm's `--time`, rounded up to whole seconds; Slurm
        /// enforces it at its own granularity, about 30 s).
        public var timeLimitSeconds: Int?
        /// `--exclusive`: a performance run does not share its node.
        public var exclusive: Bool = true
        public var jobName: String = "rectune"
        /// `--output` pattern (`%A` job, `%a` element).
        public var outputPattern: String
        /// Appended verbatim before the script.
        public var extraArguments: [String] = []
        public var workingDirectory: String

        public init(script: String, count: Int, outputPattern: String, workingDirectory: String) {
            self.script = script; self.count = count; self.outputPattern = outputPattern; self.workingDirectory = workingDirectory
        }

        /// The `sbatch` arguments.
        public var arguments: [String] {
            var a = ["--parsable", "--job-name=\(jobName)", "--array=0-\(count - 1)" + (maxInFlight.map { "%\($0)" } ?? ""),
                     "--output=\(outputPattern)", "--chdir=\(workingDirectory)"]
            if let partition { a.append("--partition=\(partition)") }
            if let timeLimitSeconds {
                let t = max(1, timeLimitSeconds)
                a.append("--time=\(t / 60):" + (t % 60 < 10 ? "0" : "") + String(t % 60))
            }
            if exclusive { a.append("--exclusive") }
            // A requeued element would run twice (and its first outcome may be ingested already):
            // an element that dies with its node is recorded NODE_FAIL, and `--resume` reruns it.
            a.append("--no-requeue")
            return a + extraArguments + [script]
        }
    }

    /// Output of one command, or a `SlurmError` naming it when it is missing or fails.
    @discardableResult
    func command(_ name: String, _ arguments: [String], allowFailure: Bool = false) async throws -> (status: Int32, out: String, err: String) {
        var overrides: [Environment.Key: String?] = [:]
        for (k, v) in environment { overrides[Environment.Key(stringLiteral: k)] = v }
        let result: ExecutionResult<Void, StringOutput<Unicode.UTF8>, StringOutput<Unicode.UTF8>>
        do {
            result = try await Subprocess.run(.name(name), arguments: Arguments(arguments), environment: .inherit.updating(overrides),
                                              output: .string(limit: 8 << 20), error: .string(limit: 1 << 20))
        } catch {
            throw SlurmError("\(name) could not be started (is Slurm installed and on PATH?): \(error)")
        }
        let out = result.standardOutput ?? "", err = (result.standardError ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let s): status = 128 + s
        }
        if status != 0 && !allowFailure {
            throw SlurmError("\(name) \(arguments.joined(separator: " ")) failed (exit \(status)): \(err.isEmpty ? out : err)")
        }
        return (status, out, err)
    }

    /// Checks, before anything is submitted, that the commands exist and the partition is known.
    public func preflight(partition: String?) async throws {
        for name in ["sbatch", "squeue", "scontrol", "scancel", "sinfo"] where Self.which(name) == nil {
            throw SlurmError("\(name) is not on PATH: install Slurm's client commands (Debian: slurm-client) or fix PATH")
        }
        let info = try await command("sinfo", ["-h", "-o", "%R"])
        let partitions = Set(info.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        if let partition, !partitions.contains(partition) {
            throw SlurmError("partition '\(partition)' does not exist on this cluster (partitions: \(partitions.sorted().joined(separator: ", ")))")
        }
    }

    /// Submits an array and returns its job id.
    public func submit(_ request: ArrayRequest) async throws -> String {
        let r = try await command("sbatch", request.arguments)
        guard let id = r.out.split(separator: "\n").last?.split(separator: ";").first.map(String.init), Int(id) != nil else {
            throw SlurmError("sbatch printed no job id: \(r.out)")
        }
        return id
    }

    /// The state of each array element of `jobID` that Slurm still knows, by element index:
    /// `scontrol show job` (live and recently finished jobs), then `sacct` (clusters with
    /// accounting), then the job-completion log (`JobCompLoc` of `jobcomp/filetxt`).
    public func elementStates(jobID: String) async throws -> [Int: SlurmJobState] {
        var states: [Int: SlurmJobState] = [:]
        let shown = try await command("scontrol", ["-o", "show", "job", jobID], allowFailure: true)
        if shown.status == 0 { states.merge(Self.parseRecords(shown.out, jobID: jobID)) { a, _ in a } }
        let acct = try await command("sacct", ["-n", "-P", "-X", "-j", jobID, "--format=JobID,State"], allowFailure: true)
        if acct.status == 0 {
            for line in acct.out.split(separator: "\n") {
                let f = line.split(separator: "|", omittingEmptySubsequences: false)
                guard f.count >= 2, let underscore = f[0].firstIndex(of: "_"), let index = Int(f[0][f[0].index(after: underscore)...]),
                      let state = SlurmJobState(word: String(f[1])), states[index] == nil else { continue }
                states[index] = state
            }
        }
        if let log = try await jobCompletionLog(), let text = try? String(contentsOfFile: log, encoding: .utf8) {
            for (index, state) in Self.parseRecords(text, jobID: jobID) where states[index] == nil { states[index] = state }
        }
        return states
    }

    /// `JobCompLoc` when the cluster writes a text job-completion log.
    func jobCompletionLog() async throws -> String? {
        let config = try await command("scontrol", ["show", "config"], allowFailure: true)
        var type = "", location = ""
        for line in config.out.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "JobCompType" { type = parts[1] }
            if parts[0] == "JobCompLoc" { location = parts[1] }
        }
        return type.hasSuffix("filetxt") && location.hasPrefix("/") ? location : nil
    }

    /// Cancels the whole array.
    public func cancel(jobID: String) async throws { try await command("scancel", [jobID], allowFailure: true) }

    /// Element states from `key=value` records (`scontrol -o show job`, the job-completion log):
    /// `ArrayJobId=J ArrayTaskId=N…` with `JobState=S`; a pending record may name a range (`2-5%2`, `1,3`).
    static func parseRecords(_ text: String, jobID: String) -> [Int: SlurmJobState] {
        var states: [Int: SlurmJobState] = [:]
        for line in text.split(separator: "\n") {
            var fields: [Substring: Substring] = [:]
            for token in line.split(separator: " ") {
                guard let eq = token.firstIndex(of: "=") else { continue }
                fields[token[..<eq]] = token[token.index(after: eq)...]
            }
            guard fields["ArrayJobId"].map(String.init) == jobID, let tasks = fields["ArrayTaskId"],
                  let state = fields["JobState"].flatMap({ SlurmJobState(word: String($0)) }) else { continue }
            for index in indices(String(tasks)) { states[index] = state }
        }
        return states
    }

    /// `0`, `2-5`, `1,3,7-9`, `2-5%2` as indices.
    static func indices(_ text: String) -> [Int] {
        let body = text.split(separator: "%").first ?? ""
        var out: [Int] = []
        for part in body.split(separator: ",") {
            let ends = part.split(separator: "-").compactMap { Int($0) }
            if ends.count == 2, ends[0] <= ends[1] { out += Array(ends[0]...ends[1]) } else if ends.count == 1 { out.append(ends[0]) }
        }
        return out
    }

    /// The path of `name` on PATH, or nil.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
