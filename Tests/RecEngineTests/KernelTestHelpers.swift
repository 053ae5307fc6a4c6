import XCTest
@testable import RecEngine

/// Deterministic test data (same numbers on every machine and run): the engine's SplitMix64.
typealias KernelTestRNG = SplitMix64

extension SplitMix64 {
    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { uniform(-1, 1) }

    mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in uniform(lo, hi) }
    }

    /// Uniform integer in 0..<n.
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Central-difference check of a backward pass: `forward(x)` returns a scalar L (in Double),
/// `analytic` is the kernel's dL/dx for the same x; each listed index of `x` is perturbed by ±h.
///
/// Callers pick `h` and tolerances and state why; the failure message names the index.
func checkGradient(x: inout [Float], indices: [Int], h: Float, analytic: [Float], rtol: Double, atol: Double,
                   _ what: String, file: StaticString = #filePath, line: UInt = #line,
                   forward: ([Float]) -> Double) {
    var failures = 0
    for k in indices {
        let saved = x[k]
        x[k] = saved + h
        let plus = forward(x)
        x[k] = saved - h
        let minus = forward(x)
        x[k] = saved
        // The actual step in float may differ from 2h by rounding of saved ± h.
        let step = Double(saved + h) - Double(saved - h)
        let numeric = (plus - minus) / step
        let tol = atol + rtol * abs(numeric)
        if !(abs(Double(analytic[k]) - numeric) <= tol) {
            XCTFail("\(what): index \(k): analytic \(analytic[k]) vs numeric \(numeric) (tol \(tol))", file: file, line: line)
            failures += 1
            if failures > 5 { return }
        }
    }
}

/// Σ_k r[k]·y[k] in Double: the scalar whose gradient with respect to y is r (a random cotangent).
func project(_ y: [Float], _ r: [Float]) -> Double {
    var s: Double = 0
    for k in 0..<y.count { s += Double(y[k]) * Double(r[k]) }
    return s
}
