internal import CDNNL

/// A dense layer's primitives for one batch size, and per worker the memory objects and buffers
/// they are bound to.
///
/// `@unchecked Sendable`: the primitives and descriptors are immutable after init and safe to
/// execute concurrently (user scratchpads); `bindings[w]` is used only while holding worker `w`'s
/// lock in `DNNLContext.withWorker`.
final class DensePlan: @unchecked Sendable {
    let batch: Int
    let forward: DNNLPrimitive
    let backwardData: DNNLPrimitive
    let backwardWeights: DNNLPrimitive
    /// Per worker: bound to the primitives above (created under the workers' own team size).
    let bindings: [DenseBinding]
    /// Per worker, when the context boosts (`DNNLContext.boostThreads` > 1): bound to a second set
    /// of primitives created for a team of `boostThreads` OpenMP threads; empty otherwise.
    let wideBindings: [DenseBinding]
    /// Largest scratchpad any of the plan's primitives (both sets) needs.
    let scratchpadBytes: Int

    init(layer: DenseLayer, batch: Int) throws {
        let name = "\(layer.name) batch \(batch)"
        let bf16 = layer.precision == .bf16
        let lowType: dnnl_data_type_t = bf16 ? dnnl_bf16 : dnnl_f32
        let src = try DNNLMemoryDesc(dims: [batch, layer.inputs], type: dnnl_f32, tag: dnnl_ab)
        let dst = try DNNLMemoryDesc(dims: [batch, layer.outputs], type: dnnl_f32, tag: dnnl_ab)
        let lowSrc = src.with(type: lowType)
        let lowDst = dst.with(type: lowType)
        // What the caller hands over: the output and the input gradient are bf16 for chained layers.
        let output = layer.lowPrecisionOutput ? lowDst : dst
        let gradInput = layer.lowPrecisionInput ? lowSrc : src
        let biasDesc = try DNNLMemoryDesc(dims: [layer.outputs], type: dnnl_f32, tag: dnnl_a)
        let weights = layer.productWeights

        let make = {
            try Self.products(layer: layer, name: name, output: output, gradInput: gradInput, lowSrc: lowSrc,
                              lowDst: lowDst, bias: biasDesc, weights: weights)
        }
        let narrow = try make()
        // Boosted calls run in a larger OpenMP team: oneDNN sizes its thread partition and
        // scratchpad when a primitive is created, from the creating thread's team size, so the
        // boosted set is created under that team size.
        let wide = try layer.context.boostThreads > 1 ? DNNLContext.withOpenMPThreads(layer.context.boostThreads, make) : nil
        (forward, backwardData, backwardWeights) = narrow
        self.batch = batch
        scratchpadBytes = [narrow, wide].compactMap { $0 }
            .flatMap { [$0.forward, $0.backwardData, $0.backwardWeights] }
            .map(\.scratchpad.bytes).max() ?? 0
        func bind(_ p: DenseBinding.Primitives, boosted: Bool) throws -> [DenseBinding] {
            try (0..<layer.context.workers).map { _ in
                try DenseBinding(plan: p, layer: layer, batch: batch, boosted: boosted, output: output, gradInput: gradInput,
                                 lowSrc: lowSrc, lowDst: lowDst, bias: biasDesc, weights: weights)
            }
        }
        bindings = try bind(narrow, boosted: false)
        wideBindings = try wide.map { try bind($0, boosted: true) } ?? []
    }

    /// The binding a call on `worker` uses: the boosted set while the worker is boosted.
    @inline(__always)
    func binding(_ worker: Int, boosted: Bool) -> DenseBinding {
        boosted && !wideBindings.isEmpty ? wideBindings[worker] : bindings[worker]
    }

    /// Forward, backward-data and backward-weights primitives, created under the calling thread's
    /// OpenMP team size. With bf16 they read the input and the output gradient as bf16 (the
    /// caller's, when chained, or copies `BF16Kernels.convert` makes) and write fp32 or, chained, bf16.
    private static func products(layer: DenseLayer, name: String, output: DNNLMemoryDesc, gradInput: DNNLMemoryDesc,
                                 lowSrc: DNNLMemoryDesc, lowDst: DNNLMemoryDesc, bias biasDesc: DNNLMemoryDesc,
                                 weights: DenseLayer.ProductWeights) throws -> DenseBinding.Primitives {
        let engine = layer.context.engine
        let forwardPD = try Self.forwardDesc(src: lowSrc, weights: weights.forward, bias: biasDesc, dst: output,
                                             relu: layer.relu, engine: engine, name: name)
        // The backward products take as hint a forward on the weights they read (the master, when
        // forward reads the fp32 copy).
        let hint = weights.data == weights.forward ? forwardPD
            : try Self.forwardDesc(src: lowSrc, weights: weights.data, bias: biasDesc, dst: output, relu: layer.relu,
                                   engine: engine, name: name)
        var desc = dnnl_inner_product_desc_t()
        var (ds, w, dd) = (gradInput.raw, weights.data.raw, lowDst.raw)
        try dnnlCheck(dnnl_inner_product_backward_data_desc_init(&desc, &ds, &w, &dd),
                      "dnnl_inner_product_backward_data_desc_init(\(name))")
        let dataPD = try DNNLPrimitiveDesc(opDesc: &desc, attributes: DNNLAttributes(), engine: engine, hint: hint,
                                           what: "inner_product backward_data \(name)")
        let forward = try DNNLPrimitive(forwardPD, what: "inner_product forward \(name)")
        let backwardData = try DNNLPrimitive(dataPD, what: "inner_product backward_data \(name)")
        let backwardWeights: DNNLPrimitive
        switch layer.weightGradient {
        case .innerProduct:
            let weightsPD = try Self.backwardWeightsDesc(src: lowSrc, diffWeights: layer.masterDesc, diffBias: biasDesc,
                                                         diffDst: lowDst, hint: hint, engine: engine, name: name)
            backwardWeights = try DNNLPrimitive(weightsPD, what: "inner_product backward_weights \(name)")
        case .transposedGEMM:
            // The reorder that writes the transposed operand: [rows][columns] ab → the same matrix ba.
            let operand = layer.transposesInput ? lowSrc : lowDst
            backwardWeights = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: operand, to: operand.transposed(),
                                                                  attributes: DNNLAttributes(), engine: engine,
                                                                  what: "transpose for weight gradient \(name)"),
                                                what: "reorder transpose for weight gradient \(name)")
        }
        return (forward, backwardData, backwardWeights)
    }

    /// What `profile` names the products of a layer with `SingleOutputKernel`.
    static let singleOutputName = "engine single-output kernel"

    /// Implementation names of the plan's primitives.
    func profile(layer: DenseLayer) -> DenseLayerProfile {
        DenseLayerProfile(layer: layer.name, batch: batch, inputs: layer.inputs, outputs: layer.outputs,
                          precision: layer.precision,
                          forward: layer.singleOutput != nil ? Self.singleOutputName : forward.implementationName,
                          backwardData: layer.singleOutput != nil ? Self.singleOutputName : backwardData.implementationName,
                          backwardWeights: layer.singleOutput != nil ? Self.singleOutputName
                              : layer.weightGradient == .transposedGEMM
                              ? "transpose (reorder \(backwardWeights.implementationName)) + dnnl_sgemm"
                              : bindings.first?.packedOperands != nil
                              ? "engine bf16 kernel (packed row pairs); \(backwardWeights.implementationName) on a team of threads"
                              : backwardWeights.implementationName,
                          activationReorder: layer.precision != .bf16 ? nil
                              : layer.lowPrecisionInput && layer.lowPrecisionOutput ? "none (chained bf16)"
                              : "engine (BF16Kernels.convert)",
                          weightsLayout: layer.masterDesc.formatTag,
                          weightCopyLayout: layer.copyDesc.map { "\(layer.precision == .bf16 ? "bf16" : "forward") copy \($0.formatTag)" })
    }

    /// Forward-training inner product descriptor, with a fused ReLU post-op if asked.
    static func forwardDesc(src: DNNLMemoryDesc, weights: DNNLMemoryDesc, bias: DNNLMemoryDesc, dst: DNNLMemoryDesc,
                            relu: Bool, engine: DNNLEngine, name: String) throws -> DNNLPrimitiveDesc {
        var desc = dnnl_inner_product_desc_t()
        var (s, w, b, d) = (src.raw, weights.raw, bias.raw, dst.raw)
        try dnnlCheck(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_training, &s, &w, &b, &d),
                      "dnnl_inner_product_forward_desc_init(\(name))")
        return try DNNLPrimitiveDesc(opDesc: &desc, attributes: DNNLAttributes(relu: relu), engine: engine, hint: nil,
                                     what: "inner_product forward \(name)")
    }

    /// Backward-weights inner product descriptor (diff-weights and diff-bias in fp32).
    static func backwardWeightsDesc(src: DNNLMemoryDesc, diffWeights: DNNLMemoryDesc, diffBias: DNNLMemoryDesc,
                                    diffDst: DNNLMemoryDesc, hint: DNNLPrimitiveDesc, engine: DNNLEngine,
                                    name: String) throws -> DNNLPrimitiveDesc {
        var desc = dnnl_inner_product_desc_t()
        var (s, w, b, d) = (src.raw, diffWeights.raw, diffBias.raw, diffDst.raw)
        try dnnlCheck(dnnl_inner_product_backward_weights_desc_init(&desc, &s, &w, &b, &d),
                      "dnnl_inner_product_backward_weights_desc_init(\(name))")
        return try DNNLPrimitiveDesc(opDesc: &desc, attributes: DNNLAttributes(), engine: engine, hint: hint,
                                     what: "inner_product backward_weights \(name)")
    }
}
