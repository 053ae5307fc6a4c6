internal import CDNNL
import Foundation

/// The three products of a bf16 layer with one output by the engine's kernels
/// (`bf16_single_output.h` in the C shim) instead of oneDNN's primitives: forward is a dot product
/// per row, backward-data an outer product, backward-weights a column sum. The models' bf16 layers
/// with one output are the logit layers of MMoE's towers (the contest script computes them in
/// bf16); every other model keeps its logit layer in fp32 (`LogitPrecisionTests`).
///
/// Why: oneDNN 2.6.3 pads the output to a block of 16 and computes the padding too; at 256→1 and
/// 512 rows on one Zen 4 core its bf16 forward ran at 9.8 GFLOP/s, backward-data at 32.3 and
/// backward-weights at 6.5 against the kernels' 25.0, 40.5 and 22.4 (`bench --dense --dense-shapes
/// 256x1 --bf16`, each call including the layer's conversion of its fp32 input). In MMoE's bf16
/// step (`bench --contest mmoe --bf16 --micro-batch 2 --trace`) the two towers' logit layers took
/// 111–138 µs per step with the primitives and 60–63 µs with the kernels.
///
/// Bits: backward-data (one exact product per value, rounded once) and backward-weights and the
/// bias gradient (each input's row pairs summed in order in one accumulator, as oneDNN's primitive
/// does at 256 and 512 rows) give the primitive's bits; forward sums in another order, so the
/// output's last bits may differ from the primitive's. Deterministic, and the same on every
/// executor.
///
/// Where: the hosts that take the weight-gradient kernel (`PackedWeightGradient.hostTakesKernel`:
/// oneDNN dispatches to `avx512_core_bf16`), bf16 layers with one output written as fp32, and a
/// master in `AB16b<X>a`. `RECTUNE_BF16_SINGLE_OUTPUT=onednn` keeps the primitives (for comparisons).
struct SingleOutputKernel: Sendable {
    /// The master's layout: where each input's weight sits and how the gradient is laid out.
    let master: BlockedMasterLayout
    let inputs: Int
    /// Floats of the master (padding included), all of which backward-weights writes.
    let masterCount: Int

    /// Set from `RECTUNE_BF16_SINGLE_OUTPUT`: `onednn` keeps the primitives.
    static let disabledByEnvironment: Bool = ProcessInfo.processInfo.environment["RECTUNE_BF16_SINGLE_OUTPUT"] == "onednn"

    /// Whether this host takes the kernels.
    static let hostTakesKernel: Bool = PackedWeightGradient.hostTakesKernel && !disabledByEnvironment

    /// nil unless the layer is bf16 with one fp32 output and an `AB16b<X>a` master.
    init?(precision: Precision, outputs: Int, inputs: Int, lowPrecisionOutput: Bool, master: DNNLMemoryDesc) {
        guard precision == .bf16, outputs == 1, !lowPrecisionOutput, inputs >= 1, let m = BlockedMasterLayout(master),
              master.blockedLayout?.dims == [1, inputs], m.paddedInputs >= inputs,
              master.bytes == m.paddedOutputs * m.paddedInputs * MemoryLayout<Float>.stride
        else { return nil }
        self.master = m
        self.inputs = inputs
        masterCount = m.paddedOutputs * m.paddedInputs
    }

    /// The layer's weights as bf16, gathered from the master before each product (one per worker
    /// binding, so calls on different workers do not share it).
    final class Buffers: @unchecked Sendable {
        let weights: AlignedBuffer
        init(inputs: Int) { weights = AlignedBuffer(bytes: (inputs + 31) / 32 * 32 * 2) }
    }

    func buffers() -> Buffers { Buffers(inputs: inputs) }

    private func gatherWeights(_ masterValues: UnsafePointer<Float>, into buffers: Buffers) -> UnsafeMutablePointer<UInt16> {
        let w = buffers.weights.pointer.assumingMemoryBound(to: UInt16.self)
        rt_so_weights(masterValues, inputs, master.inputStride, master.block, w)
        return w
    }

    /// `output[n] = input[n]·w + bias` (then ReLU), fp32, from bf16 `input` (`rows × inputs`).
    func forward(rows: Int, input: UnsafeRawPointer, masterValues: UnsafePointer<Float>, bias: Float, relu: Bool,
                 buffers: Buffers, output: UnsafeMutablePointer<Float>) {
        let w = gatherWeights(masterValues, into: buffers)
        rt_so_forward(input.assumingMemoryBound(to: UInt16.self), rows, inputs, w, bias, relu ? 1 : 0, output)
    }

    /// `gradInput[n][i] = gradOutput[n]·w[i]` from bf16 `gradOutput` (`rows` values), written as
    /// bf16 bits (`lowPrecision`) or fp32.
    func backwardData(rows: Int, gradOutput: UnsafeRawPointer, masterValues: UnsafePointer<Float>, buffers: Buffers,
                      gradInput: UnsafeMutableRawPointer, lowPrecision: Bool) {
        let w = gatherWeights(masterValues, into: buffers)
        rt_so_backward_data(gradOutput.assumingMemoryBound(to: UInt16.self), rows, inputs, w, gradInput, lowPrecision ? 1 : 0)
    }

    /// The weight gradient (master layout, every element) and the bias gradient from bf16 `input`
    /// and bf16 `gradOutput`.
    func backwardWeights(rows: Int, input: UnsafeRawPointer, gradOutput: UnsafeRawPointer,
                         gradWeights: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>) {
        rt_so_backward_weights(input.assumingMemoryBound(to: UInt16.self), gradOutput.assumingMemoryBound(to: UInt16.self), rows,
                               inputs, gradWeights, masterCount, master.inputStride, master.block, gradBias)
    }
}
