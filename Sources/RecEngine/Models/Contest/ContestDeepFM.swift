/// The contest's DeepFM on Ele.me (`reference/tianchi/DeepFM/train.py`), what it really computes:
///
/// - deep input (396): 24 embedding columns (dim 16, mean) + 12 numerics → DNN 512-128-32, each
///   layer ReLU then BatchNorm;
/// - "linear part": `reduce_sum` of the wide input — indicator (multi-hot count) columns of the 17
///   wide slots plus the 12 numerics (150,022 columns at 10,000 buckets); it has NO weights
///   (`IndicatorInput`, `--indicator dense|scatter`);
/// - FM over the 24 embedding fields, reduced over fields only: a 16-vector per row;
/// - concat [dnn 32, linear 1, fm 16] → DNN 128-64, ReLU + BatchNorm → dense 1;
/// - loss `mean((σ(z) − y)²)`; Adam (lr 0.001) on everything. Hash buckets: 10,000 in the script.
public final class ContestDeepFM: ContestModel {
    public let kind = ModelKind.deepfm
    public let head: ContestHead
    let feed: ContestFeed
    let embeddings: EmbeddingColumns
    let indicator: IndicatorInput
    let dnn: BatchNormMLP
    let final: BatchNormMLP
    let logits: MLPStack
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: ContestFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = ContestHead(feed: feed, loss: .sigmoidMSE)
        let lr = config.learningRate ?? 0.001
        let buckets = ContestSchema.elemeBuckets(hashBuckets: config.hashBuckets)
        let groups = ContestSchema.elemeSharedGroups + (18..<24).map { [$0] }
        let scale = Float(3).squareRoot() * 0.88 / Float(dim).squareRoot()
        let optimizer = Adam(learningRate: lr)
        embeddings = EmbeddingColumns(name: "deepfm.emb", feed: feed, groups: groups, buckets: buckets, dim: dim, combiner: .mean,
                                      kind: .adam, learningRate: lr, initScale: scale, fused: config.embFusion, seed: config.seed)
        indicator = IndicatorInput(feed: feed, slots: ContestSchema.elemeWideSlots, buckets: buckets, mode: config.indicator)
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        dnn = try BatchNormMLP(name: "deepfm.dnn", inputs: embeddings.fields * dim + feed.numericCount,
                               widths: config.hiddenLayers ?? [512, 128, 32], precision: precision, context: context,
                               optimizer: optimizer, seed: config.seed &+ 3)
        final = try BatchNormMLP(name: "deepfm.final", inputs: dnn.outputs + 1 + dim, widths: [128, 64], precision: precision,
                                 context: context, optimizer: optimizer, seed: config.seed &+ 4)
        logits = try MLPStack(name: "deepfm.logits", inputs: final.outputs, widths: [1], reluOnLast: false, precision: .fp32,
                              context: context, optimizer: optimizer, seed: config.seed &+ 5)
    }

    public var parameters: [ParameterTensor] { embeddings.parameters + dnn.parameters + final.parameters + logits.parameters }

    /// Bytes of the multi-hot tensor materialized per training step (0 with `--indicator scatter`).
    public func indicatorBytesPerStep(batch: Int) -> Int { indicator.bytesPerRow * batch }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        try dnn.prepare(batches: sizes)
        try final.prepare(batches: sizes)
        try logits.prepare(batches: sizes)
        let b = GraphBuilder()
        let width = dnn.inputs, numerics = feed.numericCount, fields = embeddings.fields, dim = self.dim, feed = self.feed
        let d = dnn.outputs, cat = final.inputs
        var dnnB: [BatchNormMLP.Backward] = [], finalB: [BatchNormMLP.Backward] = [], logitB: [MLPStack.Backward] = []
        var slices: [EmbeddingColumns.GradientSlice] = []
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let rows = micro.rows, start = micro.start
            let valid: @Sendable () -> Int = { feed.validRows(start: start, count: rows) }
            let x = b.floats("deepfm.deep_in\(tag)", count: rows * width)
            let all = b.floats("deepfm.concat\(tag)", count: rows * cat)
            let linear = b.floats("deepfm.linear\(tag)", count: rows)
            let input = ContestNodes.addInput(b, tag: tag, micro: micro, feed: feed, allocates: [x, all, linear], numericOut: x,
                                              stride: width, offset: width - numerics)
            let lookups = embeddings.addLookup(b, tag: tag, rowStart: start, rows: rows, out: x, outStride: width, outOffset: 0, after: [input])
            let dnnF = dnn.addForward(b, tag: tag, rows: rows, valid: valid, input: x, after: lookups)
            let ind = indicator.addForward(b, tag: tag, rowStart: start, rows: rows, out: linear, after: [input])
            let fm = b.node("deepfm.fm\(tag)", kind: .forward, after: lookups, uses: [x, all]) { ctx in
                BagKernels.fmVectorForward(x: ctx.memory.floats(x), stride: width, offset: 0, fields: fields, dim: dim, batch: rows,
                                           out: ctx.memory.floats(all), outStride: cat, outOffset: d + 1)
            }
            let concat = b.node("deepfm.concat\(tag)", kind: .forward, after: [dnnF.done, fm] + ind, uses: [dnnF.output, linear, all]) { ctx in
                let a = ctx.memory.floats(all)
                VectorKernels.copyColumns(src: ctx.memory.floats(dnnF.output), srcStride: d, srcOffset: 0, width: d, batch: rows,
                                          dst: a, dstStride: cat, dstOffset: 0)
                VectorKernels.copyColumns(src: ctx.memory.floats(linear), srcStride: 1, srcOffset: 0, width: 1, batch: rows,
                                          dst: a, dstStride: cat, dstOffset: d)
            }
            let finalF = final.addForward(b, tag: tag, rows: rows, valid: valid, input: all, after: [concat])
            let z = logits.addForward(b, tag: tag, rows: rows, input: finalF.output, after: [finalF.done])
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro, logits: [[z.output]], after: [z.done], training: training)
            guard training else { continue }
            let lb = logits.addBackward(b, tag: tag, rows: rows, forward: z, gradOutput: loss.grads[0], gradReady: [loss.node],
                                        needInputGrad: true)
            logitB.append(lb)
            let fb = final.addBackward(b, tag: tag, rows: rows, valid: valid, forward: finalF, gradOutput: lb.inputGrad!,
                                       gradReady: [lb.inputGradReady!], needInputGrad: true)
            finalB.append(fb)
            let gAll = fb.inputGrad!
            // The linear column (d) has no parameters behind it: its gradient stops here.
            let (gd, split) = ContestNodes.addSlice(b, name: "deepfm.dnn.dout\(tag)", rows: rows, src: gAll, srcStride: cat, srcOffset: 0,
                                                     width: d, after: [fb.inputGradReady!])
            let db = dnn.addBackward(b, tag: tag, rows: rows, valid: valid, forward: dnnF, gradOutput: gd, gradReady: [split],
                                     needInputGrad: true)
            dnnB.append(db)
            let gx = db.inputGrad!
            let fmB = b.node("deepfm.fm.bwd\(tag)", kind: .backward, after: [db.inputGradReady!, fb.inputGradReady!], uses: [x, gAll, gx]) { ctx in
                BagKernels.fmVectorBackward(x: ctx.memory.floats(x), stride: width, offset: 0, fields: fields, dim: dim, batch: rows,
                                            gradOut: ctx.memory.floats(gAll), gradOutStride: cat, gradOutOffset: d + 1,
                                            gradX: ctx.memory.floats(gx), gradStride: width, gradOffset: 0)
            }
            slices.append(.init(rowStart: start, rows: rows, grad: gx, gradStride: width, gradOffset: 0, ready: fmB))
        }
        if training {
            _ = dnn.addUpdates(b, backward: dnnB)
            _ = final.addUpdates(b, backward: finalB)
            _ = logits.addUpdates(b, backward: logitB)
            _ = embeddings.addUpdates(b, slices: slices)
        }
        return try b.build()
    }
}
