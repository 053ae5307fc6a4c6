import Foundation
import Glibc

/// An advisory lock between processes on a directory (`flock(2)`, independent of SQLite's own
/// `fcntl` locks on Linux). The harness holds it on the store's directory while it creates and
/// migrates the store, so two sweeps started together do not both run the same migration.
public enum FileLock {
    /// Runs `body` holding an exclusive `flock` on the directory `path` (which must exist): serialises
    /// processes that create or migrate files in it without opening those files. Why not lock the
    /// SQLite file itself: POSIX drops all of a process's fcntl locks on a file when any descriptor
    /// of that file is closed, so closing the lock's descriptor released SQLite's shared lock on
    /// the store; a `sqlite3` shell closing then believed it was the last connection, checkpointed
    /// and reset the WAL under the open store, and every read that followed failed with
    /// SQLITE_IOERR_SHORT_READ ("disk I/O error").
    public static func withExclusiveLock<T>(onDirectory path: String, _ body: () throws -> T) throws -> T {
        let fd = try syscallRetrying("open(\(path))") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        _ = try syscallRetrying("flock(\(path), LOCK_EX)") { flock(fd, LOCK_EX) }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
