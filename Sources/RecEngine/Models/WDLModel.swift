/// Wide & Deep: wide = linear over hashed ids + dense; deep = 26 embeddings concat dense →
/// DNN [1024, 512, 256] ReLU → 1; logit = wide + deep. Adagrad (lr 0.05) on the wide part,
/// Adam (lr 0.001) on the deep part; embedding tables updated sparsely.
public final class WDLModel: CTRModel {
    public let kind = ModelKind.wdl
    public let head: LossHead
    let feed: StepFeed
    let embeddings: EmbeddingGroup
    let wide: WidePart
    let dnn: MLPStack
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: StepFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = LossHead(feed: feed)
        let deepLR = config.learningRate ?? 0.001
        let wideLR = config.wideLearningRate ?? 0.05
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        wide = try WidePart(name: "wdl.wide", buckets: config.hashBuckets, kind: .adagrad, learningRate: wideLR,
                            denseOptimizer: Adagrad(learningRate: wideLR), maxIds: config.batch, feed: feed, context: context,
                            seed: config.seed &+ 101)
        // The wide weights of a column ride on its embedding's sparse update (same ids; each keeps
        // its own rule and learning rate).
        embeddings = EmbeddingGroup(name: "wdl.emb", buckets: config.hashBuckets, dim: dim, kind: .adam, learningRate: deepLR,
                                    initScale: 0.05, maxIdsPerUpdate: config.batch, feed: feed, seed: config.seed,
                                    companion: wide.tables)
        let inputs = CriteoSchema.categoricalCount * dim + CriteoSchema.denseCount
        dnn = try MLPStack(name: "wdl.dnn", inputs: inputs, widths: (config.hiddenLayers ?? [1024, 512, 256]) + [1],
                           reluOnLast: false, precision: precision, lastLayerPrecision: .fp32, context: context,
                           optimizer: Adam(learningRate: deepLR), seed: config.seed &+ 202)
    }

    public var parameters: [ParameterTensor] { embeddings.parameters + wide.parameters + dnn.parameters }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph {
        try build(microBatches, training: true)
    }

    public func evaluationGraph(rows: Int) throws -> StepGraph {
        try build([MicroBatch(start: 0, rows: rows)], training: false)
    }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        try dnn.prepare(batches: sizes)
        try wide.linear.prepare(batches: sizes)
        let b = GraphBuilder()
        let width = dnn.inputs
        var dnnBackward: [MLPStack.Backward] = []
        var wideBackward: [WidePart.Backward] = []
        var embSlices: [EmbeddingGroup.GradientSlice] = []
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let deepIn = b.floats("wdl.deep_in\(tag)", count: micro.rows * width)
            let denseIn = b.floats("wdl.dense_in\(tag)", count: micro.rows * CriteoSchema.denseCount)
            let input = InputNodes.addInput(b, tag: tag, micro: micro, feed: feed, allocates: [deepIn, denseIn], denseOut: denseIn,
                                            concat: deepIn, concatStride: width, concatOffset: CriteoSchema.categoricalCount * dim)
            let gathers = embeddings.addGather(b, tag: tag, rowStart: micro.start, rows: micro.rows, out: deepIn,
                                               outStride: width, outOffset: 0, after: [input])
            let wideF = wide.addForward(b, tag: tag, micro: micro, denseIn: denseIn, input: input)
            let deepF = dnn.addForward(b, tag: tag, rows: micro.rows, input: deepIn, after: gathers)
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro,
                                    logits: [deepF.output, wideF.linear.output, wideF.idLogit],
                                    after: [deepF.done] + wideF.nodes, training: training)
            guard training, let gradLogit = loss.grad else { continue }
            let deepB = dnn.addBackward(b, tag: tag, rows: micro.rows, forward: deepF, gradOutput: gradLogit,
                                        gradReady: [loss.node], needInputGrad: true)
            dnnBackward.append(deepB)
            wideBackward.append(wide.addBackward(b, tag: tag, micro: micro, forward: wideF, gradLogit: gradLogit, lossNode: loss.node))
            embSlices.append(.init(rowStart: micro.start, rows: micro.rows, grad: deepB.inputGrad!, gradStride: width,
                                   gradOffset: 0, columnStride: dim, ready: deepB.inputGradReady!))
        }
        if training {
            _ = dnn.addUpdates(b, backward: dnnBackward)
            _ = wide.addUpdates(b, backward: wideBackward, tablesRideOn: embeddings)
            _ = embeddings.addUpdates(b, slices: embSlices, companionSlices: wideBackward.map(\.slice))
        }
        return try b.build()
    }
}
