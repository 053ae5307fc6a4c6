import Foundation
import GRDB

/// The versioned schema of the result store (documented in docs/store-schema.md).
///
/// Migrations are append-only: a released migration is never edited; a schema change is a new
/// `registerMigration` with the next version name. `ResultStore.init` applies the pending ones.
enum StoreSchema {
    /// Names of all migrations in order; the last one is the current schema version.
    static let versions = ["v1-tables", "v2-views", "v3-run-owner", "v4-effective-config", "v5-run-host"]

    /// A migrator holding the first `upTo` migrations (all by default). Tests use a prefix to
    /// build an old database and check that opening it migrates the data forward.
    static func migrator(upTo count: Int = versions.count) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        let steps: [(String, @Sendable (Database) throws -> Void)] = [(versions[0], v1), (versions[1], v2), (versions[2], v3), (versions[3], v4), (versions[4], v5)]
        for (name, body) in steps.prefix(count) { migrator.registerMigration(name, migrate: body) }
        return migrator
    }

    /// Tables: hosts, experiments, runs, metrics, unavailable, steps.
    private static func v1(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE hosts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                fingerprint TEXT NOT NULL UNIQUE,      -- canonical JSON of every field below
                hostname TEXT NOT NULL,
                cpu_model TEXT NOT NULL,
                cpu_flags TEXT NOT NULL,
                logical_cores INTEGER NOT NULL,
                numa_nodes INTEGER NOT NULL,
                memory_bytes INTEGER NOT NULL,
                kernel TEXT NOT NULL,
                perf_event_paranoid INTEGER NOT NULL,
                onednn_version TEXT NOT NULL,
                onednn_isa TEXT NOT NULL,
                toolchain TEXT NOT NULL,
                rectune_version TEXT NOT NULL,
                git_commit TEXT NOT NULL,
                first_seen TEXT NOT NULL
            );
            CREATE TABLE experiments (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                spec_text TEXT NOT NULL,
                spec_path TEXT NOT NULL DEFAULT '',
                spec_hash TEXT NOT NULL,
                host_id INTEGER NOT NULL REFERENCES hosts(id),
                created TEXT NOT NULL
            );
            CREATE INDEX experiments_name ON experiments(name, spec_hash);
            CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
                config_json TEXT NOT NULL,             -- knob -> value (every factor present)
                config_hash TEXT NOT NULL,             -- SHA-256 of the effective config (knobs + model, batch, steps, data, fixed)
                repeat_index INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('ok','failed','timeout','crashed','invalid','interrupted','running')),
                exit_code INTEGER,
                signal INTEGER,
                stderr_tail TEXT NOT NULL DEFAULT '',
                started TEXT NOT NULL,
                duration_s REAL NOT NULL DEFAULT 0,
                command_line TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX runs_key ON runs(experiment_id, config_hash, repeat_index);
            CREATE TABLE metrics (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                phase TEXT NOT NULL,                   -- steady | warmup | total
                value REAL NOT NULL,
                unit TEXT NOT NULL DEFAULT '',
                source TEXT NOT NULL DEFAULT '',       -- result | perf_event | rusage | engine | derived
                scaled INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX metrics_run ON metrics(run_id);
            CREATE INDEX metrics_name ON metrics(name);
            CREATE TABLE unavailable (
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                reason TEXT NOT NULL,
                PRIMARY KEY (run_id, name)
            );
            CREATE TABLE steps (
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                step INTEGER NOT NULL,
                phase TEXT NOT NULL,
                ms REAL NOT NULL,
                PRIMARY KEY (run_id, step)
            );
            """)
    }

    /// Convenience views for hand-written SQL: one row per (run, metric) with the experiment name.
    private static func v2(_ db: Database) throws {
        try db.execute(sql: """
            CREATE VIEW run_metrics AS
                SELECT e.name AS experiment, e.id AS experiment_id, r.id AS run_id, r.config_json,
                       r.config_hash, r.repeat_index, r.status, m.name AS metric, m.phase, m.value,
                       m.unit, m.source, m.scaled
                FROM metrics m JOIN runs r ON r.id = m.run_id JOIN experiments e ON e.id = r.experiment_id;
            """)
    }

    /// Who runs a run and where its files are: `owner` is `host:pid:start-ticks` of the sweep that
    /// claimed it (a `running` row whose owner is gone is stale), `run_dir` its unique run folder
    /// (also the key that ingests a run's `outcome.json` exactly once).
    private static func v3(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
            ALTER TABLE runs ADD COLUMN run_dir TEXT NOT NULL DEFAULT '';
            CREATE INDEX runs_run_dir ON runs(run_dir);
            """)
    }

    /// The engine's echo of every knob's effective value (`config` of the result contract), next
    /// to the requested `config_json`; NULL for external commands and runs that did not finish.
    private static func v4(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE runs ADD COLUMN effective_config_json TEXT")
    }

    /// The host a run ran on, when it is not the experiment's (runs of a Slurm sweep on cluster nodes).
    private static func v5(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE runs ADD COLUMN host_id INTEGER REFERENCES hosts(id)")
    }
}
