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

/// How an fp32 dense layer computes its weight gradient (`dW`; its bias gradient comes with it).
public enum WeightGradientMethod: String, Sendable, CaseIterable {
    /// oneDNN's inner-product backward-weights primitive: on AVX2 hosts one GEMM that reads the
    /// input or the output gradient transposed.
    case innerProduct = "inner_product"
    /// A oneDNN reorder transposes one operand into a per-worker buffer (the output gradient for
    /// `ab` weights, the input for `ba`), then `dnnl_sgemm` multiplies without transposed operands;
    /// the engine sums the bias gradient. Plain layouts (`ab`, `ba`) only. Why: oneDNN's GEMM runs
    /// some backward-weights shapes a third slower from a transposed operand (AVX2 Zen 3, 256
    /// rows: 367→512 `ab` 64 against 88 GFLOP/s, 512→256 `ba` 67 against 87, the transpose
    /// included).
    case transposedGEMM = "transposed_gemm"
}

/// What the `weight_layout` policy gives an fp32 dense layer: its weight layout and how its weight
/// gradient is computed.
public struct WeightArrangement: Hashable, Sendable, CustomStringConvertible {
    public let layout: WeightLayout
    public let gradient: WeightGradientMethod

    public init(_ layout: WeightLayout, _ gradient: WeightGradientMethod = .innerProduct) {
        self.layout = layout
        self.gradient = gradient
    }

    /// oneDNN's choices: its preferred layout and its backward-weights primitive.
    public static let onednn = WeightArrangement(.preferred)

    /// `preferred`, `plain+transposed_gemm`, ...
    public var description: String { gradient == .innerProduct ? layout.rawValue : "\(layout.rawValue)+\(gradient.rawValue)" }
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
    /// Per layer shape, whichever of oneDNN's preferred, plain and transposed layouts, each with
    /// either weight-gradient method where it applies, runs the layer's three products fastest at
    /// `batch` rows (`WeightLayoutChooser`).
    case timed(batch: Int)
}

/// Chooses an fp32 dense layer's weight layout by timing (`weight_layout: timed`).
///
/// Why: oneDNN 2.6 picks the weight layout its forward primitive prefers, at the batch it is asked
/// with, and backward-data and backward-weights then run on that layout whatever it costs them. On
/// an AVX2 host (oneDNN's gemm-based inner product) that is `ba` for 1024→512 and 367→512,
/// whose forward then runs at ~66 GFLOP/s against ~87–93 with `ab`, while at 256 rows `ab`
/// halves 1024→512's backward-data instead. Backward-weights also runs some shapes a third slower
/// than the same GEMM from a transposed copy of one operand (`WeightGradientMethod`). Which
/// arrangement wins depends on shape, rows, ISA and threads, so it is measured: forward,
/// backward-data and backward-weights of a ReLU layer of the shape at the run's rows, on the
/// calling thread's OpenMP team, each candidate (a layout, and for `ab` and `ba` each gradient
/// method) in interleaved rounds; the fastest round of each decides. oneDNN's choice (its layout,
/// its primitive) stays unless another candidate is `margin` faster, so near-ties do not flip from
/// run to run. Layers with fewer than
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
        public let arrangement: WeightArrangement
        /// Fastest of the timed rounds (forward + backward-data + backward-weights), in seconds, per
        /// timed candidate (`timeRounds`; a pruned candidate's over its fewer rounds); a forced
        /// layout with the same tag as oneDNN's preferred one, or that oneDNN cannot create, is not
        /// timed, and `transposedGEMM` is timed for `ab` and `ba` only.
        public let roundSeconds: [WeightArrangement: Double]
        /// oneDNN's tag notation of each timed layout (`ab`, `ba`, `AB16b64a`).
        public let tags: [WeightLayout: String]

        public var layout: WeightLayout { arrangement.layout }
        /// The timed candidates, oneDNN's first, in the order they were timed.
        public var candidates: [WeightArrangement] {
            WeightLayout.allCases.flatMap { l in WeightGradientMethod.allCases.map { WeightArrangement(l, $0) } }
                .filter { roundSeconds[$0] != nil }
        }
    }

    private static let cache = Mutex<[Key: Choice]>([:])

    /// The arrangement for an fp32 layer of this shape under `policy`, on the calling thread's team.
    /// - Throws: `DNNLError` if oneDNN's preferred layout cannot be created for the shape.
    static func arrangement(inputs: Int, outputs: Int, relu: Bool, policy: WeightLayoutPolicy) throws -> WeightArrangement {
        guard case .timed(let rows) = policy else { return .onednn }
        if let forced = forced.withLock({ $0 }) { return forced }
        guard inputs * outputs >= minimumWeights else { return .onednn }
        return try choose(inputs: inputs, outputs: outputs, relu: relu, rows: rows).arrangement
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
        var rigs: [(WeightArrangement, DenseBenchmark.LayerRig)] = []
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
            guard !tags.values.contains(tag) else { continue }
            tags[layout] = tag
            rigs.append((WeightArrangement(layout), rig))
            if DenseLayer.denseWeightsAreTransposed(rig.layer.masterDesc, inputs: inputs, outputs: outputs) != nil {
                let gemm = try DenseBenchmark.LayerRig(shape: shape, index: 0, batch: rows, precision: .fp32,
                                                       context: context, relu: relu, layout: layout,
                                                       weightGradient: .transposedGEMM)
                rigs.append((WeightArrangement(layout, .transposedGEMM), gemm))
            }
        }
        let best = timeRounds(rigs)
        let onednnTime = best[.onednn]!
        // Ties go to the earlier candidate (oneDNN's layout first, the primitive before the GEMM).
        let fastest = rigs.map(\.0).min { best[$0]! < best[$1]! }!
        let arrangement = best[fastest]! < onednnTime * (1 - margin) ? fastest : .onednn
        let choice = Choice(arrangement: arrangement, roundSeconds: best, tags: tags)
        // Another thread may have timed the same shape meanwhile: the first choice stays.
        return cache.withLock { known in
            if let first = known[key] { return first }
            known[key] = choice
            return choice
        }
    }

    /// Timed rounds before candidates far behind the fastest stop being timed.
    public static let roundsBeforePruning = 2
    /// A layout whose candidates are all this much slower than the fastest candidate after
    /// `roundsBeforePruning` timed rounds is timed no further (oneDNN's is always timed to the end).
    public static let pruneFactor = 1.15

    /// Each candidate's fastest round of forward + backward-data + backward-weights, in seconds.
    /// `rigs` lists each layout's primitive candidate before its transposed-GEMM one. A round times a
    /// primitive candidate's forward and backward-data together and its backward-weights alone; a
    /// GEMM candidate times only its backward-weights and takes forward and backward-data from its
    /// layout's primitive candidate in the same round (they run the same primitives), so a shape
    /// with both methods on two layouts costs about 3.7 full rounds per round, not 5. Two untimed
    /// rounds first; after `roundsBeforePruning` timed rounds a layout more than `pruneFactor`
    /// behind is dropped, and a GEMM candidate that far behind too. The fastest round: another
    /// thread's work can only add time, so the minimum is what the arrangement costs, and it moves
    /// less than the median when the host is busy.
    private static func timeRounds(_ rigs: [(WeightArrangement, DenseBenchmark.LayerRig)]) -> [WeightArrangement: Double] {
        let n = rigs.count
        // The primitive candidate of each candidate's layout (itself for a primitive candidate).
        let base = rigs.indices.map { i in rigs.firstIndex { $0.0 == WeightArrangement(rigs[i].0.layout) }! }
        var layoutProducts = [Double](repeating: 0, count: n)
        var times = [[Double]](repeating: [], count: n)
        var active = [Bool](repeating: true, count: n)
        for round in 0..<(rounds + 2) {
            for (i, (arrangement, rig)) in rigs.enumerated() where active[i] {
                var start = DenseBenchmark.monotonicSeconds()
                if arrangement.gradient == .innerProduct {
                    rig.forward()
                    rig.backwardData()
                    let end = DenseBenchmark.monotonicSeconds()
                    layoutProducts[i] = end - start
                    start = end
                }
                rig.backwardWeights()
                let weights = DenseBenchmark.monotonicSeconds() - start
                if round >= 2 { times[i].append(layoutProducts[base[i]] + weights) }
            }
            if round == 1 + roundsBeforePruning {
                active = stillTimed(rigs.map(\.0), best: times.map { $0.min()! })
            }
        }
        var best: [WeightArrangement: Double] = [:]
        for (i, (arrangement, _)) in rigs.enumerated() { best[arrangement] = times[i].min()! }
        return best
    }

    /// Which candidates stay timed after `roundsBeforePruning` rounds, given each one's fastest
    /// round so far: all but those more than `pruneFactor` behind the fastest. oneDNN's always
    /// stays, and a primitive candidate stays while its layout's GEMM candidate does (it times
    /// their shared forward and backward-data). `arrangements` as in `timeRounds`.
    static func stillTimed(_ arrangements: [WeightArrangement], best: [Double]) -> [Bool] {
        let fastest = best.min()!
        let behind = best.map { $0 > fastest * pruneFactor }
        return arrangements.indices.map { i in
            let a = arrangements[i]
            guard a != .onednn, behind[i] else { return true }
            guard a.gradient == .innerProduct,
                  let gemm = arrangements.firstIndex(of: WeightArrangement(a.layout, .transposedGEMM)) else { return false }
            return !behind[gemm]
        }
    }

    /// Forgets every remembered choice (for tests).
    static func forgetChoices() { cache.withLock { $0.removeAll() } }

    private static let forced = Mutex<WeightArrangement?>(nil)

    /// Runs `body` with every fp32 layer built under the timed policy, small ones included, taking
    /// `layout` and `gradient` without timing (for tests that check a whole model's math on each
    /// arrangement). `transposedGEMM` needs `layout` to come out as `ab` or `ba`.
    /// With `enabled` false, `body` runs without forcing anything.
    static func withForcedLayout<T>(_ layout: WeightLayout, gradient: WeightGradientMethod = .innerProduct,
                                    enabled: Bool = true, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        forced.withLock { $0 = WeightArrangement(layout, gradient) }
        defer { forced.withLock { $0 = nil } }
        return try body()
    }
}
