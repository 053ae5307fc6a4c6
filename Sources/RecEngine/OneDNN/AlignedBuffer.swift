import Glibc

/// Owned, 64-byte-aligned, zero-filled raw storage for oneDNN-side buffers (bf16 copies of weights
/// and activations, scratchpads). Freed in `deinit`.
///
/// `@unchecked Sendable`: the buffer's address is immutable; who writes the bytes and when is ordered
/// by the owner (a worker lock for per-worker buffers, the step graph for weight copies).
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int

    init(bytes: Int) {
        let size = max(bytes, 64)
        var raw: UnsafeMutableRawPointer?
        // The call must not sit inside `precondition`: -Ounchecked (RecEngine's release setting) does
        // not evaluate precondition conditions at all.
        let rc = posix_memalign(&raw, 64, size)
        dnnlRequire(rc == 0 && raw != nil, "posix_memalign(\(size)) failed: \(rc)")
        memset(raw!, 0, size)
        pointer = raw!
        self.bytes = bytes
    }

    deinit { free(pointer) }
}
