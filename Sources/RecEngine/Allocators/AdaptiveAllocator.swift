import Glibc
import Synchronization

/// `--allocator adaptive` (DeepRec's memory planner).
///
/// - Before step `warmupStart`: every allocation is `posix_memalign`/`free` (a miss).
/// - Steps `[warmupStart, warmupStart + warmupSteps)`: still misses, and for each `SizeClass` it
///   records the peak number of simultaneously live allocations, plus peak live bytes.
/// - In `stepEnded` of the last window step it plans a `BlockPool`: `peak + ceil(peak ×
///   slackFraction)` blocks per class in one mmap region, every page touched once. Blocks go back
///   to their class's free stack when released, so tensors whose lifetimes do not overlap share
///   a block. Slack: under `pool`/`costmodel` the interleaving of two workers changes from step
///   to step, so the window's peak is a sample, not a bound; 12.5% (at least one block per
///   class) absorbs the observed variation, and an exhausted class may also borrow a free block
///   of a larger class up to twice its size.
/// - After the plan: a planned class pops a free block (hit); an unplanned size or an exhausted
///   class falls back to `posix_memalign` (miss). Frees are routed by address: pointers inside
///   a pool region go back to their block's free stack, all others to `free()`.
/// - Growth: when a planned class ran out during a step (a rarer interleaving than any seen in
///   the window), `stepEnded` adds one more touched region holding the shortfall (+ slack) for
///   those classes, at most `maxGrowths` times. The misses stay counted; later steps hit.
///   Sizes never seen in the window are not grown: they stay misses.
///
/// With `warmupSteps == 0` no plan is made and every allocation stays a miss.
/// Thread-safe: one `Mutex` over the pool and counters (a step does a few hundred allocations;
/// the lock is held for a free-stack pop, tens of nanoseconds; `posix_memalign` and `free` run
/// outside it).
public final class AdaptiveAllocator: TensorAllocator {
    /// Policy name as in `--allocator`.
    public let name = "adaptive"
    /// First step of the recording window.
    public let warmupStart: Int
    /// Number of recorded steps; the plan is built at the end of the last one.
    public let warmupSteps: Int
    /// Extra blocks per class, as a fraction of the recorded peak (rounded up).
    public let slackFraction: Double
    /// How many extra regions growth may add after the plan.
    public let maxGrowths = 8
    private let state: Mutex<State>

    private struct State {
        var counters = AllocatorCounters()
        var liveBytes = 0
        var recording = false
        var recordedSteps = 0
        var live: [Int] = []
        var peak: [Int] = []
        /// Planned blocks per class over all regions.
        var capacity: [Int] = []
        /// Largest shortfall per planned class seen since the last growth.
        var shortfall: [Int] = []
        var pools: [BlockPool] = []
        var growths = 0

        /// Sizes the per-class arrays to hold class `c`.
        mutating func grow(toClass c: Int) {
            guard c >= live.count else { return }
            let zeros = repeatElement(0, count: c + 1 - live.count)
            live += zeros
            peak += zeros
            capacity += zeros
            shortfall += zeros
        }

        mutating func take(_ c: Int) -> UnsafeMutableRawPointer? {
            for pool in pools { if let p = pool.take(sizeClass: c) { return p } }
            return nil
        }
    }

    /// - Parameters:
    ///   - warmupStart: first step recorded (`--alloc-warmup-start`), >= 0.
    ///   - warmupSteps: steps recorded before planning (`--alloc-warmup-steps`), >= 0.
    ///   - slackFraction: extra blocks per class relative to the recorded peak, >= 0.
    public init(warmupStart: Int, warmupSteps: Int, slackFraction: Double = 0.125) {
        precondition(warmupStart >= 0, "alloc-warmup-start must be >= 0, got \(warmupStart)")
        precondition(warmupSteps >= 0, "alloc-warmup-steps must be >= 0, got \(warmupSteps)")
        precondition(slackFraction >= 0, "slack fraction must be >= 0, got \(slackFraction)")
        self.warmupStart = warmupStart
        self.warmupSteps = warmupSteps
        self.slackFraction = slackFraction
        state = Mutex(State())
    }

    /// Whether the pool has been planned.
    public var isPlanned: Bool { state.withLock { !$0.pools.isEmpty } }

    /// Regions added by growth after the plan.
    public var growths: Int { state.withLock { $0.growths } }

    /// Planned blocks per size class (class index → block count); empty before the plan.
    public var plannedBlocks: [Int: Int] {
        state.withLock { s in
            var out: [Int: Int] = [:]
            for pool in s.pools { for seg in pool.segments { out[seg.sizeClass, default: 0] += seg.blocks } }
            return out
        }
    }

    /// 64-byte-aligned memory for `tensor`: a pool block when planned and available, else
    /// posix_memalign (a miss).
    public func allocate(bytes: Int, tensor: TensorID) -> UnsafeMutableRawPointer {
        let c = SizeClass.index(for: max(bytes, 1))
        let hit: UnsafeMutableRawPointer? = state.withLock { s in
            s.counters.allocations += 1
            s.liveBytes += bytes
            s.counters.peakLiveBytes = max(s.counters.peakLiveBytes, s.liveBytes)
            s.grow(toClass: c)
            s.live[c] += 1
            if s.recording { s.peak[c] = max(s.peak[c], s.live[c]) }
            if let p = s.take(c) {
                s.counters.hits += 1
                return p
            }
            s.counters.misses += 1
            if s.capacity[c] > 0 { s.shortfall[c] = max(s.shortfall[c], s.live[c] - s.capacity[c]) }
            return nil
        }
        if let hit { return hit }
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, max(bytes, 64))
        precondition(rc == 0 && raw != nil, "posix_memalign(\(bytes)) for tensor \(tensor) failed: \(rc)")
        return raw!
    }

    /// Returns a pool block to its free stack, or frees a fallback allocation.
    public func deallocate(_ pointer: UnsafeMutableRawPointer, bytes: Int, tensor: TensorID) {
        let c = SizeClass.index(for: max(bytes, 1))
        let pooled = state.withLock { s in
            s.liveBytes -= bytes
            s.live[c] -= 1
            for pool in s.pools where pool.contains(pointer) {
                pool.give(pointer)
                return true
            }
            return false
        }
        if !pooled { free(pointer) }
    }

    /// Turns recording on for steps inside the window.
    public func stepBegan(_ step: Int) {
        state.withLock { s in
            s.recording = s.pools.isEmpty && step >= warmupStart && step < warmupStart + warmupSteps
            if s.recording { s.recordedSteps += 1 }
        }
    }

    /// Plans the pool at the end of the window's last step; afterwards grows exhausted classes.
    public func stepEnded(_ step: Int) {
        state.withLock { s in
            s.recording = false
            if s.pools.isEmpty {
                guard s.recordedSteps > 0, step >= warmupStart + warmupSteps - 1 else { return }
                addRegion(&s, counts: s.peak)
            } else if s.growths < maxGrowths, s.shortfall.contains(where: { $0 > 0 }) {
                addRegion(&s, counts: s.shortfall)
                s.growths += 1
                for c in s.shortfall.indices { s.shortfall[c] = 0 }
            }
        }
    }

    /// Maps one touched region with `counts[c]` (+ slack) blocks of each class c.
    private func addRegion(_ s: inout State, counts: [Int]) {
        var plan: [(sizeClass: Int, count: Int)] = []
        for (c, n) in counts.enumerated() where n > 0 {
            plan.append((c, n + Int((Double(n) * slackFraction).rounded(.up))))
        }
        guard let pool = BlockPool(blocks: plan) else { return }
        s.pools.append(pool)
        for (c, n) in plan { s.capacity[c] += n }
        s.counters.plannedBytes += pool.bytes
    }

    /// Cumulative counters.
    public var counters: AllocatorCounters { state.withLock { $0.counters } }
}
