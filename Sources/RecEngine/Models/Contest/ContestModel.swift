/// A contest model (WDL, DeepFM, DLRM on Ele.me; MMoE on Taobao; DIN, DIEN on Amazon Books) whose training step and
/// evaluation pass are step graphs over a `ContestFeed`.
public protocol ContestModel: AnyObject {
    var kind: ModelKind { get }
    /// Every trainable tensor.
    var parameters: [ParameterTensor] { get }
    /// The training step: forward and backward of each micro-batch, then one update per parameter group.
    func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph
    /// Forward only over `rows` rows, writing probabilities into `head.scores`.
    func evaluationGraph(rows: Int) throws -> StepGraph
    /// Losses and evaluation scores.
    var head: ContestHead { get }
}

/// Builds the contest model named by `config.model` for `config.dataset`.
/// Throws `EngineError.invalidConfiguration` for a model the data set has no contest version of.
public func makeContestModel(config: TrainConfig, context: DNNLContext, feed: ContestFeed) throws -> any ContestModel {
    switch (config.dataset, config.model) {
    case (.eleme, .wdl): try ContestWDL(config: config, context: context, feed: feed)
    case (.eleme, .deepfm): try ContestDeepFM(config: config, context: context, feed: feed)
    case (.eleme, .dlrm): try ContestDLRM(config: config, context: context, feed: feed)
    case (.taobao, .mmoe): try ContestMMoE(config: config, context: context, feed: feed)
    case (.amazonBooks, .din), (.amazonBooks, .dien):
        // Table sizes are the vocabularies' line counts, carried by the feed.
        try makeSequenceModel(config: config, context: context, feed: feed, buckets: feed.buckets)
    default: throw EngineError.invalidConfiguration("--model \(config.model.rawValue) has no contest version on --dataset \(config.dataset.rawValue)")
    }
}

/// The loss of a contest model and its evaluation scores.
public final class ContestHead: @unchecked Sendable {
    // @unchecked Sendable: each micro-batch's loss node writes only its own `lossSums` slot and its
    // own `scores` rows; the trainer reads them after the step.
    public enum Loss: Sendable {
        /// Sigmoid cross-entropy, averaged over rows and tasks (WDL, DLRM, MMoE).
        case sigmoidCrossEntropy
        /// `(σ(z) − y)²` averaged over rows (the contest DeepFM's `mean_squared_error` on the probability).
        case sigmoidMSE
    }

    public let feed: ContestFeed
    public let loss: Loss
    /// Tasks (labels): 1, or 2 for MMoE (clk, buy).
    public let tasks: Int
    public let lossSums: UnsafeMutablePointer<Double>
    /// Per micro-batch: an additional loss already averaged over the whole batch (DIEN's auxiliary loss), 0 otherwise.
    public let extraLoss: UnsafeMutablePointer<Double>
    /// Probabilities of the last evaluation pass, `[row × tasks]` (capacity = feed capacity).
    public let scores: UnsafeMutablePointer<Float>

    init(feed: ContestFeed, loss: Loss) {
        self.feed = feed
        self.loss = loss
        tasks = feed.labelCount
        lossSums = .allocate(capacity: LossHead.maxMicroBatches)
        lossSums.initialize(repeating: 0, count: LossHead.maxMicroBatches)
        extraLoss = .allocate(capacity: LossHead.maxMicroBatches)
        extraLoss.initialize(repeating: 0, count: LossHead.maxMicroBatches)
        scores = .allocate(capacity: feed.capacity * tasks)
        scores.initialize(repeating: 0, count: feed.capacity * tasks)
    }

    deinit { lossSums.deallocate(); extraLoss.deallocate(); scores.deallocate() }

    /// Mean training loss of the last step (per row and task).
    public func lastStepLoss(microBatches: Int) -> Double {
        var s = 0.0, extra = 0.0
        for m in 0..<microBatches { s += lossSums[m]; extra += extraLoss[m] }
        return s / Double(max(feed.validRows * tasks, 1)) + extra
    }

    /// Adds micro-batch `index`'s loss node. `logits[t]` are the parts (each `[rows]`) summed into
    /// task t's logit. Training: returns one gradient tensor `[rows]` per task (allocated here).
    func addLoss(_ b: GraphBuilder, tag: String, index: Int, micro: MicroBatch, logits: [[TensorID]], after: [NodeID],
                 training: Bool) -> (grads: [TensorID], node: NodeID) {
        precondition(logits.count == tasks, "one logit list per task")
        let rows = micro.rows, start = micro.start, tasks = self.tasks
        let z = b.floats("loss.logits\(tag)", count: rows * tasks)
        let gz = b.floats("loss.dlogits\(tag)", count: rows * tasks)
        let grads = training ? (0..<tasks).map { b.floats("loss.dlogit\($0)\(tag)", count: rows) } : []
        let node = b.node("loss\(tag)", kind: training ? .backward : .forward, after: after, allocates: [z, gz] + grads,
                          uses: logits.flatMap { $0 }) { [self] ctx in
            let zp = ctx.memory.floats(z)
            for t in 0..<tasks {
                for i in 0..<rows {
                    var v: Float = 0
                    for part in logits[t] { v += ctx.memory.floats(part)[i] }
                    zp[i * tasks + t] = v
                }
            }
            if training {
                let g = ctx.memory.floats(gz)
                let valid = feed.validRows(start: start, count: rows)
                let scale = 1 / Float(max(feed.validRows * tasks, 1))
                let labels = feed.labels + start * tasks
                switch loss {
                case .sigmoidCrossEntropy:
                    lossSums[index] = valid > 0 ? LossKernels.sigmoidCrossEntropy(logits: zp, labels: labels, batch: valid * tasks, gradScale: scale, gradLogits: g) : 0
                case .sigmoidMSE:
                    lossSums[index] = valid > 0 ? BagKernels.sigmoidMSE(logits: zp, labels: labels, batch: valid * tasks, gradScale: scale, gradLogits: g) : 0
                }
                if valid < rows { (g + valid * tasks).update(repeating: 0, count: (rows - valid) * tasks) }
                for t in 0..<tasks {
                    let gt = ctx.memory.floats(grads[t])
                    for i in 0..<rows { gt[i] = g[i * tasks + t] }
                }
            } else {
                LossKernels.sigmoid(zp, count: rows * tasks, out: scores + start * tasks)
            }
        }
        return (grads, node)
    }
}

/// Graph pieces shared by the contest models.
enum ContestNodes {
    /// The micro-batch's input node: allocates `allocates` and copies the numerics of its rows into
    /// `numericOut` at column `offset` (row stride `stride`).
    static func addInput(_ b: GraphBuilder, tag: String, micro: MicroBatch, feed: ContestFeed, allocates: [TensorID],
                         numericOut: TensorID, stride: Int, offset: Int) -> NodeID {
        let n = feed.numericCount
        return b.node("input\(tag)", kind: .input, allocates: allocates) { ctx in
            VectorKernels.copyColumns(src: feed.numeric + micro.start * n, srcStride: n, srcOffset: 0, width: n, batch: micro.rows,
                                      dst: ctx.memory.floats(numericOut), dstStride: stride, dstOffset: offset)
        }
    }

    /// A node that copies `width` columns (`src` at `srcOffset`) into a new tensor `[rows × width]`.
    static func addSlice(_ b: GraphBuilder, name: String, rows: Int, src: TensorID, srcStride: Int, srcOffset: Int, width: Int,
                         after: [NodeID], kind: NodeKind = .backward) -> (TensorID, NodeID) {
        let out = b.floats(name, count: rows * width)
        let node = b.node(name, kind: kind, after: after, allocates: [out], uses: [src]) { ctx in
            VectorKernels.copyColumns(src: ctx.memory.floats(src), srcStride: srcStride, srcOffset: srcOffset, width: width, batch: rows,
                                      dst: ctx.memory.floats(out), dstStride: width, dstOffset: 0)
        }
        return (out, node)
    }
}
