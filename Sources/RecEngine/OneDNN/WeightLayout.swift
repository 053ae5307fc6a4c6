internal import CDNNL
import Synchronization

/// The layout of an fp32 dense layer's master weights (and of its diff-weights buffers).
public enum WeightLayout: String, Sendable, CaseIterable {
    /// What oneDNN's forward primitive asks for (`dnnl_format_tag_any`): on AVX2 hosts `ab` or `ba`,
    /// on AVX-512 hosts often a blocked layout.
    case preferred
    /// `[outputs][inputs]` row-major (oneDNN `ab`): forward reads the weights transposed.
    case plain
    /// `[inputs][outputs]` row-major (oneDNN `ba`).
    case transposed

    /// The oneDNN tag asked for when creating the forward primitive.
    var tag: dnnl_format_tag_t {
        switch self {
        case .preferred: dnnl_format_tag_any
        case .plain: dnnl_ab
        case .transposed: dnnl_ba
        }
    }
}

/// The `weight_layout` knob's values.
public enum WeightLayoutMode: String, Sendable, CaseIterable, Codable {
    /// oneDNN's preferred layout (`WeightLayoutPolicy.onednn`).
    case onednn
    /// The fastest timed layout (`WeightLayoutPolicy.timed`).
    case timed
}

/// How a context's fp32 dense layers get their weight layout (the `weight_layout` knob).
public enum WeightLayoutPolicy: Sendable, Equatable {
    /// oneDNN's preferred layout, as asked at batch `DenseLayer.layoutProbeBatch`.
    case onednn
    /// Per layer shape, whichever of oneDNN's preferred, plain and transposed layouts runs the
    /// layer's three products fastest at `batch` rows (`WeightLayoutChooser`).
    case timed(batch: Int)
}

/// Chooses an fp32 dense layer's weight layout by timing (`weight_layout: timed`).
///
/// Why: oneDNN 2.6 picks the weight layout its forward primitive prefers, at the batch it is asked
/// with, and backward-data and backward-weights then run on that layout whatever it costs them. On
/// an AVX2 host (oneDNN's gemm-based inner product) that is `ba` for 1024→512 and 367→512,
/// whose forward then runs at ~66 GFLOP/s against ~87–93 with `ab`, while at 256 rows `ab`
/// halves 1024→512's backward-data instead. Which layout wins depends on shape, rows, ISA and
/// threads, so it is measured: forward, backward-data and backward-weights of a ReLU layer of the
/// shape at the run's rows, on the calling thread's OpenMP team, each candidate in interleaved
/// rounds; the fastest round of each decides. oneDNN's choice stays unless another candidate is
/// `margin` faster, so near-ties do not flip from run to run. Layers with fewer than
/// `minimumWeights` weights keep oneDNN's choice (too fast to time reliably, too small to matter).
///
/// Each (inputs, outputs, relu, rows, team size) is timed once per process and remembered, so all
/// layers of a shape (and every run in one process, e.g. tests comparing executors) agree. Across
/// processes a choice can differ on a noisy host; the layouts compute the same products with a
/// different summation order, so such runs differ in the last bits.
public enum WeightLayoutChooser {
    /// Shapes with fewer weights keep oneDNN's layout.
    public static let minimumWeights = 65_536
    /// Another layout must be this much faster (fraction of oneDNN's round time) to be chosen.
    public static let margin = 0.03
    /// Timed rounds per candidate (after two untimed ones).
    public static let rounds = 7

    struct Key: Hashable {
        let inputs: Int, outputs: Int, relu: Bool, rows: Int, threads: Int
    }

    /// One choice and what it was based on.
    public struct Choice: Sendable, Equatable {
        public let layout: WeightLayout
        /// Fastest of the timed rounds (forward + backward-data + backward-weights), in seconds, per
        /// timed candidate; a forced layout with the same tag as oneDNN's preferred one, or that
        /// oneDNN cannot create, is not timed.
        public let roundSeconds: [WeightLayout: Double]
        /// oneDNN's tag notation of each timed candidate's layout (`ab`, `ba`, `AB16b64a`).
        public let tags: [WeightLayout: String]
    }

    private static let cache = Mutex<[Key: Choice]>([:])

    /// The layout for an fp32 layer of this shape under `policy`, on the calling thread's team.
    /// - Throws: `DNNLError` if oneDNN's preferred layout cannot be created for the shape.
    static func layout(inputs: Int, outputs: Int, relu: Bool, policy: WeightLayoutPolicy) throws -> WeightLayout {
        guard case .timed(let rows) = policy else { return .preferred }
        if let forced = forced.withLock({ $0 }) { return forced }
        guard inputs * outputs >= minimumWeights else { return .preferred }
        return try choose(inputs: inputs, outputs: outputs, relu: relu, rows: rows).layout
    }

    /// Times the candidates for this shape on `threads` OpenMP threads (default: the calling
    /// thread's team), or returns the remembered choice.
    public static func choose(inputs: Int, outputs: Int, relu: Bool, rows: Int, threads: Int? = nil) throws -> Choice {
        if let threads, threads != DNNLContext.callingThreadIntraOpThreads {
            return try DNNLContext.withOpenMPThreads(threads) { try choose(inputs: inputs, outputs: outputs, relu: relu, rows: rows) }
        }
        let key = Key(inputs: inputs, outputs: outputs, relu: relu, rows: rows,
                      threads: DNNLContext.callingThreadIntraOpThreads)
        if let known = cache.withLock({ $0[key] }) { return known }
        let context = try DNNLContext(workers: 1)
        let shape = DenseBenchmark.Shape(inputs, outputs)
        var rigs: [(WeightLayout, DenseBenchmark.LayerRig)] = []
        var tags: [WeightLayout: String] = [:]
        for layout in WeightLayout.allCases {
            let rig: DenseBenchmark.LayerRig
            do {
                rig = try DenseBenchmark.LayerRig(shape: shape, index: 0, batch: rows, precision: .fp32, context: context,
                                                  relu: relu, layout: layout)
            } catch {
                // A forced layout oneDNN cannot run is not a candidate; the preferred one must run.
                if layout == .preferred { throw error }
                continue
            }
            let tag = rig.layer.masterDesc.formatTag
            if !tags.values.contains(tag) {
                tags[layout] = tag
                rigs.append((layout, rig))
            }
        }
        var times = [[Double]](repeating: [], count: rigs.count)
        for round in 0..<(rounds + 2) {
            for (i, (_, rig)) in rigs.enumerated() {
                let start = DenseBenchmark.monotonicSeconds()
                rig.forward()
                rig.backwardData()
                rig.backwardWeights()
                if round >= 2 { times[i].append(DenseBenchmark.monotonicSeconds() - start) }
            }
        }
        // The fastest round: another thread's work can only add time, so the minimum is what the
        // layout costs, and it moves less than the median when the host is busy.
        var best: [WeightLayout: Double] = [:]
        for (i, (layout, _)) in rigs.enumerated() { best[layout] = times[i].min()! }
        let preferredTime = best[.preferred]!
        let fastest = best.min { $0.value != $1.value ? $0.value < $1.value : $0.key.rawValue < $1.key.rawValue }!
        let layout = fastest.value < preferredTime * (1 - margin) ? fastest.key : .preferred
        let choice = Choice(layout: layout, roundSeconds: best, tags: tags)
        // Another thread may have timed the same shape meanwhile: the first choice stays.
        return cache.withLock { known in
            if let first = known[key] { return first }
            known[key] = choice
            return choice
        }
    }

    /// Forgets every remembered choice (for tests).
    static func forgetChoices() { cache.withLock { $0.removeAll() } }

    private static let forced = Mutex<WeightLayout?>(nil)

    /// Runs `body` with every fp32 layer built under the timed policy, small ones included, taking
    /// `layout` without timing (for tests that check a whole model's math on each layout).
    static func withForcedLayout<T>(_ layout: WeightLayout, _ body: () throws -> T) rethrows -> T {
        forced.withLock { $0 = layout }
        defer { forced.withLock { $0 = nil } }
        return try body()
    }
}
