internal import CDNNL

/// Version and effective instruction set of the linked oneDNN library.
public enum OneDNNInfo {
    /// e.g. `2.6.3` (calls `dnnl_version`).
    public static var version: String {
        guard let v = dnnl_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
    }

    /// The ISA oneDNN dispatches to, e.g. `avx512_core_bf16` (calls `dnnl_get_effective_cpu_isa`).
    public static var isa: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: "sse41"
        case dnnl_cpu_isa_avx: "avx"
        case dnnl_cpu_isa_avx2: "avx2"
        case dnnl_cpu_isa_avx512_mic: "avx512_mic"
        case dnnl_cpu_isa_avx512_mic_4ops: "avx512_mic_4ops"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        default: "isa(\(dnnl_get_effective_cpu_isa().rawValue))"
        }
    }

    /// Whether oneDNN dispatches to AVX-512 (core, VNNI, BF16 or AMX), so the C shim's 16-lane
    /// kernels (DLRM's interaction, dense Adam) run by default. They give the Swift kernels' bits.
    public static let hasAVX512Core: Bool = [
        dnnl_cpu_isa_avx512_core, dnnl_cpu_isa_avx512_core_vnni, dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx,
    ].contains(dnnl_get_effective_cpu_isa())

    /// Whether oneDNN dispatches to an ISA with AVX-512 BF16 (`avx512_core_bf16` or
    /// `avx512_core_amx`), so `BF16Kernels` convert with the instruction by default (same bits as
    /// their portable forms).
    public static let hasAVX512BF16: Bool = [dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx]
        .contains(dnnl_get_effective_cpu_isa())
}
