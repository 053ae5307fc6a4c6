internal import CDNNL

/// fp32 → bf16 conversion with the rounding of the instruction oneDNN's reorders use on AVX-512
/// BF16 and AMX hosts (`vcvtneps2bf16`): round to nearest even, zeros and denormals to a signed
/// zero, NaNs kept and made quiet. The loops are C in the engine's shim: the instruction itself
/// where the CPU has it (oneDNN's ISA detection says so), else 16-lane integer code with the same
/// results (`rt_bf16_*`; Swift's `SIMD16<UInt32>` masks ran lane by lane, ~70× slower).
///
/// A bf16 layer that is handed fp32 (the first of an `MLPStack`, or its last one's output
/// gradient) converts it with `convert` before its products (oneDNN 2.6's reorder between the same
/// plain layouts took 0.3–0.4 ns per element on an AMX host, a third of the product's own time);
/// chained layers mask with `reluMask`; every bf16 layer refreshes its bf16 weight copy with
/// `interleavePairs` after each update (`WeightMaintenance`).
public enum BF16Kernels {
    /// The bf16 bits of one float.
    @inline(__always)
    public static func bits(_ x: Float) -> UInt16 { UInt16(truncatingIfNeeded: rt_bf16_bits(x.bitPattern)) }

    /// `out[k] = bf16(source[k])` for `k < count` (`out` holds `count` bf16 values).
    public static func convert(_ source: UnsafePointer<Float>, to out: UnsafeMutableRawPointer, count: Int,
                               instruction: Bool = OneDNNInfo.hasAVX512BF16) {
        let halves = out.assumingMemoryBound(to: UInt16.self)
        if instruction { rt_bf16_convert_avx512(source, halves, count) } else { rt_bf16_convert(source, halves, count) }
    }

    /// `out[k] = bf16(row0[k]) | bf16(row1[k]) << 16` for `k < count`: two rows converted and
    /// interleaved pair by pair (`out` as bf16 holds row0[0], row1[0], row0[1], row1[1], …), the
    /// innermost `2b` block of oneDNN's bf16 weight layouts.
    public static func interleavePairs(_ row0: UnsafePointer<Float>, _ row1: UnsafePointer<Float>,
                                       into out: UnsafeMutablePointer<UInt32>, count: Int,
                                       instruction: Bool = OneDNNInfo.hasAVX512BF16) {
        if instruction {
            rt_bf16_interleave_pairs_avx512(row0, row1, out, count)
        } else {
            rt_bf16_interleave_pairs(row0, row1, out, count)
        }
    }

    /// ReLU backward on bf16 bits in place: `gradient[k] = 0` where `output[k]` is not > 0 (zero,
    /// negative or NaN, as the fp32 mask decides), for chained bf16 layers.
    public static func reluMask(output: UnsafeRawPointer, gradient: UnsafeMutableRawPointer, count: Int) {
        rt_bf16_relu_mask(output.assumingMemoryBound(to: UInt16.self), gradient.assumingMemoryBound(to: UInt16.self), count)
    }
}
