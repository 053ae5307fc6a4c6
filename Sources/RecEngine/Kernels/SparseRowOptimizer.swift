internal import CDNNL
import Synchronization

/// A sparse ("lazy") row-wise optimizer for one embedding table (`rows × dim`, row-major):
/// only the rows whose ids occur in the batch are updated, and their optimizer state (Adagrad
/// accumulator, Adam `m`/`v`) is touched only for those rows — TF's `LazyAdamOptimizer` /
/// sparse `ApplyAdagrad` semantics, with the same arithmetic as the dense optimizers.
///
/// Use per step: `begin()`, then `accumulate(...)` once per (micro-)batch, then `apply(step:)`.
/// Gradients of duplicate ids (within a batch or across micro-batches) are summed first in a
/// pre-allocated open-addressing table sized for `maxIdsPerUpdate` unique ids (or, when that
/// table would have as many slots as the table has rows, an array indexed by id), so a row is
/// updated once with its total gradient. Nothing is allocated after `init`.
///
/// `@unchecked Sendable`: all mutable state (the hash table, the gradient rows, the optimizer
/// state and the table rows it updates) is touched only inside `lock` (a `Mutex` that also holds
/// the unique-id count), so concurrent `accumulate` calls from micro-batch nodes are safe. A
/// `companion`'s gradient rows, table rows and state are touched inside its host's lock instead
/// (it is not used on its own while it rides).
public final class SparseRowOptimizer: @unchecked Sendable {
    /// The update rule.
    public enum Kind: String, Sendable, CaseIterable {
        case sgd, adagrad, adam
    }

    /// The table being updated.
    public let table: ParameterTensor
    /// The update rule.
    public let kind: Kind
    /// The learning rate.
    public let learningRate: Float
    /// The most unique ids one `begin … apply` cycle may hold.
    public let maxIdsPerUpdate: Int
    /// Adam's β1, β2 and ε̂; Adagrad's ε (see `OptimizerMath`).
    public let beta1: Float, beta2: Float, epsilon: Float
    /// How many unique rows ahead `apply` prefetches (0: no prefetching, there nor in
    /// `accumulateBags`, which looks `BagKernels.bagPrefetchDistance` samples ahead, nor in
    /// `accumulate`, which looks `gradientPrefetchDistance` samples ahead). Changes speed only.
    public let prefetchDistance: Int
    /// The default `prefetchDistance`. `rectune bench --kernels` measures it ("sparse Adam apply,
    /// fresh ids"): on the AVX-512 BF16 EPYC VM 350–361 ns per sample without it, 247–265 with 16
    /// rows and 206–222 with 32 or 64. An earlier VM had shown a quarter off at 8 rows.
    public static let defaultPrefetchDistance = 32
    /// How many samples ahead `accumulate` requests a sample's gradient row (and its companion's),
    /// unless `prefetchDistance` is 0. Changes speed only. In a step the gradient was just written
    /// by the backward-data products, half of it by the other worker, and each table reads its
    /// 16 floats of every sample at the stride of the whole concatenated row (429 floats in WDL),
    /// which the hardware did not fetch ahead. In WDL's bf16 step (`bench --bf16 --micro-batch 2
    /// --allocator adaptive`, the accumulate calls timed inside the update nodes, alternating runs)
    /// the 26 tables' accumulates took 382–589 µs per step without the hint and 275–298 with it
    /// at 8 samples (292–299 at 16).
    public static let gradientPrefetchDistance = 8
    /// A second table keyed by the same ids (WDL's wide and DeepFM's first-order weight of the same
    /// column) whose update rides on this one: `accumulate` finds each id once and sums both
    /// gradient rows, and `apply` updates both tables' rows, each with its own rule, learning rate
    /// and state. The companion's rows and state get exactly the updates its own `begin …
    /// apply` cycle would give (same sums in the same order); only the companion's hash table is
    /// left unused. It must have this table's rows and hold at least `maxIdsPerUpdate` ids, and
    /// it must not be updated on its own while it rides.
    public let companion: SparseRowOptimizer?

    private let dim: Int
    private let capacityMask: Int
    private let hashShift: UInt64
    /// Whether ids index `positions` directly (`positions[id]`: the id's index in `uniqueIds`, or
    /// −1), taken when the hash table would have at least as many slots as the table has rows:
    /// one array of `rows` entries and one memory access per id instead of two arrays of twice
    /// `maxIdsPerUpdate` (the contest tables, whose `maxIdsPerUpdate` is their row count).
    private let direct: Bool
    /// Open-addressing table (not `direct`): `keys[slot]` is an id or −1; `positions[slot]` its
    /// index in `uniqueIds`.
    private let keys: UnsafeMutablePointer<Int32>
    private let positions: UnsafeMutablePointer<Int32>
    /// Unique ids in first-seen order, their slots (for clearing), and their summed gradient rows.
    private let uniqueIds: UnsafeMutablePointer<Int32>
    private let uniqueSlots: UnsafeMutablePointer<Int32>
    private let gradRows: AlignedFloats
    /// Adagrad: [accumulator] (rows × dim); Adam: [m|v] (rows × 2·dim: row r's m at r·2·dim, its v
    /// right after, so one row update touches two adjacent cache-line groups instead of three
    /// scattered ones); SGD: [].
    private let state: [AlignedFloats]
    /// Guards everything above that is mutable; holds the number of unique ids so far.
    private let lock = Mutex<Int>(0)

    /// Creates the optimizer and all its buffers. `epsilon` defaults to 1e-8 for Adam (TF1's ε̂)
    /// and 1e-7 for Adagrad, as the dense `Adam`/`Adagrad`.
    public init(table: ParameterTensor, kind: Kind, learningRate: Float, maxIdsPerUpdate: Int,
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float? = nil, initialAccumulator: Float = 0.1,
                prefetchDistance: Int = SparseRowOptimizer.defaultPrefetchDistance, companion: SparseRowOptimizer? = nil) {
        if maxIdsPerUpdate < 1 { fatalError("SparseRowOptimizer(\(table.name)): maxIdsPerUpdate must be >= 1, got \(maxIdsPerUpdate)") }
        if let companion, companion.table.rows != table.rows || companion.maxIdsPerUpdate < maxIdsPerUpdate || companion.companion != nil {
            fatalError("SparseRowOptimizer(\(table.name)): companion \(companion.table.name) needs \(table.rows) rows (has \(companion.table.rows)), room for \(maxIdsPerUpdate) ids (has \(companion.maxIdsPerUpdate)) and no companion of its own")
        }
        self.companion = companion
        if table.rows * table.columns > table.count || table.rows >= Int(Int32.max) {
            fatalError("SparseRowOptimizer(\(table.name)): table of \(table.rows)×\(table.columns) does not fit \(table.count) floats / Int32 ids")
        }
        self.table = table
        self.kind = kind
        self.learningRate = learningRate
        self.maxIdsPerUpdate = maxIdsPerUpdate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon ?? (kind == .adam ? 1e-8 : 1e-7)
        self.prefetchDistance = max(prefetchDistance, 0)
        dim = table.columns
        // Load factor ≤ 1/2: capacity is the power of two ≥ 2·maxIds.
        var capacity = 16
        while capacity < 2 * maxIdsPerUpdate { capacity <<= 1 }
        capacityMask = capacity - 1
        hashShift = UInt64(64 - capacity.trailingZeroBitCount)
        direct = table.rows <= capacity
        let keyCount = direct ? 1 : capacity, positionCount = direct ? max(table.rows, 1) : capacity
        keys = .allocate(capacity: keyCount)
        keys.initialize(repeating: -1, count: keyCount)
        positions = .allocate(capacity: positionCount)
        positions.initialize(repeating: direct ? -1 : 0, count: positionCount)
        uniqueIds = .allocate(capacity: maxIdsPerUpdate)
        uniqueIds.initialize(repeating: 0, count: maxIdsPerUpdate)
        uniqueSlots = .allocate(capacity: maxIdsPerUpdate)
        uniqueSlots.initialize(repeating: 0, count: maxIdsPerUpdate)
        gradRows = AlignedFloats(count: maxIdsPerUpdate * table.columns, initialValue: 0, label: table.name)
        let n = table.rows * table.columns
        switch kind {
        case .sgd: state = []
        case .adagrad: state = [AlignedFloats(count: n, initialValue: initialAccumulator, label: table.name)]
        case .adam: state = [AlignedFloats(count: 2 * n, initialValue: 0, label: table.name)]
        }
        switch kind {
        case .sgd: break
        case .adagrad: table.attachSlot("adagrad.accumulator", pointer: state[0].pointer, count: n, owner: state[0])
        case .adam: table.attachSlot("adam.mv", pointer: state[0].pointer, count: 2 * n, owner: state[0])
        }
    }

    deinit {
        keys.deallocate()
        positions.deallocate()
        uniqueIds.deallocate()
        uniqueSlots.deallocate()
    }

    /// Starts a new update: forgets any gradient accumulated since the last `apply`.
    public func begin() {
        lock.withLock { count in clear(&count) }
    }

    /// Whether ids index their positions directly instead of through the hash table (tests).
    var indexesDirectly: Bool { direct }

    /// Number of unique ids accumulated since `begin`/`apply`.
    public var pendingRows: Int { lock.withLock { $0 } }

    /// Adds the gradient rows of one (micro-)batch: sample `i`'s row is
    /// `grad[i*gradStride + gradOffset ..< + dim]` and its id is `ids[i*idStride + column]`.
    /// With a `companion`, sample `i`'s companion row is
    /// `companionGrad[i*companionStride + companionOffset ..< + companion's dim]` (required then).
    /// Stops the process (naming the table) if an id is outside `0..<rows` or more than
    /// `maxIdsPerUpdate` unique ids arrive before `apply`.
    public func accumulate(ids: UnsafePointer<Int32>, idStride: Int, column: Int, count: Int,
                           grad: UnsafePointer<Float>, gradStride: Int, gradOffset: Int,
                           companionGrad: UnsafePointer<Float>? = nil, companionStride: Int = 0, companionOffset: Int = 0) {
        let ahead = prefetchDistance > 0 ? Self.gradientPrefetchDistance : 0
        lock.withLock { unique in
            guard let companion else {
                for i in 0..<count {
                    if ahead > 0 && i &+ ahead < count {
                        Self.prefetchLines(grad + ((i &+ ahead) &* gradStride &+ gradOffset), count: dim, forWriting: false)
                    }
                    _ = add(id: ids[i &* idStride &+ column], row: grad + (i &* gradStride &+ gradOffset), weight: 1, unique: &unique,
                            sample: i, column: column)
                }
                return
            }
            guard let companionGrad else { fatalError("SparseRowOptimizer(\(table.name)): accumulate without the gradient of companion \(companion.table.name)") }
            let companionDim = companion.dim, companionSums = companion.gradRows.pointer
            for i in 0..<count {
                if ahead > 0 && i &+ ahead < count {
                    Self.prefetchLines(grad + ((i &+ ahead) &* gradStride &+ gradOffset), count: dim, forWriting: false)
                    Self.prefetchLines(companionGrad + ((i &+ ahead) &* companionStride &+ companionOffset), count: companionDim,
                                       forWriting: false)
                }
                let before = unique
                let position = add(id: ids[i &* idStride &+ column], row: grad + (i &* gradStride &+ gradOffset), weight: 1,
                                   unique: &unique, sample: i, column: column)
                let src = companionGrad + (i &* companionStride &+ companionOffset), dst = companionSums + position &* companionDim
                if unique != before { KernelMath.copy(src, to: dst, companionDim) } else { KernelMath.add(src, into: dst, companionDim) }
            }
        }
    }

    /// Adds the gradient rows of one (micro-)batch of bags (pooled lookups): every id of sample
    /// `i`'s bag receives `w_i · grad[i*gradStride + gradOffset ..< + dim]`, `w_i` the combiner's
    /// weight. Call it once per member column of a shared table: all land in this table's rows.
    /// Stops the process as `accumulate` does.
    public func accumulateBags(_ bags: BagView, count: Int, combiner: BagCombiner,
                               grad: UnsafePointer<Float>, gradStride: Int, gradOffset: Int) {
        if let companion { fatalError("SparseRowOptimizer(\(table.name)): bags do not support a companion (\(companion.table.name))") }
        let ahead = prefetchDistance > 0 ? BagKernels.bagPrefetchDistance : 0
        lock.withLock { unique in
            for i in 0..<count {
                if ahead > 0 && i &+ ahead < count { prefetchPositions(bags, sample: i &+ ahead) }
                let (s, n) = bags.bag(i)
                if n == 0 { continue }
                let w = combiner.weight(n), row = grad + (i &* gradStride &+ gradOffset)
                for k in s..<(s &+ Int(n)) {
                    _ = add(id: bags.ids[k], row: row, weight: w, unique: &unique, sample: i, column: bags.slot)
                }
            }
        }
    }

    /// Requests the cache lines where `add` will look up the ids of sample `sample`'s bag (their
    /// `positions` entries, or their first hash-table slots): the ids are random, so without the
    /// hint every id waits for its own miss (`perf annotate` of a contest DLRM step: half of
    /// `accumulateBags`' samples sat on the `positions[id]` load). A hint only: ids outside the
    /// table are checked when their turn comes.
    @inline(__always)
    private func prefetchPositions(_ bags: BagView, sample: Int) {
        let (s, n) = bags.bag(sample)
        let rows = table.rows
        for k in s..<(s &+ Int(n)) {
            let id = bags.ids[k]
            guard id >= 0 && Int(id) < rows else { continue }
            if direct {
                rt_prefetch_for_read(positions + Int(id))
            } else {
                rt_prefetch_for_read(keys + hashSlot(id))
            }
        }
    }

    /// The first hash-table slot of `id` (Fibonacci hashing into the table's power-of-two capacity).
    @inline(__always)
    private func hashSlot(_ id: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: id)) &* 0x9E37_79B9_7F4A_7C15) >> hashShift)
    }

    /// Adds `weight · row` to id's summed gradient (inside `lock`); returns the id's position in
    /// `uniqueIds` (a new id: `unique` before it was counted).
    @inline(__always)
    private func add(id: Int32, row src: UnsafePointer<Float>, weight: Float, unique: inout Int, sample i: Int, column: Int) -> Int {
        let dim = self.dim, sums = gradRows.pointer
        if id < 0 || Int(id) >= table.rows {
            fatalError("SparseRowOptimizer(\(table.name)): id \(id) of sample \(i), column \(column) is outside 0..<\(table.rows)")
        }
        if direct {
            let position = Int(positions[Int(id)])
            if position >= 0 {
                let dst = sums + position &* dim
                if weight == 1 { KernelMath.add(src, into: dst, dim) } else { KernelMath.axpy(weight, src, dst, dim) }
                return position
            }
            return insert(id: id, slot: Int(id), row: src, weight: weight, unique: &unique)
        }
        var slot = hashSlot(id)
        while true {
            let key = keys[slot]
            if key == id {
                let position = Int(positions[slot])
                let dst = sums + position &* dim
                if weight == 1 { KernelMath.add(src, into: dst, dim) } else { KernelMath.axpy(weight, src, dst, dim) }
                return position
            }
            if key < 0 {
                keys[slot] = id
                return insert(id: id, slot: slot, row: src, weight: weight, unique: &unique)
            }
            slot = (slot &+ 1) & capacityMask
        }
    }

    /// Counts a new id (its key, if hashed, already written at `slot`): its position, its place in
    /// `uniqueIds`, and `weight · row` as its summed gradient. Returns its position.
    @inline(__always)
    private func insert(id: Int32, slot: Int, row src: UnsafePointer<Float>, weight: Float, unique: inout Int) -> Int {
        if unique == maxIdsPerUpdate {
            fatalError("SparseRowOptimizer(\(table.name)): more than maxIdsPerUpdate = \(maxIdsPerUpdate) unique ids in one update")
        }
        positions[slot] = Int32(truncatingIfNeeded: unique)
        uniqueIds[unique] = id
        uniqueSlots[unique] = Int32(truncatingIfNeeded: slot)
        let dst = gradRows.pointer + unique &* dim
        if weight == 1 { KernelMath.copy(src, to: dst, dim) } else { for d in 0..<dim { dst[d] = weight * src[d] } }
        unique &+= 1
        return unique &- 1
    }

    /// `tf.clip_by_norm(g, maxNorm)` on the accumulated gradient: scales every accumulated row by
    /// `maxNorm/‖g‖` when the norm over all of them exceeds `maxNorm`. Returns the norm. (This
    /// table's rows only, not a companion's.)
    @discardableResult
    public func clipAccumulated(maxNorm: Float) -> Float {
        lock.withLock { unique in
            let sums = gradRows.pointer, n = unique &* dim
            var s: Double = 0
            for k in 0..<n { s += Double(sums[k]) * Double(sums[k]) }
            let norm = Float(s.squareRoot())
            if norm > maxNorm {
                let scale = maxNorm / norm
                for k in 0..<n { sums[k] *= scale }
            }
            return norm
        }
    }

    /// Updates each accumulated row once with its summed gradient (lazy Adam: that row's `m`, `v`
    /// only, bias correction from the global 1-based `step`), then the companion's rows of the
    /// same ids, then clears the accumulation. Returns the number of rows updated (per table).
    @discardableResult
    public func apply(step: Int) -> Int {
        lock.withLock { unique in
            update(ids: uniqueIds, count: unique, step: step)
            companion?.update(ids: uniqueIds, count: unique, step: step)
            let updated = unique
            clear(&unique)
            return updated
        }
    }

    /// Row `j` of `ids` gets its gradient from row `j` of `gradRows` (this table's, or a
    /// companion's rows accumulated in its host's id order). Inside the lock of the table whose
    /// ids these are.
    private func update(ids uniqueIds: UnsafeMutablePointer<Int32>, count unique: Int, step: Int) {
        let dim = self.dim, values = table.values, sums = gradRows.pointer
        prefetchFirst(ids: uniqueIds, unique: unique, values: values)
        switch kind {
        case .sgd:
            for j in 0..<unique {
                prefetch(ahead: j, ids: uniqueIds, unique: unique, values: values, state: nil, stateWidth: 0)
                OptimizerMath.sgd(values + Int(uniqueIds[j]) &* dim, sums + j &* dim, dim, lr: learningRate)
            }
        case .adagrad:
            let acc = state[0].pointer
            for j in 0..<unique {
                prefetch(ahead: j, ids: uniqueIds, unique: unique, values: values, state: acc, stateWidth: dim)
                let row = Int(uniqueIds[j]) &* dim
                OptimizerMath.adagrad(values + row, sums + j &* dim, acc + row, dim, lr: learningRate, epsilon: epsilon)
            }
        case .adam:
            let stepSize = OptimizerMath.adamStepSize(learningRate: learningRate, beta1: beta1, beta2: beta2, step: step)
            let moments = state[0].pointer
            for j in 0..<unique {
                prefetch(ahead: j, ids: uniqueIds, unique: unique, values: values, state: moments, stateWidth: 2 &* dim)
                let id = Int(uniqueIds[j])
                let m = moments + id &* (2 &* dim)
                // Not the AVX-512 stage: for one short row the call into the shim costs more than
                // it saves (`bench --kernels`: 26 tables' apply 137 → 173 ns per sample with it).
                OptimizerMath.adam(values + id &* dim, sums + j &* dim, m, m + dim, dim,
                                   stepSize: stepSize, beta1: beta1, beta2: beta2, epsilon: epsilon, avx512: false)
            }
        }
    }

    /// While `apply` updates unique row `j`, it requests the cache lines of row
    /// `j + prefetchDistance` (its table row and optimizer state): the rows sit at random
    /// addresses, so without the hint every row waits for its own cache misses.
    @inline(__always)
    private func prefetch(ahead j: Int, ids uniqueIds: UnsafeMutablePointer<Int32>, unique: Int, values: UnsafeMutablePointer<Float>,
                          state: UnsafeMutablePointer<Float>?, stateWidth: Int) {
        guard prefetchDistance > 0, j &+ prefetchDistance < unique else { return }
        prefetchRow(Int(uniqueIds[j &+ prefetchDistance]), values: values, state: state, stateWidth: stateWidth)
    }

    /// Requests the first `prefetchDistance` unique rows before the update loop starts, which
    /// requests every later row `prefetchDistance` rows ahead: without it, the first rows of every
    /// table wait for their own misses.
    private func prefetchFirst(ids uniqueIds: UnsafeMutablePointer<Int32>, unique: Int, values: UnsafeMutablePointer<Float>) {
        let state = state.first?.pointer
        let stateWidth = kind == .adam ? 2 &* dim : dim
        for j in 0..<min(prefetchDistance, unique) {
            prefetchRow(Int(uniqueIds[j]), values: values, state: state, stateWidth: stateWidth)
        }
    }

    @inline(__always)
    private func prefetchRow(_ id: Int, values: UnsafeMutablePointer<Float>, state: UnsafeMutablePointer<Float>?, stateWidth: Int) {
        Self.prefetchLines(values + id &* dim, count: dim, forWriting: true)
        if let state { Self.prefetchLines(state + id &* stateWidth, count: stateWidth, forWriting: true) }
    }

    /// Requests every cache line of `count` floats at `p`, for writing (rows `apply` updates) or for
    /// reading (gradient rows `accumulate` sums): 16 floats per 64-byte line, and the last float's
    /// line, since a row may start anywhere in a line (a 16-float row of a concatenated embedding
    /// gradient often spans two).
    @inline(__always)
    private static func prefetchLines(_ p: UnsafePointer<Float>, count: Int, forWriting: Bool) {
        @inline(__always) func request(_ q: UnsafePointer<Float>) {
            if forWriting { rt_prefetch_for_write(q) } else { rt_prefetch_for_read(q) }
        }
        var offset = 0
        while offset < count {
            request(p + offset)
            offset &+= 16
        }
        request(p + (count &- 1))
    }

    /// Empties the hash table (or the direct positions) by resetting only the slots in use
    /// (O(unique), not O(capacity)).
    private func clear(_ unique: inout Int) {
        if direct {
            for j in 0..<unique { positions[Int(uniqueSlots[j])] = -1 }
        } else {
            for j in 0..<unique { keys[Int(uniqueSlots[j])] = -1 }
        }
        unique = 0
    }
}
