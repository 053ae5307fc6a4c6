/// The contest's DLRM on Ele.me (`reference/tianchi/DLRM/train.py`), what it really computes:
///
/// - bottom MLP over the 12 numerics: 512-256-64-16, each layer ReLU then BatchNorm;
/// - 24 embedding columns (dim 16, mean); interaction `cat` (the script's default): concat
///   [bottom 16, embeddings 384] = 400;
/// - top: the script's loop applies every top layer to the interaction output and keeps only the
///   last, so the graph TF runs is dense 400 → 256 ReLU → dense 1 (the 512 layer feeds nothing
///   and TF prunes it); `--hidden-layers` overrides the top widths;
/// - binary cross-entropy on the sigmoid; Adam (lr 0.01) on everything.
public final class ContestDLRM: ContestModel {
    public let kind = ModelKind.dlrm
    public let head: ContestHead
    let feed: ContestFeed
    let embeddings: EmbeddingColumns
    let bottom: BatchNormMLP
    let top: MLPStack
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: ContestFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = ContestHead(feed: feed, loss: .sigmoidCrossEntropy)
        let lr = config.learningRate ?? 0.01
        let buckets = ContestSchema.elemeBuckets(hashBuckets: config.hashBuckets)
        let groups = ContestSchema.elemeSharedGroups + (18..<24).map { [$0] }
        let scale = Float(3).squareRoot() * 0.88 / Float(dim).squareRoot()
        let optimizer = Adam(learningRate: lr)
        embeddings = EmbeddingColumns(name: "dlrm.emb", feed: feed, groups: groups, buckets: buckets, dim: dim, combiner: .mean,
                                      kind: .adam, learningRate: lr, initScale: scale, fused: config.embFusion, seed: config.seed)
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        bottom = try BatchNormMLP(name: "dlrm.bottom", inputs: feed.numericCount, widths: config.bottomLayers ?? [512, 256, 64, 16],
                                  precision: precision, context: context, optimizer: optimizer, seed: config.seed &+ 3)
        top = try MLPStack(name: "dlrm.top", inputs: bottom.outputs + embeddings.fields * dim, widths: (config.hiddenLayers ?? [256]) + [1],
                           reluOnLast: false, precision: precision, lastLayerPrecision: .fp32, context: context, optimizer: optimizer,
                           seed: config.seed &+ 4)
    }

    public var parameters: [ParameterTensor] { embeddings.parameters + bottom.parameters + top.parameters }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        try bottom.prepare(batches: sizes)
        try top.prepare(batches: sizes)
        let b = GraphBuilder()
        let width = top.inputs, numerics = feed.numericCount, d = bottom.outputs, feed = self.feed
        var bottomB: [BatchNormMLP.Backward] = [], topB: [MLPStack.Backward] = []
        var slices: [EmbeddingColumns.GradientSlice] = []
        let topShare = training ? try top.shareStep(b, rows: micros.map(\.rows)) : nil
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let rows = micro.rows, start = micro.start
            let valid: @Sendable () -> Int = { feed.validRows(start: start, count: rows) }
            let cat = b.floats("dlrm.interaction\(tag)", count: rows * width)
            let num = b.floats("dlrm.numeric\(tag)", count: rows * numerics)
            let input = ContestNodes.addInput(b, tag: tag, micro: micro, feed: feed, allocates: [cat, num], numericOut: num,
                                              stride: numerics, offset: 0)
            let lookups = embeddings.addLookup(b, tag: tag, rowStart: start, rows: rows, out: cat, outStride: width, outOffset: d, after: [input])
            let bot = bottom.addForward(b, tag: tag, rows: rows, valid: valid, input: num, after: [input])
            let join = b.node("dlrm.cat\(tag)", kind: .forward, after: lookups + [bot.done], uses: [bot.output, cat]) { ctx in
                VectorKernels.copyColumns(src: ctx.memory.floats(bot.output), srcStride: d, srcOffset: 0, width: d, batch: rows,
                                          dst: ctx.memory.floats(cat), dstStride: width, dstOffset: 0)
            }
            let z = top.addForward(b, tag: tag, rows: rows, input: cat, after: [join], share: topShare, micro: m)
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro, logits: [[z.output]], after: [z.done], training: training)
            guard training else { continue }
            let tb = top.addBackward(b, tag: tag, rows: rows, forward: z, gradOutput: loss.grads[0], gradReady: [loss.node], needInputGrad: true,
                                     share: topShare, micro: m)
            topB.append(tb)
            let gCat = tb.inputGrad!
            slices.append(.init(rowStart: start, rows: rows, grad: gCat, gradStride: width, gradOffset: d, ready: tb.inputGradReady!))
            let (gBot, split) = ContestNodes.addSlice(b, name: "dlrm.bottom.dout\(tag)", rows: rows, src: gCat, srcStride: width, srcOffset: 0,
                                                      width: d, after: [tb.inputGradReady!])
            bottomB.append(bottom.addBackward(b, tag: tag, rows: rows, valid: valid, forward: bot, gradOutput: gBot, gradReady: [split],
                                              needInputGrad: false))
        }
        if training {
            _ = bottom.addUpdates(b, backward: bottomB)
            _ = top.addUpdates(b, backward: topB, share: topShare)
            _ = embeddings.addUpdates(b, slices: slices)
        }
        return try b.build()
    }
}
