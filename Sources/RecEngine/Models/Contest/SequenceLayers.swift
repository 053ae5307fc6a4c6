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

/// Clip-by-norm then Adam for dense parameters.
final class ClippedAdam: @unchecked Sendable {
    let optimizer: Adam
    let clipNorm: Float

    init(learningRate: Float, clipNorm: Float) {
        optimizer = Adam(learningRate: learningRate)
        self.clipNorm = clipNorm
    }

    func register(_ p: ParameterTensor) { optimizer.register(p) }

    /// One update node: sums `grads` (one per micro-batch) into the first, clips, applies Adam.
    func addUpdate(_ b: GraphBuilder, _ p: ParameterTensor, grads: [TensorID], after: [NodeID]) -> NodeID {
        let n = p.count
        return b.node("\(p.name).update", kind: .update, after: after, uses: grads) { [self] ctx in
            let g0 = ctx.memory.floats(grads[0])
            for m in grads.indices.dropFirst() { VectorKernels.accumulate(ctx.memory.floats(grads[m]), into: g0, count: n) }
            SeqKernels.clipByNorm(g0, count: n, maxNorm: clipNorm)
            optimizer.update(p, gradient: g0, step: ctx.step + 1)
        }
    }
}

/// A dense layer `y = act(x·W + b)` with `W` row-major `[inputs × outputs]` (TF's kernel layout),
/// Glorot-uniform (TF's default) from `seed`, bias `biasInit`.
final class SeqDense: @unchecked Sendable {
    let name: String
    let inputs: Int
    let outputs: Int
    let activation: SeqActivation
    let weights: ParameterTensor
    let bias: ParameterTensor

    init(name: String, inputs: Int, outputs: Int, activation: SeqActivation, seed: UInt64, biasInit: Float = 0) {
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
    }

    var parameters: [ParameterTensor] { [weights, bias] }

    func forward(rows: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        SeqKernels.gemm(m: rows, n: outputs, k: inputs, a: x, lda: inputs, b: weights.values, ldb: outputs, beta: 0, c: y, ldc: outputs)
        SeqKernels.biasActivate(y, rows: rows, width: outputs, bias: bias.values, activation: activation)
    }

    /// `gy` is multiplied in place by the activation's derivative; `gW`, `gB` and `gx` are overwritten.
    func backward(rows: Int, x: UnsafePointer<Float>, y: UnsafePointer<Float>, gy: UnsafeMutablePointer<Float>,
                  gW: UnsafeMutablePointer<Float>, gB: UnsafeMutablePointer<Float>, gx: UnsafeMutablePointer<Float>?) {
        SeqKernels.activationBackward(y: y, grad: gy, count: rows * outputs, activation: activation)
        SeqKernels.gemm(transA: true, m: inputs, n: outputs, k: rows, a: x, lda: inputs, b: gy, ldb: outputs, beta: 0, c: gW, ldc: outputs)
        SeqKernels.columnSums(gy, rows: rows, width: outputs, out: gB, accumulate: false)
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

/// An MLP of `SeqDense` layers (optionally behind a `SeqAffineBN`) over a runtime row count.
final class SeqMLP: @unchecked Sendable {
    let name: String
    let bn: SeqAffineBN?
    let layers: [SeqDense]
    let optimizer: ClippedAdam
    var inputs: Int { layers[0].inputs }
    var outputs: Int { layers.last!.outputs }

    init(name: String, inputs: Int, layers spec: [(Int, SeqActivation)], batchNorm: Bool, optimizer: ClippedAdam, seed: UInt64) {
        self.name = name
        self.optimizer = optimizer
        bn = batchNorm ? SeqAffineBN(name: "\(name).bn", width: inputs) : nil
        var width = inputs
        var layers: [SeqDense] = []
        for (i, (w, act)) in spec.enumerated() {
            layers.append(SeqDense(name: "\(name).\(i)", inputs: width, outputs: w, activation: act, seed: seed &+ UInt64(i) &* 7919))
            width = w
        }
        self.layers = layers
        for p in parameters { optimizer.register(p) }
    }

    var parameters: [ParameterTensor] { (bn?.parameters ?? []) + layers.flatMap(\.parameters) }

    struct Forward {
        let input: TensorID
        /// The BN output (or the input), then each layer's output.
        let activations: [TensorID]
        let nodes: [NodeID]
        var output: TensorID { activations.last! }
        var done: NodeID { nodes.last! }
    }

    /// Forward over `rows()` rows (≤ `maxRows`) of `input`.
    func addForward(_ b: GraphBuilder, tag: String, maxRows: Int, rows: @escaping @Sendable () -> Int, input: TensorID,
                    after: [NodeID]) -> Forward {
        var acts: [TensorID] = [], nodes: [NodeID] = []
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
            let src = x
            let node = b.node("\(name).\(i).fwd\(tag)", kind: .forward, after: deps, allocates: [y], uses: [src]) { ctx in
                layer.forward(rows: rows(), x: ctx.memory.floats(src), y: ctx.memory.floats(y))
            }
            acts.append(y); nodes.append(node)
            x = y; deps = [node]
        }
        return Forward(input: input, activations: acts, nodes: nodes)
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
            let x = f.activations[i], y = f.activations[i + 1], gy = g
            let node = b.node("\(name).\(i).bwd\(tag)", kind: .backward, after: deps, allocates: [gW, gB] + (gx.map { [$0] } ?? []),
                              uses: [x, y, gy]) { ctx in
                layer.backward(rows: rows(), x: ctx.memory.floats(x), y: ctx.memory.floats(y), gy: ctx.memory.floats(gy),
                               gW: ctx.memory.floats(gW), gB: ctx.memory.floats(gB), gx: gx.map { ctx.memory.floats($0) })
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
final class SeqAttention: @unchecked Sendable {
    let name: String
    let width: Int
    let maxSteps: Int
    let query: SeqDense
    let preluAlpha: ParameterTensor
    let mlp: SeqMLP
    let optimizer: ClippedAdam

    init(name: String, width: Int, maxSteps: Int, optimizer: ClippedAdam, seed: UInt64) {
        self.name = name
        self.width = width
        self.maxSteps = maxSteps
        self.optimizer = optimizer
        query = SeqDense(name: "\(name).query", inputs: width, outputs: width, activation: .none, seed: seed)
        preluAlpha = ParameterTensor(name: "\(name).prelu", rows: 1, columns: width)
        preluAlpha.values.update(repeating: 0.1, count: width)
        mlp = SeqMLP(name: "\(name).mlp", inputs: 4 * width, layers: [(80, .sigmoid), (40, .sigmoid), (1, .none)], batchNorm: false,
                     optimizer: optimizer, seed: seed &+ 101)
        for p in [query.weights, query.bias, preluAlpha] { optimizer.register(p) }
    }

    var parameters: [ParameterTensor] { [query.weights, query.bias, preluAlpha] + mlp.parameters }

    struct Forward {
        let queryPre: TensorID
        let query: TensorID
        let input: TensorID
        let mlp: SeqMLP.Forward
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
        let query = self.query, alpha = preluAlpha
        let qn = b.node("\(name).query\(tag)", kind: .forward, after: after, allocates: [qp, q], uses: [item]) { ctx in
            query.forward(rows: rows, x: ctx.memory.floats(item), y: ctx.memory.floats(qp))
            SeqKernels.preluForward(ctx.memory.floats(qp), rows: rows, width: w, alpha: alpha.values, out: ctx.memory.floats(q))
        }
        let inNode = b.node("\(name).concat\(tag)", kind: .forward, after: [qn], allocates: [a0], uses: [q, facts]) { ctx in
            SeqKernels.attentionInput(query: ctx.memory.floats(q), facts: ctx.memory.floats(facts) + factsOffset, rows: rows,
                                      steps: lengths.longest, width: w, out: ctx.memory.floats(a0))
        }
        let m = mlp.addForward(b, tag: tag, maxRows: T * rows, rows: { lengths.longest * rows }, input: a0, after: [inNode])
        let p = b.floats("\(name).weights\(tag)", count: T * rows)
        let scores = m.output
        let sm = b.node("\(name).softmax\(tag)", kind: .forward, after: [m.done], allocates: [p], uses: [scores]) { ctx in
            SeqKernels.maskedSoftmaxForward(scores: ctx.memory.floats(scores), lengths: lengths.lengths, rows: rows, steps: T,
                                            out: ctx.memory.floats(p))
        }
        return Forward(queryPre: qp, query: q, input: a0, mlp: m, weights: p, done: sm)
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
        let w = width, T = maxSteps, p = f.weights
        let gs = b.floats("\(name).dscores\(tag)", count: T * rows)
        let smb = b.node("\(name).softmax.bwd\(tag)", kind: .backward, after: ready, allocates: [gs], uses: [p, gradWeights]) { ctx in
            let s = lengths.longest
            SeqKernels.maskedSoftmaxBackward(p: ctx.memory.floats(p), gradP: ctx.memory.floats(gradWeights), rows: rows, steps: s,
                                             gradScores: ctx.memory.floats(gs))
        }
        let mb = mlp.addBackward(b, tag: tag, maxRows: T * rows, rows: { lengths.longest * rows }, forward: f.mlp, gradOutput: gs,
                                 gradReady: [smb], needInputGrad: true)
        let gq = b.floats("\(name).dquery\(tag)", count: rows * w)
        let gA0 = mb.inputGrad!, q = f.query
        let inB = b.node("\(name).concat.bwd\(tag)", kind: .backward, after: [mb.done], allocates: [gq], uses: [gA0, q, facts, gradFacts]) { ctx in
            let g = ctx.memory.floats(gq)
            g.update(repeating: 0, count: rows * w)
            SeqKernels.attentionInputBackward(query: ctx.memory.floats(q), facts: ctx.memory.floats(facts) + factsOffset, rows: rows,
                                              steps: lengths.longest, width: w, gradIn: ctx.memory.floats(gA0), gradQuery: g,
                                              gradFacts: ctx.memory.floats(gradFacts) + gradFactsOffset)
        }
        let gWq = b.floats("\(name).query.dW\(tag)", count: w * w), gbq = b.floats("\(name).query.db\(tag)", count: w)
        let gAlpha = b.floats("\(name).prelu.dalpha\(tag)", count: w)
        let gqx = b.floats("\(name).query.dx\(tag)", count: rows * w)
        let qp = f.queryPre, query = self.query, alpha = preluAlpha
        let qb = b.node("\(name).query.bwd\(tag)", kind: .backward, after: [inB], allocates: [gWq, gbq, gAlpha, gqx],
                        uses: [qp, gq, item, gradItem]) { ctx in
            let g = ctx.memory.floats(gq)
            SeqKernels.preluBackward(ctx.memory.floats(qp), rows: rows, width: w, alpha: alpha.values, gradOut: g, gradX: g,
                                     gradAlpha: ctx.memory.floats(gAlpha))
            query.backward(rows: rows, x: ctx.memory.floats(item), y: ctx.memory.floats(qp), gy: g, gW: ctx.memory.floats(gWq),
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
