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

/// Which weights an fp32 dense layer's forward product reads.
public enum ForwardWeights: String, Sendable, CaseIterable {
    /// The master weights, as backward-data and backward-weights do.
    case master
    /// A copy of the master in the other plain layout (`ab` for `ba` weights and back), which a
    /// oneDNN reorder refreshes after each update (once per step, not per micro-batch) and after a
    /// checkpoint restore; backward-data and backward-weights keep reading the master. Plain
    /// layouts (`ab`, `ba`) only. Why: on AVX2 hosts each plain layout makes one of forward and
    /// backward-data a GEMM with a transposed operand, and some shapes run that a quarter slower
    /// (AVX2 Zen 3, 1024→512 at 256 rows: forward on `ba` 58 GFLOP/s, on `ab` 75; backward-data on
    /// `ba` 85), while the copy costs one 2 MB transpose a step (~0.24 ms).
    case transposedCopy = "forward_copy"
}

/// What the `weight_layout` policy gives an fp32 dense layer: its weight layout, how its weight
/// gradient is computed and which weights its forward reads.
public struct WeightArrangement: Hashable, Sendable, CustomStringConvertible {
    public let layout: WeightLayout
    public let gradient: WeightGradientMethod
    public let forward: ForwardWeights

    public init(_ layout: WeightLayout, _ gradient: WeightGradientMethod = .innerProduct,
                forward: ForwardWeights = .master) {
        self.layout = layout
        self.gradient = gradient
        self.forward = forward
    }

    /// oneDNN's choices: its preferred layout, its backward-weights primitive, forward on the master.
    public static let onednn = WeightArrangement(.preferred)

    /// `preferred`, `plain+transposed_gemm`, `transposed+forward_copy`, ...
    public var description: String {
        [layout.rawValue, gradient == .innerProduct ? nil : gradient.rawValue, forward == .master ? nil : forward.rawValue]
            .compactMap { $0 }.joined(separator: "+")
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
    /// Per layer shape, whichever of oneDNN's preferred, plain and transposed layouts, each with
    /// either weight-gradient method and either forward weights where they apply, runs the
    /// layer's three products fastest at `batch` rows (`WeightLayoutChooser`).
    case timed(batch: Int)
}

/// Chooses an fp32 dense layer's weight layout by timing (`weight_layout: timed`).
///
/// Why: oneDNN 2.6 picks the weight layout its forward primitive prefers, at the batch it is asked
/// with, and backward-data and backward-weights then run on that layout whatever it costs them. On
/// an AVX2 host (oneDNN's gemm-based inner product) that is `ba` for 1024→512 and 367→512,
/// whose forward then runs at ~66 GFLOP/s against ~87–93 with `ab`, while at 256 rows `ab`
/// halves 1024→512's backward-data instead. Backward-weights also runs some shapes a third slower
/// than the same GEMM from a transposed copy of one operand (`WeightGradientMethod`), and forward
/// can read a copy of the weights in the other plain layout (`ForwardWeights`). Which
/// arrangement wins depends on shape, rows, ISA and threads, so it is measured: forward,
/// backward-data and backward-weights of a ReLU layer of the shape at the run's rows, on the
/// calling thread's OpenMP team, each candidate (a layout, and for `ab` and `ba` each gradient
/// method with either forward weights) in interleaved rounds; the fastest round of each decides.
/// oneDNN's choice (its layout, its primitive, forward on the master) stays unless another
/// candidate is `margin` faster, so near-ties do not flip from run to run. Layers with fewer than
/// `minimumWeights` weights keep oneDNN's choice (too fast to time reliably, too small to matter).
///
/// Each (inputs, outputs, relu, rows, team size) is timed once per process and remembered, so all
/// layers of a shape (and every run in one process, e.g. tests comparing executors) agree. Across
/// processes a choice can differ on a noisy host (the layouts compute the same products with a
/// different summation order, so such runs also differ in the last bits) unless they share a
/// `WeightLayoutChoiceFile` (`RECTUNE_LAYOUT_CHOICES`; every run of a sweep does): then the first
/// process on the machine times a shape and later ones read its choice.
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

    /// Where a choice came from.
    public enum Source: Sendable, Equatable {
        /// Timed by this process.
        case timed
        /// Read from the `WeightLayoutChoiceFile`: another process timed it on this machine.
        case file
    }

    /// One choice and what it was based on.
    public struct Choice: Sendable, Equatable {
        public let arrangement: WeightArrangement
        /// Fastest of the timed rounds (forward + backward-data + backward-weights), in seconds, per
        /// timed candidate (`timeRounds`; a pruned candidate's over its fewer rounds); a forced
        /// layout with the same tag as oneDNN's preferred one, or that oneDNN cannot create, is not
        /// timed, and `transposedGEMM` and `ForwardWeights.transposedCopy` are timed for `ab` and
        /// `ba` only.
        public let roundSeconds: [WeightArrangement: Double]
        /// oneDNN's tag notation of each timed layout (`ab`, `ba`, `AB16b64a`).
        public let tags: [WeightLayout: String]
        /// Timed here, or read from the choice file.
        public let source: Source

        public var layout: WeightLayout { arrangement.layout }
        /// The timed candidates, oneDNN's first, in the order they were timed.
        public var candidates: [WeightArrangement] {
            WeightLayout.allCases.flatMap { l in
                ForwardWeights.allCases.flatMap { f in WeightGradientMethod.allCases.map { WeightArrangement(l, $0, forward: f) } }
            }.filter { roundSeconds[$0] != nil }
        }
    }

    private static let cache = Mutex<[Key: Choice]>([:])

    /// The choice file model builds share (`RECTUNE_LAYOUT_CHOICES` at start-up; tests swap it with
    /// `withChoiceFile`).
    private static let choiceFile = Mutex<WeightLayoutChoiceFile?>(WeightLayoutChoiceFile.named())

    /// The arrangement for an fp32 layer of this shape under `policy`, on the calling thread's team,
    /// and the choice file it was read from (nil when timed in this process or not timed).
    /// - Throws: `DNNLError` if oneDNN's preferred layout cannot be created for the shape;
    ///   `WeightLayoutChoiceFileError` if the choice file cannot be read or written.
    static func arrangement(inputs: Int, outputs: Int, relu: Bool,
                            policy: WeightLayoutPolicy) throws -> (arrangement: WeightArrangement, file: WeightLayoutChoiceFile?) {
        guard case .timed(let rows) = policy else { return (.onednn, nil) }
        if let forced = forced.withLock({ $0 }) { return (forced, nil) }
        guard inputs * outputs >= minimumWeights else { return (.onednn, nil) }
        let file = choiceFile.withLock { $0 }
        let choice = try choose(inputs: inputs, outputs: outputs, relu: relu, rows: rows, file: file)
        return (choice.arrangement, choice.source == .file ? file : nil)
    }

    /// Times the candidates for this shape on `threads` OpenMP threads (default: the calling
    /// thread's team), or returns the remembered choice: remembered in this process, else recorded
    /// in `file` by an earlier process. A choice timed here is recorded in `file`, unless another
    /// process recorded the shape meanwhile (then that choice is used).
    public static func choose(inputs: Int, outputs: Int, relu: Bool, rows: Int, threads: Int? = nil,
                              file: WeightLayoutChoiceFile? = nil) throws -> Choice {
        if let threads, threads != DNNLContext.callingThreadIntraOpThreads {
            return try DNNLContext.withOpenMPThreads(threads) {
                try choose(inputs: inputs, outputs: outputs, relu: relu, rows: rows, file: file)
            }
        }
        let key = Key(inputs: inputs, outputs: outputs, relu: relu, rows: rows,
                      threads: DNNLContext.callingThreadIntraOpThreads)
        if let known = cache.withLock({ $0[key] }) { return known }
        if let recorded = try file?.choice(for: key) { return remember(recorded, for: key) }
        let timed = try time(inputs: inputs, outputs: outputs, relu: relu, rows: rows)
        return remember(try file?.record(timed, for: key) ?? timed, for: key)
    }

    /// Times the candidates for this shape on `threads` OpenMP threads (default: the calling
    /// thread's team) now, whatever this process or a choice file remembers, and remembers nothing
    /// (`rectune bench --dense`: later model builds in the process still read the choice file).
    public static func timeAfresh(inputs: Int, outputs: Int, relu: Bool, rows: Int, threads: Int? = nil) throws -> Choice {
        try DNNLContext.withOpenMPThreads(threads ?? DNNLContext.callingThreadIntraOpThreads) {
            try time(inputs: inputs, outputs: outputs, relu: relu, rows: rows)
        }
    }

    /// The choice `file` holds for this shape on this host at `threads` OpenMP threads (default: the
    /// calling thread's team), nil when it holds none (`rectune bench --dense` shows it beside a
    /// fresh timing).
    public static func recorded(inputs: Int, outputs: Int, relu: Bool, rows: Int, threads: Int? = nil,
                                in file: WeightLayoutChoiceFile) throws -> Choice? {
        try file.choice(for: Key(inputs: inputs, outputs: outputs, relu: relu, rows: rows,
                                 threads: threads ?? DNNLContext.callingThreadIntraOpThreads))
    }

    /// Remembers `choice` for `key` in this process, unless another thread remembered one first
    /// (then returns that one).
    private static func remember(_ choice: Choice, for key: Key) -> Choice {
        cache.withLock { known in
            if let first = known[key] { return first }
            known[key] = choice
            return choice
        }
    }

    /// Times the candidates for this shape on the calling thread's team.
    private static func time(inputs: Int, outputs: Int, relu: Bool, rows: Int) throws -> Choice {
        let context = try DNNLContext(workers: 1)
        let shape = DenseBenchmark.Shape(inputs, outputs)
        func rig(_ layout: WeightLayout, _ gradient: WeightGradientMethod = .innerProduct,
                 forward: ForwardWeights = .master) throws -> DenseBenchmark.LayerRig {
            try DenseBenchmark.LayerRig(shape: shape, index: 0, batch: rows, precision: .fp32, context: context, relu: relu,
                                        layout: layout, weightGradient: gradient, forwardWeights: forward)
        }
        var rigs: [TimedRig] = []
        var candidates: [Candidate] = []
        var tags: [WeightLayout: String] = [:]
        for layout in WeightLayout.allCases {
            let primitive: DenseBenchmark.LayerRig
            do {
                primitive = try rig(layout)
            } catch {
                // A forced layout oneDNN cannot run is not a candidate; the preferred one must run.
                if layout == .preferred { throw error }
                continue
            }
            let tag = primitive.layer.masterDesc.formatTag
            guard !tags.values.contains(tag) else { continue }
            tags[layout] = tag
            let p = rigs.count
            rigs.append(TimedRig(rig: primitive, products: [.forward, .backwardData, .backwardWeights]))
            candidates.append(Candidate(arrangement: WeightArrangement(layout), forward: p, data: p, weights: p))
            guard DenseLayer.denseWeightsAreTransposed(primitive.layer.masterDesc, inputs: inputs, outputs: outputs) != nil
            else { continue }
            // The GEMM rig times only backward-weights, the copy rig only forward (with the copy's
            // refresh); the rest of their candidates' products come from the primitive rig.
            let g = rigs.count, c = g + 1
            rigs.append(TimedRig(rig: try rig(layout, .transposedGEMM), products: [.backwardWeights]))
            rigs.append(TimedRig(rig: try rig(layout, forward: .transposedCopy), products: [.forward]))
            candidates += [
                Candidate(arrangement: WeightArrangement(layout, .transposedGEMM), forward: p, data: p, weights: g),
                Candidate(arrangement: WeightArrangement(layout, forward: .transposedCopy), forward: c, data: p, weights: p),
                Candidate(arrangement: WeightArrangement(layout, .transposedGEMM, forward: .transposedCopy),
                          forward: c, data: p, weights: g),
            ]
        }
        let best = timeRounds(rigs, candidates)
        let onednnTime = best[.onednn]!
        // Ties go to the earlier candidate (oneDNN's first; per layout the primitive, then the GEMM,
        // then the forward copy).
        let fastest = candidates.map(\.arrangement).min { best[$0]! < best[$1]! }!
        let arrangement = best[fastest]! < onednnTime * (1 - margin) ? fastest : .onednn
        return Choice(arrangement: arrangement, roundSeconds: best, tags: tags, source: .timed)
    }

    /// Timed rounds before candidates far behind the fastest stop being timed.
    public static let roundsBeforePruning = 2
    /// A candidate this much slower than the fastest after `roundsBeforePruning` timed rounds is
    /// timed no further (oneDNN's is always timed to the end).
    public static let pruneFactor = 1.15

    /// A product of a layer: forward, backward-data, backward-weights.
    enum Product: Int, CaseIterable { case forward, backwardData, backwardWeights }

    /// A layer the rounds run, and the products it times.
    struct TimedRig {
        let rig: DenseBenchmark.LayerRig
        let products: Set<Product>

        /// Seconds of each product this rig times (0 for the others). A forward-copy rig's forward
        /// includes refreshing the copy: a step refreshes it once, so charging it to each
        /// micro-batch's round is on the safe side.
        func time() -> [Double] {
            var seconds = [Double](repeating: 0, count: Product.allCases.count)
            for product in Product.allCases where products.contains(product) {
                let start = DenseBenchmark.monotonicSeconds()
                switch product {
                case .forward:
                    if rig.layer.forwardWeights == .transposedCopy { rig.layer.refreshWeightCopy() }
                    rig.forward()
                case .backwardData: rig.backwardData()
                case .backwardWeights: rig.backwardWeights()
                }
                seconds[product.rawValue] = DenseBenchmark.monotonicSeconds() - start
            }
            return seconds
        }
    }

    /// An arrangement and the rigs (indices) whose products make up its time.
    struct Candidate {
        let arrangement: WeightArrangement
        let forward: Int, data: Int, weights: Int
        var rigs: [Int] { [forward, data, weights] }
    }

    /// Each candidate's fastest round of forward + backward-data + backward-weights, in seconds.
    /// Each round runs every rig still needed once, timing each product it times; a candidate's
    /// round is the sum of its three products from the rigs it names, all in the same round, so a
    /// shape with two dense layouts (8 candidates) costs about 3.3 full rounds per round, not 8.
    /// Two untimed rounds first; after `roundsBeforePruning` timed rounds, candidates more than
    /// `pruneFactor` behind stop (`stillTimed`), and so do the rigs no remaining candidate names. The fastest round: another thread's work can only add time,
    /// so the minimum is what the arrangement costs, and it moves less than the median when the
    /// host is busy.
    private static func timeRounds(_ rigs: [TimedRig], _ candidates: [Candidate]) -> [WeightArrangement: Double] {
        var products = [[Double]](repeating: [], count: rigs.count)
        var times = [[Double]](repeating: [], count: candidates.count)
        var timed = [Bool](repeating: true, count: candidates.count)
        var running = [Bool](repeating: true, count: rigs.count)
        for round in 0..<(rounds + 2) {
            for r in rigs.indices where running[r] { products[r] = rigs[r].time() }
            if round >= 2 {
                for (k, c) in candidates.enumerated() where timed[k] {
                    times[k].append(products[c.forward][Product.forward.rawValue] + products[c.data][Product.backwardData.rawValue]
                                    + products[c.weights][Product.backwardWeights.rawValue])
                }
            }
            if round == 1 + roundsBeforePruning {
                timed = stillTimed(candidates.map(\.arrangement), best: times.map { $0.min()! })
                running = rigs.indices.map { r in candidates.indices.contains { timed[$0] && candidates[$0].rigs.contains(r) } }
            }
        }
        var best: [WeightArrangement: Double] = [:]
        for (k, c) in candidates.enumerated() { best[c.arrangement] = times[k].min()! }
        return best
    }

    /// Which candidates stay timed after `roundsBeforePruning` rounds, given each one's fastest
    /// round so far: all but those more than `pruneFactor` behind the fastest; oneDNN's always stays.
    static func stillTimed(_ arrangements: [WeightArrangement], best: [Double]) -> [Bool] {
        let fastest = best.min()!
        return arrangements.indices.map { arrangements[$0] == .onednn || best[$0] <= fastest * pruneFactor }
    }

    /// Forgets every remembered choice (for tests).
    static func forgetChoices() { cache.withLock { $0.removeAll() } }

    /// Runs `body` with model builds sharing `file` instead of the one `RECTUNE_LAYOUT_CHOICES`
    /// named at start-up (for tests; nil: none).
    static func withChoiceFile<T>(_ file: WeightLayoutChoiceFile?, _ body: () throws -> T) rethrows -> T {
        let before = choiceFile.withLock { current in
            defer { current = file }
            return current
        }
        defer { choiceFile.withLock { $0 = before } }
        return try body()
    }

    private static let forced = Mutex<WeightArrangement?>(nil)

    /// Runs `body` with every fp32 layer built under the timed policy, small ones included, taking
    /// `layout`, `gradient` and `forward` without timing (for tests that check a whole model's math
    /// on each arrangement). `transposedGEMM` and `transposedCopy` need `layout` to come out as `ab`
    /// or `ba`. With `enabled` false, `body` runs without forcing anything.
    static func withForcedLayout<T>(_ layout: WeightLayout, gradient: WeightGradientMethod = .innerProduct,
                                    forward: ForwardWeights = .master, enabled: Bool = true,
                                    _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        forced.withLock { $0 = WeightArrangement(layout, gradient, forward: forward) }
        defer { forced.withLock { $0 = nil } }
        return try body()
    }
}
