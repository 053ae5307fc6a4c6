import Foundation
import GRDB
import RecSystem

/// The process that claimed a run: `host:pid:start-ticks`. A `running` row whose owner no longer
/// runs on this host is stale (its sweep was killed); the start time guards against a reused pid.
public struct RunOwner: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var pid: Int32
    public var startTicks: UInt64

    /// This process.
    public static let current: RunOwner = RunOwner(
        host: (try? String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "localhost",
        pid: getpid(), startTicks: ProcessStat.current?.startTicks ?? 0)

    public init(host: String, pid: Int32, startTicks: UInt64) { self.host = host; self.pid = pid; self.startTicks = startTicks }

    /// Parses `host:pid:start-ticks`; nil for '' (rows written before owners were recorded) or garbage.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), let start = UInt64(parts[parts.count - 1]) else { return nil }
        self.host = parts.dropLast(2).joined(separator: ":"); self.pid = pid; self.startTicks = start
    }

    public var description: String { "\(host):\(pid):\(startTicks)" }

    /// Whether the owner may still be running: true for another host (it cannot be checked from here).
    public var mayBeAlive: Bool {
        guard host == RunOwner.current.host else { return true }
        return SupervisedChild.isAlive(pid, startTicks: startTicks)
    }

    /// Whether a `running` row with this owner text is stale: no owner recorded, or the owner is gone.
    /// A run handed to Slurm (`slurm:<job>_<element>`) is not stale: the coordinator that reconciles
    /// it with Slurm's own record (`--resume`) decides how it ended.
    static func isStale(ownerText: String) -> Bool {
        if SlurmOwner(ownerText) != nil { return false }
        guard let owner = RunOwner(ownerText) else { return true }
        return !owner.mayBeAlive
    }
}

/// The owner of a run handed to Slurm: array job and element, `slurm:<job>_<element>`.
public struct SlurmOwner: Sendable, Equatable, CustomStringConvertible {
    public var jobID: String
    public var element: Int
    public init(jobID: String, element: Int) { self.jobID = jobID; self.element = element }
    public init?(_ text: String) {
        guard text.hasPrefix("slurm:") else { return nil }
        let parts = text.dropFirst(6).split(separator: "_")
        guard parts.count == 2, let e = Int(parts[1]) else { return nil }
        jobID = String(parts[0]); element = e
    }
    public var description: String { "slurm:\(jobID)_\(element)" }
}

/// A run claimed by this sweep: its row id and unique run folder.
public struct ClaimedRun: Sendable, Equatable {
    public var id: Int64
    public var runDirectory: String
}

extension ResultStore {
    /// Claims run `key` of an experiment in one immediate transaction, so two sweeps of the same
    /// spec never execute it twice: returns nil (skip) when a row for the key is `ok`, is `running`
    /// under a live owner, or was started by another owner since `since` (another sweep ran it while
    /// this one was going); otherwise inserts a `running` row owned by `owner`, gives it the unique
    /// folder `<runsRoot>/e<exp>/<hash12>-r<rep>-<id>` and stores `commandLine(folder)`.
    /// Throws `StoreError.vanished` when the store file was deleted or replaced.
    public func claimRun(experimentID: Int64, config: [String: String], configHash: String, repeatIndex: Int,
                         owner: RunOwner = .current, since: Date, runsRoot: String,
                         commandLine: (String) -> String) throws -> ClaimedRun? {
        try writingWithoutTransaction { db in
            var claimed: ClaimedRun? = nil
            try db.inTransaction(.immediate) {
                let rows = try Row.fetchAll(db, sql: """
                    SELECT status, owner, started FROM runs WHERE experiment_id = ? AND config_hash = ? AND repeat_index = ?
                    """, arguments: [experimentID, configHash, repeatIndex])
                let me = owner.description
                for row in rows {
                    let status: String = row["status"], who: String = row["owner"], started: Date = row["started"]
                    if status == RunStatus.ok.rawValue { return .commit }
                    if status == RunStatus.running.rawValue && !RunOwner.isStale(ownerText: who) { return .commit }
                    if who != me && !who.isEmpty && started >= since { return .commit }
                }
                try db.execute(sql: """
                    INSERT INTO runs (experiment_id, config_json, config_hash, repeat_index, status, started, owner)
                    VALUES (?, ?, ?, ?, 'running', ?, ?)
                    """, arguments: [experimentID, CanonicalJSON.string(config), configHash, repeatIndex, Date(), me])
                let id = db.lastInsertedRowID
                let folder = (runsRoot as NSString).appendingPathComponent("e\(experimentID)/\(configHash.prefix(12))-r\(repeatIndex)-\(id)")
                try db.execute(sql: "UPDATE runs SET run_dir = ?, command_line = ? WHERE id = ?",
                               arguments: [folder, commandLine(folder), id])
                claimed = ClaimedRun(id: id, runDirectory: folder)
                return .commit
            }
            return claimed
        }
    }

    /// Marks runs of an experiment still `running` whose owner is gone (a killed sweep) as
    /// interrupted; rows of a live sweep are left alone. Returns how many were changed.
    @discardableResult
    public func markStaleRunning(experimentID: Int64) throws -> Int {
        try writing { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, owner FROM runs WHERE experiment_id = ? AND status = 'running'",
                                        arguments: [experimentID])
            var changed = 0
            for row in rows where RunOwner.isStale(ownerText: row["owner"]) {
                try db.execute(sql: """
                    UPDATE runs SET status = 'interrupted', stderr_tail = stderr_tail || ? WHERE id = ?
                    """, arguments: [Self.staleNote(row["owner"]), row["id"] as Int64])
                changed += db.changesCount
            }
            return changed
        }
    }

    static func staleNote(_ owner: String) -> String {
        "[harness stopped before the run ended" + (RunOwner(owner).map { ": sweep pid \($0.pid) is gone" } ?? "") + "]"
    }

    /// Ingests run outcomes kept in run folders (`outcome.json`, written before every store write)
    /// that the store does not hold: a row still `running` for that folder gets the outcome, a
    /// folder without a row (the store was deleted) gets a new row in `experimentID`. Keyed by the
    /// run folder, so each outcome is ingested exactly once. Returns how many were ingested.
    @discardableResult
    public func ingestOutcomes(_ files: [RunOutcomeFile], experimentID: Int64) throws -> Int {
        var count = 0
        for file in files {
            let done: Bool = try writingWithoutTransaction { db in
                var ingested = false
                try db.inTransaction(.immediate) {
                    let row = try Row.fetchOne(db, sql: "SELECT id, status, owner FROM runs WHERE run_dir = ? ORDER BY id DESC LIMIT 1",
                                               arguments: [file.runDirectory])
                    let id: Int64
                    if let row {
                        guard row["status"] as String == RunStatus.running.rawValue else { return .commit }
                        // A live sweep that just wrote its outcome file stores the outcome itself; a Slurm
                        // element's outcome file is final (the element has ended), so it is ingested.
                        let owner: String = row["owner"]
                        guard RunOwner.isStale(ownerText: owner) || SlurmOwner(owner) != nil else { return .commit }
                        id = row["id"]
                    } else {
                        try db.execute(sql: """
                            INSERT INTO runs (experiment_id, config_json, config_hash, repeat_index, status, started, owner, run_dir, command_line)
                            VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)
                            """, arguments: [experimentID, CanonicalJSON.string(file.config), file.configHash, file.repeatIndex,
                                             file.started, file.owner, file.runDirectory, file.commandLine])
                        id = db.lastInsertedRowID
                    }
                    var outcome = file.outcome
                    outcome.stderrTail += (outcome.stderrTail.isEmpty ? "" : "\n") + "[ingested from \(file.runDirectory)/outcome.json]"
                    try Self.writeOutcome(db, id: id, outcome: outcome)
                    if let host = file.host {
                        try db.execute(sql: "UPDATE runs SET host_id = ? WHERE id = ?", arguments: [try Self.upsertHost(db, host), id])
                    }
                    ingested = true
                    return .commit
                }
                return ingested
            }
            if done { count += 1 }
        }
        return count
    }
}

/// A run's outcome as kept in its run folder (`outcome.json`): everything needed to store it
/// again if the store write failed or the store is gone.
public struct RunOutcomeFile: Sendable, Codable, Equatable {
    public var experimentName: String
    public var specHash: String
    public var config: [String: String]
    public var configHash: String
    public var repeatIndex: Int
    public var owner: String
    public var runDirectory: String
    public var commandLine: String
    public var started: Date
    public var outcome: RunOutcome
    /// The machine the run ran on (cluster nodes may differ from the coordinator's); nil when it
    /// is the sweep's own host.
    public var host: HostFingerprint? = nil
    /// The store the run was claimed in (`ResultStore.canonicalPath`); only that store ingests the
    /// outcome. Nil in files written before this field and by Slurm elements (any store of the
    /// spec ingests those). Why: a second store in the same folder (`--db other.sqlite`) shares
    /// the `runs/` folder and once took a whole full-scale contest's outcomes as its own runs,
    /// running nothing.
    public var store: String? = nil

    public static let fileName = "outcome.json"

    public init(experimentName: String, specHash: String, config: [String: String], configHash: String, repeatIndex: Int,
                owner: String, runDirectory: String, commandLine: String, started: Date, outcome: RunOutcome,
                host: HostFingerprint? = nil) {
        self.experimentName = experimentName; self.specHash = specHash; self.config = config; self.configHash = configHash
        self.repeatIndex = repeatIndex; self.owner = owner; self.runDirectory = runDirectory; self.commandLine = commandLine
        self.started = started; self.outcome = outcome; self.host = host
    }

    /// Writes the file durably (temporary file, fsync, rename) into its run folder.
    public func write() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try encoder.encode(self)
        try DurableFile.write(data, to: (runDirectory as NSString).appendingPathComponent(Self.fileName))
    }

    /// Reads one file; nil when it is missing or unreadable.
    public static func read(_ path: String) -> RunOutcomeFile? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode(RunOutcomeFile.self, from: data)
    }

    /// The outcome files under `runsRoot` (`e*/<run>/outcome.json`) of experiment `name` with spec `specHash`.
    public static func scan(runsRoot: String, name: String, specHash: String, store: String? = nil) -> [RunOutcomeFile] {
        let fm = FileManager.default
        guard let experiments = try? fm.contentsOfDirectory(atPath: runsRoot) else { return [] }
        var found: [RunOutcomeFile] = []
        for e in experiments.sorted() where e.hasPrefix("e") {
            let dir = (runsRoot as NSString).appendingPathComponent(e)
            for run in (try? fm.contentsOfDirectory(atPath: dir))?.sorted() ?? [] {
                let path = ((dir as NSString).appendingPathComponent(run) as NSString).appendingPathComponent(fileName)
                if let f = read(path), f.specHash == specHash, f.experimentName == name,
                   store == nil || f.store == nil || f.store == store { found.append(f) }
            }
        }
        return found
    }
}
