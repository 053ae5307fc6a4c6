import XCTest
import Foundation
@testable import RecEngine
import TestSupport

/// Dense optimizers against reference steps computed here in Double from the textbook (TF1)
/// formulas. Float vs Double differs by a few ulps per step: rtol 1e-5 over 3 steps.
final class OptimizerDenseTests: XCTestCase {
    /// Three steps of gradients for a 2×3 parameter (different signs and magnitudes, one zero).
    let gradients: [[Float]] = [
        [0.5, -1.0, 0.0, 2.0, -0.25, 0.125],
        [0.1, -0.3, 0.7, -2.0, 0.0, 0.5],
        [-0.4, 0.9, 0.2, 1.5, 0.3, -0.6],
    ]
    let initial: [Float] = [1.0, -0.5, 0.25, 0.0, 2.0, -1.5]

    private func run(_ opt: any DenseOptimizer) -> [[Float]] {
        let p = ParameterTensor(name: "w", rows: 2, columns: 3)
        p.load(initial)
        opt.register(p)
        var snapshots: [[Float]] = []
        for (t, g) in gradients.enumerated() {
            opt.update(p, gradient: g, step: t + 1)
            snapshots.append(p.snapshot())
        }
        return snapshots
    }

    func testSGDMatchesReference() {
        let got = run(SGD(learningRate: 0.1))
        var theta = initial.map(Double.init)
        for (t, g) in gradients.enumerated() {
            for k in 0..<theta.count { theta[k] -= 0.1 * Double(g[k]) }
            assertClose(got[t], theta, rtol: 1e-6, atol: 1e-7, "step \(t + 1)")
        }
    }

    func testAdagradMatchesReference() {
        let lr = 0.05, a0 = 0.1, eps = 1e-7
        let got = run(Adagrad(learningRate: Float(lr)))
        var theta = initial.map(Double.init)
        var acc = [Double](repeating: a0, count: theta.count)
        for (t, g) in gradients.enumerated() {
            for k in 0..<theta.count {
                let gk = Double(g[k])
                acc[k] += gk * gk
                theta[k] -= lr * gk / (acc[k].squareRoot() + eps)
            }
            assertClose(got[t], theta, rtol: 1e-5, atol: 1e-7, "step \(t + 1)")
        }
        // Hand-computed first step of element 0: g = 0.5, a = 0.1 + 0.25 → θ = 1 − 0.05·0.5/√0.35.
        XCTAssertEqual(got[0][0], Float(1 - 0.05 * 0.5 / 0.35.squareRoot()), accuracy: 1e-6)
    }

    func testAdamMatchesReference() {
        let lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8
        let got = run(Adam(learningRate: Float(lr)))
        var theta = initial.map(Double.init)
        var m = [Double](repeating: 0, count: theta.count), v = m
        for (t, g) in gradients.enumerated() {
            let step = Double(t + 1)
            let lrT = lr * (1 - pow(b2, step)).squareRoot() / (1 - pow(b1, step))
            for k in 0..<theta.count {
                let gk = Double(g[k])
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                theta[k] -= lrT * m[k] / (v[k].squareRoot() + eps)
            }
            assertClose(got[t], theta, rtol: 1e-5, atol: 1e-8, "step \(t + 1)")
        }
        // Adam's first step moves every element with a nonzero gradient by ≈ lr·sign(g) (ε aside).
        for k in 0..<initial.count {
            let g = gradients[0][k]
            let expected = g == 0 ? initial[k] : initial[k] - Float(lr) * (g > 0 ? 1 : -1)
            XCTAssertEqual(got[0][k], expected, accuracy: 1e-6, "element \(k)")
        }
    }

    func testOptimizersKeepSeparateStatePerParameter() {
        // Two parameters sharing one Adam: updating one must not advance the other's moments.
        let adam = Adam(learningRate: 0.01)
        let a = ParameterTensor(name: "a", rows: 1, columns: 2)
        let b = ParameterTensor(name: "b", rows: 1, columns: 2)
        let g: [Float] = [1, -1]
        for step in 1...3 { adam.update(a, gradient: g, step: step) }
        adam.update(b, gradient: g, step: 1)
        let fresh = ParameterTensor(name: "c", rows: 1, columns: 2)
        Adam(learningRate: 0.01).update(fresh, gradient: g, step: 1)
        XCTAssertEqual(b.snapshot(), fresh.snapshot())
        XCTAssertNotEqual(a.snapshot(), b.snapshot())
    }
}
