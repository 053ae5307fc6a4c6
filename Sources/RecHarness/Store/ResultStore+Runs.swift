import Foundation
import GRDB

/// The identity of a run inside an experiment: the hash of its effective config and its repeat index.
public struct RunKey: Sendable, Hashable, CustomStringConvertible {
    public var configHash: String
    public var repeatIndex: Int
    public init(configHash: String, repeatIndex: Int) { self.configHash = configHash; self.repeatIndex = repeatIndex }
    public var description: String { "\(configHash.prefix(12))#\(repeatIndex)" }
}

/// How a run ended, as the runner hands it to `ResultStore.finishRun`.
public struct RunOutcome: Sendable, Equatable, Codable {
    public var status: RunStatus
    public var exitCode: Int32?
    public var signal: Int32?
    public var stderrTail: String
    public var durationSeconds: Double
    public var metrics: [MetricValue]
    /// Counter name → reason it could not be measured.
    public var unavailable: [String: String]
    /// The engine's echo of every knob's effective value (`rectune` engine runs only).
    public var effectiveConfig: [String: String]?
    public init(status: RunStatus, exitCode: Int32? = nil, signal: Int32? = nil, stderrTail: String = "",
                durationSeconds: Double, metrics: [MetricValue] = [], unavailable: [String: String] = [:],
                effectiveConfig: [String: String]? = nil) {
        self.status = status; self.exitCode = exitCode; self.signal = signal; self.stderrTail = stderrTail
        self.durationSeconds = durationSeconds; self.metrics = metrics; self.unavailable = unavailable
        self.effectiveConfig = effectiveConfig
    }
}

extension ResultStore {
    /// Records the start of a run (status `running`) and returns its id. The row exists before the
    /// process starts, so a harness killed mid-run leaves a trace (`markStaleRunning` cleans it up).
    public func insertRun(experimentID: Int64, config: [String: String], configHash: String, repeatIndex: Int,
                          started: Date = Date(), commandLine: String = "") throws -> Int64 {
        try writing { db in
            try db.execute(sql: """
                INSERT INTO runs (experiment_id, config_json, config_hash, repeat_index, status, started, command_line)
                VALUES (?, ?, ?, ?, 'running', ?, ?)
                """, arguments: [experimentID, CanonicalJSON.string(config), configHash, repeatIndex, started, commandLine])
            return db.lastInsertedRowID
        }
    }

    /// Stores a run's outcome, metrics and unavailable counters in one transaction. Throws
    /// `StoreError.vanished` when the store file was deleted or replaced, `StoreError.write` when
    /// SQLite cannot write (disk full, read-only, corrupt).
    public func finishRun(id: Int64, outcome: RunOutcome) throws {
        try writing { db in try Self.writeOutcome(db, id: id, outcome: outcome) }
        try verifyStored(id: id, status: outcome.status)
    }

    /// Reads the run back through a fresh read-only connection: a store whose file was corrupted,
    /// or whose WAL was deleted, under the open pool accepts writes that no reader will ever see.
    /// Throws `StoreError.write` when the row is not there as written.
    func verifyStored(id: Int64, status: RunStatus) throws {
        guard !readOnly else { return }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        let stored: String?
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            stored = try queue.read { db in try String.fetchOne(db, sql: "SELECT status FROM runs WHERE id = ?", arguments: [id]) }
        } catch {
            throw StoreError.write(path: path, reason: "reading run \(id) back failed: \(error)")
        }
        guard stored == status.rawValue else {
            throw StoreError.write(path: path, reason: "run \(id) was written as \(status.rawValue) but reads back as \(stored ?? "missing")")
        }
    }

    static func writeOutcome(_ db: Database, id: Int64, outcome: RunOutcome) throws {
        try db.execute(sql: """
            UPDATE runs SET status = ?, exit_code = ?, signal = ?, stderr_tail = ?, duration_s = ? WHERE id = ?
            """, arguments: [outcome.status.rawValue, outcome.exitCode, outcome.signal, outcome.stderrTail,
                             outcome.durationSeconds, id])
        guard db.changesCount == 1 else { throw StoreError.notFound("run \(id)") }
        if let echo = outcome.effectiveConfig {
            try db.execute(sql: "UPDATE runs SET effective_config_json = ? WHERE id = ?", arguments: [CanonicalJSON.string(echo), id])
        }
        let insert = try db.makeStatement(sql: """
            INSERT INTO metrics (run_id, name, phase, value, unit, source, scaled) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for m in outcome.metrics where m.value.isFinite {
            try insert.execute(arguments: [id, m.name, m.phase, m.value, m.unit, m.source, m.scaled])
        }
        for (name, reason) in outcome.unavailable {
            try db.execute(sql: "INSERT OR REPLACE INTO unavailable (run_id, name, reason) VALUES (?, ?, ?)",
                           arguments: [id, name, reason])
        }
    }

    /// Marks a run interrupted (Ctrl-C while it ran), keeping whatever stderr was captured.
    public func markInterrupted(runID: Int64, stderrTail: String = "", durationSeconds: Double = 0) throws {
        try finishRun(id: runID, outcome: RunOutcome(status: .interrupted, stderrTail: stderrTail, durationSeconds: durationSeconds))
    }

    /// Keys of the runs of an experiment that completed successfully (what `--resume` skips).
    public func completedKeys(experimentID: Int64) throws -> Set<RunKey> {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT DISTINCT config_hash, repeat_index FROM runs WHERE experiment_id = ? AND status = 'ok'
                """, arguments: [experimentID])
            return Set(rows.map { RunKey(configHash: $0["config_hash"], repeatIndex: $0["repeat_index"]) })
        }
    }

    /// Runs with these ids (with metrics), in id order; unknown ids are ignored.
    public func runs(ids: [Int64]) throws -> [RunRecord] {
        guard !ids.isEmpty else { return [] }
        return try pool.read { db in
            try Self.loadRuns(db, whereSQL: "id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                              arguments: StatementArguments(ids))
        }
    }

    /// All runs of an experiment (any status, with metrics), in id order.
    public func runs(experimentID: Int64) throws -> [RunRecord] {
        try pool.read { db in try Self.loadRuns(db, whereSQL: "experiment_id = ?", arguments: [experimentID]) }
    }

    /// Runs across experiments for listings: optionally of one experiment and with one of
    /// `statuses`, the newest `limit` runs, in id order.
    public func runs(experimentID: Int64?, statuses: [RunStatus]?, limit: Int = 10_000) throws -> [RunRecord] {
        var clauses: [String] = ["1"]
        var args: [any DatabaseValueConvertible] = []
        if let experimentID { clauses.append("experiment_id = ?"); args.append(experimentID) }
        if let statuses {
            clauses.append("status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))")
            args += statuses.map(\.rawValue)
        }
        let whereSQL = clauses.joined(separator: " AND ")
        return try pool.read { db in
            try Self.loadRuns(db, whereSQL: "\(whereSQL) AND id IN (SELECT id FROM runs WHERE \(whereSQL) ORDER BY id DESC LIMIT \(limit))",
                              arguments: StatementArguments(args + args))
        }
    }

    /// The command line a run was started with ('' when unknown).
    public func commandLine(runID: Int64) throws -> String {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT command_line FROM runs WHERE id = ?", arguments: [runID]) ?? ""
        }
    }

    private static func loadRuns(_ db: Database, whereSQL: String, arguments: StatementArguments) throws -> [RunRecord] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE \(whereSQL) ORDER BY id", arguments: arguments)
        guard !rows.isEmpty else { return [] }
        var records = rows.map { row in
            var record = RunRecord(id: row["id"], experimentID: row["experiment_id"],
                      config: CanonicalJSON.stringMap(row["config_json"]) ?? [:], configHash: row["config_hash"],
                      repeatIndex: row["repeat_index"], status: RunStatus(rawValue: row["status"]) ?? .failed,
                      exitCode: row["exit_code"], signal: row["signal"], stderrTail: row["stderr_tail"],
                      started: row["started"], durationSeconds: row["duration_s"])
            let owner: String = row["owner"] ?? ""
            record.runDirectory = row["run_dir"] ?? ""
            record.effectiveConfig = (row["effective_config_json"] as String?).flatMap(CanonicalJSON.stringMap)
            // A `running` row whose sweep is gone is shown as what it is (interrupted), without writing.
            if record.status == .running, RunOwner(owner).map({ !$0.mayBeAlive }) ?? false {
                record.status = .interrupted
                record.stderrTail += (record.stderrTail.isEmpty ? "" : "\n") + staleNote(owner)
            }
            return record
        }
        var index: [Int64: Int] = [:]
        for (i, r) in records.enumerated() { index[r.id] = i }
        let idList = records.map { String($0.id) }.joined(separator: ",")
        for m in try Row.fetchAll(db, sql: "SELECT * FROM metrics WHERE run_id IN (\(idList)) ORDER BY id") {
            guard let i = index[m["run_id"]] else { continue }
            records[i].metrics.append(MetricValue(name: m["name"], phase: m["phase"], value: m["value"], unit: m["unit"],
                                                  source: m["source"], scaled: m["scaled"]))
        }
        for u in try Row.fetchAll(db, sql: "SELECT * FROM unavailable WHERE run_id IN (\(idList))") {
            guard let i = index[u["run_id"]] else { continue }
            records[i].unavailable[u["name"]] = u["reason"]
        }
        return records
    }
}
