/// The contest's WDL on Ele.me (`reference/tianchi/WDL/train.py`):
///
/// - deep input (396): the 24 embedding columns (nine shared groups, four own columns, the two
///   `time_type` vocabulary columns; dim 16, mean combiner) and the 12 numerics as they are;
/// - `tf.nn.l2_normalize(net)` with no axis — over the WHOLE `[batch × 396]` tensor (valid rows);
/// - DNN 1024-512-256-64 ReLU → 1;
/// - linear model (`sparse_combiner='sum'`) over the 29 wide columns: the 17 wide slots (one
///   `buckets × 1` table each, zero-initialized — the linear model does not share tables) and the
///   12 numerics (one weight each, plus the bias);
/// - logit = dnn + linear; sigmoid cross-entropy; Adam (lr 0.01) on everything.
///
/// The scripts' `input_layer` orders columns by name; here fields follow slot order — a fixed
/// permutation of the input that changes nothing but the initial weights' pairing.
public final class ContestWDL: ContestModel {
    public let kind = ModelKind.wdl
    public let head: ContestHead
    let feed: ContestFeed
    let embeddings: EmbeddingColumns
    let linearIds: EmbeddingColumns
    let linearNumeric: MLPStack
    let dnn: MLPStack
    let dim: Int

    public init(config: TrainConfig, context: DNNLContext, feed: ContestFeed) throws {
        self.feed = feed
        dim = config.embeddingDim
        head = ContestHead(feed: feed, loss: .sigmoidCrossEntropy)
        let lr = config.learningRate ?? 0.01
        let buckets = ContestSchema.elemeBuckets(hashBuckets: config.hashBuckets)
        let groups = ContestSchema.elemeSharedGroups + (18..<24).map { [$0] }
        let scale = Float(3).squareRoot() * 0.88 / Float(dim).squareRoot()  // the std of TF's truncated normal(0, 1/√dim)
        embeddings = EmbeddingColumns(name: "wdl.emb", feed: feed, groups: groups, buckets: buckets, dim: dim, combiner: .mean,
                                      kind: .adam, learningRate: lr, initScale: scale, fused: config.embFusion, seed: config.seed)
        linearIds = EmbeddingColumns(name: "wdl.linear", feed: feed, groups: ContestSchema.elemeWideSlots.map { [$0] }, buckets: buckets,
                                     dim: 1, combiner: .sum, kind: .adam, learningRate: config.wideLearningRate ?? lr, initScale: 0,
                                     fused: config.embFusion, seed: config.seed &+ 1)
        linearNumeric = try MLPStack(name: "wdl.linear.numeric", inputs: feed.numericCount, widths: [1], reluOnLast: false,
                                     precision: .fp32, context: context, optimizer: Adam(learningRate: config.wideLearningRate ?? lr),
                                     seed: config.seed &+ 2)
        // The linear model starts at zero (TF's linear_model initializer).
        linearNumeric.zeroParameters()
        let precision: Precision = config.bf16 ? .bf16 : .fp32
        dnn = try MLPStack(name: "wdl.dnn", inputs: embeddings.fields * dim + feed.numericCount,
                           widths: (config.hiddenLayers ?? [1024, 512, 256, 64]) + [1], reluOnLast: false, precision: precision,
                           lastLayerPrecision: .fp32, context: context, optimizer: Adam(learningRate: lr), seed: config.seed &+ 3)
    }

    public var parameters: [ParameterTensor] {
        embeddings.parameters + linearIds.parameters + linearNumeric.parameters + dnn.parameters
    }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let sizes = Set(micros.map(\.rows))
        try dnn.prepare(batches: sizes)
        try linearNumeric.prepare(batches: sizes)
        let b = GraphBuilder()
        let width = dnn.inputs, numerics = feed.numericCount, wideFields = linearIds.fields, feed = self.feed
        var dnnB: [MLPStack.Backward] = [], numB: [MLPStack.Backward] = []
        var embSlices: [EmbeddingColumns.GradientSlice] = [], wideSlices: [EmbeddingColumns.GradientSlice] = []
        let share = training ? try dnn.shareStep(b, rows: micros.map(\.rows)) : nil
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let rows = micro.rows, start = micro.start
            let valid: @Sendable () -> Int = { feed.validRows(start: start, count: rows) }
            let x = b.floats("wdl.deep_in\(tag)", count: rows * width)
            let num = b.floats("wdl.numeric\(tag)", count: rows * numerics)
            let wideAct = b.floats("wdl.linear.act\(tag)", count: rows * wideFields)
            let input = b.node("input\(tag)", kind: .input, allocates: [x, num, wideAct]) { ctx in
                let src = feed.numeric + start * numerics
                ctx.memory.floats(num).update(from: src, count: rows * numerics)
                VectorKernels.copyColumns(src: src, srcStride: numerics, srcOffset: 0, width: numerics, batch: rows,
                                          dst: ctx.memory.floats(x), dstStride: width, dstOffset: width - numerics)
            }
            let lookups = embeddings.addLookup(b, tag: tag, rowStart: start, rows: rows, out: x, outStride: width, outOffset: 0, after: [input])
            // l2_normalize over the whole tensor of valid rows; the norm is kept for the backward.
            let xn = b.floats("wdl.l2n\(tag)", count: rows * width)
            let norm = b.floats("wdl.l2n.norm\(tag)", count: 2)
            let l2 = b.node("wdl.l2_normalize\(tag)", kind: .forward, after: lookups, allocates: [xn, norm], uses: [x]) { ctx in
                let v = valid(), out = ctx.memory.floats(xn), nrm = ctx.memory.floats(norm)
                nrm[0] = BagKernels.l2NormalizeForward(ctx.memory.floats(x), count: v * width, out: out)
                nrm[1] = nrm[0] <= 1e-6 ? 1 : 0  // Σx² below TF's 1e-12 floor: the denominator is a constant
                if v < rows { (out + v * width).update(repeating: 0, count: (rows - v) * width) }
            }
            let deep = dnn.addForward(b, tag: tag, rows: rows, input: xn, after: [l2], share: share, micro: m)
            let wideLookups = linearIds.addLookup(b, tag: tag, rowStart: start, rows: rows, out: wideAct, outStride: wideFields,
                                                  outOffset: 0, after: [input])
            let wideLogit = b.floats("wdl.linear.logit\(tag)", count: rows)
            let wideSum = b.node("wdl.linear.sum\(tag)", kind: .forward, after: wideLookups, allocates: [wideLogit], uses: [wideAct]) { ctx in
                VectorKernels.sumRows(x: ctx.memory.floats(wideAct), stride: wideFields, offset: 0, width: wideFields, batch: rows,
                                      out: ctx.memory.floats(wideLogit), accumulate: false)
            }
            let numF = linearNumeric.addForward(b, tag: tag, rows: rows, input: num, after: [input])
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro, logits: [[deep.output, wideLogit, numF.output]],
                                    after: [deep.done, wideSum, numF.done], training: training)
            guard training else { continue }
            let g = loss.grads[0]
            let db = dnn.addBackward(b, tag: tag, rows: rows, forward: deep, gradOutput: g, gradReady: [loss.node], needInputGrad: true,
                                     share: share, micro: m)
            dnnB.append(db)
            let gxn = db.inputGrad!
            let l2b = b.node("wdl.l2_normalize.bwd\(tag)", kind: .backward, after: [db.inputGradReady!], uses: [xn, norm, gxn]) { ctx in
                let v = valid(), nrm = ctx.memory.floats(norm), gx = ctx.memory.floats(gxn)
                BagKernels.l2NormalizeBackward(y: ctx.memory.floats(xn), norm: nrm[0], gradOut: gx, count: v * width, clamped: nrm[1] != 0,
                                               gradX: gx)
            }
            embSlices.append(.init(rowStart: start, rows: rows, grad: gxn, gradStride: width, gradOffset: 0, ready: l2b))
            let gWide = b.floats("wdl.linear.dact\(tag)", count: rows * wideFields)
            let spread = b.node("wdl.linear.bwd\(tag)", kind: .backward, after: [loss.node], allocates: [gWide], uses: [g]) { ctx in
                VectorKernels.broadcastColumn(gradOut: ctx.memory.floats(g), batch: rows, width: wideFields, gradX: ctx.memory.floats(gWide),
                                              stride: wideFields, offset: 0, accumulate: false)
            }
            wideSlices.append(.init(rowStart: start, rows: rows, grad: gWide, gradStride: wideFields, gradOffset: 0, ready: spread))
            numB.append(linearNumeric.addBackward(b, tag: tag, rows: rows, forward: numF, gradOutput: g, gradReady: [loss.node],
                                                  needInputGrad: false))
        }
        if training {
            _ = dnn.addUpdates(b, backward: dnnB, share: share)
            _ = linearNumeric.addUpdates(b, backward: numB)
            _ = embeddings.addUpdates(b, slices: embSlices)
            _ = linearIds.addUpdates(b, slices: wideSlices)
        }
        return try b.build()
    }
}
