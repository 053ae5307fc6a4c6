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
    /// bf16 only: fp32→bf16 reorders of the input and of the output gradient.
    let inputToLow: DNNLPrimitive?
    let gradientToLow: DNNLPrimitive?
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
        let biasDesc = try DNNLMemoryDesc(dims: [layer.outputs], type: dnnl_f32, tag: dnnl_a)
        let weightsDesc = layer.lowDesc ?? layer.masterDesc

        let make = {
            try Self.products(layer: layer, name: name, src: src, dst: dst, lowSrc: lowSrc, lowDst: lowDst,
                              bias: biasDesc, weights: weightsDesc)
        }
        let narrow = try make()
        // Boosted calls run in a larger OpenMP team: oneDNN sizes its thread partition and
        // scratchpad when a primitive is created, from the creating thread's team size, so the
        // boosted set is created under that team size.
        let wide = try layer.context.boostThreads > 1 ? DNNLContext.withOpenMPThreads(layer.context.boostThreads, make) : nil
        (forward, backwardData, backwardWeights, inputToLow, gradientToLow) = narrow
        self.batch = batch
        scratchpadBytes = [narrow, wide].compactMap { $0 }
            .flatMap { [$0.forward, $0.backwardData, $0.backwardWeights, $0.inputToLow, $0.gradientToLow] }
            .compactMap { $0?.scratchpad.bytes }.max() ?? 0
        func bind(_ p: DenseBinding.Primitives) throws -> [DenseBinding] {
            try (0..<layer.context.workers).map { _ in
                try DenseBinding(plan: p, layer: layer, src: src, dst: dst, lowSrc: lowSrc, lowDst: lowDst,
                                 bias: biasDesc, weights: weightsDesc)
            }
        }
        bindings = try bind(narrow)
        wideBindings = try wide.map(bind) ?? []
    }

    /// The binding a call on `worker` uses: the boosted set while the worker is boosted.
    @inline(__always)
    func binding(_ worker: Int, boosted: Bool) -> DenseBinding {
        boosted && !wideBindings.isEmpty ? wideBindings[worker] : bindings[worker]
    }

    /// Forward, backward-data and backward-weights primitives (and the bf16 reorders), created
    /// under the calling thread's OpenMP team size.
    private static func products(layer: DenseLayer, name: String, src: DNNLMemoryDesc, dst: DNNLMemoryDesc,
                                 lowSrc: DNNLMemoryDesc, lowDst: DNNLMemoryDesc, bias biasDesc: DNNLMemoryDesc,
                                 weights weightsDesc: DNNLMemoryDesc) throws -> DenseBinding.Primitives {
        let engine = layer.context.engine
        let forwardPD = try Self.forwardDesc(src: lowSrc, weights: weightsDesc, bias: biasDesc, dst: dst,
                                             relu: layer.relu, engine: engine, name: name)
        var desc = dnnl_inner_product_desc_t()
        var (ds, w, dd) = (src.raw, weightsDesc.raw, lowDst.raw)
        try dnnlCheck(dnnl_inner_product_backward_data_desc_init(&desc, &ds, &w, &dd),
                      "dnnl_inner_product_backward_data_desc_init(\(name))")
        let dataPD = try DNNLPrimitiveDesc(opDesc: &desc, attributes: DNNLAttributes(), engine: engine, hint: forwardPD,
                                           what: "inner_product backward_data \(name)")
        let weightsPD = try Self.backwardWeightsDesc(src: lowSrc, diffWeights: layer.masterDesc, diffBias: biasDesc,
                                                     diffDst: lowDst, hint: forwardPD, engine: engine, name: name)
        let forward = try DNNLPrimitive(forwardPD, what: "inner_product forward \(name)")
        let backwardData = try DNNLPrimitive(dataPD, what: "inner_product backward_data \(name)")
        let backwardWeights = try DNNLPrimitive(weightsPD, what: "inner_product backward_weights \(name)")
        guard layer.precision == .bf16 else { return (forward, backwardData, backwardWeights, nil, nil) }
        let attributes = try DNNLAttributes()
        let inputToLow = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: src, to: lowSrc, attributes: attributes,
                                                             engine: engine, what: "input f32→bf16 \(name)"),
                                           what: "reorder input f32→bf16 \(name)")
        let gradientToLow = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: dst, to: lowDst, attributes: attributes,
                                                                engine: engine, what: "gradient f32→bf16 \(name)"),
                                              what: "reorder gradient f32→bf16 \(name)")
        return (forward, backwardData, backwardWeights, inputToLow, gradientToLow)
    }

    /// Implementation names of the plan's primitives.
    func profile(layer: DenseLayer) -> DenseLayerProfile {
        DenseLayerProfile(layer: layer.name, batch: batch, inputs: layer.inputs, outputs: layer.outputs,
                          precision: layer.precision, forward: forward.implementationName,
                          backwardData: backwardData.implementationName,
                          backwardWeights: backwardWeights.implementationName,
                          activationReorder: inputToLow?.implementationName,
                          weightsLayout: layer.masterDesc.formatTag,
                          lowPrecisionWeightsLayout: layer.lowDesc?.formatTag)
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
