/// A stack of oneDNN dense layers with one optimizer, and the graph nodes that run it.
///
/// Per micro-batch it adds a forward node per layer and, when training, per layer a
/// backward-weights node and a backward-data node (which also applies the previous layer's ReLU
/// mask), so weight gradients and the data gradient of a layer run in parallel branches.
/// Once per step it adds one update node per layer that sums the micro-batch gradients and
/// applies the optimizer (and refreshes bf16 weight copies).
///
/// With bf16 the layers are chained: between two layers the activation and its gradient are step
/// tensors of bf16 bits that one layer's product writes and the next one's reads (and the ReLU
/// mask between them works on), so only the stack's own input and output gradient are converted
/// from fp32. The numbers are those of fp32 tensors converted before each product (oneDNN rounds
/// its fp32 results to bf16 the way `BF16Kernels.convert` does, and masking commutes with it).
final class MLPStack: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; layers and optimizer state are ordered by the graph.
    let name: String
    let layers: [DenseLayer]
    let optimizer: any DenseOptimizer
    let inputs: Int
    var outputs: Int { layers.last!.outputs }

    /// - Parameters:
    ///   - widths: output width of each layer; every layer but the last has ReLU, the last has it when `reluOnLast`.
    ///   - lastLayerPrecision: the last layer's precision when it differs from `precision`: a model's
    ///     logit layer (one output) stays fp32 under bf16, as in DeepRec's modelzoo and the contest
    ///     scripts (the hidden layers in bf16, cast back to fp32, then `dense(units=1)` in fp32).
    ///     The bf16 layer before it then writes fp32 activations and reads an fp32 gradient.
    init(name: String, inputs: Int, widths: [Int], reluOnLast: Bool, precision: Precision, lastLayerPrecision: Precision? = nil,
         context: DNNLContext, optimizer: any DenseOptimizer, seed: UInt64) throws {
        precondition(!widths.isEmpty, "\(name): at least one layer")
        self.name = name
        self.inputs = inputs
        self.optimizer = optimizer
        var layers: [DenseLayer] = []
        var width = inputs
        let precisions = widths.indices.map { $0 == widths.count - 1 ? lastLayerPrecision ?? precision : precision }
        for (i, w) in widths.enumerated() {
            let relu = i < widths.count - 1 || reluOnLast
            // Two adjacent bf16 layers hand each other bf16 activations and gradients.
            let chainedIn = precisions[i] == .bf16 && i > 0 && precisions[i - 1] == .bf16
            let chainedOut = precisions[i] == .bf16 && i < widths.count - 1 && precisions[i + 1] == .bf16
            let layer = try DenseLayer(name: "\(name).\(i)", inputs: width, outputs: w, relu: relu,
                                       precision: precisions[i], context: context, seed: seed &+ UInt64(i) &* 7919,
                                       lowPrecisionInput: chainedIn, lowPrecisionOutput: chainedOut)
            layers.append(layer)
            width = w
        }
        self.layers = layers
        for layer in layers {
            optimizer.register(layer.weights)
            optimizer.register(layer.bias)
        }
    }

    var parameters: [ParameterTensor] { layers.flatMap { [$0.weights, $0.bias] } }

    /// Floats of a step tensor that holds `values` activations or gradients: bf16 bits take half.
    private static func storage(_ values: Int, lowPrecision: Bool) -> Int { lowPrecision ? (values + 1) / 2 : values }

    func prepare(batches: Set<Int>) throws {
        for layer in layers { for b in batches { try layer.prepare(batch: b) } }
    }

    /// Forward tensors and nodes of one micro-batch.
    struct Forward {
        let input: TensorID
        let activations: [TensorID]
        let nodes: [NodeID]
        var output: TensorID { activations.last! }
        var done: NodeID { nodes.last! }
    }

    /// Gradient tensors and nodes of one micro-batch.
    struct Backward {
        let weightGrads: [TensorID]
        let biasGrads: [TensorID]
        /// Per layer: the nodes that must finish before the layer's update (backward-weights and backward-data).
        let layerNodes: [[NodeID]]
        let inputGrad: TensorID?
        /// The node after which `inputGrad` is complete.
        let inputGradReady: NodeID?
    }

    func addForward(_ b: GraphBuilder, tag: String, rows: Int, input: TensorID, after: [NodeID]) -> Forward {
        var acts: [TensorID] = []
        var nodes: [NodeID] = []
        var x = input
        var deps = after
        for (i, layer) in layers.enumerated() {
            let y = b.floats("\(name).\(i).out\(tag)",
                             count: Self.storage(rows * layer.outputs, lowPrecision: layer.lowPrecisionOutput))
            let src = x
            let node = b.node("\(name).\(i).fwd\(tag)", kind: .forward, after: deps, allocates: [y], uses: [src],
                              flops: layer.productFLOPs(rows: rows)) { ctx in
                layer.forward(batch: rows, input: ctx.memory.floats(src), output: ctx.memory.floats(y), worker: ctx.worker)
            }
            acts.append(y); nodes.append(node)
            x = y; deps = [node]
        }
        return Forward(input: input, activations: acts, nodes: nodes)
    }

    /// Backward of one micro-batch. `gradOutput` (rows × outputs) must be complete after `gradReady`;
    /// it is masked in place by the last layer's ReLU when that layer has one.
    func addBackward(_ b: GraphBuilder, tag: String, rows: Int, forward f: Forward, gradOutput: TensorID,
                     gradReady: [NodeID], needInputGrad: Bool) -> Backward {
        let n = layers.count
        var weightGrads = [TensorID](repeating: TensorID(index: -1), count: n)
        var biasGrads = weightGrads
        var layerNodes = [[NodeID]](repeating: [], count: n)
        var g = gradOutput
        var ready = gradReady
        if layers[n - 1].relu {
            let out = f.output, grad = gradOutput, layer = layers[n - 1]
            let mask = b.node("\(name).\(n - 1).mask\(tag)", kind: .backward, after: ready, uses: [out, grad]) { ctx in
                layer.applyReLUMask(batch: rows, output: ctx.memory.floats(out), gradOutput: ctx.memory.floats(grad))
            }
            ready = [mask]
        }
        var inputGrad: TensorID?
        var inputGradReady: NodeID?
        for i in stride(from: n - 1, through: 0, by: -1) {
            let layer = layers[i]
            let src = i == 0 ? f.input : f.activations[i - 1]
            let gW = b.floats("\(name).\(i).dW\(tag)", count: layer.weightGradientCount)
            let gB = b.floats("\(name).\(i).db\(tag)", count: layer.outputs)
            let gy = g
            let wNode = b.node("\(name).\(i).bwdW\(tag)", kind: .backward, after: ready, allocates: [gW, gB], uses: [src, gy],
                               flops: layer.productFLOPs(rows: rows)) { ctx in
                layer.backwardWeights(batch: rows, input: ctx.memory.floats(src), gradOutput: ctx.memory.floats(gy),
                                      gradWeights: ctx.memory.floats(gW), gradBias: ctx.memory.floats(gB), worker: ctx.worker)
            }
            weightGrads[i] = gW; biasGrads[i] = gB
            layerNodes[i].append(wNode)
            if i > 0 || needInputGrad {
                let gx = b.floats("\(name).\(i).dx\(tag)",
                                  count: Self.storage(rows * layer.inputs, lowPrecision: layer.lowPrecisionInput))
                let prev: DenseLayer? = i > 0 ? layers[i - 1] : nil
                var dNode = b.node("\(name).\(i).bwdD\(tag)", kind: .backward, after: ready, allocates: [gx], uses: [gy],
                                   flops: layer.productFLOPs(rows: rows)) { ctx in
                    layer.backwardData(batch: rows, gradOutput: ctx.memory.floats(gy), gradInput: ctx.memory.floats(gx), worker: ctx.worker)
                }
                layerNodes[i].append(dNode)
                if let prev, prev.relu {
                    dNode = b.node("\(name).\(i - 1).mask\(tag)", kind: .backward, after: [dNode], uses: [gx, src]) { ctx in
                        prev.applyReLUMask(batch: rows, output: ctx.memory.floats(src), gradOutput: ctx.memory.floats(gx))
                    }
                }
                g = gx
                ready = [dNode]
                if i == 0 { inputGrad = gx; inputGradReady = dNode }
            } else {
                // The first layer's data gradient is not needed; keep the weights' update after this layer's backward.
                ready = [wNode]
            }
        }
        return Backward(weightGrads: weightGrads, biasGrads: biasGrads, layerNodes: layerNodes,
                        inputGrad: inputGrad, inputGradReady: inputGradReady)
    }

    /// One update node per layer: sums micro-batch gradients into the first, applies the optimizer.
    func addUpdates(_ b: GraphBuilder, backward: [Backward]) -> [NodeID] {
        var nodes: [NodeID] = []
        for (i, layer) in layers.enumerated() {
            let gWs = backward.map { $0.weightGrads[i] }
            let gBs = backward.map { $0.biasGrads[i] }
            let deps = backward.flatMap { $0.layerNodes[i] }
            let optimizer = self.optimizer
            // A large layer's update in one piece per worker (it is often the step's last node).
            let pieces = layer.updatePieces(maximum: layer.context.workers)
            for (k, piece) in pieces.enumerated() {
                let label = pieces.count == 1 ? "\(name).\(i).update" : "\(name).\(i).update.\(k)"
                let node = b.node(label, kind: .update, after: deps, uses: gWs + gBs) { ctx in
                    let gW0 = ctx.memory.floats(gWs[0]), gB0 = ctx.memory.floats(gBs[0])
                    let first = piece.elements.lowerBound, count = piece.elements.count
                    // Micro-batch gradients: sum all but the last into the first, and the optimizer adds
                    // the last in its own pass (the same sums in the same order, one pass fewer).
                    let last = gWs.count - 1
                    for m in gWs.indices.dropFirst().dropLast() {
                        VectorKernels.accumulate(ctx.memory.floats(gWs[m]) + first, into: gW0 + first, count: count)
                        if k == 0 { VectorKernels.accumulate(ctx.memory.floats(gBs[m]), into: gB0, count: layer.outputs) }
                    }
                    layer.update(piece, optimizer: optimizer, gradient: gW0, plus: last > 0 ? ctx.memory.floats(gWs[last]) : nil,
                                 step: ctx.step + 1)
                    if k == 0 {
                        optimizer.update(layer.bias, gradient: gB0, plus: last > 0 ? ctx.memory.floats(gBs[last]) : nil, step: ctx.step + 1)
                    }
                }
                nodes.append(node)
            }
        }
        return nodes
    }
}
