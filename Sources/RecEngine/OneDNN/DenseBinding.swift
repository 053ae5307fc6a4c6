internal import CDNNL

/// One worker's view of a `DensePlan`: memory objects for the call's buffers (re-pointed per call),
/// bf16 staging buffers, and the plan's primitives bound to them. Used under that worker's lock.
final class DenseBinding {
    let input: DNNLMemory
    let output: DNNLMemory
    let gradOutput: DNNLMemory
    let gradInput: DNNLMemory
    let gradWeights: DNNLMemory
    let gradBias: DNNLMemory
    let forward: BoundPrimitive
    let backwardData: BoundPrimitive
    let backwardWeights: BoundPrimitive
    /// bf16 only: input → bf16 staging, output gradient → bf16 staging.
    let inputToLow: BoundPrimitive?
    let gradientToLow: BoundPrimitive?
    /// bf16 staging storage (kept alive with the binding).
    private let staging: [AlignedBuffer]

    typealias Primitives = (forward: DNNLPrimitive, backwardData: DNNLPrimitive, backwardWeights: DNNLPrimitive,
                            inputToLow: DNNLPrimitive?, gradientToLow: DNNLPrimitive?)

    init(plan p: Primitives, layer: DenseLayer, src: DNNLMemoryDesc, dst: DNNLMemoryDesc, lowSrc: DNNLMemoryDesc,
         lowDst: DNNLMemoryDesc, bias biasDesc: DNNLMemoryDesc, weights weightsDesc: DNNLMemoryDesc) throws {
        let engine = layer.context.engine
        input = try DNNLMemory(src, engine: engine, pointer: nil)
        output = try DNNLMemory(dst, engine: engine, pointer: nil)
        gradOutput = try DNNLMemory(dst, engine: engine, pointer: nil)
        gradInput = try DNNLMemory(src, engine: engine, pointer: nil)
        gradWeights = try DNNLMemory(layer.masterDesc, engine: engine, pointer: nil)
        gradBias = try DNNLMemory(biasDesc, engine: engine, pointer: nil)
        let bias = try DNNLMemory(biasDesc, engine: engine, pointer: UnsafeMutableRawPointer(layer.bias.values))
        let weightsStorage = layer.lowWeights?.pointer ?? UnsafeMutableRawPointer(layer.weights.values)
        let weights = try DNNLMemory(weightsDesc, engine: engine, pointer: weightsStorage)

        // What the products read: the caller's fp32 buffers, or bf16 staging copies of them.
        let productInput: DNNLMemory
        let productGradient: DNNLMemory
        if let toLowInput = p.inputToLow, let toLowGradient = p.gradientToLow {
            let inputBuffer = AlignedBuffer(bytes: lowSrc.bytes)
            let gradientBuffer = AlignedBuffer(bytes: lowDst.bytes)
            staging = [inputBuffer, gradientBuffer]
            productInput = try DNNLMemory(lowSrc, engine: engine, pointer: inputBuffer.pointer)
            productGradient = try DNNLMemory(lowDst, engine: engine, pointer: gradientBuffer.pointer)
            inputToLow = try BoundPrimitive(toLowInput, [(DNNL_ARG_FROM, input), (DNNL_ARG_TO, productInput)], engine: engine)
            gradientToLow = try BoundPrimitive(toLowGradient, [(DNNL_ARG_FROM, gradOutput), (DNNL_ARG_TO, productGradient)],
                                               engine: engine)
        } else {
            staging = []
            productInput = input
            productGradient = gradOutput
            inputToLow = nil
            gradientToLow = nil
        }
        forward = try BoundPrimitive(p.forward, [(DNNL_ARG_SRC, productInput), (DNNL_ARG_WEIGHTS, weights),
                                                 (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, output)], engine: engine)
        backwardData = try BoundPrimitive(p.backwardData, [(DNNL_ARG_DIFF_DST, productGradient), (DNNL_ARG_WEIGHTS, weights),
                                                           (DNNL_ARG_DIFF_SRC, gradInput)], engine: engine)
        backwardWeights = try BoundPrimitive(p.backwardWeights, [(DNNL_ARG_SRC, productInput), (DNNL_ARG_DIFF_DST, productGradient),
                                                                 (DNNL_ARG_DIFF_WEIGHTS, gradWeights),
                                                                 (DNNL_ARG_DIFF_BIAS, gradBias)], engine: engine)
    }
}

@available(*, unavailable)
extension DenseBinding: Sendable {}

extension DenseLayer {
    /// `output = input·Wᵀ + b` (then ReLU if `relu`). `input` is `[batch][inputs]`, `output`
    /// `[batch][outputs]`, both plain row-major fp32. Runs on `worker`'s stream and scratchpad.
    public func forward(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, worker: Int) {
        let plan = plan(batch)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            b.input.point(at: input)
            b.output.point(at: output)
            b.inputToLow?.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            b.forward.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            w.stream.wait()
        }
    }

    /// ReLU backward in place: `gradOutput *= (output > 0)`, with `output` this layer's forward
    /// output. No-op when the layer has no ReLU.
    public func applyReLUMask(batch: Int, output: UnsafePointer<Float>, gradOutput: UnsafeMutablePointer<Float>) {
        guard relu else { return }
        let n = batch * outputs
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

    /// `gradInput = gradOutput·W` (`[batch][outputs]` → `[batch][inputs]`, plain fp32; overwritten).
    /// `gradOutput` must already be masked by `applyReLUMask`.
    public func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                             worker: Int) {
        let plan = plan(batch)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            b.gradOutput.point(at: gradOutput)
            b.gradInput.point(at: gradInput)
            b.gradientToLow?.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            b.backwardData.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            w.stream.wait()
        }
    }

    /// `gradWeights = gradOutputᵀ·input` (layout of `weights`, `weightGradientCount` floats) and
    /// `gradBias = Σ_batch gradOutput` (`outputs` floats); both overwritten, not accumulated.
    public func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradWeights: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>,
                                worker: Int) {
        let plan = plan(batch)
        context.withWorker(worker) { w in
            let b = plan.binding(worker, boosted: w.boosted)
            b.input.point(at: input)
            b.gradOutput.point(at: gradOutput)
            b.gradWeights.point(at: gradWeights)
            b.gradBias.point(at: gradBias)
            b.inputToLow?.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
            b.gradientToLow?.execute(on: w.stream, scratchpad: w.scratchpad.pointer)
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
