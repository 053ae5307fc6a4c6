/// The contest's MMoE on Taobao (`reference/tianchi/MMoE/train.py`):
///
/// - input (272): 16 hashed columns (the script's per-column buckets, `final_gender_code` unused)
///   and `price` (identity, 50 buckets), dim 16, mean combiner;
/// - 4 experts, each dense 256-192-128-64 with ReLU on every layer;
/// - per task (clk, buy): a gate `softmax(dense(input → 4))`, the mixture Σ_k gate_k·expert_k (64),
///   a tower 256-192-128-64 ReLU → dense 1;
/// - sigmoid cross-entropy averaged over rows and both tasks; Adam (lr 0.1, the script's default).
public final class ContestMMoE: ContestModel {
    public let kind = ModelKind.mmoe
    public let head: ContestHead
    let feed: ContestFeed
    let embeddings: EmbeddingColumns
    let experts: [MLPStack]
    let gates: [MLPStack]
    let towers: [MLPStack]
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: ContestFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = ContestHead(feed: feed, loss: .sigmoidCrossEntropy)
        let lr = config.learningRate ?? 0.1
        let scale = Float(3).squareRoot() * 0.88 / Float(dim).squareRoot()
        let optimizer = Adam(learningRate: lr)
        embeddings = EmbeddingColumns(name: "mmoe.emb", feed: feed, groups: (0..<feed.slotCount).map { [$0] },
                                      buckets: ContestSchema.taobaoBuckets, dim: dim, combiner: .mean, kind: .adam, learningRate: lr,
                                      initScale: scale, fused: config.embFusion, seed: config.seed)
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        let inputs = embeddings.fields * dim
        let hidden = config.hiddenLayers ?? [256, 192, 128, 64]
        experts = try (0..<4).map {
            try MLPStack(name: "mmoe.expert\($0)", inputs: inputs, widths: hidden, reluOnLast: true, precision: precision, context: context,
                         optimizer: optimizer, seed: config.seed &+ 10 &+ UInt64($0))
        }
        let taskNames = feed.schema.labels
        gates = try taskNames.enumerated().map { t, name in
            try MLPStack(name: "mmoe.gate.\(name)", inputs: inputs, widths: [4], reluOnLast: false, precision: .fp32, context: context,
                         optimizer: optimizer, seed: config.seed &+ 20 &+ UInt64(t))
        }
        towers = try taskNames.enumerated().map { t, name in
            try MLPStack(name: "mmoe.tower.\(name)", inputs: hidden.last!, widths: hidden + [1], reluOnLast: false, precision: precision,
                         context: context, optimizer: optimizer, seed: config.seed &+ 30 &+ UInt64(t))
        }
    }

    public var parameters: [ParameterTensor] {
        embeddings.parameters + experts.flatMap(\.parameters) + gates.flatMap(\.parameters) + towers.flatMap(\.parameters)
    }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        for s in experts + gates + towers { try s.prepare(batches: sizes) }
        let b = GraphBuilder()
        let width = embeddings.fields * dim, e = experts[0].outputs, k = experts.count, tasks = towers.count
        var expertB = [[MLPStack.Backward]](repeating: [], count: k)
        var gateB = [[MLPStack.Backward]](repeating: [], count: tasks), towerB = gateB
        var slices: [EmbeddingColumns.GradientSlice] = []
        let rowsPerMicro = micros.map(\.rows)
        let share = { (stack: MLPStack) in training ? try stack.shareStep(b, rows: rowsPerMicro) : nil }
        let expertShare = try experts.map(share), gateShare = try gates.map(share), towerShare = try towers.map(share)
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let rows = micro.rows, start = micro.start
            let x = b.floats("mmoe.input\(tag)", count: rows * width)
            let input = b.node("input\(tag)", kind: .input, allocates: [x]) { _ in }
            let lookups = embeddings.addLookup(b, tag: tag, rowStart: start, rows: rows, out: x, outStride: width, outOffset: 0, after: [input])
            let ex = experts.indices.map { experts[$0].addForward(b, tag: tag, rows: rows, input: x, after: lookups, share: expertShare[$0], micro: m) }
            let expertOut = ex.map(\.output)
            var gateP: [TensorID] = [], gateForward: [MLPStack.Forward] = [], towerF: [MLPStack.Forward] = []
            for t in 0..<tasks {
                let gf = gates[t].addForward(b, tag: tag, rows: rows, input: x, after: lookups, share: gateShare[t], micro: m)
                let p = b.floats("mmoe.gate\(t).p\(tag)", count: rows * k)
                let mix = b.floats("mmoe.mix\(t)\(tag)", count: rows * e)
                let node = b.node("mmoe.mix\(t)\(tag)", kind: .forward, after: [gf.done] + ex.map(\.done), allocates: [p, mix],
                                  uses: [gf.output] + expertOut) { ctx in
                    let pp = ctx.memory.floats(p)
                    BagKernels.softmaxForward(ctx.memory.floats(gf.output), rows: rows, width: k, out: pp)
                    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: k) { ptrs in
                        for j in 0..<k { ptrs[j] = UnsafePointer(ctx.memory.floats(expertOut[j])) }
                        BagKernels.mixtureForward(experts: ptrs.baseAddress!, count: k, gate: pp, rows: rows, width: e, out: ctx.memory.floats(mix))
                    }
                }
                gateP.append(p); gateForward.append(gf)
                towerF.append(towers[t].addForward(b, tag: tag, rows: rows, input: mix, after: [node], share: towerShare[t], micro: m))
            }
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro, logits: towerF.map { [$0.output] }, after: towerF.map(\.done),
                                    training: training)
            guard training else { continue }
            // Expert gradients: both tasks' mixtures add into one buffer per expert.
            let gExperts = (0..<k).map { b.floats("mmoe.expert\($0).dout\(tag)", count: rows * e) }
            let zero = b.node("mmoe.expert.dout.zero\(tag)", kind: .backward, after: [loss.node], allocates: gExperts) { ctx in
                for g in gExperts { ctx.memory.floats(g).update(repeating: 0, count: rows * e) }
            }
            var mixDone: [NodeID] = [zero]
            var inputGrads: [TensorID] = [], inputReady: [NodeID] = []
            for t in 0..<tasks {
                let tb = towers[t].addBackward(b, tag: tag, rows: rows, forward: towerF[t], gradOutput: loss.grads[t], gradReady: [loss.node],
                                               needInputGrad: true, share: towerShare[t], micro: m)
                towerB[t].append(tb)
                let gMix = tb.inputGrad!, p = gateP[t], gf = gateForward[t]
                let gGate = b.floats("mmoe.gate\(t).dz\(tag)", count: rows * k)
                // Serialized after the previous task's mixture backward: both accumulate into gExperts.
                let node = b.node("mmoe.mix\(t).bwd\(tag)", kind: .backward, after: [tb.inputGradReady!, mixDone.last!], allocates: [gGate],
                                  uses: [gMix, p] + expertOut + gExperts) { ctx in
                    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: k) { ptrs in
                        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: k) { gptrs in
                            for j in 0..<k {
                                ptrs[j] = UnsafePointer(ctx.memory.floats(expertOut[j]))
                                gptrs[j] = ctx.memory.floats(gExperts[j])
                            }
                            let gg = ctx.memory.floats(gGate), pp = ctx.memory.floats(p)
                            BagKernels.mixtureBackward(experts: ptrs.baseAddress!, count: k, gate: pp, gradOut: ctx.memory.floats(gMix), rows: rows,
                                                       width: e, gradGate: gg, gradExperts: UnsafePointer(gptrs.baseAddress!))
                            BagKernels.softmaxBackward(p: pp, gradOut: gg, rows: rows, width: k, gradZ: gg)
                        }
                    }
                }
                mixDone.append(node)
                let gb = gates[t].addBackward(b, tag: tag, rows: rows, forward: gf, gradOutput: gGate, gradReady: [node], needInputGrad: true,
                                              share: gateShare[t], micro: m)
                gateB[t].append(gb)
                inputGrads.append(gb.inputGrad!); inputReady.append(gb.inputGradReady!)
            }
            for j in 0..<k {
                let xb = experts[j].addBackward(b, tag: tag, rows: rows, forward: ex[j], gradOutput: gExperts[j], gradReady: [mixDone.last!],
                                                needInputGrad: true, share: expertShare[j], micro: m)
                expertB[j].append(xb)
                inputGrads.append(xb.inputGrad!); inputReady.append(xb.inputGradReady!)
            }
            let gx = b.floats("mmoe.input.grad\(tag)", count: rows * width)
            let parts = inputGrads
            let sum = b.node("mmoe.input.grad\(tag)", kind: .backward, after: inputReady, allocates: [gx], uses: parts) { ctx in
                let out = ctx.memory.floats(gx)
                out.update(from: ctx.memory.floats(parts[0]), count: rows * width)
                for g in parts.dropFirst() { VectorKernels.accumulate(ctx.memory.floats(g), into: out, count: rows * width) }
            }
            slices.append(.init(rowStart: start, rows: rows, grad: gx, gradStride: width, gradOffset: 0, ready: sum))
        }
        if training {
            for j in 0..<k { _ = experts[j].addUpdates(b, backward: expertB[j], share: expertShare[j]) }
            for t in 0..<tasks {
                _ = gates[t].addUpdates(b, backward: gateB[t], share: gateShare[t])
                _ = towers[t].addUpdates(b, backward: towerB[t], share: towerShare[t])
            }
            _ = embeddings.addUpdates(b, slices: slices)
        }
        return try b.build()
    }
}
