import Foundation
import Glibc
import SystemPackage

/// Writes a file so that it survives a crash of this process or of the machine: the bytes go to a
/// temporary file beside it, which is fsync'd and renamed over the target (`open`, `write`,
/// `fsync`, `rename`, then `fsync` of the directory). Readers see the old file or the new one,
/// never a torn one. The harness keeps each run's outcome this way before it writes the store.
public enum DurableFile {
    /// Writes `data` to `path` durably. Throws `SystemCallError` naming the failing call.
    public static func write(_ data: Data, to path: String) throws(SystemCallError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = try syscallRetrying("open(\(temporary))") { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        var failure: SystemCallError? = nil
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                switch retryingEINTR({ Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }) {
                case .success(let n): offset += n
                case .failure(let e): failure = SystemCallError(e, call: "write(\(temporary))"); return
                }
            }
        }
        if failure == nil, case .failure(let e) = retryingEINTR({ fsync(fd) }) { failure = SystemCallError(e, call: "fsync(\(temporary))") }
        close(fd)
        if let failure { unlink(temporary); throw failure }
        do {
            _ = try syscallRetrying("rename(\(temporary), \(path))") { rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw error
        }
        let directory = (path as NSString).deletingLastPathComponent
        if let dfd = try? syscallRetrying("open(\(directory))", { open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) {
            _ = retryingEINTR { fsync(dfd) }
            close(dfd)
        }
    }
}
