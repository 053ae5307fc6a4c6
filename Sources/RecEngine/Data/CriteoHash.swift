/// The categorical-feature hash of the reader, shared by the generator's documentation and tests.
///
/// A Criteo categorical field is a hex string (8 digits in the Kaggle files; the reader accepts
/// 1 to 16 digits, either case) read as an unsigned 64-bit `value`. Column `c` (0-based, 0…25)
/// maps it to an id in `[0, buckets)`:
///
///     h  = value ^ ((c + 1) &* 0x9E3779B97F4A7C15)        // separate the columns
///     h  = (h ^ (h >> 30)) &* 0xBF58476D1CE4E5B9          // SplitMix64 finalizer
///     h  = (h ^ (h >> 27)) &* 0x94D049BB133111EB
///     h ^= h >> 31
///     id = 1 + highWord(h × (buckets − 1))                // Lemire's multiply-shift range reduction
///
/// An empty field (missing value) always maps to id 0, which no present value uses, so
/// "missing" gets its own embedding row in every column. `buckets` must be at least 2.
public enum CriteoHash {
    /// The id of hex value `value` in categorical column `column` with `buckets` rows per table.
    @inline(__always)
    public static func id(value: UInt64, column: Int, buckets: Int) -> Int32 {
        Int32(truncatingIfNeeded: 1 &+ reduce(mix(value: value, column: column), range: UInt64(buckets &- 1)))
    }

    /// The id of a missing (empty) categorical field.
    public static let missingID: Int32 = 0

    /// The 64-bit mix of `(value, column)` (the first four lines of the type's description).
    @inline(__always)
    public static func mix(value: UInt64, column: Int) -> UInt64 {
        var h = value ^ (UInt64(truncatingIfNeeded: column &+ 1) &* 0x9E37_79B9_7F4A_7C15)
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// `floor(h × range / 2^64)`: a value in `[0, range)` without a division.
    @inline(__always)
    static func reduce(_ h: UInt64, range: UInt64) -> UInt64 {
        h.multipliedFullWidth(by: range).high
    }
}
