/// A micro-batch: rows `[start, start + rows)` of the step's batch.
public struct MicroBatch: Sendable, Equatable {
    public let start: Int
    public let rows: Int
    /// Splits `batch` rows into `count` near-equal micro-batches (the first ones get the remainder).
    public static func split(batch: Int, count: Int) -> [MicroBatch] {
        precondition(count >= 1 && count <= batch, "micro-batch count \(count) must be in 1...\(batch)")
        var result: [MicroBatch] = []
        var start = 0
        for i in 0..<count {
            let rows = batch / count + (i < batch % count ? 1 : 0)
            result.append(MicroBatch(start: start, rows: rows))
            start += rows
        }
        return result
    }

    /// Rows of the largest of `split(batch:count:)`'s micro-batches (the first): ⌈batch / count⌉.
    public static func largestRows(batch: Int, count: Int) -> Int {
        batch / count + (batch % count > 0 ? 1 : 0)
    }
}

/// A CTR model whose training step and evaluation pass are step graphs.
public protocol CTRModel: AnyObject {
    var kind: ModelKind { get }
    /// Every trainable tensor (dense weights in their oneDNN layout, biases, embedding tables).
    var parameters: [ParameterTensor] { get }
    /// The training step: forward and backward of each micro-batch, then one update per parameter group.
    func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph
    /// Forward only over `rows` rows, writing probabilities into `head.scores`.
    func evaluationGraph(rows: Int) throws -> StepGraph
    /// Loss sums and evaluation scores.
    var head: LossHead { get }
}

/// Builds the model named by `config.model`.
public func makeModel(config: TrainConfig, context: DNNLContext, feed: StepFeed) throws -> any CTRModel {
    switch config.model {
    case .wdl: try WDLModel(config: config, context: context, feed: feed)
    case .dlrm: try DLRMModel(config: config, context: context, feed: feed)
    case .deepfm: try DeepFMModel(config: config, context: context, feed: feed)
    case .mmoe: throw EngineError.invalidConfiguration("--model mmoe needs --dataset taobao")
    case .din, .dien: throw EngineError.invalidConfiguration("--model \(config.model.rawValue) needs the Amazon Books data set")
    }
}

/// The sigmoid cross-entropy head shared by all models: sums logit parts, writes the loss of each
/// micro-batch (training) or the probabilities (evaluation).
public final class LossHead: @unchecked Sendable {
    // @unchecked Sendable: each micro-batch's loss node writes only its own `lossSums` slot and
    // its own `scores` rows; the trainer reads them after the step.
    public let feed: StepFeed
    /// Sum of per-sample losses of micro-batch m in the last step.
    public let lossSums: UnsafeMutablePointer<Double>
    /// Probabilities of the last evaluation pass (capacity = feed capacity).
    public let scores: UnsafeMutablePointer<Float>
    public static let maxMicroBatches = 256

    init(feed: StepFeed) {
        self.feed = feed
        lossSums = .allocate(capacity: Self.maxMicroBatches)
        lossSums.initialize(repeating: 0, count: Self.maxMicroBatches)
        scores = .allocate(capacity: feed.capacity)
        scores.initialize(repeating: 0, count: feed.capacity)
    }

    deinit { lossSums.deallocate(); scores.deallocate() }

    /// Mean training loss of the last step over its valid rows.
    public func lastStepLoss(microBatches: Int) -> Double {
        var s = 0.0
        for m in 0..<microBatches { s += lossSums[m] }
        return s / Double(max(feed.validRows, 1))
    }

    /// Adds the loss node of micro-batch `index`; returns the logit-gradient tensor (training) and the node.
    func addLoss(_ b: GraphBuilder, tag: String, index: Int, micro: MicroBatch, logits: [TensorID], after: [NodeID],
                 training: Bool) -> (grad: TensorID?, node: NodeID) {
        let rows = micro.rows, start = micro.start
        let logit = b.floats("loss.logit\(tag)", count: rows)
        let grad: TensorID? = training ? b.floats("loss.dlogit\(tag)", count: rows) : nil
        let node = b.node("loss\(tag)", kind: training ? .backward : .forward, after: after,
                          allocates: [logit] + (grad.map { [$0] } ?? []), uses: logits) { [self] ctx in
            let z = ctx.memory.floats(logit)
            z.update(from: ctx.memory.floats(logits[0]), count: rows)
            for part in logits.dropFirst() {
                VectorKernels.accumulate(ctx.memory.floats(part), into: z, count: rows)
            }
            if let grad {
                let g = ctx.memory.floats(grad)
                let valid = feed.validRows(start: start, count: rows)
                let scale = 1 / Float(max(feed.validRows, 1))
                lossSums[index] = valid > 0
                    ? LossKernels.sigmoidCrossEntropy(logits: z, labels: feed.labels + start, batch: valid, gradScale: scale, gradLogits: g)
                    : 0
                if valid < rows { (g + valid).update(repeating: 0, count: rows - valid) }
            } else {
                LossKernels.sigmoid(z, count: rows, out: scores + start)
            }
        }
        return (grad, node)
    }
}
