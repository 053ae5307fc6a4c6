import Foundation
import GRDB
import RecSystem

/// The SQLite result store (GRDB `DatabasePool`, WAL): hosts, experiments, runs and their
/// long-form metrics. Every write is one transaction, so a run is durable as soon as
/// `finishRun` returns; readers (reports) never block the running sweep.
///
/// Thread-safe: `DatabasePool` serializes writes and allows concurrent reads.
public final class ResultStore: Sendable {
    /// File path of the database.
    public let path: String
    /// The database: a `DatabasePool` (WAL) for writers, a read-only `DatabaseQueue` for readers.
    let pool: any DatabaseWriter
    /// True when opened with `ResultStore(readingAt:)`: every write fails.
    public let readOnly: Bool
    /// The (device, inode) of the file when it was opened; writes check it still names the same file.
    let identity: FileIdentity?

    /// Opens (creating parent directories and the file if needed) and migrates the store at `path`.
    /// Throws `StoreError.open` naming the path when SQLite cannot open it or a migration fails.
    public convenience init(path: String) throws {
        try self.init(path: path, migrations: StoreSchema.versions.count)
    }

    /// Opens the store applying only the first `migrations` migrations (tests build old schemas with it).
    init(path: String, migrations: Int) throws {
        self.path = path
        self.readOnly = false
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            var config = Configuration()
            config.busyMode = .timeout(10)
            config.foreignKeysEnabled = true
            // Two processes creating or migrating the same store at once (two sweeps started
            // together) take turns; SQLITE_BUSY while switching a fresh file to WAL is retried.
            // The lock is on the directory, never on the database file (see FileLock).
            pool = try FileLock.withExclusiveLock(onDirectory: parent) {
                try Self.openRetryingBusy {
                    let pool = try DatabasePool(path: path, configuration: config)
                    try StoreSchema.migrator(upTo: migrations).migrate(pool)
                    return pool
                }
            }
            // A store on read-only media opens and reads, but every write would fail mid-sweep.
            guard FileManager.default.isWritableFile(atPath: path) else {
                throw StoreError.open(path: path, reason: "the file is read-only (reading commands can still use it)")
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError.open(path: path, reason: String(describing: error))
        }
        identity = FileIdentity(path: path)
    }

    /// Runs `open` again while SQLite answers SQLITE_BUSY: switching a new file to WAL takes an
    /// exclusive lock that the busy timeout does not wait for, so two processes creating the same
    /// store at once (two sweeps started together) would otherwise fail with "database is locked".
    static func openRetryingBusy<T>(_ open: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do { return try open() } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 100 {
                attempt += 1
                usleep(50_000)
            }
        }
    }

    /// Opens an existing store for reading only (`runs`, `show`, `report`, `compare`, `check`):
    /// never creates a file or directory, never migrates, works on read-only media. Throws
    /// `StoreError.missing` when there is no file at `path`, `StoreError.open` when it is not a
    /// readable rectune store.
    public init(readingAt path: String) throws {
        self.path = path
        self.readOnly = true
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw StoreError.missing(path: path) }
        guard !isDirectory.boolValue else { throw StoreError.open(path: path, reason: "it is a directory") }
        do {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(10)
            func open(_ name: String) throws -> (DatabaseQueue, [String]) {
                let queue = try DatabaseQueue(path: name, configuration: config)
                return (queue, try queue.read { db in try StoreSchema.migrator().appliedMigrations(db) })
            }
            let opened: (DatabaseQueue, [String])
            do {
                opened = try open(path)
            } catch {
                // A WAL database on read-only media: SQLite cannot create its -shm file. Nobody can
                // be writing there, so open it as immutable (a URI filename; Debian's SQLite has USE_URI).
                let absolute = URL(fileURLWithPath: path).path
                let encoded = absolute.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#%"))) ?? absolute
                guard let fallback = try? open("file:\(encoded)?immutable=1") else { throw error }
                opened = fallback
            }
            pool = opened.0
            let applied = opened.1
            guard applied.first == StoreSchema.versions[0] else { throw StoreError.open(path: path, reason: "not a rectune result store") }
            if let unknown = applied.first(where: { !StoreSchema.versions.contains($0) }) {
                throw StoreError.open(path: path, reason: "written by a newer rectune (migration \(unknown))")
            }
            if applied.count < StoreSchema.versions.count {
                throw StoreError.open(path: path, reason: "an older schema (\(applied.last ?? "none")): open it once with `rectune sweep` to migrate it")
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError.open(path: path, reason: String(describing: error))
        }
        identity = FileIdentity(path: path)
    }

    /// Runs `body` in one IMMEDIATE write transaction after checking the file's identity, so a
    /// read-then-write (find-or-create, claim) is atomic against other processes on the same store;
    /// every SQLite failure (disk full, read-only, corrupt) becomes `StoreError.write` naming the store.
    func writing<T>(_ body: (Database) throws -> T) throws -> T {
        try writingWithoutTransaction { db in
            var result: T? = nil
            try db.inTransaction(.immediate) { result = try body(db); return .commit }
            return result!
        }
    }

    /// `writing` for a body that opens its own transaction (e.g. `.immediate`).
    func writingWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try checkIdentity()
        do { return try pool.writeWithoutTransaction(body) } catch let e as StoreError { throw e } catch {
            throw StoreError.write(path: path, reason: String(describing: error))
        }
    }

    /// Throws `StoreError.vanished` when the file at `path` is gone or is no longer the file this
    /// store opened (deleted, replaced, moved): writes would go to an unlinked inode and be lost.
    public func checkIdentity() throws {
        guard let identity else { return }
        guard let now = FileIdentity(path: path) else { throw StoreError.vanished(path: path, reason: "the file was deleted") }
        if now != identity { throw StoreError.vanished(path: path, reason: "the file was replaced by another one") }
    }

    /// A store in a fresh temporary file (for tests and `--dry-run` style throwaway use).
    public static func temporary() throws -> ResultStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-store-\(UUID().uuidString)")
        return try ResultStore(path: dir.appendingPathComponent("rectune.sqlite").path)
    }

    /// The store's absolute path with symbolic links resolved: what a run's `outcome.json` records
    /// as its store.
    public var canonicalPath: String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }

    /// Names of the migrations applied to this database, in order.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try StoreSchema.migrator().appliedMigrations(db) }
    }

    // MARK: Hosts

    /// Stores a host fingerprint (once per distinct fingerprint) and returns its id.
    public func upsertHost(_ h: HostFingerprint) throws -> Int64 {
        try writing { db in try Self.upsertHost(db, h) }
    }

    /// `upsertHost` inside a write the caller already holds.
    static func upsertHost(_ db: Database, _ h: HostFingerprint) throws -> Int64 {
        let key = CanonicalJSON.string(h)
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
        try writing { db in
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
        try writing { db in (try Self.insertExperiment(db, name, specText, specPath, specHash, hostID), true) }
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
    /// A reading command was pointed at a path where no store exists (nothing is created).
    case missing(path: String)
    /// The store file was deleted or replaced while open.
    case vanished(path: String, reason: String)
    /// A write failed (disk full, read-only, corrupt file…).
    case write(path: String, reason: String)
    /// A referenced row does not exist.
    case notFound(String)

    public var description: String {
        switch self {
        case .open(let path, let reason): "cannot open result store \(path): \(reason)"
        case .missing(let path): "no result store at \(path) (run `rectune sweep SPEC --db \(path)` first)"
        case .vanished(let path, let reason): "the result store \(path) is gone: \(reason)"
        case .write(let path, let reason): "cannot write to the result store \(path): \(reason)"
        case .notFound(let what): "\(what) not found in the result store"
        }
    }
}

/// A file's (device, inode) pair: two paths name the same file exactly when these are equal.
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64

    /// The identity of the file at `path`, or nil when there is none.
    init?(path: String) {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path),
              let inode = (a[.systemFileNumber] as? NSNumber)?.uint64Value,
              let device = (a[.systemNumber] as? NSNumber)?.uint64Value else { return nil }
        self.device = device; self.inode = inode
    }
}
