/// Graph pieces shared by the models: the batch-assembly node and the wide (first-order) part.
enum InputNodes {
    /// The micro-batch's input node: allocates `allocates`, copies the dense features of rows
    /// `[micro.start, micro.start + micro.rows)` into `denseOut` (rows × 13) and, when given, into
    /// `concat` at column `concatOffset` (row stride `concatStride`).
    static func addInput(_ b: GraphBuilder, tag: String, micro: MicroBatch, feed: StepFeed, allocates: [TensorID],
                         denseOut: TensorID, concat: TensorID?, concatStride: Int, concatOffset: Int) -> NodeID {
        let d = CriteoSchema.denseCount
        return b.node("input\(tag)", kind: .input, allocates: allocates) { ctx in
            let src = feed.dense + micro.start * d
            ctx.memory.floats(denseOut).update(from: src, count: micro.rows * d)
            if let concat {
                VectorKernels.copyColumns(src: src, srcStride: d, srcOffset: 0, width: d, batch: micro.rows,
                                          dst: ctx.memory.floats(concat), dstStride: concatStride, dstOffset: concatOffset)
            }
        }
    }
}

/// The wide / first-order part: a dim-1 weight per hashed id of every column, summed, plus a
/// linear layer over the dense features (WDL's wide part, DeepFM's first-order term).
final class WidePart: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; parameters ordered by the graph.
    let tables: EmbeddingGroup
    let linear: MLPStack

    init(name: String, buckets: Int, kind: SparseRowOptimizer.Kind, learningRate: Float, denseOptimizer: any DenseOptimizer,
         maxIds: Int, feed: StepFeed, context: DNNLContext, seed: UInt64) throws {
        tables = EmbeddingGroup(name: "\(name).ids", buckets: buckets, dim: 1, kind: kind, learningRate: learningRate,
                                initScale: 0.01, maxIdsPerUpdate: maxIds, feed: feed, seed: seed)
        linear = try MLPStack(name: "\(name).dense", inputs: CriteoSchema.denseCount, widths: [1], reluOnLast: false,
                              precision: .fp32, context: context, optimizer: denseOptimizer, seed: seed &+ 17)
    }

    var parameters: [ParameterTensor] { tables.parameters + linear.parameters }

    struct Forward {
        let idLogit: TensorID
        let linear: MLPStack.Forward
        let nodes: [NodeID]
    }

    /// Forward of one micro-batch; `denseIn` (rows × 13) must be ready after `input`.
    func addForward(_ b: GraphBuilder, tag: String, micro: MicroBatch, denseIn: TensorID, input: NodeID) -> Forward {
        let logit = b.floats("\(tables.name).logit\(tag)", count: micro.rows)
        let sum = tables.addGatherSum(b, tag: tag, rowStart: micro.start, rows: micro.rows, out: logit, after: [input])
        let lin = linear.addForward(b, tag: tag, rows: micro.rows, input: denseIn, after: [input])
        return Forward(idLogit: logit, linear: lin, nodes: [sum, lin.done])
    }

    struct Backward {
        let linear: MLPStack.Backward
        let slice: EmbeddingGroup.GradientSlice
    }

    /// Backward of one micro-batch from the logit gradient.
    func addBackward(_ b: GraphBuilder, tag: String, micro: MicroBatch, forward f: Forward, gradLogit: TensorID, lossNode: NodeID) -> Backward {
        let lin = linear.addBackward(b, tag: tag, rows: micro.rows, forward: f.linear, gradOutput: gradLogit,
                                     gradReady: [lossNode], needInputGrad: false)
        // Every column of sample i shares the logit gradient: stride 1, column stride 0.
        let slice = EmbeddingGroup.GradientSlice(rowStart: micro.start, rows: micro.rows, grad: gradLogit, gradStride: 1,
                                                 gradOffset: 0, columnStride: 0, ready: lossNode)
        return Backward(linear: lin, slice: slice)
    }

    /// Update nodes of the linear layer and, unless `host` carries them (its update nodes update
    /// these tables with the same ids: `EmbeddingGroup.companion`), of the tables. A host gets
    /// `backward.map(\.slice)` as its `companionSlices`.
    func addUpdates(_ b: GraphBuilder, backward: [Backward], tablesRideOn host: EmbeddingGroup? = nil) -> [NodeID] {
        let tableNodes = host?.companion === tables ? [] : tables.addUpdates(b, slices: backward.map(\.slice))
        return tableNodes + linear.addUpdates(b, backward: backward.map(\.linear))
    }
}
