internal import CDNNL

/// One worker's view of a `DensePlan`: memory objects for the call's buffers (re-pointed per call),
/// bf16 staging buffers, and the plan's primitives bound to them. Used under that worker's lock.
final class DenseBinding {
    /// What the products read as input and as output gradient: the caller's buffers (fp32 layers,
    /// and chained bf16 ones), or the staging buffers below.
    let productInput: DNNLMemory
    let productGradient: DNNLMemory
    let output: DNNLMemory
    let gradInput: DNNLMemory
    let gradWeights: DNNLMemory
    let gradBias: DNNLMemory
    let forward: BoundPrimitive
    let backwardData: BoundPrimitive
    let backwardWeights: BoundPrimitive
    /// bf16 layers whose caller hands over fp32: staging for the bf16 copies of the input and of
    /// the output gradient (`BF16Kernels.convert` writes them before each product); nil when the
    /// caller's buffer is read directly.
    let inputStaging: AlignedBuffer?
    let gradientStaging: AlignedBuffer?
    /// `WeightGradientMethod.transposedGEMM` only: the transposed operand (`[columns][rows]`), which
    /// `backwardWeights` (then the transposing reorder) writes and `dnnl_sgemm` reads; nil otherwise.
    let transposedOperand: AlignedBuffer?
    /// The packed operands of the engine's bf16 weight-gradient kernel (`PackedWeightGradient`),
    /// for layers that take it at this batch; nil otherwise and in boosted bindings.
    let packedOperands: PackedWeightGradient.Buffers?
    /// Layers with one output that take the engine's kernels (`SingleOutputKernel`): this
    /// worker's buffers for them (bf16: the gathered weights the kernels read); nil otherwise.
    let singleOutputBuffers: SingleOutputKernel.Buffers?

    /// `backwardWeights` is oneDNN's backward-weights primitive, or for `transposedGEMM` the reorder
    /// that transposes the operand.
    typealias Primitives = (forward: DNNLPrimitive, backwardData: DNNLPrimitive, backwardWeights: DNNLPrimitive)

    init(plan p: Primitives, layer: DenseLayer, batch: Int, boosted: Bool, output outputDesc: DNNLMemoryDesc,
         gradInput gradInputDesc: DNNLMemoryDesc, lowSrc: DNNLMemoryDesc, lowDst: DNNLMemoryDesc, bias biasDesc: DNNLMemoryDesc,
         weights productWeights: DenseLayer.ProductWeights) throws {
        let engine = layer.context.engine
        packedOperands = boosted ? nil : layer.packedWeightGradient?.buffers(rows: batch)
        singleOutputBuffers = layer.singleOutput?.buffers()
        let bf16 = layer.precision == .bf16
        inputStaging = bf16 && !layer.lowPrecisionInput ? AlignedBuffer(bytes: lowSrc.bytes) : nil
        gradientStaging = bf16 && !layer.lowPrecisionOutput ? AlignedBuffer(bytes: lowDst.bytes) : nil
        // lowSrc/lowDst are the fp32 plain descriptors for fp32 layers (same layout, same type).
        productInput = try DNNLMemory(lowSrc, engine: engine, pointer: inputStaging?.pointer)
        productGradient = try DNNLMemory(lowDst, engine: engine, pointer: gradientStaging?.pointer)
        output = try DNNLMemory(outputDesc, engine: engine, pointer: nil)
        gradInput = try DNNLMemory(gradInputDesc, engine: engine, pointer: nil)
        gradWeights = try DNNLMemory(layer.masterDesc, engine: engine, pointer: nil)
        gradBias = try DNNLMemory(biasDesc, engine: engine, pointer: nil)
        let bias = try DNNLMemory(biasDesc, engine: engine, pointer: UnsafeMutableRawPointer(layer.bias.values))
        let forwardWeights = try DNNLMemory(productWeights.forward, engine: engine, pointer: productWeights.forwardStorage)
        let dataWeights = productWeights.dataStorage == productWeights.forwardStorage ? forwardWeights
            : try DNNLMemory(productWeights.data, engine: engine, pointer: productWeights.dataStorage)
        forward = try BoundPrimitive(p.forward, [(DNNL_ARG_SRC, productInput), (DNNL_ARG_WEIGHTS, forwardWeights),
                                                 (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, output)], engine: engine)
        backwardData = try BoundPrimitive(p.backwardData, [(DNNL_ARG_DIFF_DST, productGradient), (DNNL_ARG_WEIGHTS, dataWeights),
                                                           (DNNL_ARG_DIFF_SRC, gradInput)], engine: engine)
        switch layer.weightGradient {
        case .innerProduct:
            transposedOperand = nil
            backwardWeights = try BoundPrimitive(p.backwardWeights, [(DNNL_ARG_SRC, productInput),
                                                                     (DNNL_ARG_DIFF_DST, productGradient),
                                                                     (DNNL_ARG_DIFF_WEIGHTS, gradWeights),
                                                                     (DNNL_ARG_DIFF_BIAS, gradBias)], engine: engine)
        case .transposedGEMM:
            let operand = layer.transposesInput ? (productInput, lowSrc) : (productGradient, lowDst)
            let buffer = AlignedBuffer(bytes: operand.1.bytes)
            let transposed = try DNNLMemory(operand.1.transposed(), engine: engine, pointer: buffer.pointer)
            transposedOperand = buffer
            backwardWeights = try BoundPrimitive(p.backwardWeights, [(DNNL_ARG_FROM, operand.0), (DNNL_ARG_TO, transposed)],
                                                 engine: engine)
        }
    }

    /// Makes the products read `source` (the input, `rows × inputs`, into `productInput` and
    /// `inputStaging`; or the output gradient, into `productGradient` and `gradientStaging`):
    /// converts it into the staging buffer, or points the memory at it when there is none.
    @inline(__always)
    static func take(_ source: UnsafePointer<Float>, count: Int, staging: AlignedBuffer?, memory: DNNLMemory) {
        if let staging {
            BF16Kernels.convert(source, to: staging.pointer, count: count)
        } else {
            memory.point(at: source)
        }
    }

    /// `take` for the input.
    @inline(__always)
    func take(input: UnsafePointer<Float>, count: Int) {
        Self.take(input, count: count, staging: inputStaging, memory: productInput)
    }

    /// `take` for an input that arrives in parts of `partRows[k]` rows each, in row order: each part
    /// is converted into its rows of the staging buffer (layers that convert their input only).
    @inline(__always)
    func take(inputParts: UnsafeBufferPointer<UnsafePointer<Float>>, partRows: [Int], inputs: Int) {
        guard let inputStaging else { preconditionFailure("input parts need a layer that converts its input") }
        var row = 0
        for (part, rows) in zip(inputParts, partRows) {
            BF16Kernels.convert(part, to: inputStaging.pointer + row &* inputs &* 2, count: rows &* inputs)
            row &+= rows
        }
    }

    /// `take` for the output gradient.
    @inline(__always)
    func take(gradOutput: UnsafePointer<Float>, count: Int) {
        Self.take(gradOutput, count: count, staging: gradientStaging, memory: productGradient)
    }
}

@available(*, unavailable)
extension DenseBinding: Sendable {}

extension DenseLayer {
    /// `output = input·Wᵀ + b` (then ReLU if `relu`). `input` is `[batch][inputs]`, `output`
    /// `[batch][outputs]`, both plain row-major: fp32, or bf16 bits where the layer is chained
    /// (`lowPrecisionInput`, `lowPrecisionOutput`). Runs on `worker`'s stream and scratchpad.
    public func forward(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, worker: Int) {
        let plan = plan(batch)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            b.take(input: input, count: batch &* inputs)
            if let kernel = singleOutput, let buffers = b.singleOutputBuffers, let x = b.productInput.pointer {
                kernel.forward(rows: batch, input: x, masterValues: weights.values, bias: bias.values[0], relu: relu, buffers: buffers,
                               output: output)
                return
            }
            b.output.point(at: output)
            b.forward.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            w.stream.wait()
        }
    }

    /// ReLU backward in place: `gradOutput *= (output > 0)`, with `output` this layer's forward
    /// output (both bf16 bits when `lowPrecisionOutput`). No-op when the layer has no ReLU.
    public func applyReLUMask(batch: Int, output: UnsafePointer<Float>, gradOutput: UnsafeMutablePointer<Float>) {
        guard relu else { return }
        let n = batch * outputs
        if lowPrecisionOutput {
            BF16Kernels.reluMask(output: output, gradient: gradOutput, count: n)
            return
        }
        let zero = SIMD16<Float>(repeating: 0)
        var i = 0
        // 16 lanes at a time (the scalar ternary loop did not vectorize: 3.3 ns/element).
        while i + 16 <= n {
            let o = UnsafeRawPointer(output + i).loadUnaligned(as: SIMD16<Float>.self)
            let g = UnsafeRawPointer(gradOutput + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(gradOutput + i).storeBytes(of: g.replacing(with: zero, where: .!(o .> zero)), as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            if !(output[i] > 0) { gradOutput[i] = 0 }
            i += 1
        }
    }

    /// `gradInput = gradOutput·W` (`[batch][outputs]` → `[batch][inputs]`, plain; overwritten; bf16
    /// bits where chained, as in `forward`). `gradOutput` must already be masked by `applyReLUMask`.
    public func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                             worker: Int) {
        let plan = plan(batch)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            b.take(gradOutput: gradOutput, count: batch &* outputs)
            if let kernel = singleOutput, let buffers = b.singleOutputBuffers, let dy = b.productGradient.pointer {
                kernel.backwardData(rows: batch, gradOutput: dy, masterValues: weights.values, buffers: buffers,
                                    gradInput: UnsafeMutableRawPointer(gradInput), lowPrecision: lowPrecisionInput)
                return
            }
            b.gradInput.point(at: gradInput)
            b.backwardData.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            w.stream.wait()
        }
    }

    /// `gradWeights = gradOutputᵀ·input` (layout of `weights`, `weightGradientCount` floats) and
    /// `gradBias = Σ_batch gradOutput` (`outputs` floats); both overwritten, not accumulated.
    public func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradWeights: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>,
                                worker: Int) {
        if weightGradient == .transposedGEMM {
            transposedGEMMWeightGradient(batch: batch, input: input, gradOutput: gradOutput, gradWeights: gradWeights,
                                         gradBias: gradBias, worker: worker)
            return
        }
        backwardWeights(batch: batch, gradOutput: gradOutput, gradWeights: gradWeights, gradBias: gradBias, worker: worker) {
            $0.take(input: input, count: batch &* inputs)
        }
    }

    /// `backwardWeights` by `WeightGradientMethod.transposedGEMM` (fp32): the reorder transposes
    /// the input (`ba` weights) or the output gradient (`ab`) into the worker's buffer, then one
    /// `dnnl_sgemm` without transposed operands writes the weight gradient; the bias gradient is
    /// summed here, row after row.
    private func transposedGEMMWeightGradient(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                              gradWeights: UnsafeMutablePointer<Float>,
                                              gradBias: UnsafeMutablePointer<Float>, worker: Int) {
        let plan = plan(batch)
        // ba: dW[in][out] = Xᵀ[in][rows]·dY[rows][out]; ab: dW[out][in] = dYᵀ[out][rows]·X[rows][in].
        let (m, n, other) = transposesInput ? (inputs, outputs, gradOutput) : (outputs, inputs, input)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            if transposesInput { b.productInput.point(at: input) } else { b.productGradient.point(at: gradOutput) }
            b.backwardWeights.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            w.stream.wait()
            let transposed = UnsafePointer(b.transposedOperand!.pointer.assumingMemoryBound(to: Float.self))
            let notTransposed = CChar(UInt8(ascii: "N"))
            dnnlMust(dnnl_sgemm(notTransposed, notTransposed, Int64(m), Int64(n), Int64(batch), 1, transposed, Int64(batch),
                                other, Int64(n), 0, gradWeights, Int64(n)),
                     "dnnl_sgemm(\(name) weight gradient, \(m)×\(n)×\(batch))")
        }
        Self.sumRows(gradOutput, rows: batch, columns: outputs, into: gradBias)
    }

    /// `sums[c] = Σ_r matrix[r][c]` over a row-major `rows × columns` matrix, rows in order.
    static func sumRows(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>) {
        sums.update(repeating: 0, count: columns)
        for r in 0..<rows {
            let row = matrix + r &* columns
            var c = 0
            // 16 lanes at a time, as `applyReLUMask`.
            while c &+ 16 <= columns {
                let s = UnsafeRawPointer(sums + c).loadUnaligned(as: SIMD16<Float>.self)
                let x = UnsafeRawPointer(row + c).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(sums + c).storeBytes(of: s + x, as: SIMD16<Float>.self)
                c &+= 16
            }
            while c < columns {
                sums[c] += row[c]
                c &+= 1
            }
        }
    }

    /// `backwardWeights` over `batch` rows whose input arrives in parts (`inputParts[k]`, plain fp32
    /// `[partRows[k]][inputs]`, in row order; the rows sum to `batch`): each part is converted into
    /// its rows of the bf16 input the product reads, so the parts need not be one buffer. Only for
    /// layers that convert their input (`convertsInput`).
    public func backwardWeights(batch: Int, inputParts: UnsafeBufferPointer<UnsafePointer<Float>>, partRows: [Int],
                                gradOutput: UnsafePointer<Float>, gradWeights: UnsafeMutablePointer<Float>,
                                gradBias: UnsafeMutablePointer<Float>, worker: Int) {
        dnnlRequire(convertsInput && inputParts.count == partRows.count && partRows.reduce(0, +) == batch,
                    "\(name): input parts need a bf16 layer that converts its input, one row count per part, \(batch) rows in all (got \(partRows))")
        backwardWeights(batch: batch, gradOutput: gradOutput, gradWeights: gradWeights, gradBias: gradBias, worker: worker) {
            $0.take(inputParts: inputParts, partRows: partRows, inputs: inputs)
        }
    }

    /// The backward-weights product on `worker`, after `takeInput` has pointed (or converted) the
    /// product's input in the worker's binding.
    @inline(__always)
    private func backwardWeights(batch: Int, gradOutput: UnsafePointer<Float>, gradWeights: UnsafeMutablePointer<Float>,
                                 gradBias: UnsafeMutablePointer<Float>, worker: Int, takeInput: (DenseBinding) -> Void) {
        let plan = plan(batch)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            takeInput(b)
            b.take(gradOutput: gradOutput, count: batch &* outputs)
            if let kernel = singleOutput, b.singleOutputBuffers != nil, let input = b.productInput.pointer,
               let gradient = b.productGradient.pointer {
                kernel.backwardWeights(rows: batch, input: input, gradOutput: gradient, gradWeights: gradWeights, gradBias: gradBias)
                return
            }
            // The engine's kernel runs on the calling thread alone: a worker with a larger OpenMP
            // team keeps the primitive, which uses the team.
            if let kernel = packedWeightGradient, let operands = b.packedOperands, !w.boosted,
               rectune_omp_get_max_threads() == 1, let input = b.productInput.pointer, let gradient = b.productGradient.pointer {
                kernel.compute(rows: batch, input: input, gradOutput: gradient, buffers: operands, gradWeights: gradWeights,
                               gradBias: gradBias)
                return
            }
            b.gradWeights.point(at: gradWeights)
            b.gradBias.point(at: gradBias)
            b.backwardWeights.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            w.stream.wait()
        }
    }

    /// Implementation names and layouts chosen for `batch`, or nil if it was not prepared.
    public func implementationNames(batch: Int) -> DenseLayerProfile? {
        guard preparedBatches.contains(batch) else { return nil }
        return plan(batch).profile(layer: self)
    }
}
