import Foundation
import Glibc

/// An advisory lock between processes on a file or directory (`flock(2)`, independent of SQLite's
/// own `fcntl` locks on Linux, though closing a descriptor of a file still drops those). The harness
/// holds it on the store's directory while it creates and migrates the store, so two sweeps started
/// together do not both run the same migration.
public enum FileLock {
    /// Runs `body` holding an exclusive `flock` on `path` (created if missing, empty).
    /// Never pass a SQLite database file (use `withExclusiveLock(onDirectory:)`): closing this
    /// descriptor drops every POSIX lock the process holds on the file, SQLite's own included.
    /// Throws `SystemCallError` naming the failing call, or what `body` throws.
    public static func withExclusiveLock<T>(on path: String, _ body: () throws -> T) throws -> T {
        let fd = try syscallRetrying("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        return try holding(fd, path, body)
    }

    /// Runs `body` holding an exclusive `flock` on the directory `path` (which must exist): serialises
    /// processes that create or migrate files in it without opening those files. Why not lock the
    /// SQLite file itself: POSIX drops all of a process's fcntl locks on a file when any descriptor
    /// of that file is closed, so closing the lock's descriptor released SQLite's shared lock on
    /// the store; a `sqlite3` shell closing then believed it was the last connection, checkpointed
    /// and reset the WAL under the open store, and every read that followed failed with
    /// SQLITE_IOERR_SHORT_READ ("disk I/O error").
    public static func withExclusiveLock<T>(onDirectory path: String, _ body: () throws -> T) throws -> T {
        let fd = try syscallRetrying("open(\(path))") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        return try holding(fd, path, body)
    }

    private static func holding<T>(_ fd: Int32, _ path: String, _ body: () throws -> T) throws -> T {
        defer { close(fd) }
        _ = try syscallRetrying("flock(\(path), LOCK_EX)") { flock(fd, LOCK_EX) }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
