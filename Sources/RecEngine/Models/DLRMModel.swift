/// DLRM: bottom MLP 13 → [512, 256, 64, dim] (ReLU); 26 embeddings of `dim`; pairwise dot
/// interaction of the 27 vectors (strict upper triangle) concat the bottom output; top MLP
/// [512, 256] → 1. Plain SGD (lr 0.1) everywhere, embeddings updated sparsely.
public final class DLRMModel: CTRModel {
    public let kind = ModelKind.dlrm
    public let head: LossHead
    let feed: StepFeed
    let embeddings: EmbeddingGroup
    let bottom: MLPStack
    let top: MLPStack
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: StepFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = LossHead(feed: feed)
        let lr = config.learningRate ?? 0.1
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        embeddings = EmbeddingGroup(name: "dlrm.emb", buckets: config.hashBuckets, dim: dim, kind: .sgd, learningRate: lr,
                                    initScale: 0.05, maxIdsPerUpdate: config.batch, feed: feed, seed: config.seed)
        let bottomWidths = config.bottomLayers ?? [512, 256, 64, dim]
        guard bottomWidths.last == dim else {
            throw EngineError.invalidConfiguration("DLRM bottom MLP must end in the embedding dimension \(dim), got \(bottomWidths)")
        }
        bottom = try MLPStack(name: "dlrm.bottom", inputs: CriteoSchema.denseCount, widths: bottomWidths, reluOnLast: true,
                              precision: precision, context: context, optimizer: SGD(learningRate: lr), seed: config.seed &+ 303)
        let interWidth = InteractionKernels.outputWidth(fields: CriteoSchema.categoricalCount, dim: dim)
        top = try MLPStack(name: "dlrm.top", inputs: interWidth, widths: (config.hiddenLayers ?? [512, 256]) + [1], reluOnLast: false,
                           precision: precision, lastLayerPrecision: .fp32, context: context, optimizer: SGD(learningRate: lr), seed: config.seed &+ 404)
    }

    public var parameters: [ParameterTensor] { embeddings.parameters + bottom.parameters + top.parameters }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        try bottom.prepare(batches: sizes)
        try top.prepare(batches: sizes)
        let b = GraphBuilder()
        let fields = CriteoSchema.categoricalCount
        let embWidth = fields * dim
        let interWidth = top.inputs
        let dim = self.dim
        var bottomBackward: [MLPStack.Backward] = []
        var topBackward: [MLPStack.Backward] = []
        var slices: [EmbeddingGroup.GradientSlice] = []
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let rows = micro.rows
            let denseIn = b.floats("dlrm.dense_in\(tag)", count: rows * CriteoSchema.denseCount)
            let emb = b.floats("dlrm.emb_out\(tag)", count: rows * embWidth)
            let input = InputNodes.addInput(b, tag: tag, micro: micro, feed: feed, allocates: [denseIn, emb], denseOut: denseIn,
                                            concat: nil, concatStride: 0, concatOffset: 0)
            let gathers = embeddings.addGather(b, tag: tag, rowStart: micro.start, rows: rows, out: emb, outStride: embWidth,
                                               outOffset: 0, after: [input])
            let bottomF = bottom.addForward(b, tag: tag, rows: rows, input: denseIn, after: [input])
            let inter = b.floats("dlrm.inter\(tag)", count: rows * interWidth)
            let z = bottomF.output
            let interNode = b.node("dlrm.interaction\(tag)", kind: .forward, after: gathers + [bottomF.done],
                                   allocates: [inter], uses: [z, emb]) { ctx in
                InteractionKernels.forward(bottom: ctx.memory.floats(z), emb: ctx.memory.floats(emb), embStride: embWidth, embOffset: 0,
                                           fields: fields, dim: dim, batch: rows, out: ctx.memory.floats(inter), outStride: interWidth)
            }
            let topF = top.addForward(b, tag: tag, rows: rows, input: inter, after: [interNode])
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro, logits: [topF.output], after: [topF.done], training: training)
            guard training, let gradLogit = loss.grad else { continue }
            let topB = top.addBackward(b, tag: tag, rows: rows, forward: topF, gradOutput: gradLogit, gradReady: [loss.node], needInputGrad: true)
            topBackward.append(topB)
            let gInter = topB.inputGrad!
            let gz = b.floats("dlrm.dbottom\(tag)", count: rows * dim)
            let gEmb = b.floats("dlrm.demb\(tag)", count: rows * embWidth)
            let interBwd = b.node("dlrm.interaction.bwd\(tag)", kind: .backward, after: [topB.inputGradReady!],
                                  allocates: [gz, gEmb], uses: [gInter, z, emb]) { ctx in
                InteractionKernels.backward(bottom: ctx.memory.floats(z), emb: ctx.memory.floats(emb), embStride: embWidth, embOffset: 0,
                                            fields: fields, dim: dim, batch: rows, gradOut: ctx.memory.floats(gInter), gradOutStride: interWidth,
                                            gradBottom: ctx.memory.floats(gz), gradEmb: ctx.memory.floats(gEmb),
                                            gradEmbStride: embWidth, gradEmbOffset: 0)
            }
            bottomBackward.append(bottom.addBackward(b, tag: tag, rows: rows, forward: bottomF, gradOutput: gz,
                                                     gradReady: [interBwd], needInputGrad: false))
            slices.append(.init(rowStart: micro.start, rows: rows, grad: gEmb, gradStride: embWidth, gradOffset: 0,
                                columnStride: dim, ready: interBwd))
        }
        if training {
            _ = top.addUpdates(b, backward: topBackward)
            _ = bottom.addUpdates(b, backward: bottomBackward)
            _ = embeddings.addUpdates(b, slices: slices)
        }
        return try b.build()
    }
}
