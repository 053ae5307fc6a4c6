import Glibc
import XCTest

/// Test workloads: fresh anonymous pages touched once each, and pure computation.
enum Workload {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// mmaps `pages` fresh anonymous pages (huge pages disabled for the range), writes one byte
    /// per page (one minor fault each), and unmaps them. Returns a checksum so nothing is elided.
    @discardableResult
    static func touchFreshPages(_ pages: Int) -> Int {
        let length = pages * pageSize
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else {
            XCTFail("mmap of \(length) bytes failed: errno \(errno)")
            return 0
        }
        defer { munmap(base, length) }
        _ = madvise(base, length, MADV_NOHUGEPAGE)
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var sum = 0
        for page in 0..<pages {
            bytes[page * pageSize] = UInt8(truncatingIfNeeded: page | 1)
            sum &+= Int(bytes[page * pageSize])
        }
        return sum
    }

    /// Arithmetic on registers only: no allocation, no memory growth.
    @discardableResult
    static func compute(iterations: Int) -> UInt64 {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<iterations {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            x &+= UInt64(truncatingIfNeeded: i)
        }
        return x
    }
}
