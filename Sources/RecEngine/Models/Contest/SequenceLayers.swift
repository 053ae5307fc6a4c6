/// Building blocks of the contest's sequence models (DIN, DIEN): dense layers on oneDNN's GEMM
/// whose row count is known only when the node runs (the batch's longest history), the scripts'
/// inference-mode BatchNorm, PReLU, the attention unit, the GRU/AUGRU layer and the sequence
/// embeddings. Every dense parameter's update sums the micro-batch gradients, clips the sum by
/// norm (`tf.clip_by_norm(g, 5)` per tensor) and applies Adam.

/// How the recurrent layers run (the `rnn` knob).
public enum RNNMode: String, Sendable, CaseIterable, Codable {
    /// Several graph nodes per time step (gate matmul, candidate matmul, element-wise state update),
    /// as TensorFlow's GRUCell runs inside `dynamic_rnn` (the contest baseline).
    case unfused
    /// One node per cell and direction: the input projections of all steps in one GEMM, one
    /// recurrent GEMM per gate group per step, and the weight gradients as whole-sequence GEMMs.
    case fused
}

/// Per micro-batch: each row's history length (≤ `maxLength`) and the micro-batch's longest.
/// `@unchecked Sendable`: written by the micro-batch's input node only, read after it.
final class SeqLengths: @unchecked Sendable {
    let rows: Int
    let lengths: UnsafeMutablePointer<Int32>
    var longest = 0
    /// Longest history over the whole batch's valid rows (the auxiliary loss's normalization).
    var batchLongest = 0

    init(rows: Int) {
        self.rows = rows
        lengths = .allocate(capacity: rows)
        lengths.initialize(repeating: 0, count: rows)
    }

    deinit { lengths.deallocate() }

    /// Reads the lengths of rows `[start, start + rows)` of slot `slot` (padding rows: 0).
    func load(feed: ContestFeed, slot: Int, start: Int, maxLength: Int) {
        let valid = feed.validRows(start: start, count: rows)
        longest = 0
        for i in 0..<rows {
            let n = i < valid ? min(Int(feed.bagCount[(start + i) * feed.slotCount + slot]), maxLength) : 0
            lengths[i] = Int32(n)
            longest = max(longest, n)
        }
        batchLongest = 0
        for i in 0..<feed.validRows { batchLongest = max(batchLongest, min(Int(feed.bagCount[i * feed.slotCount + slot]), maxLength)) }
    }
}

/// A micro-batch's valid (step, row) history positions, time-major: `index[p] = t·rows + i` for every
/// `t < lengths[i] − shortenedBy`, `count` of them. The attention runs its MLP on these rows only
/// (`shortenedBy` 0), DIEN's auxiliary net on the positions that have a next step (1).
/// `@unchecked Sendable`: written by one forward node only, read after it.
final class SeqPairs: @unchecked Sendable {
    let index: UnsafeMutablePointer<Int32>
    private(set) var count = 0

    init(capacity: Int) { index = .allocate(capacity: max(1, capacity)) }
    deinit { index.deallocate() }

    func load(_ lengths: SeqLengths, shortenedBy: Int = 0) {
        count = 0
        let rows = lengths.rows
        for t in 0..<max(lengths.longest - shortenedBy, 0) {
            for i in 0..<rows where Int(lengths.lengths[i]) - shortenedBy > t {
                index[count] = Int32(t * rows + i)
                count += 1
            }
        }
    }
}

/// Clip-by-norm then Adam for dense parameters (and, for a weight with a bf16 copy, the copy's
/// refresh after the update).
/// `@unchecked Sendable`: `lowCopies` is written only while the model is built (`register`), before
/// any graph runs; `Adam` orders its own state per parameter through the step graph.
final class ClippedAdam: @unchecked Sendable {
    let optimizer: Adam
    let clipNorm: Float
    private var lowCopies: [ObjectIdentifier: SeqBF16Copy] = [:]

    init(learningRate: Float, clipNorm: Float) {
        optimizer = Adam(learningRate: learningRate)
        self.clipNorm = clipNorm
    }

    /// Registers `p` with Adam; `low` (bf16 weights) is refreshed by `p`'s update node after each update.
    func register(_ p: ParameterTensor, low: SeqBF16Copy? = nil) {
        optimizer.register(p)
        if let low { lowCopies[ObjectIdentifier(p)] = low }
    }

    /// One update node: sums `grads` (one per micro-batch) into the first, clips, applies Adam, and
    /// refreshes `p`'s bf16 copy if it has one.
    func addUpdate(_ b: GraphBuilder, _ p: ParameterTensor, grads: [TensorID], after: [NodeID]) -> NodeID {
        let n = p.count
        let low = lowCopies[ObjectIdentifier(p)]
        return b.node("\(p.name).update", kind: .update, after: after, uses: grads) { [self] ctx in
            let g0 = ctx.memory.floats(grads[0])
            for m in grads.indices.dropFirst() { VectorKernels.accumulate(ctx.memory.floats(grads[m]), into: g0, count: n) }
            SeqKernels.clipByNorm(g0, count: n, maxNorm: clipNorm)
            optimizer.update(p, gradient: g0, step: ctx.step + 1)
            low?.refresh()
        }
    }
}

/// The bf16 copy of an fp32 master weight that the products read under `bf16: on` (the master
/// stays fp32 and takes the optimizer's updates): refreshed by the weight's update node after each
/// update and after a checkpoint restore (`ParameterTensor.onReload`).
/// `@unchecked Sendable`: written only by the master's update node (the step graph orders it after
/// every node of the step that reads the copy) or by a restore between runs.
final class SeqBF16Copy: @unchecked Sendable {
    let master: ParameterTensor
    /// `master.count` bf16 values, same layout as the master.
    let bits: UnsafeMutablePointer<UInt16>

    init(_ master: ParameterTensor) {
        self.master = master
        bits = .allocate(capacity: master.count)
        bits.initialize(repeating: 0, count: master.count)
        refresh()
        master.onReload { [weak self] in self?.refresh() }
    }

    deinit { bits.deallocate() }

    /// Rounds the fp32 master into the copy.
    func refresh() { SeqKernels.toBF16(master.values, count: master.count, bits) }
}

extension GraphBuilder {
    /// Declares a step tensor of `count` bf16 values.
    func bf16(_ name: String, count: Int) -> TensorID { tensor(name, bytes: count * MemoryLayout<UInt16>.stride) }
}

extension StepMemory {
    /// The memory of a live tensor declared with `GraphBuilder.bf16` as bf16 bits.
    @inline(__always)
    func bf16(_ t: TensorID) -> UnsafeMutablePointer<UInt16> {
        raw(t).bindMemory(to: UInt16.self, capacity: bytes(t) / MemoryLayout<UInt16>.stride)
    }
}

/// A dense layer `y = act(x·W + b)` with `W` row-major `[inputs × outputs]` (TF's kernel layout),
/// Glorot-uniform (TF's default) from `seed`, bias `biasInit`. `bf16`: the three products (x·W,
/// xᵀ·gy, gy·Wᵀ) take bf16 operands (the input and output gradient rounded into caller-provided
/// scratch, the weights from `low`) and accumulate in fp32; bias, activation, outputs and
/// gradients stay fp32.
final class SeqDense: @unchecked Sendable {
    let name: String
    let inputs: Int
    let outputs: Int
    let activation: SeqActivation
    let weights: ParameterTensor
    let bias: ParameterTensor
    /// bf16 only: the weights' bf16 copy.
    let low: SeqBF16Copy?

    init(name: String, inputs: Int, outputs: Int, activation: SeqActivation, seed: UInt64, biasInit: Float = 0, bf16: Bool = false) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        weights = ParameterTensor(name: "\(name).kernel", rows: inputs, columns: outputs)
        bias = ParameterTensor(name: "\(name).bias", rows: 1, columns: outputs)
        var rng = SplitMix64(seed: seed)
        let limit = Float((6.0 / Double(inputs + outputs)).squareRoot())
        for k in 0..<weights.count { weights.values[k] = rng.uniform(-limit, limit) }
        bias.values.update(repeating: biasInit, count: outputs)
        low = bf16 ? SeqBF16Copy(weights) : nil
    }

    var parameters: [ParameterTensor] { [weights, bias] }

    /// `xLow` (bf16 only, `rows × inputs`): receives `x` in bf16, which `backward` reads again.
    func forward(rows: Int, x: UnsafePointer<Float>, xLow: UnsafeMutablePointer<UInt16>?, y: UnsafeMutablePointer<Float>) {
        if let low {
            let xb = xLow!
            SeqKernels.toBF16(x, count: rows * inputs, xb)
            SeqKernels.gemmBF16(m: rows, n: outputs, k: inputs, a: xb, lda: inputs, b: low.bits, ldb: outputs, beta: 0, c: y, ldc: outputs)
        } else {
            SeqKernels.gemm(m: rows, n: outputs, k: inputs, a: x, lda: inputs, b: weights.values, ldb: outputs, beta: 0, c: y, ldc: outputs)
        }
        SeqKernels.biasActivate(y, rows: rows, width: outputs, bias: bias.values, activation: activation)
    }

    /// `gy` is multiplied in place by the activation's derivative; `gW`, `gB` and `gx` are overwritten.
    /// bf16 only: `xLow` is the forward's bf16 input, `gyLow` (`rows × outputs`) scratch for `gy` in bf16.
    func backward(rows: Int, x: UnsafePointer<Float>, xLow: UnsafePointer<UInt16>?, y: UnsafePointer<Float>, gy: UnsafeMutablePointer<Float>,
                  gyLow: UnsafeMutablePointer<UInt16>?, gW: UnsafeMutablePointer<Float>, gB: UnsafeMutablePointer<Float>,
                  gx: UnsafeMutablePointer<Float>?) {
        SeqKernels.activationBackward(y: y, grad: gy, count: rows * outputs, activation: activation)
        SeqKernels.columnSums(gy, rows: rows, width: outputs, out: gB, accumulate: false)
        if let low {
            let xb = xLow!, gb = gyLow!
            SeqKernels.toBF16(gy, count: rows * outputs, gb)
            SeqKernels.gemmBF16(transA: true, m: inputs, n: outputs, k: rows, a: xb, lda: inputs, b: gb, ldb: outputs, beta: 0, c: gW,
                                ldc: outputs)
            if let gx {
                SeqKernels.gemmBF16(transB: true, m: rows, n: inputs, k: outputs, a: gb, lda: outputs, b: low.bits, ldb: outputs, beta: 0,
                                    c: gx, ldc: inputs)
            }
            return
        }
        SeqKernels.gemm(transA: true, m: inputs, n: outputs, k: rows, a: x, lda: inputs, b: gy, ldb: outputs, beta: 0, c: gW, ldc: outputs)
        if let gx {
            SeqKernels.gemm(transB: true, m: rows, n: inputs, k: outputs, a: gy, lda: outputs, b: weights.values, ldb: outputs, beta: 0,
                            c: gx, ldc: inputs)
        }
    }
}

/// The scripts' `tf.layers.batch_normalization(x)` without `training=True`: it runs in inference
/// mode with the moving mean (0) and variance (1) that nothing ever updates, so it is the affine map
/// `γ·x/√(1.001) + β` with trained γ (starts 1) and β (starts 0).
final class SeqAffineBN: @unchecked Sendable {
    let gamma: ParameterTensor
    let beta: ParameterTensor
    let width: Int
    let epsilon: Float = 0.001

    init(name: String, width: Int) {
        self.width = width
        gamma = ParameterTensor(name: "\(name).gamma", rows: 1, columns: width)
        gamma.values.update(repeating: 1, count: width)
        beta = ParameterTensor(name: "\(name).beta", rows: 1, columns: width)
    }

    var parameters: [ParameterTensor] { [gamma, beta] }
}

/// An MLP of `SeqDense` layers (optionally behind a `SeqAffineBN`) over a runtime row count;
/// `bf16`: every layer's products in bf16 (the BN affine map stays fp32).
final class SeqMLP: @unchecked Sendable {
    let name: String
    let bn: SeqAffineBN?
    let layers: [SeqDense]
    let optimizer: ClippedAdam
    let bf16: Bool
    var inputs: Int { layers[0].inputs }
    var outputs: Int { layers.last!.outputs }

    init(name: String, inputs: Int, layers spec: [(Int, SeqActivation)], batchNorm: Bool, bf16: Bool = false, optimizer: ClippedAdam,
         seed: UInt64) {
        self.name = name
        self.optimizer = optimizer
        bn = batchNorm ? SeqAffineBN(name: "\(name).bn", width: inputs) : nil
        var width = inputs
        var layers: [SeqDense] = []
        for (i, (w, act)) in spec.enumerated() {
            layers.append(SeqDense(name: "\(name).\(i)", inputs: width, outputs: w, activation: act, seed: seed &+ UInt64(i) &* 7919,
                                   bf16: bf16))
            width = w
        }
        self.layers = layers
        self.bf16 = bf16
        for p in parameters { optimizer.register(p, low: layers.first { $0.weights === p }?.low) }
    }

    var parameters: [ParameterTensor] { (bn?.parameters ?? []) + layers.flatMap(\.parameters) }

    /// The bf16 weight copies (empty for fp32).
    var lowCopies: [SeqBF16Copy] { layers.compactMap(\.low) }

    struct Forward {
        let input: TensorID
        /// The BN output (or the input), then each layer's output.
        let activations: [TensorID]
        /// bf16 only: each layer's input in bf16 (written by its forward node, read by its backward node).
        let lowInputs: [TensorID?]
        let nodes: [NodeID]
        var output: TensorID { activations.last! }
        var done: NodeID { nodes.last! }
    }

    /// Forward over `rows()` rows (≤ `maxRows`) of `input`.
    func addForward(_ b: GraphBuilder, tag: String, maxRows: Int, rows: @escaping @Sendable () -> Int, input: TensorID,
                    after: [NodeID]) -> Forward {
        var acts: [TensorID] = [], nodes: [NodeID] = [], lows: [TensorID?] = []
        var x = input, deps = after
        if let bn {
            let y = b.floats("\(name).bn.out\(tag)", count: maxRows * bn.width)
            let src = x
            deps = [b.node("\(name).bn\(tag)", kind: .forward, after: deps, allocates: [y], uses: [src]) { ctx in
                SeqKernels.affineBNForward(ctx.memory.floats(src), rows: rows(), width: bn.width, gamma: bn.gamma.values,
                                           beta: bn.beta.values, epsilon: bn.epsilon, out: ctx.memory.floats(y))
            }]
            nodes += deps
            x = y
        }
        acts.append(x)
        for (i, layer) in layers.enumerated() {
            let y = b.floats("\(name).\(i).out\(tag)", count: maxRows * layer.outputs)
            let xl = bf16 ? b.bf16("\(name).\(i).in.bf16\(tag)", count: maxRows * layer.inputs) : nil
            let src = x
            let node = b.node("\(name).\(i).fwd\(tag)", kind: .forward, after: deps, allocates: [y] + (xl.map { [$0] } ?? []),
                              uses: [src]) { ctx in
                layer.forward(rows: rows(), x: ctx.memory.floats(src), xLow: xl.map { ctx.memory.bf16($0) }, y: ctx.memory.floats(y))
            }
            acts.append(y); nodes.append(node); lows.append(xl)
            x = y; deps = [node]
        }
        return Forward(input: input, activations: acts, lowInputs: lows, nodes: nodes)
    }

    struct Backward {
        /// Per parameter (in `parameters` order) its gradient tensor.
        let grads: [TensorID]
        let nodes: [NodeID]
        let inputGrad: TensorID?
        var done: NodeID { nodes.last! }
    }

    /// Backward from `gradOutput` (modified in place); one node per layer (and BN).
    func addBackward(_ b: GraphBuilder, tag: String, maxRows: Int, rows: @escaping @Sendable () -> Int, forward f: Forward,
                     gradOutput: TensorID, gradReady: [NodeID], needInputGrad: Bool) -> Backward {
        var grads: [TensorID] = [], nodes: [NodeID] = []
        var g = gradOutput, deps = gradReady
        var layerGrads: [[TensorID]] = Array(repeating: [], count: layers.count)
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[i]
            let gW = b.floats("\(name).\(i).dW\(tag)", count: layer.weights.count)
            let gB = b.floats("\(name).\(i).db\(tag)", count: layer.outputs)
            let needX = i > 0 || needInputGrad || bn != nil
            let gx = needX ? b.floats("\(name).\(i).dx\(tag)", count: maxRows * layer.inputs) : nil
            let gyl = bf16 ? b.bf16("\(name).\(i).dy.bf16\(tag)", count: maxRows * layer.outputs) : nil
            let x = f.activations[i], y = f.activations[i + 1], gy = g, xl = f.lowInputs[i]
            let node = b.node("\(name).\(i).bwd\(tag)", kind: .backward, after: deps,
                              allocates: [gW, gB] + (gx.map { [$0] } ?? []) + (gyl.map { [$0] } ?? []),
                              uses: [x, y, gy] + (xl.map { [$0] } ?? [])) { ctx in
                layer.backward(rows: rows(), x: ctx.memory.floats(x), xLow: xl.map { UnsafePointer(ctx.memory.bf16($0)) }, y: ctx.memory.floats(y),
                               gy: ctx.memory.floats(gy), gyLow: gyl.map { ctx.memory.bf16($0) }, gW: ctx.memory.floats(gW),
                               gB: ctx.memory.floats(gB), gx: gx.map { ctx.memory.floats($0) })
            }
            layerGrads[i] = [gW, gB]
            nodes.append(node); deps = [node]
            if let gx { g = gx }
        }
        var inputGrad: TensorID? = needInputGrad ? g : nil
        if let bn {
            let gg = b.floats("\(name).bn.dgamma\(tag)", count: bn.width), gb = b.floats("\(name).bn.dbeta\(tag)", count: bn.width)
            let gx = needInputGrad ? b.floats("\(name).bn.dx\(tag)", count: maxRows * bn.width) : nil
            let x = f.input, gy = g
            let node = b.node("\(name).bn.bwd\(tag)", kind: .backward, after: deps, allocates: [gg, gb] + (gx.map { [$0] } ?? []),
                              uses: [x, gy]) { ctx in
                SeqKernels.affineBNBackward(ctx.memory.floats(x), rows: rows(), width: bn.width, gamma: bn.gamma.values, epsilon: bn.epsilon,
                                            gradOut: ctx.memory.floats(gy), gradX: gx.map { ctx.memory.floats($0) },
                                            gradGamma: ctx.memory.floats(gg), gradBeta: ctx.memory.floats(gb))
            }
            grads += [gg, gb]
            nodes.append(node)
            inputGrad = gx
        }
        grads += layerGrads.flatMap { $0 }
        return Backward(grads: grads, nodes: nodes, inputGrad: inputGrad)
    }

    func addUpdates(_ b: GraphBuilder, backward: [Backward]) -> [NodeID] {
        parameters.enumerated().map { k, p in
            optimizer.addUpdate(b, p, grads: backward.map { $0.grads[k] }, after: backward.flatMap(\.nodes))
        }
    }
}

/// DIN's attention unit (`_attention` in the scripts): query = PReLU(dense(item, 36)); per history
/// step the MLP 80-40-1 (sigmoid, sigmoid, linear) on `[q, f, q − f, q·f]`; softmax over the row's
/// real steps. DIN sums the facts with these weights; DIEN uses the weights as the AUGRU's α.
///
/// The MLP runs on the real (step, row) positions only (`SeqPairs`), packed, not on the
/// `longest × rows` padded grid the scripts compute: a padded position's score is masked out of the
/// softmax, so its weight, and every gradient through it, is exactly 0. On histories averaging 8 of
/// up to 50 steps that skips most of the MLP's rows.
final class SeqAttention: @unchecked Sendable {
    let name: String
    let width: Int
    let maxSteps: Int
    let query: SeqDense
    let preluAlpha: ParameterTensor
    let mlp: SeqMLP
    let optimizer: ClippedAdam

    /// `bf16`: the query layer's and the MLP's products in bf16 (PReLU, softmax stay fp32).
    init(name: String, width: Int, maxSteps: Int, bf16: Bool = false, optimizer: ClippedAdam, seed: UInt64) {
        self.name = name
        self.width = width
        self.maxSteps = maxSteps
        self.optimizer = optimizer
        query = SeqDense(name: "\(name).query", inputs: width, outputs: width, activation: .none, seed: seed, bf16: bf16)
        preluAlpha = ParameterTensor(name: "\(name).prelu", rows: 1, columns: width)
        preluAlpha.values.update(repeating: 0.1, count: width)
        mlp = SeqMLP(name: "\(name).mlp", inputs: 4 * width, layers: [(80, .sigmoid), (40, .sigmoid), (1, .none)], batchNorm: false,
                     bf16: bf16, optimizer: optimizer, seed: seed &+ 101)
        optimizer.register(query.weights, low: query.low)
        for p in [query.bias, preluAlpha] { optimizer.register(p) }
    }

    var parameters: [ParameterTensor] { [query.weights, query.bias, preluAlpha] + mlp.parameters }

    /// The bf16 weight copies (empty for fp32).
    var lowCopies: [SeqBF16Copy] { (query.low.map { [$0] } ?? []) + mlp.lowCopies }

    struct Forward {
        let queryPre: TensorID
        /// bf16 only: the item (the query layer's input) in bf16.
        let itemLow: TensorID?
        let query: TensorID
        let input: TensorID
        let mlp: SeqMLP.Forward
        /// The real positions the MLP ran on (its rows, in this order).
        let pairs: SeqPairs
        /// Softmax weights, time-major `[maxSteps × rows]`.
        let weights: TensorID
        let done: NodeID
    }

    /// `item` is `[rows × width]`; `facts` time-major `[maxSteps × rows × width]` starting `factsOffset` floats in.
    func addForward(_ b: GraphBuilder, tag: String, rows: Int, lengths: SeqLengths, item: TensorID, facts: TensorID, factsOffset: Int,
                    after: [NodeID]) -> Forward {
        let w = width, T = maxSteps
        let qp = b.floats("\(name).query.pre\(tag)", count: rows * w), q = b.floats("\(name).query.out\(tag)", count: rows * w)
        let a0 = b.floats("\(name).input\(tag)", count: T * rows * 4 * w)
        let itemLow = self.query.low != nil ? b.bf16("\(name).query.in.bf16\(tag)", count: rows * w) : nil
        let query = self.query, alpha = preluAlpha
        let qn = b.node("\(name).query\(tag)", kind: .forward, after: after, allocates: [qp, q] + (itemLow.map { [$0] } ?? []),
                        uses: [item]) { ctx in
            query.forward(rows: rows, x: ctx.memory.floats(item), xLow: itemLow.map { ctx.memory.bf16($0) }, y: ctx.memory.floats(qp))
            SeqKernels.preluForward(ctx.memory.floats(qp), rows: rows, width: w, alpha: alpha.values, out: ctx.memory.floats(q))
        }
        let pairs = SeqPairs(capacity: T * rows)
        let inNode = b.node("\(name).concat\(tag)", kind: .forward, after: [qn], allocates: [a0], uses: [q, facts]) { ctx in
            pairs.load(lengths)
            SeqKernels.attentionInput(query: ctx.memory.floats(q), facts: ctx.memory.floats(facts) + factsOffset, rows: rows, width: w,
                                      pairs: pairs.index, count: pairs.count, out: ctx.memory.floats(a0))
        }
        let m = mlp.addForward(b, tag: tag, maxRows: T * rows, rows: { pairs.count }, input: a0, after: [inNode])
        let p = b.floats("\(name).weights\(tag)", count: T * rows)
        let grid = b.floats("\(name).scores\(tag)", count: T * rows)
        let scores = m.output
        let sm = b.node("\(name).softmax\(tag)", kind: .forward, after: [m.done], allocates: [p, grid], uses: [scores]) { ctx in
            // The packed scores onto the time-major grid; the softmax reads only real positions.
            let packed = ctx.memory.floats(scores), full = ctx.memory.floats(grid)
            for k in 0..<pairs.count { full[Int(pairs.index[k])] = packed[k] }
            SeqKernels.maskedSoftmaxForward(scores: full, lengths: lengths.lengths, rows: rows, steps: T, out: ctx.memory.floats(p))
        }
        return Forward(queryPre: qp, itemLow: itemLow, query: q, input: a0, mlp: m, pairs: pairs, weights: p, done: sm)
    }

    struct Backward {
        let grads: [TensorID]
        let nodes: [NodeID]
        var done: NodeID { nodes.last! }
    }

    /// From `gradWeights` (time-major `[maxSteps × rows]`, complete after `ready`): adds into
    /// `gradFacts` (same layout as the facts, at `gradFactsOffset`) and `gradItem` (`[rows × width]`).
    func addBackward(_ b: GraphBuilder, tag: String, rows: Int, lengths: SeqLengths, forward f: Forward, item: TensorID, facts: TensorID,
                     factsOffset: Int, gradWeights: TensorID, ready: [NodeID], gradFacts: TensorID, gradFactsOffset: Int,
                     gradItem: TensorID) -> Backward {
        let w = width, T = maxSteps, p = f.weights, pairs = f.pairs
        let gs = b.floats("\(name).dscores\(tag)", count: T * rows), gsPacked = b.floats("\(name).dscores.packed\(tag)", count: T * rows)
        let smb = b.node("\(name).softmax.bwd\(tag)", kind: .backward, after: ready, allocates: [gs, gsPacked], uses: [p, gradWeights]) { ctx in
            let s = lengths.longest, full = ctx.memory.floats(gs), packed = ctx.memory.floats(gsPacked)
            SeqKernels.maskedSoftmaxBackward(p: ctx.memory.floats(p), gradP: ctx.memory.floats(gradWeights), rows: rows, steps: s,
                                             gradScores: full)
            for k in 0..<pairs.count { packed[k] = full[Int(pairs.index[k])] }
        }
        let mb = mlp.addBackward(b, tag: tag, maxRows: T * rows, rows: { pairs.count }, forward: f.mlp, gradOutput: gsPacked,
                                 gradReady: [smb], needInputGrad: true)
        let gq = b.floats("\(name).dquery\(tag)", count: rows * w)
        let gA0 = mb.inputGrad!, q = f.query
        let inB = b.node("\(name).concat.bwd\(tag)", kind: .backward, after: [mb.done], allocates: [gq], uses: [gA0, q, facts, gradFacts]) { ctx in
            let g = ctx.memory.floats(gq)
            g.update(repeating: 0, count: rows * w)
            SeqKernels.attentionInputBackward(query: ctx.memory.floats(q), facts: ctx.memory.floats(facts) + factsOffset, rows: rows,
                                              width: w, pairs: pairs.index, count: pairs.count, gradIn: ctx.memory.floats(gA0),
                                              gradQuery: g, gradFacts: ctx.memory.floats(gradFacts) + gradFactsOffset)
        }
        let gWq = b.floats("\(name).query.dW\(tag)", count: w * w), gbq = b.floats("\(name).query.db\(tag)", count: w)
        let gAlpha = b.floats("\(name).prelu.dalpha\(tag)", count: w)
        let gqx = b.floats("\(name).query.dx\(tag)", count: rows * w)
        let gql = f.itemLow != nil ? b.bf16("\(name).query.dy.bf16\(tag)", count: rows * w) : nil
        let qp = f.queryPre, query = self.query, alpha = preluAlpha, itemLow = f.itemLow
        let qb = b.node("\(name).query.bwd\(tag)", kind: .backward, after: [inB], allocates: [gWq, gbq, gAlpha, gqx] + (gql.map { [$0] } ?? []),
                        uses: [qp, gq, item, gradItem] + (itemLow.map { [$0] } ?? [])) { ctx in
            let g = ctx.memory.floats(gq)
            SeqKernels.preluBackward(ctx.memory.floats(qp), rows: rows, width: w, alpha: alpha.values, gradOut: g, gradX: g,
                                     gradAlpha: ctx.memory.floats(gAlpha))
            query.backward(rows: rows, x: ctx.memory.floats(item), xLow: itemLow.map { UnsafePointer(ctx.memory.bf16($0)) },
                           y: ctx.memory.floats(qp), gy: g, gyLow: gql.map { ctx.memory.bf16($0) }, gW: ctx.memory.floats(gWq),
                           gB: ctx.memory.floats(gbq), gx: ctx.memory.floats(gqx))
            VectorKernels.accumulate(ctx.memory.floats(gqx), into: ctx.memory.floats(gradItem), count: rows * w)
        }
        return Backward(grads: [gWq, gbq, gAlpha] + mb.grads, nodes: [smb] + mb.nodes + [inB, qb])
    }

    func addUpdates(_ b: GraphBuilder, backward: [Backward]) -> [NodeID] {
        parameters.enumerated().map { k, p in
            optimizer.addUpdate(b, p, grads: backward.map { $0.grads[k] }, after: backward.flatMap(\.nodes))
        }
    }
}
