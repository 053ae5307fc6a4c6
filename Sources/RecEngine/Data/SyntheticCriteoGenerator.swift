#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes synthetic Criteo rows (see `SyntheticCriteoModel`) as bytes, one row at a time,
/// from a SplitMix64 stream seeded with `seed`: the same seed gives the same bytes.
struct SyntheticCriteoGenerator {
    /// Upper bound of the bytes one row can take (label, 13 ≤20-digit integers, 26 hex ids, tabs, `\n`).
    static let maxRowBytes = 2 + 13 * 22 + 26 * 9 + 1

    private var state: UInt64
    private let seed: UInt64
    // Per-column tables copied once into plain arrays (scaled weights; log of N + 1).
    private let logCardinality: [Float]
    private let catScale: [Double]
    private let catSalt: [UInt64]
    private let denseWeight: [Double]
    /// `log1p(x)` for small `x` (the common case), as in the reader.
    private let log1pTable: [Double]

    /// The hidden model's intercept for this seed (calibrated for ~25% positives).
    let intercept: Double

    /// A generator for `seed`. The intercept is calibrated on 16,384 rows of a separate stream
    /// (same per-id weights) so that the expected positive rate is `targetPositiveRate`.
    init(seed: UInt64) {
        var probe = SyntheticCriteoGenerator(seed: seed, stream: seed ^ 0xC0FF_EE00_D15E_A5E5, intercept: 0)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.maxRowBytes)
        defer { buffer.deallocate() }
        let logits = (0..<16_384).map { _ in probe.row(into: buffer).logit }
        var lo = -20.0, hi = 20.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            var mean = 0.0
            for l in logits { mean += 1 / (1 + exp(-(mid + l))) }
            mean /= Double(logits.count)
            if mean < SyntheticCriteoModel.targetPositiveRate { lo = mid } else { hi = mid }
        }
        self.init(seed: seed, stream: seed, intercept: (lo + hi) / 2)
    }

    private init(seed: UInt64, stream: UInt64, intercept: Double) {
        self.seed = seed
        self.intercept = intercept
        self.state = stream ^ 0x5DEE_CE66_D1CE_4E5B
        let m = SyntheticCriteoModel.self
        logCardinality = m.cardinalities.map { Float(log(Double($0) + 1)) }
        catScale = m.categoricalScale.map { $0 * m.signalScale }
        denseWeight = m.denseWeight.map { $0 * m.signalScale }
        log1pTable = (0..<1024).map { log1p(Double($0)) }
        catSalt = (0..<CriteoSchema.categoricalCount).map { SyntheticCriteoGenerator.splitmix(seed &+ UInt64($0 &+ 1) &* 0xA24B_AED4_963E_E407) }
    }

    @inline(__always)
    static func splitmix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    @inline(__always)
    private mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Approximately standard normal from the four 16-bit parts of `h` (Irwin–Hall, n = 4).
    @inline(__always)
    static func normalish(_ h: UInt64) -> Double {
        let s = Double(h & 0xFFFF) + Double((h >> 16) & 0xFFFF) + Double((h >> 32) & 0xFFFF) + Double(h >> 48)
        return (s * 0x1p-16 - 2) * 1.7320508075688772
    }

    /// Writes one row at `out` (at least `maxRowBytes` writable) and returns the bytes written,
    /// the label and the hidden model's logit for the row.
    mutating func row(into out: UnsafeMutablePointer<UInt8>) -> (count: Int, label: Bool, logit: Double) {
        let m = SyntheticCriteoModel.self
        var pos = 1  // the label goes to out[0] once it is drawn
        var logit = intercept
        for j in 0..<CriteoSchema.denseCount {
            out[pos] = 9; pos += 1
            let u = uniform()
            if u < m.denseMissing[j] { continue }
            let z = Self.normalish(next())
            let x = max(Int64(exp(m.denseMu[j] + m.denseSigma[j] * z)) - 1, 0) - m.denseShift[j]
            pos += Self.writeDecimal(x, to: out + pos)
            let w = denseWeight[j]
            if w != 0 && x > 0 { logit += w * (x < 1024 ? log1pTable[Int(x)] : log1p(Double(x))) }
        }
        for c in 0..<CriteoSchema.categoricalCount {
            out[pos] = 9; pos += 1
            let u = next()
            if Double(u >> 11) * 0x1p-53 < m.categoricalMissing[c] { continue }
            // Zipf(1) rank by inversion: floor((N + 1)^v) - 1, in single precision (expf is
            // about twice as fast as exp; the rank stays a deterministic function of the stream).
            let v = Float(next() >> 40) * 0x1p-24
            let rank = min(UInt64(expf(v * logCardinality[c])), UInt64(m.cardinalities[c])) &- 1
            let h = Self.splitmix(catSalt[c] ^ rank)
            Self.writeHex8(UInt32(truncatingIfNeeded: h), to: out + pos)
            pos += 8
            let scale = catScale[c]
            if scale != 0 { logit += scale * Self.normalish(Self.splitmix(h ^ 0x2545_F491_4F6C_DD1D)) }
        }
        out[pos] = 10; pos += 1
        let p = 1 / (1 + exp(-logit))
        let label = uniform() < p
        out[0] = label ? 49 : 48
        return (pos, label, logit)
    }

    /// Writes `x` in decimal; returns the number of bytes.
    @inline(__always)
    static func writeDecimal(_ x: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        var v = x.magnitude
        if x < 0 { out[0] = 45; n = 1 }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var k = 0
        withUnsafeMutableBytes(of: &tmp) { t in
            repeat {
                t[k] = UInt8(truncatingIfNeeded: 48 &+ v % 10)
                v /= 10
                k += 1
            } while v > 0
            for i in 0..<k { out[n + i] = t[k - 1 - i] }
        }
        return n + k
    }

    /// Writes `v` as exactly 8 lowercase hex digits.
    @inline(__always)
    static func writeHex8(_ v: UInt32, to out: UnsafeMutablePointer<UInt8>) {
        for i in 0..<8 {
            let d = UInt8(truncatingIfNeeded: (v >> UInt32(28 - 4 * i)) & 0xF)
            out[i] = d < 10 ? 48 &+ d : 87 &+ d
        }
    }
}
