/// DeepFM: FM first order (dim-1 weights per id + dense linear) + FM second order over the 26
/// embeddings + DNN [400, 400, 400] → 1 over embeddings concat dense; Adam (lr 0.001) everywhere,
/// embeddings updated sparsely.
public final class DeepFMModel: CTRModel {
    public let kind = ModelKind.deepfm
    public let head: LossHead
    let feed: StepFeed
    let embeddings: EmbeddingGroup
    let first: WidePart
    let dnn: MLPStack
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: StepFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = LossHead(feed: feed)
        let lr = config.learningRate ?? 0.001
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        first = try WidePart(name: "deepfm.first", buckets: config.hashBuckets, kind: .adam, learningRate: config.wideLearningRate ?? lr,
                             denseOptimizer: Adam(learningRate: config.wideLearningRate ?? lr), maxIds: config.batch, feed: feed,
                             context: context, seed: config.seed &+ 505)
        // The first-order weights of a column ride on its embedding's sparse update (same ids).
        embeddings = EmbeddingGroup(name: "deepfm.emb", buckets: config.hashBuckets, dim: dim, kind: .adam, learningRate: lr,
                                    initScale: 0.05, maxIdsPerUpdate: config.batch, feed: feed, seed: config.seed,
                                    companion: first.tables)
        let inputs = CriteoSchema.categoricalCount * dim + CriteoSchema.denseCount
        dnn = try MLPStack(name: "deepfm.dnn", inputs: inputs, widths: (config.hiddenLayers ?? [400, 400, 400]) + [1], reluOnLast: false,
                           precision: precision, lastLayerPrecision: .fp32, context: context, optimizer: Adam(learningRate: lr),
                           seed: config.seed &+ 606)
    }

    public var parameters: [ParameterTensor] { embeddings.parameters + first.parameters + dnn.parameters }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        try dnn.prepare(batches: sizes)
        try first.linear.prepare(batches: sizes)
        let b = GraphBuilder()
        let fields = CriteoSchema.categoricalCount
        let width = dnn.inputs
        let dim = self.dim
        var dnnBackward: [MLPStack.Backward] = []
        var firstBackward: [WidePart.Backward] = []
        var slices: [EmbeddingGroup.GradientSlice] = []
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let rows = micro.rows
            let deepIn = b.floats("deepfm.deep_in\(tag)", count: rows * width)
            let denseIn = b.floats("deepfm.dense_in\(tag)", count: rows * CriteoSchema.denseCount)
            let input = InputNodes.addInput(b, tag: tag, micro: micro, feed: feed, allocates: [deepIn, denseIn], denseOut: denseIn,
                                            concat: deepIn, concatStride: width, concatOffset: fields * dim)
            let gathers = embeddings.addGather(b, tag: tag, rowStart: micro.start, rows: rows, out: deepIn, outStride: width,
                                               outOffset: 0, after: [input])
            let firstF = first.addForward(b, tag: tag, micro: micro, denseIn: denseIn, input: input)
            let fm = b.floats("deepfm.fm\(tag)", count: rows)
            let fmNode = b.node("deepfm.fm\(tag)", kind: .forward, after: gathers, allocates: [fm], uses: [deepIn]) { ctx in
                FMKernels.forward(x: ctx.memory.floats(deepIn), stride: width, offset: 0, fields: fields, dim: dim, batch: rows,
                                  out: ctx.memory.floats(fm))
            }
            let dnnF = dnn.addForward(b, tag: tag, rows: rows, input: deepIn, after: gathers)
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro,
                                    logits: [dnnF.output, firstF.linear.output, firstF.idLogit, fm],
                                    after: [dnnF.done, fmNode] + firstF.nodes, training: training)
            guard training, let gradLogit = loss.grad else { continue }
            let dnnB = dnn.addBackward(b, tag: tag, rows: rows, forward: dnnF, gradOutput: gradLogit, gradReady: [loss.node], needInputGrad: true)
            dnnBackward.append(dnnB)
            let gIn = dnnB.inputGrad!
            let fmBwd = b.node("deepfm.fm.bwd\(tag)", kind: .backward, after: [dnnB.inputGradReady!],
                               uses: [deepIn, gradLogit, gIn]) { ctx in
                FMKernels.backward(x: ctx.memory.floats(deepIn), stride: width, offset: 0, fields: fields, dim: dim, batch: rows,
                                   gradOut: ctx.memory.floats(gradLogit), gradX: ctx.memory.floats(gIn), gradStride: width, gradOffset: 0)
            }
            firstBackward.append(first.addBackward(b, tag: tag, micro: micro, forward: firstF, gradLogit: gradLogit, lossNode: loss.node))
            slices.append(.init(rowStart: micro.start, rows: rows, grad: gIn, gradStride: width, gradOffset: 0, columnStride: dim, ready: fmBwd))
        }
        if training {
            _ = dnn.addUpdates(b, backward: dnnBackward)
            _ = first.addUpdates(b, backward: firstBackward, tablesRideOn: embeddings)
            _ = embeddings.addUpdates(b, slices: slices, companionSlices: firstBackward.map(\.slice))
        }
        return try b.build()
    }
}
