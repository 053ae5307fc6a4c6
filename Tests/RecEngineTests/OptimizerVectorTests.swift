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

    /// Two micro-batches' gradients: `update(gradient:plus:)` (Adam reads both in its own pass,
    /// 16, 8, 4 lanes and the tail) must give the bits of summing the second into the first and
    /// updating from the sum, as the engine did before; for every optimizer, with and without the
    /// AVX-512 stage where the CPU has it.
    func testUpdateFromTwoGradientsEqualsSummingThemFirst() {
        for n in [1, 7, 16, 17, 45, 1003, 1007] {
            let theta0 = Self.values(n, seed: UInt64(n) + 9, offset: 3)
            for (name, make) in [("adam", { Adam(learningRate: 0.001) as any DenseOptimizer }),
                                 ("adagrad", { Adagrad(learningRate: 0.05) }), ("sgd", { SGD(learningRate: 0.1) })] {
                let fused = ParameterTensor(name: "fused", rows: 1, columns: n), summed = ParameterTensor(name: "summed", rows: 1, columns: n)
                for k in 0..<n { fused.values[k] = theta0[k]; summed.values[k] = theta0[k] }
                let fusedOptimizer = make(), summedOptimizer = make()
                for step in 1...3 {
                    let g1 = Self.values(n, seed: UInt64(n * 17 + step), offset: step)
                    let g2 = Self.values(n, seed: UInt64(n * 29 + step), offset: step + 5)
                    var a = g1, b = g1
                    a.withUnsafeMutableBufferPointer { a in g2.withUnsafeBufferPointer { g2 in
                        fusedOptimizer.update(fused, gradient: a.baseAddress!, plus: g2.baseAddress!, step: step)
                    } }
                    b.withUnsafeMutableBufferPointer { b in g2.withUnsafeBufferPointer { g2 in
                        VectorKernels.accumulate(g2.baseAddress!, into: b.baseAddress!, count: n)
                        summedOptimizer.update(summed, gradient: UnsafePointer(b.baseAddress!), step: step)
                    } }
                }
                XCTAssertEqual((0..<n).map { fused.values[$0].bitPattern }, (0..<n).map { summed.values[$0].bitPattern }, "\(name), n = \(n)")
                XCTAssertNotEqual((0..<n).map { fused.values[$0] }, theta0, "\(name) must move θ (n = \(n))")
            }
            // The kernel itself, with and without the AVX-512 stage.
            for avx512 in OneDNNInfo.hasAVX512Core ? [false, true] : [false] {
                var thetaF = theta0, thetaS = theta0
                var mF = [Float](repeating: 0, count: n), mS = mF, vF = mF, vS = mF
                for step in 1...3 {
                    let g1 = Self.values(n, seed: UInt64(n * 13 + step), offset: step)
                    let g2 = Self.values(n, seed: UInt64(n * 37 + step), offset: step + 2)
                    let sum = zip(g1, g2).map { $0 + $1 }
                    let lr = OptimizerMath.adamStepSize(learningRate: 0.001, beta1: 0.9, beta2: 0.999, step: step)
                    thetaF.withUnsafeMutableBufferPointer { t in mF.withUnsafeMutableBufferPointer { m in vF.withUnsafeMutableBufferPointer { v in
                        OptimizerMath.adam(t.baseAddress!, g1, m.baseAddress!, v.baseAddress!, n, stepSize: lr, beta1: 0.9, beta2: 0.999,
                                           epsilon: 1e-8, plus: g2, avx512: avx512)
                    } } }
                    thetaS.withUnsafeMutableBufferPointer { t in mS.withUnsafeMutableBufferPointer { m in vS.withUnsafeMutableBufferPointer { v in
                        OptimizerMath.adamScalar(t.baseAddress!, sum, m.baseAddress!, v.baseAddress!, n, stepSize: lr, beta1: 0.9,
                                                 beta2: 0.999, epsilon: 1e-8)
                    } } }
                }
                XCTAssertEqual(thetaF.map(\.bitPattern), thetaS.map(\.bitPattern), "θ, n = \(n), avx512 \(avx512)")
                XCTAssertEqual(mF.map(\.bitPattern), mS.map(\.bitPattern), "m, n = \(n), avx512 \(avx512)")
                XCTAssertEqual(vF.map(\.bitPattern), vS.map(\.bitPattern), "v, n = \(n), avx512 \(avx512)")
            }
        }
    }

    /// `update(..., runs:afterRun:)` (a bf16 layer converts each run into its copy there): the bits
    /// of one whole update over the same elements, with `afterRun` called once per run, in order,
    /// covering exactly the elements, each run already updated when it is called; every optimizer,
    /// with and without a second gradient, run lengths that do and do not divide the range.
    func testUpdateInRunsEqualsOneUpdate() {
        let n = 1003
        let theta0 = Self.values(n, seed: 71, offset: 1)
        for (name, make) in [("adam", { Adam(learningRate: 0.001) as any DenseOptimizer }),
                             ("adagrad", { Adagrad(learningRate: 0.05) }), ("sgd", { SGD(learningRate: 0.1) })] {
            for (run, elements) in [(128, 0..<n), (7, 5..<997), (1, 0..<40), (2000, 16..<1000)] {
                let runs = ParameterTensor(name: "runs", rows: 1, columns: n), whole = ParameterTensor(name: "whole", rows: 1, columns: n)
                for k in 0..<n { runs.values[k] = theta0[k]; whole.values[k] = theta0[k] }
                let runsOptimizer = make(), wholeOptimizer = make()
                runsOptimizer.register(runs)
                wholeOptimizer.register(whole)
                var seen: [Range<Int>] = []
                for step in 1...3 {
                    let g1 = Self.values(n, seed: UInt64(step * 5), offset: step)
                    let g2: [Float]? = step == 2 ? nil : Self.values(n, seed: UInt64(step * 11), offset: step + 3)
                    seen.removeAll()
                    runsOptimizer.update(runs, gradient: g1, plus: g2, elements: elements, step: step, runs: run) { r in
                        if step == 1 {
                            // Right after its own run: θ has moved up to the run's end and not yet beyond it.
                            XCTAssertNotEqual(runs.values[r.upperBound - 1], theta0[r.upperBound - 1], "\(name): run \(r) updated before afterRun")
                            if r.upperBound < elements.upperBound {
                                XCTAssertEqual(runs.values[r.upperBound], theta0[r.upperBound], "\(name): nothing after run \(r) updated yet")
                            }
                        }
                        seen.append(r)
                    }
                    wholeOptimizer.update(whole, gradient: g1, plus: g2, elements: elements, step: step)
                }
                let label = "\(name), runs of \(run) over \(elements)"
                XCTAssertEqual(seen.first?.lowerBound, elements.lowerBound, label)
                XCTAssertEqual(seen.last?.upperBound, elements.upperBound, label)
                XCTAssertTrue(zip(seen, seen.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, label)
                XCTAssertTrue(seen.dropLast().allSatisfy { $0.count == run }, label)
                XCTAssertEqual((0..<n).map { runs.values[$0].bitPattern }, (0..<n).map { whole.values[$0].bitPattern }, label)
                for (a, b) in zip(runs.slots, whole.slots) {
                    XCTAssertEqual((0..<n).map { a.pointer[$0].bitPattern }, (0..<n).map { b.pointer[$0].bitPattern }, "\(label): \(a.name)")
                }
            }
        }
    }
}
