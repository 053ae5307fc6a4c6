/// A stack of oneDNN dense layers with one optimizer, and the graph nodes that run it.
///
/// Per micro-batch it adds a forward node per layer and, when training, per layer a
/// backward-weights node and a backward-data node (which also applies the previous layer's ReLU
/// mask), so weight gradients and the data gradient of a layer run in parallel branches.
/// Once per step it adds one update node per layer that sums the micro-batch gradients and
/// applies the optimizer (and refreshes bf16 weight copies).
///
/// With several micro-batches a step can share the hidden layers' tensors (`shareStep`): each
/// layer's activation and input gradient is then one whole-batch step tensor in which every
/// micro-batch owns its rows, and a layer whose product input and output gradient both lie in
/// such tensors computes its weight gradient once over the whole batch (one product at the full
/// batch instead of one per micro-batch, and no micro-batch gradients to sum in the update).
/// The two micro-batches' chains then join at each such product, which can leave a worker idle:
/// models opt in where it measured faster (the contest WDL, DLRM and MMoE; not the Criteo WDL,
/// DLRM and DeepFM, whose pool schedules lost more to the joins than the products gained).
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

    /// Sets every weight and bias to zero (TF's zero initializer). Through `setPlainWeights`, so a
    /// layer's weight copy (bf16, or the fp32 forward copy) follows.
    func zeroParameters() {
        for layer in layers {
            layer.setPlainWeights([Float](repeating: 0, count: layer.inputs * layer.outputs))
            layer.bias.values.update(repeating: 0, count: layer.bias.count)
        }
    }

    /// Floats of a step tensor that holds `values` activations or gradients: bf16 bits take half.
    private static func storage(_ values: Int, lowPrecision: Bool) -> Int { lowPrecision ? (values + 1) / 2 : values }

    func prepare(batches: Set<Int>) throws {
        for layer in layers { for b in batches { try layer.prepare(batch: b) } }
    }

    /// Step tensors the micro-batches of one training step share (see the type's comment).
    struct SharedStep {
        /// The micro-batches' rows and their first row within the shared tensors.
        let rows: [Int]
        let rowOffsets: [Int]
        var totalRows: Int { rows.reduce(0, +) }
        /// The node that allocates the shared tensors: every forward of the stack runs after it.
        let node: NodeID
        /// Per layer: the whole-batch output tensor (layers whose output feeds the next layer).
        let activations: [TensorID?]
        /// Per layer: the whole-batch input-gradient tensor (every layer but the first).
        let gradInputs: [TensorID?]
        /// Per layer: whether its weight gradient is one whole-batch product (`addUpdates` adds it).
        let merged: [Bool]
    }

    /// Shares the step tensors of the hidden layers between `rows.count` micro-batches (in row
    /// order), so the weight gradient of every layer but the last is one product over the whole
    /// batch: the layers after the first read their input from the previous layer's shared output;
    /// the first only when it converts its fp32 input to bf16 itself (each micro-batch's input is
    /// converted into its rows of the product's input), since the stack's input is the caller's
    /// per-micro-batch tensor. Returns nil (nothing shared) with one micro-batch, when no layer's
    /// weight gradient could be whole-batch (one layer; two with an fp32 first layer), or with bf16
    /// rows that would start inside a float. Prepares the whole-batch primitives.
    func shareStep(_ b: GraphBuilder, rows: [Int]) throws -> SharedStep? {
        let n = layers.count
        guard rows.count > 1, n > 1 else { return nil }
        var offsets: [Int] = []
        var start = 0
        for r in rows { offsets.append(start); start += r }
        // bf16 activations and gradients are two per float: a micro-batch's rows must start on a float.
        for i in 0..<(n - 1) where layers[i].lowPrecisionOutput {
            if offsets.contains(where: { $0 * layers[i].outputs % 2 != 0 }) { return nil }
        }
        let merged = (0..<n).map { i in i < n - 1 && (i > 0 || layers[0].convertsInput) }
        guard merged.contains(true) else { return nil }
        for i in 0..<n where merged[i] { try layers[i].prepare(batch: start) }
        let activations: [TensorID?] = layers.indices.map { i in
            guard i < n - 1 else { return nil }
            return b.floats("\(name).\(i).out", count: Self.storage(start * layers[i].outputs, lowPrecision: layers[i].lowPrecisionOutput))
        }
        let gradInputs: [TensorID?] = layers.indices.map { i in
            guard i > 0 else { return nil }
            return b.floats("\(name).\(i).dx", count: Self.storage(start * layers[i].inputs, lowPrecision: layers[i].lowPrecisionInput))
        }
        let node = b.node("\(name).step_tensors", kind: .forward, allocates: activations.compactMap { $0 } + gradInputs.compactMap { $0 }) { _ in }
        return SharedStep(rows: rows, rowOffsets: offsets, node: node, activations: activations, gradInputs: gradInputs, merged: merged)
    }

    /// Rows of one micro-batch within a step tensor: the tensor and the offset, in floats, of the first row.
    struct Rows {
        let tensor: TensorID
        let offset: Int
        init(_ tensor: TensorID, offset: Int = 0) { self.tensor = tensor; self.offset = offset }
        @inline(__always) func pointer(_ memory: StepMemory) -> UnsafeMutablePointer<Float> { memory.floats(tensor) + offset }
    }

    /// Micro-batch `micro`'s rows of `width` values: its rows of the whole-batch tensor `shared`, or
    /// (`owned`) a step tensor of its own named `name`, which the node writing it allocates.
    private func microBatchRows(_ b: GraphBuilder, _ name: String, shared: TensorID?, share: SharedStep?, micro: Int, rows: Int,
                                width: Int, lowPrecision: Bool) -> (rows: Rows, owned: Bool) {
        if let shared, let share {
            let before = share.rowOffsets[micro] * width
            return (Rows(shared, offset: lowPrecision ? before / 2 : before), false)
        }
        return (Rows(b.floats(name, count: Self.storage(rows * width, lowPrecision: lowPrecision))), true)
    }

    /// Forward tensors and nodes of one micro-batch.
    struct Forward {
        let input: TensorID
        /// Per layer, its output rows (in a shared tensor or the micro-batch's own).
        let outputs: [Rows]
        let nodes: [NodeID]
        /// The stack's output (always the micro-batch's own tensor).
        var output: TensorID { outputs.last!.tensor }
        var done: NodeID { nodes.last! }
    }

    /// Gradient tensors and nodes of one micro-batch.
    struct Backward {
        /// Per layer (not for layers whose weight gradient is a shared whole-batch product).
        let weightGrads: [TensorID?]
        let biasGrads: [TensorID?]
        /// Per layer: the nodes that must finish before the layer's update (backward-weights and backward-data).
        let layerNodes: [[NodeID]]
        /// Per layer: the nodes after which this micro-batch's output gradient of the layer is
        /// complete (read by the whole-batch weight-gradient product of a shared layer).
        let gradientReady: [[NodeID]]
        /// The stack's input of this micro-batch.
        let input: TensorID
        let inputGrad: TensorID?
        /// The node after which `inputGrad` is complete.
        let inputGradReady: NodeID?
    }

    /// Forward of micro-batch `micro` (its index among the step's micro-batches, used with `share`).
    func addForward(_ b: GraphBuilder, tag: String, rows: Int, input: TensorID, after: [NodeID],
                    share: SharedStep? = nil, micro: Int = 0) -> Forward {
        var outs: [Rows] = []
        var nodes: [NodeID] = []
        var x = Rows(input)
        var deps = after + (share.map { [$0.node] } ?? [])
        for (i, layer) in layers.enumerated() {
            let (y, owned) = microBatchRows(b, "\(name).\(i).out\(tag)", shared: share?.activations[i], share: share, micro: micro,
                                            rows: rows, width: layer.outputs, lowPrecision: layer.lowPrecisionOutput)
            let src = x
            let node = b.node("\(name).\(i).fwd\(tag)", kind: .forward, after: deps, allocates: owned ? [y.tensor] : [],
                              uses: [src.tensor] + (owned ? [] : [y.tensor]), flops: layer.productFLOPs(rows: rows)) { ctx in
                layer.forward(batch: rows, input: src.pointer(ctx.memory), output: y.pointer(ctx.memory), worker: ctx.worker)
            }
            outs.append(y); nodes.append(node)
            x = y; deps = [node]
        }
        return Forward(input: input, outputs: outs, nodes: nodes)
    }

    /// Backward of one micro-batch. `gradOutput` (rows × outputs) must be complete after `gradReady`;
    /// it is masked in place by the last layer's ReLU when that layer has one. With `share`, the
    /// layers whose weight gradient is a whole-batch product get no backward-weights node here
    /// (`addUpdates` adds it).
    func addBackward(_ b: GraphBuilder, tag: String, rows: Int, forward f: Forward, gradOutput: TensorID,
                     gradReady: [NodeID], needInputGrad: Bool, share: SharedStep? = nil, micro: Int = 0) -> Backward {
        let n = layers.count
        var weightGrads = [TensorID?](repeating: nil, count: n)
        var biasGrads = weightGrads
        var layerNodes = [[NodeID]](repeating: [], count: n)
        var gradientReady = [[NodeID]](repeating: [], count: n)
        var g = Rows(gradOutput)
        var ready = gradReady
        if layers[n - 1].relu {
            let out = f.outputs[n - 1], grad = g, layer = layers[n - 1]
            let mask = b.node("\(name).\(n - 1).mask\(tag)", kind: .backward, after: ready, uses: [out.tensor, grad.tensor]) { ctx in
                layer.applyReLUMask(batch: rows, output: out.pointer(ctx.memory), gradOutput: grad.pointer(ctx.memory))
            }
            ready = [mask]
        }
        var inputGrad: TensorID?
        var inputGradReady: NodeID?
        for i in stride(from: n - 1, through: 0, by: -1) {
            let layer = layers[i]
            let src = i == 0 ? Rows(f.input) : f.outputs[i - 1]
            let gy = g
            gradientReady[i] = ready
            let wNode: NodeID?
            if share?.merged[i] == true {
                wNode = nil
            } else {
                let gW = b.floats("\(name).\(i).dW\(tag)", count: layer.weightGradientCount)
                let gB = b.floats("\(name).\(i).db\(tag)", count: layer.outputs)
                wNode = b.node("\(name).\(i).bwdW\(tag)", kind: .backward, after: ready, allocates: [gW, gB], uses: [src.tensor, gy.tensor],
                               flops: layer.productFLOPs(rows: rows)) { ctx in
                    layer.backwardWeights(batch: rows, input: src.pointer(ctx.memory), gradOutput: gy.pointer(ctx.memory),
                                          gradWeights: ctx.memory.floats(gW), gradBias: ctx.memory.floats(gB), worker: ctx.worker)
                }
                weightGrads[i] = gW; biasGrads[i] = gB
                layerNodes[i].append(wNode!)
            }
            if i > 0 || needInputGrad {
                let (gx, owned) = microBatchRows(b, "\(name).\(i).dx\(tag)", shared: share?.gradInputs[i], share: share, micro: micro,
                                                 rows: rows, width: layer.inputs, lowPrecision: layer.lowPrecisionInput)
                let prev: DenseLayer? = i > 0 ? layers[i - 1] : nil
                var dNode = b.node("\(name).\(i).bwdD\(tag)", kind: .backward, after: ready, allocates: owned ? [gx.tensor] : [],
                                   uses: [gy.tensor] + (owned ? [] : [gx.tensor]), flops: layer.productFLOPs(rows: rows)) { ctx in
                    layer.backwardData(batch: rows, gradOutput: gy.pointer(ctx.memory), gradInput: gx.pointer(ctx.memory), worker: ctx.worker)
                }
                layerNodes[i].append(dNode)
                if let prev, prev.relu {
                    dNode = b.node("\(name).\(i - 1).mask\(tag)", kind: .backward, after: [dNode], uses: [gx.tensor, src.tensor]) { ctx in
                        prev.applyReLUMask(batch: rows, output: src.pointer(ctx.memory), gradOutput: gx.pointer(ctx.memory))
                    }
                }
                g = gx
                ready = [dNode]
                if i == 0 { inputGrad = gx.tensor; inputGradReady = dNode }
            } else if let wNode {
                // The first layer's data gradient is not needed; keep the weights' update after this layer's backward.
                ready = [wNode]
            }
        }
        return Backward(weightGrads: weightGrads, biasGrads: biasGrads, layerNodes: layerNodes, gradientReady: gradientReady,
                        input: f.input, inputGrad: inputGrad, inputGradReady: inputGradReady)
    }

    /// With `share`: a shared layer's weight gradient over the whole batch, after every micro-batch's
    /// output gradient of the layer. The first layer converts each micro-batch's input into its rows.
    private func addWholeBatchWeightGradient(_ b: GraphBuilder, layer i: Int, share: SharedStep,
                                             backward: [Backward]) -> (node: NodeID, gW: TensorID, gB: TensorID) {
        let layer = layers[i]
        let total = share.totalRows
        let gW = b.floats("\(name).\(i).dW", count: layer.weightGradientCount)
        let gB = b.floats("\(name).\(i).db", count: layer.outputs)
        let gy = share.gradInputs[i + 1]!
        let deps = backward.flatMap { $0.gradientReady[i] }
        if i == 0 {
            let inputs = backward.map(\.input), rows = share.rows
            let node = b.node("\(name).0.bwdW", kind: .backward, after: deps, allocates: [gW, gB], uses: inputs + [gy],
                              flops: layer.productFLOPs(rows: total)) { ctx in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: inputs.count) { parts in
                    for (k, t) in inputs.enumerated() { parts.initializeElement(at: k, to: UnsafePointer(ctx.memory.floats(t))) }
                    layer.backwardWeights(batch: total, inputParts: UnsafeBufferPointer(parts), partRows: rows,
                                          gradOutput: ctx.memory.floats(gy), gradWeights: ctx.memory.floats(gW),
                                          gradBias: ctx.memory.floats(gB), worker: ctx.worker)
                }
            }
            return (node, gW, gB)
        }
        let src = share.activations[i - 1]!
        let node = b.node("\(name).\(i).bwdW", kind: .backward, after: deps, allocates: [gW, gB], uses: [src, gy],
                          flops: layer.productFLOPs(rows: total)) { ctx in
            layer.backwardWeights(batch: total, input: ctx.memory.floats(src), gradOutput: ctx.memory.floats(gy),
                                  gradWeights: ctx.memory.floats(gW), gradBias: ctx.memory.floats(gB), worker: ctx.worker)
        }
        return (node, gW, gB)
    }

    /// One update node per layer: sums micro-batch gradients into the first, applies the optimizer.
    /// With `share` (the one the backward passes used), a shared layer first gets its whole-batch
    /// weight-gradient node, and its update applies that one gradient.
    func addUpdates(_ b: GraphBuilder, backward: [Backward], share: SharedStep? = nil) -> [NodeID] {
        var nodes: [NodeID] = []
        for (i, layer) in layers.enumerated() {
            var deps = backward.flatMap { $0.layerNodes[i] }
            let gWs: [TensorID], gBs: [TensorID]
            if let share, share.merged[i] {
                let whole = addWholeBatchWeightGradient(b, layer: i, share: share, backward: backward)
                gWs = [whole.gW]; gBs = [whole.gB]; deps.append(whole.node)
            } else {
                gWs = backward.compactMap { $0.weightGrads[i] }
                gBs = backward.compactMap { $0.biasGrads[i] }
            }
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
