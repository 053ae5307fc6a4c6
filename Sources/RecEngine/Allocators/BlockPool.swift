import Glibc

/// The planned pool of the adaptive allocator: one anonymous mmap region, carved into
/// consecutive segments (one per size class, ascending), each split into equal blocks with a
/// free stack. Every page is written once when the pool is built, so steady-state steps take no
/// page faults on it.
///
/// `@unchecked Sendable`: not thread-safe by itself; `AdaptiveAllocator` keeps it inside its
/// `Mutex` state and calls `take`/`give` only with the lock held.
final class BlockPool: @unchecked Sendable {
    struct Segment {
        let sizeClass: Int
        let blockSize: Int
        let offset: Int
        let blocks: Int
        var free: [Int32]
        var live: [Bool]
    }

    let base: UnsafeMutableRawPointer
    let bytes: Int
    private(set) var segments: [Segment]
    /// segmentOfClass[c]: index into `segments` for size class c, or -1.
    private var segmentOfClass: [Int]

    /// Maps and touches a region holding `blocks[c]` blocks of each size class c.
    /// - Returns: nil if the plan is empty or mmap fails (then everything stays a miss).
    init?(blocks plan: [(sizeClass: Int, count: Int)]) {
        var segs: [Segment] = []
        var offset = 0
        for (c, n) in plan.sorted(by: { $0.sizeClass < $1.sizeClass }) where n > 0 {
            let size = SizeClass.size(of: c)
            segs.append(Segment(sizeClass: c, blockSize: size, offset: offset, blocks: n,
                                free: (0..<Int32(n)).reversed().map { $0 }, live: [Bool](repeating: false, count: n)))
            offset += size * n
        }
        guard offset > 0 else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let total = (offset + page - 1) / page * page
        guard let p = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else { return nil }
        memset(p, 0, total)   // touch every page once
        base = p
        bytes = total
        segments = segs
        segmentOfClass = [Int](repeating: -1, count: (segs.last?.sizeClass ?? 0) + 1)
        for (i, s) in segs.enumerated() { segmentOfClass[s.sizeClass] = i }
    }

    deinit { munmap(base, bytes) }

    /// Pops a free block of class `sizeClass`, or of a larger planned class whose blocks are at
    /// most twice as big (borrowing, when the own class is exhausted or unplanned).
    func take(sizeClass: Int) -> UnsafeMutableRawPointer? {
        let want = SizeClass.size(of: sizeClass)
        var i = sizeClass < segmentOfClass.count ? segmentOfClass[sizeClass] : -1
        if i < 0 { i = segments.firstIndex { $0.sizeClass > sizeClass } ?? segments.count }
        while i < segments.count && segments[i].blockSize <= 2 * want {
            if segments[i].blockSize >= want, let b = segments[i].free.popLast() {
                precondition(!segments[i].live[Int(b)], "adaptive pool: free block \(b) of class \(segments[i].sizeClass) is live")
                segments[i].live[Int(b)] = true
                return base + segments[i].offset + Int(b) * segments[i].blockSize
            }
            i += 1
        }
        return nil
    }

    /// True if `pointer` lies in the pool region.
    func contains(_ pointer: UnsafeMutableRawPointer) -> Bool {
        pointer >= base && pointer < base + bytes
    }

    /// Returns a pool block to its segment's free stack (found by address, binary search).
    func give(_ pointer: UnsafeMutableRawPointer) {
        let offset = pointer - base
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].offset <= offset { lo = mid } else { hi = mid - 1 }
        }
        let rel = offset - segments[lo].offset
        let b = rel / segments[lo].blockSize
        precondition(rel % segments[lo].blockSize == 0 && b < segments[lo].blocks,
                     "adaptive pool: \(pointer) is not the start of a pool block")
        precondition(segments[lo].live[b], "adaptive pool: block \(b) of class \(segments[lo].sizeClass) freed twice")
        segments[lo].live[b] = false
        segments[lo].free.append(Int32(b))
    }
}
