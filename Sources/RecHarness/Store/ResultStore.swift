import Foundation
import GRDB

/// The SQLite result store (GRDB `DatabasePool`, WAL): hosts, experiments, runs and their
/// long-form metrics. Every write is one transaction, so a run is durable as soon as
/// `finishRun` returns; readers (reports) never block the running sweep.
///
/// Thread-safe: `DatabasePool` serializes writes and allows concurrent reads.
public final class ResultStore: Sendable {
    /// File path of the database.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating parent directories and the file if needed) and migrates the store at `path`.
    /// Throws `StoreError.open` naming the path when SQLite cannot open it or a migration fails.
    public convenience init(path: String) throws {
        try self.init(path: path, migrations: StoreSchema.versions.count)
    }

    /// Opens the store applying only the first `migrations` migrations (tests build old schemas with it).
    init(path: String, migrations: Int) throws {
        self.path = path
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            var config = Configuration()
            config.busyMode = .timeout(10)
            config.foreignKeysEnabled = true
            pool = try DatabasePool(path: path, configuration: config)
            try StoreSchema.migrator(upTo: migrations).migrate(pool)
        } catch {
            throw StoreError.open(path: path, reason: String(describing: error))
        }
    }

    /// A store in a fresh temporary file (for tests and `--dry-run` style throwaway use).
    public static func temporary() throws -> ResultStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-store-\(UUID().uuidString)")
        return try ResultStore(path: dir.appendingPathComponent("rectune.sqlite").path)
    }

    /// Names of the migrations applied to this database, in order.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try StoreSchema.migrator().appliedMigrations(db) }
    }

    // MARK: Hosts

    /// Stores a host fingerprint (once per distinct fingerprint) and returns its id.
    public func upsertHost(_ h: HostFingerprint) throws -> Int64 {
        let key = CanonicalJSON.string(h)
        return try pool.write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM hosts WHERE fingerprint = ?", arguments: [key]) {
                return id
            }
            try db.execute(sql: """
                INSERT INTO hosts (fingerprint, hostname, cpu_model, cpu_flags, logical_cores, numa_nodes, memory_bytes,
                    kernel, perf_event_paranoid, onednn_version, onednn_isa, toolchain, rectune_version, git_commit, first_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [key, h.hostname, h.cpuModel, h.cpuFlags, h.logicalCores, h.numaNodes, h.memoryBytes,
                                 h.kernel, h.perfEventParanoid, h.onednnVersion, h.onednnISA, h.toolchain,
                                 h.rectuneVersion, h.gitCommit, Date()])
            return db.lastInsertedRowID
        }
    }

    /// The host with `id`; throws `StoreError.notFound` when there is none.
    public func host(id: Int64) throws -> HostFingerprint {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM hosts WHERE id = ?", arguments: [id]) else {
                throw StoreError.notFound("host \(id)")
            }
            return HostFingerprint(
                hostname: row["hostname"], cpuModel: row["cpu_model"], cpuFlags: row["cpu_flags"],
                logicalCores: row["logical_cores"], numaNodes: row["numa_nodes"], memoryBytes: row["memory_bytes"],
                kernel: row["kernel"], perfEventParanoid: row["perf_event_paranoid"], onednnVersion: row["onednn_version"],
                onednnISA: row["onednn_isa"], toolchain: row["toolchain"], rectuneVersion: row["rectune_version"],
                gitCommit: row["git_commit"])
        }
    }

    // MARK: Experiments

    /// All experiments, newest first.
    public func experiments() throws -> [ExperimentRecord] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM experiments ORDER BY id DESC").map(Self.experiment(from:)) }
    }

    /// The latest experiment named `named`, or nil.
    public func experiment(named: String) throws -> ExperimentRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM experiments WHERE name = ? ORDER BY id DESC LIMIT 1", arguments: [named])
                .map(Self.experiment(from:))
        }
    }

    /// The experiment with `id`, or nil.
    public func experiment(id: Int64) throws -> ExperimentRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM experiments WHERE id = ?", arguments: [id]).map(Self.experiment(from:))
        }
    }

    /// The most recently created experiment, or nil when the store is empty.
    public func latestExperiment() throws -> ExperimentRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM experiments ORDER BY id DESC LIMIT 1").map(Self.experiment(from:))
        }
    }

    /// The latest experiment with this name and spec hash, or a new one. `created` tells which.
    /// A changed spec (different hash) always gets a new experiment row, so stored runs keep the
    /// spec they were measured under.
    public func findOrCreateExperiment(name: String, specText: String, specPath: String = "", specHash: String,
                                       hostID: Int64) throws -> (record: ExperimentRecord, created: Bool) {
        try pool.write { db in
            if let row = try Row.fetchOne(db, sql: """
                SELECT * FROM experiments WHERE name = ? AND spec_hash = ? AND host_id = ? ORDER BY id DESC LIMIT 1
                """, arguments: [name, specHash, hostID]) {
                return (Self.experiment(from: row), false)
            }
            return (try Self.insertExperiment(db, name, specText, specPath, specHash, hostID), true)
        }
    }

    /// Everything a report needs about experiment `id`: the spec re-parsed from the stored text,
    /// the host, and all runs (any status) with their metrics. Throws `StoreError.notFound`, or
    /// `SpecError` when the stored spec no longer parses.
    public func loadExperimentData(_ id: Int64) throws -> ExperimentData {
        guard let record = try experiment(id: id) else { throw StoreError.notFound("experiment \(id)") }
        let spec = try SpecParser.parse(record.specText, path: "experiment \(id) (\(record.name))").spec
        return ExperimentData(experiment: record, spec: spec, host: try host(id: record.hostID),
                              runs: try runs(experimentID: id))
    }

    /// The latest experiment with this name and spec hash measured on `host`, without writing
    /// anything (for `--dry-run` and `--resume` checks).
    public func existingExperiment(name: String, specHash: String, host: HostFingerprint) throws -> ExperimentRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT e.* FROM experiments e JOIN hosts h ON h.id = e.host_id
                WHERE e.name = ? AND e.spec_hash = ? AND h.fingerprint = ? ORDER BY e.id DESC LIMIT 1
                """, arguments: [name, specHash, CanonicalJSON.string(host)]).map(Self.experiment(from:))
        }
    }

    /// Always inserts a new experiment row (`rectune sweep --new`).
    public func createExperiment(name: String, specText: String, specPath: String = "", specHash: String,
                                 hostID: Int64) throws -> (record: ExperimentRecord, created: Bool) {
        try pool.write { db in (try Self.insertExperiment(db, name, specText, specPath, specHash, hostID), true) }
    }

    private static func insertExperiment(_ db: Database, _ name: String, _ specText: String, _ specPath: String,
                                         _ specHash: String, _ hostID: Int64) throws -> ExperimentRecord {
        try db.execute(sql: """
            INSERT INTO experiments (name, spec_text, spec_path, spec_hash, host_id, created) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [name, specText, specPath, specHash, hostID, Date()])
        let id = db.lastInsertedRowID
        return experiment(from: try Row.fetchOne(db, sql: "SELECT * FROM experiments WHERE id = ?", arguments: [id])!)
    }

    static func experiment(from row: Row) -> ExperimentRecord {
        ExperimentRecord(id: row["id"], name: row["name"], specText: row["spec_text"], specHash: row["spec_hash"],
                         hostID: row["host_id"], created: row["created"])
    }
}

/// Failures of the result store.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The database could not be opened or migrated.
    case open(path: String, reason: String)
    /// A referenced row does not exist.
    case notFound(String)

    public var description: String {
        switch self {
        case .open(let path, let reason): "cannot open result store \(path): \(reason)"
        case .notFound(let what): "\(what) not found in the result store"
        }
    }
}
