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

    /// Why this host cannot run `bf16: on`, or nil when it can. oneDNN 2.6.3 implements bf16 inner
    /// products and `dnnl_gemm_bf16bf16f32` only from AVX-512 (`avx512_core`) up: on an AVX2 host
    /// (or under `ONEDNN_MAX_CPU_ISA=AVX2`) both are `dnnl_unimplemented`. Probed once, by asking
    /// oneDNN for a 1×1×1 bf16 GEMM.
    public static let bf16Unsupported: String? = {
        let one: UInt16 = 0x3F80  // 1.0 in bf16
        var a = one, b = one
        var c: Float = 0
        let status = dnnl_gemm_bf16bf16f32(78, 78, 1, 1, 1, 1, &a, 1, &b, 1, 0, &c, 1)
        if status == dnnl_success && c == 1 { return nil }
        return "oneDNN \(version) has no bf16 GEMM on this CPU (ISA \(isa); dnnl_gemm_bf16bf16f32 returns "
            + "\(DNNLError(rawValue: Int32(bitPattern: status.rawValue), call: "").statusName)): bf16 needs AVX-512 (avx512_core or newer); use bf16: off"
    }()
}
