internal import CDNNL
import Foundation

/// The three products of a layer with one output (a model's logit layer) by the engine's kernels
/// (`single_output.h` in the C shim) instead of oneDNN's primitives: forward is a dot product per
/// row, backward-data an outer product, backward-weights a column sum.
///
/// Which layers: every model's logit layer is fp32 (the Criteo models and the contest's WDL,
/// DeepFM and DLRM keep it fp32 under the bf16 knob, `LogitPrecisionTests`); MMoE's towers compute
/// theirs in bf16, as the contest script does.
///
/// Why: oneDNN 2.6.3 runs an fp32 one-output layer as `x64:gemm:jit` with a dimension of 1 (256→1
/// at 512 rows on one Zen 4 core: 25.5 GFLOP/s forward, 32.5 backward-data, 37.5
/// backward-weights), and a bf16 one on brgemm kernels over an output padded to 16 (9.8, 32.3 and
/// 6.5, each call including the conversion of an fp32 input; the kernels 25.0, 40.5 and 22.4).
/// `bench --dense --dense-shapes 256x1` prints both. In MMoE's bf16 step the towers' logit layers
/// took 111–138 µs per step with the primitives and 60–63 µs with the kernels.
///
/// Bits: backward-data is one product per value, rounded once, in both precisions: the primitive's
/// bits. bf16 backward-weights and bias sum each input's row pairs in order in one accumulator,
/// as oneDNN's primitive does at 256 and 512 rows: its bits. fp32 backward-weights (a fused
/// multiply-add per row, rows in order) and every forward (lanes, then across them) sum in orders
/// of their own, so their last bits may differ from the primitive's. Deterministic, and the same
/// on every executor.
///
/// Where: fp32 layers with a dense master (`ab`/`ba`, no forward copy, no transposed GEMM) on
/// AVX-512 hosts; bf16 layers with an `AB16b<X>a` master on the hosts that take the weight-gradient
/// kernel (`PackedWeightGradient.hostTakesKernel`: oneDNN dispatches to `avx512_core_bf16`); in
/// both an output written as fp32. `RECTUNE_SINGLE_OUTPUT=onednn` keeps the primitives (for
/// comparisons).
struct SingleOutputKernel: Sendable {
    /// Where the weights are and what the products read.
    enum Form: Sendable {
        /// bf16 products; the master in `AB16b<X>a`, gathered and rounded to bf16 before each product.
        case bf16(BlockedMasterLayout)
        /// fp32 products on the master's `inputs` contiguous floats.
        case fp32
    }

    let form: Form
    let inputs: Int
    /// Floats of the master (padding included), all of which backward-weights writes.
    let masterCount: Int

    /// Set from `RECTUNE_SINGLE_OUTPUT`: `onednn` keeps the primitives.
    static let disabledByEnvironment: Bool = ProcessInfo.processInfo.environment["RECTUNE_SINGLE_OUTPUT"] == "onednn"

    /// Whether this host takes the bf16 kernels: the hosts that take the weight-gradient kernel.
    static let hostTakesBF16Kernel: Bool = PackedWeightGradient.hostTakesKernel && !disabledByEnvironment
    /// Whether this host takes the fp32 kernels: AVX-512 (oneDNN reports `avx512_core` or newer).
    static let hostTakesFP32Kernel: Bool = OneDNNInfo.hasAVX512Core && !disabledByEnvironment

    /// nil unless the layer has one output written as fp32 and a master the kernels read: bf16
    /// with an `AB16b<X>a` master, or fp32 with a dense one (`ab` or `ba`: `denseMaster`) and
    /// neither a forward copy nor the transposed GEMM.
    init?(precision: Precision, outputs: Int, inputs: Int, lowPrecisionOutput: Bool, master: DNNLMemoryDesc, denseMaster: Bool) {
        guard outputs == 1, !lowPrecisionOutput, inputs >= 1 else { return nil }
        switch precision {
        case .bf16:
            guard Self.hostTakesBF16Kernel, let m = BlockedMasterLayout(master), master.blockedLayout?.dims == [1, inputs],
                  m.paddedInputs >= inputs, master.bytes == m.paddedOutputs * m.paddedInputs * MemoryLayout<Float>.stride
            else { return nil }
            form = .bf16(m)
            masterCount = m.paddedOutputs * m.paddedInputs
        case .fp32:
            guard Self.hostTakesFP32Kernel, denseMaster, master.bytes == inputs * MemoryLayout<Float>.stride else { return nil }
            form = .fp32
            masterCount = inputs
        }
        self.inputs = inputs
    }

    /// bf16: the layer's weights as bf16, gathered from the master before each product (one per
    /// worker binding, so calls on different workers do not share it); fp32: nothing.
    final class Buffers: @unchecked Sendable {
        let weights: AlignedBuffer?
        init(bf16Inputs: Int?) { weights = bf16Inputs.map { AlignedBuffer(bytes: ($0 + 31) / 32 * 32 * 2) } }
    }

    func buffers() -> Buffers {
        if case .bf16 = form { return Buffers(bf16Inputs: inputs) }
        return Buffers(bf16Inputs: nil)
    }

    private func bf16Weights(_ layout: BlockedMasterLayout, _ masterValues: UnsafePointer<Float>, _ buffers: Buffers)
        -> UnsafeMutablePointer<UInt16> {
        let w = buffers.weights!.pointer.assumingMemoryBound(to: UInt16.self)
        rt_so_weights(masterValues, inputs, layout.inputStride, layout.block, w)
        return w
    }

    /// `output[n] = input[n]·w + bias` (then ReLU), fp32, from `input` (`rows × inputs`; bf16
    /// bits for the bf16 form).
    func forward(rows: Int, input: UnsafeRawPointer, masterValues: UnsafePointer<Float>, bias: Float, relu: Bool,
                 buffers: Buffers, output: UnsafeMutablePointer<Float>) {
        switch form {
        case .bf16(let layout):
            rt_so_forward(input.assumingMemoryBound(to: UInt16.self), rows, inputs, bf16Weights(layout, masterValues, buffers), bias,
                          relu ? 1 : 0, output)
        case .fp32:
            rt_so32_forward(input.assumingMemoryBound(to: Float.self), rows, inputs, masterValues, bias, relu ? 1 : 0, output)
        }
    }

    /// `gradInput[n][i] = gradOutput[n]·w[i]` from `gradOutput` (`rows` values; bf16 bits for the
    /// bf16 form), written as bf16 bits (`lowPrecision`, bf16 form only) or fp32.
    func backwardData(rows: Int, gradOutput: UnsafeRawPointer, masterValues: UnsafePointer<Float>, buffers: Buffers,
                      gradInput: UnsafeMutableRawPointer, lowPrecision: Bool) {
        switch form {
        case .bf16(let layout):
            rt_so_backward_data(gradOutput.assumingMemoryBound(to: UInt16.self), rows, inputs, bf16Weights(layout, masterValues, buffers),
                                gradInput, lowPrecision ? 1 : 0)
        case .fp32:
            rt_so32_backward_data(gradOutput.assumingMemoryBound(to: Float.self), rows, inputs, masterValues,
                                  gradInput.assumingMemoryBound(to: Float.self))
        }
    }

    /// The weight gradient (master layout, every element) and the bias gradient from `input` and
    /// `gradOutput` (bf16 bits for the bf16 form).
    func backwardWeights(rows: Int, input: UnsafeRawPointer, gradOutput: UnsafeRawPointer,
                         gradWeights: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>) {
        switch form {
        case .bf16(let layout):
            rt_so_backward_weights(input.assumingMemoryBound(to: UInt16.self), gradOutput.assumingMemoryBound(to: UInt16.self), rows,
                                   inputs, gradWeights, masterCount, layout.inputStride, layout.block, gradBias)
        case .fp32:
            rt_so32_backward_weights(input.assumingMemoryBound(to: Float.self), gradOutput.assumingMemoryBound(to: Float.self), rows,
                                     inputs, gradWeights, gradBias)
        }
    }
}
