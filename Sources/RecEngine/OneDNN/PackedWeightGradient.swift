internal import CDNNL
import Foundation

/// A bf16 layer's weight gradient by the engine's kernel instead of oneDNN's backward-weights
/// primitive (`bf16_weight_gradient.h` in the C shim): both operands packed into the row-pair
/// order `vdpbf16ps` reads, then one register tile per 6 inputs × one output block of the master's
/// `AB16b<X>a` layout, accumulating over every row pair.
///
/// Why: on AVX-512 BF16 hosts without AMX oneDNN 2.6.3 runs bf16 backward-weights as
/// `brgemm_bwd_w:avx512_core_bf16`, which transposes both operands on every call; WDL's
/// weight-gradient products ran at 176–207 GFLOP/s on one Zen 4 core against 212–226 for its
/// forward ones. The kernel ran WDL's three shapes at 256 rows 1.04–1.08× faster than the
/// primitive on one core (`bench --dense --batch 256` prints both), with the same bits: at 256
/// and 512 rows each output, and each bias value, is one fp32 accumulator over the row pairs in
/// order in both. At other row counts oneDNN sums in another order, so the last bits may differ;
/// the kernel is deterministic either way.
///
/// Where: bf16 layers on hosts where oneDNN dispatches to `avx512_core_bf16` exactly (AMX's
/// primitive is several times faster), whose master is `AB16b<X>a` with X of 16–64, with at least
/// 64 inputs and outputs (smaller products lost against the primitive: 13→512 at 0.73×), at most
/// 512 rows per call (at 2048 rows it only matched the primitive, 1.00–1.02×), and
/// only in calls that run on one thread (a boosted call or a worker with an OpenMP team of more
/// than one keeps the primitive, which uses the team). `RECTUNE_BF16_WEIGHT_GRADIENT=onednn`
/// keeps the primitive everywhere (for comparisons).
struct PackedWeightGradient: Sendable {
    /// The master's layout, which the kernel writes the gradient in.
    let master: BlockedMasterLayout
    /// Outputs per master block (X) and output blocks (panels).
    var block: Int { master.block }
    var panels: Int { master.paddedOutputs / master.block }
    /// Inputs of the master including its padding (a multiple of 16).
    var paddedInputs: Int { master.paddedInputs }
    /// The master's outer strides, in floats: one output block, one block of 16 inputs.
    var outputStride: Int { master.outputStride }
    var inputStride: Int { master.inputStride }
    /// Inputs the packed input covers (paddedInputs rounded up to the tile's 6 rows) and the
    /// distance between two packed row pairs: that rounded to 16 (the packing writes 16 columns at a
    /// time), plus 16, so consecutive row pairs do not fall on the same cache sets (1024 inputs
    /// would put them 4 KiB apart).
    let packedInputs: Int
    let packedInputStride: Int
    let inputs: Int
    let outputs: Int

    /// Most rows per call the kernel takes.
    static let maxRows = 512
    /// Fewest inputs and outputs of a layer the kernel takes.
    static let minFeatures = 64

    /// Set from `RECTUNE_BF16_WEIGHT_GRADIENT`: `onednn` keeps the primitive everywhere.
    static let disabledByEnvironment: Bool = ProcessInfo.processInfo.environment["RECTUNE_BF16_WEIGHT_GRADIENT"] == "onednn"

    /// Whether this host takes the kernel: oneDNN dispatches to `avx512_core_bf16` (AVX-512 BF16,
    /// no AMX) and the environment does not turn it off.
    static let hostTakesKernel: Bool = dnnl_get_effective_cpu_isa() == dnnl_cpu_isa_avx512_core_bf16 && !disabledByEnvironment

    /// nil unless `master` is an fp32 `AB16b<X>a` layout (X of 16, 32, 48 or 64) of a layer with at
    /// least `minFeatures` inputs and outputs.
    init?(master: DNNLMemoryDesc, inputs: Int, outputs: Int) {
        guard inputs >= Self.minFeatures, outputs >= Self.minFeatures, let m = BlockedMasterLayout(master),
              master.blockedLayout?.dims == [outputs, inputs], [16, 32, 48, 64].contains(m.block),
              m.paddedOutputs % m.block == 0, m.paddedInputs % 16 == 0, m.rowsAreSequential,
              master.bytes == m.paddedOutputs * m.paddedInputs * MemoryLayout<Float>.stride
        else { return nil }
        self.master = m
        let tile = Int(RT_WG_ROWS)
        packedInputs = (m.paddedInputs + tile - 1) / tile * tile
        packedInputStride = (packedInputs + 15) / 16 * 16 + 16
        self.inputs = inputs
        self.outputs = outputs
    }

    /// The packed operands of one call of up to `rows` rows (one per worker binding).
    final class Buffers: @unchecked Sendable {
        let input: AlignedBuffer
        let gradient: AlignedBuffer
        init(_ kernel: PackedWeightGradient, rows: Int) {
            let pairs = (rows + 1) / 2
            input = AlignedBuffer(bytes: pairs * kernel.packedInputStride * 4)
            gradient = AlignedBuffer(bytes: pairs * kernel.panels * kernel.block * 4)
        }
    }

    /// Buffers for calls of `rows` rows, or nil where the kernel does not take that many.
    func buffers(rows: Int) -> Buffers? { rows >= 1 && rows <= Self.maxRows ? Buffers(self, rows: rows) : nil }

    /// `gradWeights` (the master layout, every element including padding) and `gradBias`
    /// (`outputs` floats) from bf16 `input` (`rows × inputs`) and bf16 `gradOutput`
    /// (`rows × outputs`), both plain row-major; both results overwritten.
    func compute(rows: Int, input: UnsafeRawPointer, gradOutput: UnsafeRawPointer, buffers: Buffers,
                 gradWeights: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>) {
        let a = buffers.input.pointer.assumingMemoryBound(to: UInt32.self)
        let b = buffers.gradient.pointer.assumingMemoryBound(to: UInt32.self)
        rt_wg_pack_rows(input.assumingMemoryBound(to: UInt16.self), rows, inputs, packedInputs, packedInputStride, a)
        rt_wg_pack_panels(gradOutput.assumingMemoryBound(to: UInt16.self), rows, outputs, block, panels, b, gradBias)
        let status = rt_wg_weight_gradient(a, packedInputStride, b, (rows + 1) / 2, paddedInputs, panels, block, outputs,
                                           gradWeights, outputStride, inputStride)
        dnnlRequire(status == 0, "bf16 weight-gradient kernel: block \(block) not supported")
    }
}
