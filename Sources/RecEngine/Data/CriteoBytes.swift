#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The immutable bytes of one Criteo-format data set: a read-only memory map of a file, or an
/// in-memory array. Read through `withBytes`; the pointer never escapes the closure.
final class CriteoBytes: @unchecked Sendable {  // immutable after init: `base`/`count`/`array` are never written again
    private let base: UnsafeRawPointer?
    private let mappedLength: Int
    private let array: [UInt8]
    /// Number of bytes.
    let count: Int

    /// Wraps an in-memory buffer.
    init(array: [UInt8]) {
        self.array = array
        self.base = nil
        self.mappedLength = 0
        self.count = array.count
    }

    /// Maps `path` read-only (open, fstat, mmap with MAP_PRIVATE; madvise SEQUENTIAL).
    /// Throws `DataError.io` naming the failing call.
    init(mapping path: String) throws {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw DataError.io(path: path, call: "open", errno: errno) }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError.io(path: path, call: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DataError.io(path: path, call: "open (not a regular file)", errno: EINVAL) }
        let size = Int(st.st_size)
        self.array = []
        self.count = size
        if size == 0 {
            self.base = nil
            self.mappedLength = 0
            return
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw DataError.io(path: path, call: "mmap", errno: errno)
        }
        _ = madvise(m, size, MADV_WILLNEED)
        self.base = UnsafeRawPointer(m)
        self.mappedLength = size
    }

    deinit {
        if let base, mappedLength > 0 { _ = munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }
    }

    /// Calls `body` with the bytes. An empty buffer still has a (dangling-free) base address.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let base {
            return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count))
        }
        return try array.withUnsafeBufferPointer { try body($0) }
    }
}

/// Line boundaries of a byte buffer, found once with `memchr`: line `i` (0-based; file line
/// `i + 1`) is `bytes[start(i) ..< end(i)]`, without its `\n`. Trailing empty lines (only
/// `\n` / `\r\n`) at the end of the data are not lines; a missing final `\n` is fine.
struct CriteoLineIndex: Sendable {
    /// `starts[i]` is the first byte of line i; `starts[count]` is one past the `\n` of the last line.
    private let starts: [Int]

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        var starts: [Int] = []
        starts.reserveCapacity(bytes.count / 128 + 2)
        let n = bytes.count
        guard let base = bytes.baseAddress, n > 0 else { self.starts = [0]; return }
        var pos = 0
        starts.append(0)
        while pos < n {
            guard let hit = memchr(base + pos, 10, n - pos) else {
                starts.append(n + 1)  // last line without a final newline
                break
            }
            pos = UnsafeRawPointer(hit) - UnsafeRawPointer(base) + 1
            starts.append(pos)
        }
        // Drop trailing empty lines ("\n" or "\r\n").
        while starts.count >= 2 {
            let s = starts[starts.count - 2], e = min(starts[starts.count - 1] - 1, n)
            let len = e - s
            if len == 0 || (len == 1 && base[s] == 13) { starts.removeLast() } else { break }
        }
        self.starts = starts
    }

    /// Number of lines.
    var count: Int { starts.count - 1 }
    /// First byte of line `i`.
    @inline(__always) func start(_ i: Int) -> Int { starts[i] }
    /// One past the last byte of line `i`, excluding its `\n`.
    @inline(__always) func end(_ i: Int) -> Int { starts[i + 1] - 1 }
}
