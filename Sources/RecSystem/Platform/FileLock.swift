import Foundation
import Glibc

/// An advisory lock between processes on a file (`flock(2)`, independent of SQLite's own `fcntl`
/// locks on Linux). The harness holds it on the store file while it creates and migrates the
/// store, so two sweeps started together do not both run the same migration.
public enum FileLock {
    /// Runs `body` holding an exclusive `flock` on `path` (created if missing, empty).
    /// Throws `SystemCallError` naming the failing call, or what `body` throws.
    public static func withExclusiveLock<T>(on path: String, _ body: () throws -> T) throws -> T {
        let fd = try syscallRetrying("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        _ = try syscallRetrying("flock(\(path), LOCK_EX)") { flock(fd, LOCK_EX) }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
