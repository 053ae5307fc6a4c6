/// Size classes of the adaptive allocator's pool.
///
/// Up to 4 KiB: multiples of 64 bytes (64, 128, …, 4096; classes 0…63). Above: four classes per
/// power of two, i.e. for 2^e < bytes ≤ 2^(e+1) the sizes 2^e·(1 + j/4), j = 1…4 (5 KiB, 6 KiB,
/// 7 KiB, 8 KiB, 10 KiB, …). Waste is below 64 bytes for small tensors and below 25% for large
/// ones, and every class size is a multiple of 64, so carved blocks stay 64-byte aligned.
/// Classes rather than exact sizes let a tensor whose size drifts slightly (a different batch
/// size in one column) still hit a planned block.
public enum SizeClass {
    /// Largest size served by the 64-byte classes.
    public static let smallLimit = 4096

    /// Class index of an allocation of `bytes` (> 0) bytes.
    public static func index(for bytes: Int) -> Int {
        precondition(bytes > 0, "allocation size must be positive, got \(bytes)")
        if bytes <= smallLimit { return (bytes + 63) / 64 - 1 }
        let e = (Int.bitWidth - 1) - (bytes - 1).leadingZeroBitCount   // 2^e < bytes <= 2^(e+1)
        let step = 1 << (e - 2)
        let j = (bytes - (1 << e) + step - 1) / step                      // 1...4
        return 64 + (e - 12) * 4 + (j - 1)
    }

    /// Block size of class `index`: the largest allocation it serves.
    public static func size(of index: Int) -> Int {
        precondition(index >= 0, "size class index must be >= 0, got \(index)")
        if index < 64 { return (index + 1) * 64 }
        let e = (index - 64) / 4 + 12
        let j = (index - 64) % 4 + 1
        return (1 << e) + j * (1 << (e - 2))
    }
}
