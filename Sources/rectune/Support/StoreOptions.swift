import ArgumentParser
import RecHarness

/// `--db PATH`, shared by every subcommand that uses the result store.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The result store (SQLite file).", valueName: "path"))
    var path: String = "results/rectune.sqlite"

    /// Opens the store for a reading command: never creates it, opens it read-only.
    /// Throws `StoreError.missing` or `.open` (exit 2).
    func openForReading() throws -> ResultStore { try ResultStore(readingAt: path) }

    /// Opens (creating and migrating if needed) the store for a command that records runs.
    func openForWriting() throws -> ResultStore { try ResultStore(path: path) }
}
