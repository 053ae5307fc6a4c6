/// A stack of `dense(ReLU) → BatchNorm` blocks, as the contest's DeepFM and DLRM scripts build them
/// (`tf.layers.dense(activation=relu)` then `tf.layers.batch_normalization(training=True)`).
///
/// Dense layers are oneDNN (`MLPStack` of one layer each, ReLU fused); BatchNorm uses the batch
/// statistics of the valid rows of each micro-batch, in training AND in evaluation: the scripts
/// build their graph once with `training=self.is_training` while `is_training` is True, so their
/// evaluation also normalizes with each evaluation batch's statistics (the moving averages are
/// never read). γ starts at 1, β at 0, ε = 0.001 (TF's defaults); both are trained by `optimizer`.
final class BatchNormMLP: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; parameter updates are ordered by the graph.
    let name: String
    let blocks: [MLPStack]
    let gammas: [ParameterTensor]
    let betas: [ParameterTensor]
    let optimizer: any DenseOptimizer
    let inputs: Int
    let epsilon: Float = 0.001
    var outputs: Int { blocks.last!.outputs }

    init(name: String, inputs: Int, widths: [Int], precision: Precision, context: DNNLContext, optimizer: any DenseOptimizer,
         seed: UInt64) throws {
        self.name = name
        self.inputs = inputs
        self.optimizer = optimizer
        var blocks: [MLPStack] = [], gammas: [ParameterTensor] = [], betas: [ParameterTensor] = []
        var width = inputs
        for (i, w) in widths.enumerated() {
            blocks.append(try MLPStack(name: "\(name).\(i)", inputs: width, widths: [w], reluOnLast: true, precision: precision,
                                       context: context, optimizer: optimizer, seed: seed &+ UInt64(i) &* 7919))
            let g = ParameterTensor(name: "\(name).\(i).bn.gamma", rows: 1, columns: w)
            g.values.update(repeating: 1, count: w)
            let b = ParameterTensor(name: "\(name).\(i).bn.beta", rows: 1, columns: w)
            optimizer.register(g); optimizer.register(b)
            gammas.append(g); betas.append(b)
            width = w
        }
        self.blocks = blocks
        self.gammas = gammas
        self.betas = betas
    }

    var parameters: [ParameterTensor] { blocks.flatMap(\.parameters) + gammas + betas }

    func prepare(batches: Set<Int>) throws { for b in blocks { try b.prepare(batches: batches) } }

    struct Forward {
        let dense: [MLPStack.Forward]
        /// BN outputs (the block outputs), and per block its mean / invStd scratch.
        let normalized: [TensorID]
        let stats: [TensorID]
        let nodes: [NodeID]
        var output: TensorID { normalized.last! }
        var done: NodeID { nodes.last! }
    }

    /// `valid` is read when the node runs (the feed's valid rows within the micro-batch).
    func addForward(_ b: GraphBuilder, tag: String, rows: Int, valid: @escaping @Sendable () -> Int, input: TensorID,
                    after: [NodeID]) -> Forward {
        var dense: [MLPStack.Forward] = [], normalized: [TensorID] = [], stats: [TensorID] = [], nodes: [NodeID] = []
        var x = input, deps = after
        for (i, block) in blocks.enumerated() {
            let f = block.addForward(b, tag: tag, rows: rows, input: x, after: deps)
            let w = block.outputs
            let y = b.floats("\(name).\(i).bn.out\(tag)", count: rows * w)
            let st = b.floats("\(name).\(i).bn.stats\(tag)", count: 2 * w)
            let pre = f.output, gamma = gammas[i], beta = betas[i], eps = epsilon
            let node = b.node("\(name).\(i).bn\(tag)", kind: .forward, after: [f.done], allocates: [y, st], uses: [pre]) { ctx in
                let s = ctx.memory.floats(st)
                BagKernels.batchNormForward(x: ctx.memory.floats(pre), rows: rows, valid: valid(), width: w, gamma: gamma.values,
                                            beta: beta.values, epsilon: eps, out: ctx.memory.floats(y), mean: s, invStd: s + w)
            }
            dense.append(f); normalized.append(y); stats.append(st); nodes.append(node)
            x = y; deps = [node]
        }
        return Forward(dense: dense, normalized: normalized, stats: stats, nodes: nodes)
    }

    struct Backward {
        let dense: [MLPStack.Backward]
        let gammaGrads: [TensorID]
        let betaGrads: [TensorID]
        let bnNodes: [NodeID]
        let inputGrad: TensorID?
        let inputGradReady: NodeID?
    }

    /// Backward from `gradOutput` (rows × outputs, complete after `gradReady`).
    func addBackward(_ b: GraphBuilder, tag: String, rows: Int, valid: @escaping @Sendable () -> Int, forward f: Forward,
                     gradOutput: TensorID, gradReady: [NodeID], needInputGrad: Bool) -> Backward {
        let n = blocks.count
        var dense = [MLPStack.Backward?](repeating: nil, count: n)
        var gGrads = [TensorID](repeating: TensorID(index: -1), count: n), bGrads = gGrads
        var bnNodes = [NodeID](repeating: NodeID(index: -1), count: n)
        var g = gradOutput, ready = gradReady
        var inputGrad: TensorID?, inputGradReady: NodeID?
        for i in stride(from: n - 1, through: 0, by: -1) {
            let block = blocks[i], w = block.outputs
            let gx = b.floats("\(name).\(i).bn.dx\(tag)", count: rows * w)
            let gg = b.floats("\(name).\(i).bn.dgamma\(tag)", count: w)
            let gb = b.floats("\(name).\(i).bn.dbeta\(tag)", count: w)
            let pre = f.dense[i].output, st = f.stats[i], gamma = gammas[i], gy = g
            let bn = b.node("\(name).\(i).bn.bwd\(tag)", kind: .backward, after: ready, allocates: [gx, gg, gb], uses: [pre, st, gy]) { ctx in
                let s = ctx.memory.floats(st)
                BagKernels.batchNormBackward(x: ctx.memory.floats(pre), rows: rows, valid: valid(), width: w, gamma: gamma.values,
                                             mean: s, invStd: s + w, gradOut: ctx.memory.floats(gy), gradX: ctx.memory.floats(gx),
                                             gradGamma: ctx.memory.floats(gg), gradBeta: ctx.memory.floats(gb))
            }
            gGrads[i] = gg; bGrads[i] = gb; bnNodes[i] = bn
            let need = i > 0 || needInputGrad
            let d = block.addBackward(b, tag: tag, rows: rows, forward: f.dense[i], gradOutput: gx, gradReady: [bn], needInputGrad: need)
            dense[i] = d
            if need {
                g = d.inputGrad!
                ready = [d.inputGradReady!]
                if i == 0 { inputGrad = g; inputGradReady = d.inputGradReady }
            }
        }
        return Backward(dense: dense.map { $0! }, gammaGrads: gGrads, betaGrads: bGrads, bnNodes: bnNodes,
                        inputGrad: inputGrad, inputGradReady: inputGradReady)
    }

    /// Per block: the dense update and one BN update node (micro-batch gradients summed into the first).
    func addUpdates(_ b: GraphBuilder, backward: [Backward]) -> [NodeID] {
        var nodes: [NodeID] = []
        for (i, block) in blocks.enumerated() {
            nodes += block.addUpdates(b, backward: backward.map { $0.dense[i] })
            let gg = backward.map { $0.gammaGrads[i] }, gb = backward.map { $0.betaGrads[i] }
            let gamma = gammas[i], beta = betas[i], w = block.outputs, optimizer = self.optimizer
            nodes.append(b.node("\(name).\(i).bn.update", kind: .update, after: backward.map { $0.bnNodes[i] }, uses: gg + gb) { ctx in
                let g0 = ctx.memory.floats(gg[0]), b0 = ctx.memory.floats(gb[0])
                for m in gg.indices.dropFirst() {
                    VectorKernels.accumulate(ctx.memory.floats(gg[m]), into: g0, count: w)
                    VectorKernels.accumulate(ctx.memory.floats(gb[m]), into: b0, count: w)
                }
                optimizer.update(gamma, gradient: g0, step: ctx.step + 1)
                optimizer.update(beta, gradient: b0, step: ctx.step + 1)
            })
        }
        return nodes
    }
}
