import Foundation
import XCTest
@testable import RecEngine

/// The vector optimizer passes (Adagrad, Adam: 16 lanes where the CPU has AVX-512 (Adam), 8 in a
/// build for an AVX2 host, then 4, then the scalar tail) against their scalar definitions, bit for
/// bit; the sizes reach every stage.
final class OptimizerVectorTests: XCTestCase {
    func testVectorAdamIsBitIdenticalToScalar() {
        // With and without the AVX-512 stage where the CPU has it (elsewhere only without).
        for avx512 in OneDNNInfo.hasAVX512Core ? [false, true] : [false] {
            vectorAdamIsBitIdenticalToScalar(avx512: avx512)
        }
    }

    private func vectorAdamIsBitIdenticalToScalar(avx512: Bool) {
        for n in [0, 1, 3, 4, 7, 8, 9, 12, 13, 16, 17, 31, 32, 45, 1003, 1007] {
            var rng = SplitMix64(seed: UInt64(n) + 5)
            func value(_ k: Int) -> Float {
                // Mixed magnitudes and signs, exact zeros and subnormal-range values.
                switch k % 11 {
                case 0: return 0
                case 1: return 1e-39
                case 2: return Float(rng.nextUnit() * 2 - 1) * 1e4
                default: return Float(rng.nextUnit() * 2 - 1) * Float(pow(10.0, Double(k % 7) - 4))
                }
            }
            let theta0 = (0..<n).map { value($0 + 3) }
            var thetaV = theta0, thetaS = theta0
            var mV = [Float](repeating: 0, count: n), mS = mV, vV = mV, vS = mV
            for step in 1...4 {
                let g = (0..<n).map { value($0 * 7 + step) }
                let lr = OptimizerMath.adamStepSize(learningRate: 0.001, beta1: 0.9, beta2: 0.999, step: step)
                g.withUnsafeBufferPointer { gp in
                    thetaV.withUnsafeMutableBufferPointer { t in mV.withUnsafeMutableBufferPointer { m in vV.withUnsafeMutableBufferPointer { v in
                        OptimizerMath.adam(t.baseAddress!, gp.baseAddress!, m.baseAddress!, v.baseAddress!, n,
                                           stepSize: lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, avx512: avx512)
                    } } }
                    thetaS.withUnsafeMutableBufferPointer { t in mS.withUnsafeMutableBufferPointer { m in vS.withUnsafeMutableBufferPointer { v in
                        OptimizerMath.adamScalar(t.baseAddress!, gp.baseAddress!, m.baseAddress!, v.baseAddress!, n,
                                                 stepSize: lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
                    } } }
                }
            }
            XCTAssertEqual(thetaV.map(\.bitPattern), thetaS.map(\.bitPattern), "θ, n = \(n), avx512 \(avx512)")
            XCTAssertEqual(mV.map(\.bitPattern), mS.map(\.bitPattern), "m, n = \(n), avx512 \(avx512)")
            XCTAssertEqual(vV.map(\.bitPattern), vS.map(\.bitPattern), "v, n = \(n), avx512 \(avx512)")
            if n > 0 { XCTAssertNotEqual(thetaV, theta0, "the update must move θ (n = \(n))") }
        }
    }

    /// Mixed magnitudes and signs, exact zeros and subnormal-range values.
    static func values(_ n: Int, seed: UInt64, offset: Int) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            let k = i + offset
            switch k % 11 {
            case 0: return 0
            case 1: return 1e-39
            case 2: return Float(rng.nextUnit() * 2 - 1) * 1e4
            default: return Float(rng.nextUnit() * 2 - 1) * Float(pow(10.0, Double(k % 7) - 4))
            }
        }
    }

    func testVectorAdagradIsBitIdenticalToScalar() {
        for n in [0, 1, 3, 4, 5, 8, 12, 13, 1003, 1007] {
            let theta0 = Self.values(n, seed: UInt64(n) + 1, offset: 3)
            var adaV = theta0, adaS = theta0
            var accV = [Float](repeating: 0.1, count: n), accS = accV
            for step in 1...4 {
                let g = Self.values(n, seed: UInt64(n * 31 + step), offset: step)
                g.withUnsafeBufferPointer { gp in
                    adaV.withUnsafeMutableBufferPointer { t in accV.withUnsafeMutableBufferPointer { a in
                        OptimizerMath.adagrad(t.baseAddress!, gp.baseAddress!, a.baseAddress!, n, lr: 0.05, epsilon: 1e-7)
                    } }
                    adaS.withUnsafeMutableBufferPointer { t in accS.withUnsafeMutableBufferPointer { a in
                        OptimizerMath.adagradScalar(t.baseAddress!, gp.baseAddress!, a.baseAddress!, n, lr: 0.05, epsilon: 1e-7)
                    } }
                }
            }
            XCTAssertEqual(adaV.map(\.bitPattern), adaS.map(\.bitPattern), "Adagrad θ, n = \(n)")
            XCTAssertEqual(accV.map(\.bitPattern), accS.map(\.bitPattern), "Adagrad accumulator, n = \(n)")
            if n > 0 { XCTAssertNotEqual(adaV, theta0, "Adagrad must move θ (n = \(n))") }
        }
    }
}
