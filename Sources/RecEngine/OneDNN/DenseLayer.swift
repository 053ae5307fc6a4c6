internal import CDNNL
import Synchronization

/// Numeric precision of a dense layer's matrix products.
public enum Precision: String, Sendable, CaseIterable {
    /// fp32 everywhere.
    case fp32
    /// bf16 activations and weights into the products, fp32 accumulation, outputs and gradients of
    /// weights; fp32 master weights with a bf16 copy refreshed after each update.
    case bf16
}

/// A fully connected layer `y = x·Wᵀ + b` (optionally with a fused ReLU) on oneDNN inner-product
/// primitives, built for step graphs in which forward, backward-data and backward-weights are
/// separate nodes that may run on different workers (`worker:` selects stream and scratchpad).
///
/// Weights live in the layout oneDNN prefers (blocked, padded), or for fp32 the one the context's
/// `weight_layout` policy chose (`WeightLayoutChooser`); gradient buffers use the same layout,
/// so element-wise optimizers work on `weights.values` and a gradient buffer directly. A copy of
/// the weights that some products read instead (bf16: forward and backward-data read a bf16 copy;
/// fp32 with `ForwardWeights.transposedCopy`: forward reads one in the other plain layout) is
/// refreshed after each update and each checkpoint restore. Primitives
/// are created per batch size by `prepare(batch:)` and cached; calls allocate nothing.
/// `prepare` must not run concurrently with calls for the same layer on the same worker.
public final class DenseLayer: Sendable {
    /// Name used for parameters and profiles (e.g. `deep.0`).
    public let name: String
    /// Input features per sample.
    public let inputs: Int
    /// Output features per sample.
    public let outputs: Int
    /// Whether the forward pass applies ReLU.
    public let relu: Bool
    /// Precision of the matrix products.
    public let precision: Precision
    /// bf16 only: the caller passes the input as bf16 (the previous layer's bf16 output) and takes
    /// the input gradient as bf16; else both are fp32 and the layer converts the input itself.
    public let lowPrecisionInput: Bool
    /// bf16 only: forward writes its output as bf16 and the output gradient arrives as bf16 (the
    /// next layer's bf16 input gradient), and `applyReLUMask` works on bf16; else both are fp32.
    public let lowPrecisionOutput: Bool
    /// fp32 master weights in oneDNN's preferred (blocked) layout; `count` includes padding.
    public let weights: ParameterTensor
    /// `outputs` floats.
    public let bias: ParameterTensor
    /// Floating-point operations of one of the layer's three products (forward, backward-data,
    /// backward-weights) over `rows` rows: `2·rows·inputs·outputs`.
    public func productFLOPs(rows: Int) -> Double { 2 * Double(rows) * Double(inputs) * Double(outputs) }
    /// Floats of a diff-weights buffer; it has the same layout as `weights`.
    public var weightGradientCount: Int { weights.count }
    /// Whether the products read a bf16 copy of the input that the layer converts from the caller's
    /// fp32 input (bf16 layers that are not chained to a bf16 layer before them).
    public var convertsInput: Bool { precision == .bf16 && !lowPrecisionInput }
    /// How backward-weights computes the weight gradient (fp32: the context's `weight_layout`
    /// policy decides; bf16: oneDNN's primitive, or the engine's kernel where
    /// `packedWeightGradient` applies).
    public let weightGradient: WeightGradientMethod
    /// bf16 on AVX-512 BF16 hosts without AMX: the engine's weight-gradient kernel, which
    /// backward-weights takes instead of oneDNN's primitive where it applies (see
    /// `PackedWeightGradient`); nil where the primitive always runs.
    let packedWeightGradient: PackedWeightGradient?
    /// Layers with one output (fp32 on AVX-512 hosts, bf16 on those that take
    /// `packedWeightGradient`): the engine's kernels for all three products
    /// (`SingleOutputKernel`); nil where the primitives run.
    let singleOutput: SingleOutputKernel?
    /// Which weights forward reads (fp32: the context's `weight_layout` policy decides; bf16: the
    /// master, in the sense that the bf16 copy is the master's, read by backward-data too).
    public let forwardWeights: ForwardWeights
    /// `transposedGEMM` only: the operand the reorder transposes is the input (`ba` weights:
    /// `dW[in][out] = Xᵀ·dY`), else the output gradient (`ab`: `dW[out][in] = dYᵀ·X`).
    let transposesInput: Bool

    let context: DNNLContext
    /// Layout of the fp32 master weights and of every diff-weights buffer.
    let masterDesc: DNNLMemoryDesc
    /// Layout of the weight copy: bf16, read by forward and backward-data; or fp32 in the other
    /// plain layout, read by forward (`ForwardWeights.transposedCopy`). nil without a copy.
    let copyDesc: DNNLMemoryDesc?
    /// The weight copy (nil without one).
    let weightCopy: AlignedBuffer?
    private let maintenance: Mutex<WeightMaintenance>
    /// bf16 with the paired layouts: the refresh pass, which update pieces run on their own
    /// output blocks without the maintenance lock (disjoint parts of the copy).
    private let pairedRefresh: PairedBF16Layout?
    private let plans: Mutex<[Int: DensePlan]>

    /// Batch size used to ask oneDNN for its preferred weight layout (the layouts do not depend on
    /// the batch size at the model shapes; every later primitive is created with this layout).
    static let layoutProbeBatch = 512

    /// Creates the layer; weights are He-uniform (ReLU) or Glorot-uniform from `seed` in plain
    /// `[outputs][inputs]` order, then reordered into the blocked layout; bias is zero.
    /// `weightLayout` (fp32 only) forces the master's layout, `weightGradient` (fp32, plain
    /// layouts only) how backward-weights computes and `forwardWeights` (fp32, plain layouts only)
    /// which weights forward reads; with all three nil the context's `weightLayout` policy decides
    /// (`WeightLayoutChooser`), and a forced layout without a method gets oneDNN's primitive and
    /// forward on the master. `packedWeightGradient: false` keeps oneDNN's primitives where the
    /// engine's kernels would apply (`PackedWeightGradient` for a bf16 layer's backward-weights,
    /// `SingleOutputKernel` for all three products of a one-output layer).
    /// - Throws: `DNNLError` if oneDNN cannot create the layout-probing primitives or reorders.
    /// Chained bf16 layers (`lowPrecisionInput` / `lowPrecisionOutput`, see `MLPStack`) hand each
    /// other bf16 activations and gradients directly: no fp32 copy is written and converted again.
    public init(name: String, inputs: Int, outputs: Int, relu: Bool, precision: Precision,
                context: DNNLContext, seed: UInt64, lowPrecisionInput: Bool = false,
                lowPrecisionOutput: Bool = false, weightLayout: WeightLayout? = nil,
                weightGradient: WeightGradientMethod? = nil, forwardWeights: ForwardWeights? = nil,
                packedWeightGradient: Bool = true) throws {
        dnnlRequire(inputs >= 1 && outputs >= 1, "\(name): inputs and outputs must be >= 1, got \(inputs)→\(outputs)")
        dnnlRequire(precision == .bf16 || !(lowPrecisionInput || lowPrecisionOutput),
                    "\(name): bf16 inputs or outputs need precision bf16")
        self.lowPrecisionInput = lowPrecisionInput
        self.lowPrecisionOutput = lowPrecisionOutput
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.relu = relu
        self.precision = precision
        self.context = context
        let engine = context.engine
        let n = Self.layoutProbeBatch
        let lowType: dnnl_data_type_t = precision == .bf16 ? dnnl_bf16 : dnnl_f32
        let probeSrc = try DNNLMemoryDesc(dims: [n, inputs], type: lowType, tag: dnnl_ab)
        let probeDst = try DNNLMemoryDesc(dims: [n, outputs], type: dnnl_f32, tag: dnnl_ab)
        let probeDiffDst = try DNNLMemoryDesc(dims: [n, outputs], type: lowType, tag: dnnl_ab)
        // fp32: the arrangement asked for, else the context's policy decides (bf16 keeps oneDNN's).
        let byPolicy = weightLayout == nil && weightGradient == nil && forwardWeights == nil
        let (arrangement, choiceFile) = precision == .bf16 ? (.onednn, nil)
            : byPolicy ? try WeightLayoutChooser.arrangement(inputs: inputs, outputs: outputs, relu: relu,
                                                             policy: context.weightLayout)
            : (WeightArrangement(weightLayout ?? .preferred, weightGradient ?? .innerProduct, forward: forwardWeights ?? .master), nil)
        dnnlRequire(precision == .fp32 || weightGradient != .transposedGEMM, "\(name): transposed_gemm needs fp32")
        dnnlRequire(precision == .fp32 || forwardWeights != .transposedCopy, "\(name): forward_copy needs fp32")
        let layout = arrangement.layout
        let anyWeights = try DNNLMemoryDesc(dims: [outputs, inputs], type: lowType, tag: layout.tag)
        if byPolicy && layout != .preferred { context.noteRelaidLayer() }
        if byPolicy && arrangement.gradient == .transposedGEMM { context.noteTransposedGEMMLayer() }
        if byPolicy && arrangement.forward == .transposedCopy { context.noteForwardCopyLayer() }
        if choiceFile != nil { context.noteChoiceFromFile() }
        let biasDesc = try DNNLMemoryDesc(dims: [outputs], type: dnnl_f32, tag: dnnl_a)
        let forwardPD: DNNLPrimitiveDesc
        do {
            forwardPD = try DensePlan.forwardDesc(src: probeSrc, weights: anyWeights, bias: biasDesc, dst: probeDst,
                                                  relu: relu, engine: engine, name: name)
        } catch {
            // A choice read from a file (possibly written by hand) names what this host cannot run.
            guard let choiceFile else { throw error }
            throw choiceFile.unusable(arrangement, inputs: inputs, outputs: outputs, because: "\(error)")
        }
        let chosen = forwardPD.memoryDesc(dnnl_query_weights_md)
        // The transposed GEMM and the forward copy need dense `ab` or `ba` weights (both are fp32
        // only, where `chosen` is the master).
        let chosenOrder = Self.denseWeightsAreTransposed(chosen, inputs: inputs, outputs: outputs)
        if arrangement.gradient != .innerProduct || arrangement.forward != .master, chosenOrder == nil {
            let reason = "it needs ab or ba weights, and oneDNN gives \(chosen.formatTag) here"
            // A choice read from a file (possibly written by hand) is bad input; any other is a bug.
            guard let choiceFile else { fatalError("\(name): \(arrangement): \(reason)") }
            throw choiceFile.unusable(arrangement, inputs: inputs, outputs: outputs, because: reason)
        }
        switch precision {
        case .fp32:
            masterDesc = chosen
            if arrangement.forward == .transposedCopy, let masterIsBA = chosenOrder {
                // ba master → ab copy and back (a layer with one output: both are the same memory).
                let copy = try DNNLMemoryDesc(dims: [outputs, inputs], type: dnnl_f32, tag: masterIsBA ? dnnl_ab : dnnl_ba)
                copyDesc = copy
                weightCopy = AlignedBuffer(bytes: copy.bytes)
            } else {
                copyDesc = nil
                weightCopy = nil
            }
        case .bf16:
            // The master takes the layout backward-weights prefers for its fp32 diff-weights, so
            // the optimizer's gradient and the master agree; the bf16 copy takes forward's layout.
            let anyDiff = try DNNLMemoryDesc(dims: [outputs, inputs], type: dnnl_f32, tag: dnnl_format_tag_any)
            let weightsPD = try DensePlan.backwardWeightsDesc(src: probeSrc, diffWeights: anyDiff, diffBias: biasDesc,
                                                              diffDst: probeDiffDst, hint: forwardPD, engine: engine, name: name)
            masterDesc = weightsPD.memoryDesc(dnnl_query_diff_weights_md)
            copyDesc = chosen
            weightCopy = AlignedBuffer(bytes: chosen.bytes)
        }
        self.weightGradient = arrangement.gradient
        self.forwardWeights = arrangement.forward
        self.packedWeightGradient = precision == .bf16 && packedWeightGradient && PackedWeightGradient.hostTakesKernel
            ? PackedWeightGradient(master: masterDesc, inputs: inputs, outputs: outputs) : nil
        let masterOrder = Self.denseWeightsAreTransposed(masterDesc, inputs: inputs, outputs: outputs)
        let denseMaster = precision == .fp32 && weightCopy == nil && arrangement.gradient == .innerProduct && masterOrder != nil
        self.singleOutput = packedWeightGradient
            ? SingleOutputKernel(precision: precision, outputs: outputs, inputs: inputs, lowPrecisionOutput: lowPrecisionOutput,
                                 master: masterDesc, denseMaster: denseMaster) : nil
        transposesInput = masterOrder ?? false
        weights = ParameterTensor(name: "\(name).weights", rows: outputs, columns: inputs,
                                  count: masterDesc.bytes / MemoryLayout<Float>.stride, layout: masterDesc.formatTag)
        bias = ParameterTensor(name: "\(name).bias", rows: 1, columns: outputs)
        let weightMaintenance = try WeightMaintenance(master: masterDesc, copy: copyDesc, outputs: outputs, inputs: inputs,
                                                      engine: engine)
        pairedRefresh = weightMaintenance.pairedLayout
        maintenance = Mutex(weightMaintenance)
        plans = Mutex([:])
        setPlainWeights(Self.initialWeights(inputs: inputs, outputs: outputs, relu: relu, seed: seed))
        // A checkpoint restore overwrites the fp32 master: the copy follows it.
        if weightCopy != nil { weights.onReload { [weak self] in self?.refreshWeightCopy() } }
    }

    /// The weights forward and backward-data read: their descriptors and where they live.
    struct ProductWeights {
        let forward: DNNLMemoryDesc
        let data: DNNLMemoryDesc
        let forwardStorage: UnsafeMutableRawPointer
        let dataStorage: UnsafeMutableRawPointer
    }

    /// bf16: both read the bf16 copy; fp32: backward-data reads the master, and forward the copy
    /// if there is one.
    var productWeights: ProductWeights {
        let master = UnsafeMutableRawPointer(weights.values)
        let dataReadsCopy = precision == .bf16
        return ProductWeights(forward: copyDesc ?? masterDesc, data: dataReadsCopy ? copyDesc! : masterDesc,
                              forwardStorage: weightCopy?.pointer ?? master, dataStorage: dataReadsCopy ? weightCopy!.pointer : master)
    }

    /// Weights in `desc` as `WeightGradientMethod.transposedGEMM` sees them: true when they are a
    /// dense `[inputs][outputs]` matrix (`ba`), false when a dense `[outputs][inputs]` one (`ab`;
    /// also when one dimension is 1 and the two are the same memory), nil for any other layout
    /// (blocked, padded, offset), which the method cannot take.
    static func denseWeightsAreTransposed(_ desc: DNNLMemoryDesc, inputs: Int, outputs: Int) -> Bool? {
        guard let g = desc.blockedLayout, g.innerBlocks.isEmpty, g.offset0 == 0, g.paddedDims == [outputs, inputs]
        else { return nil }
        if g.strides == [inputs, 1] || outputs == 1 || inputs == 1 { return false }
        return g.strides == [1, outputs] ? true : nil
    }

    /// Creates and caches the forward, backward-data and backward-weights primitives (and, for
    /// bf16, the activation reorders) for `batch`, plus per-worker buffers. Idempotent.
    /// - Throws: `DNNLError` naming the primitive oneDNN could not create for this shape.
    public func prepare(batch: Int) throws {
        dnnlRequire(batch >= 1, "\(name): batch must be >= 1, got \(batch)")
        if plans.withLock({ $0[batch] != nil }) { return }
        let plan = try DensePlan(layer: self, batch: batch)
        // Scratchpads grow before the plan becomes visible to callers.
        context.reserveScratchpad(bytes: plan.scratchpadBytes)
        plans.withLock { if $0[batch] == nil { $0[batch] = plan } }
    }

    /// The cached plan for `batch`; stops the program if `prepare(batch:)` was not called.
    @inline(__always)
    func plan(_ batch: Int) -> DensePlan {
        guard let plan = plans.withLock({ $0[batch] }) else {
            fatalError("\(name): prepare(batch: \(batch)) was not called before use")
        }
        return plan
    }

    /// Batch sizes prepared so far, ascending.
    public var preparedBatches: [Int] { plans.withLock { $0.keys.sorted() } }

    /// Writes the fp32 master into the weight copy (bf16, or the fp32 forward copy); call once after
    /// each optimizer update. No-op without a copy.
    public func refreshWeightCopy() {
        guard let weightCopy else { return }
        maintenance.withLock { $0.refresh(master: weights.values, copy: weightCopy.pointer) }
    }

    /// A part of the weights an update node updates and refreshes on its own: `elements` of the
    /// master (and of every diff-weights buffer), and with the paired bf16 layouts the output
    /// blocks they hold (nil: refresh the whole copy).
    public struct UpdatePiece: Sendable {
        public let elements: Range<Int>
        let outputBlocks: Range<Int>?
    }

    /// Weights smaller than this many floats are updated in one piece.
    public static let minimumFloatsToSplitUpdate = 65_536

    /// Up to `maximum` pieces that cover the weights (`updatePieces(maximum:)[k].elements`, in
    /// order): so several workers can share the update of one large layer at the end of a step,
    /// where it is often the last node. The optimizers are element-wise, so the pieces give the
    /// bits of one whole update. fp32: equal 16-float-aligned slices; bf16: whole output blocks
    /// of the paired layouts (each piece then refreshes its own part of the copy); one piece for
    /// small weights, for bf16 layouts the engine's refresh pass does not cover and for the fp32
    /// forward copy (its refresh transposes the whole master once the whole update is done).
    public func updatePieces(maximum: Int) -> [UpdatePiece] {
        let n = weights.count
        let whole = [UpdatePiece(elements: 0..<n, outputBlocks: nil)]
        guard maximum > 1, n >= Self.minimumFloatsToSplitUpdate else { return whole }
        switch precision {
        case .fp32:
            guard weightCopy == nil else { return whole }
            let pieces = min(maximum, n / 16)
            return (0..<pieces).map { k in
                let lower = (n * k / pieces) & ~15, upper = k == pieces - 1 ? n : (n * (k + 1) / pieces) & ~15
                return UpdatePiece(elements: lower..<upper, outputBlocks: nil)
            }
        case .bf16:
            guard let paired = pairedRefresh, paired.coversMaster(of: n) else { return whole }
            let blocks = paired.outputBlocks, pieces = min(maximum, blocks), stride = paired.masterOutputStride
            guard pieces > 1 else { return whole }
            return (0..<pieces).map { k in
                let first = blocks * k / pieces, end = blocks * (k + 1) / pieces
                return UpdatePiece(elements: first * stride ..< end * stride, outputBlocks: first..<end)
            }
        }
    }

    /// Refreshes the part of the copy that `piece` of the master holds (the whole copy for a piece
    /// without output blocks, which the fp32 forward copy's only piece is). No-op without a copy.
    public func refreshWeightCopy(piece: UpdatePiece) {
        guard let blocks = piece.outputBlocks, let pairedRefresh, let weightCopy else {
            refreshWeightCopy()
            return
        }
        pairedRefresh.convert(master: weights.values, low: weightCopy.pointer, outputBlocks: blocks)
    }

    /// Applies `optimizer` to `piece` of the weights from `gradient` (plus `plus`) and refreshes
    /// the part of the copy the piece holds (bf16, and the fp32 forward copy). With the paired
    /// layouts and the master's rows one after another, each pair of master rows is converted
    /// right after the optimizer wrote it, while it is still in the first-level cache, instead of
    /// in a second pass that reads the whole master again; the bits are those of the update followed by
    /// `refreshWeightCopy(piece:)`. Returns whether the refresh rode on the update.
    @discardableResult
    public func update(_ piece: UpdatePiece, optimizer: any DenseOptimizer, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?,
                       step: Int) -> Bool {
        let n = weights.count
        guard precision == .bf16, let paired = pairedRefresh, let weightCopy, paired.rowsAreSequential,
              paired.coversMaster(of: n), piece.outputBlocks != nil || piece.elements == 0..<n else {
            optimizer.update(weights, gradient: gradient, plus: plus, elements: piece.elements, step: step)
            refreshWeightCopy(piece: piece)
            return false
        }
        let master = weights.values, low = weightCopy.pointer
        optimizer.update(weights, gradient: gradient, plus: plus, elements: piece.elements, step: step, runs: 2 * paired.block) { run in
            paired.convertRowPair(master: master, low: low, startingAt: run.lowerBound)
        }
        return true
    }

    /// bf16: whether `refreshWeightCopy` takes the engine's pass (the paired layouts).
    var refreshesLowPrecisionByPairs: Bool { pairedRefresh != nil }

    /// bf16: the refresh through oneDNN's reorder (for `bench --kernels`'s comparison).
    func refreshWeightCopyWithReorder() {
        guard let weightCopy else { return }
        maintenance.withLock { $0.refreshWithReorder(master: weights.values, copy: weightCopy.pointer) }
    }

    /// bf16 only (for tests): the copy as the refresh writes it and as oneDNN's reorder writes it
    /// (all bytes, padding included), and whether the refresh took the engine's pass.
    func lowPrecisionCopies() -> (refreshed: [UInt8], reordered: [UInt8], byPairs: Bool)? {
        guard let weightCopy else { return nil }
        let scratch = AlignedBuffer(bytes: weightCopy.bytes)
        return maintenance.withLock { m in
            m.refresh(master: weights.values, copy: weightCopy.pointer)
            m.refreshWithReorder(master: weights.values, copy: scratch.pointer)
            return (Array(UnsafeRawBufferPointer(start: weightCopy.pointer, count: weightCopy.bytes)),
                    Array(UnsafeRawBufferPointer(start: scratch.pointer, count: scratch.bytes)), refreshesLowPrecisionByPairs)
        }
    }

    /// The weights as `[outputs][inputs]` row-major (for tests and checkpoints).
    public func plainWeights() -> [Float] { plainGradient(weights.values) }

    /// Replaces the weights from `[outputs][inputs]` row-major values and refreshes the bf16 copy.
    public func setPlainWeights(_ w: [Float]) {
        dnnlRequire(w.count == outputs * inputs, "\(name): expected \(outputs * inputs) weights, got \(w.count)")
        w.withUnsafeBufferPointer { plain in
            maintenance.withLock { $0.toMaster(plain: plain.baseAddress!, master: weights.values) }
        }
        refreshWeightCopy()
    }

    /// A diff-weights buffer (layout of `weights`) as `[outputs][inputs]` row-major (for tests).
    public func plainGradient(_ gradWeights: UnsafePointer<Float>) -> [Float] {
        [Float](unsafeUninitializedCapacity: outputs * inputs) { buffer, initialized in
            maintenance.withLock { $0.toPlain(master: gradWeights, plain: buffer.baseAddress!) }
            initialized = outputs * inputs
        }
    }

    /// He-uniform (ReLU layers) or Glorot-uniform limits, deterministic in `seed`.
    static func initialWeights(inputs: Int, outputs: Int, relu: Bool, seed: UInt64) -> [Float] {
        let limit = relu ? (6.0 / Double(inputs)).squareRoot() : (6.0 / Double(inputs + outputs)).squareRoot()
        var rng = SplitMix64(seed: seed)
        return (0..<(inputs * outputs)).map { _ in Float((rng.nextUnit() * 2 - 1) * limit) }
    }
}
