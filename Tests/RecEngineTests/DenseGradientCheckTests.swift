import TestSupport
import XCTest
@testable import RecEngine

/// Central finite differences of L = Σ r ⊙ layer(x) against the layer's analytic gradients.
///
/// The layer is piecewise linear, so central differences are exact up to float rounding except
/// where a ReLU pre-activation changes sign inside [-eps, +eps]; such coordinates are detected
/// (the ReLU active set differs between the two sides) and skipped. With eps = 1e-2, L computed in
/// Double from fp32 outputs of magnitude ≲ 2, the rounding error of a difference quotient is
/// ≲ 1e-6 / 1e-2 = 1e-4; tolerance atol 2e-3 + rtol 1e-2 leaves margin while the gradients are
/// O(0.1–1), so a factor (e.g. ×2), a transpose or a missing ReLU mask fails the check.
final class DenseGradientCheckTests: XCTestCase {
    let (inputs, outputs, batch) = (7, 5, 3)
    let eps: Float = 1e-2

    func testGradientsMatchCentralDifferences() throws {
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "fd", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                   context: context, seed: 21)
        try layer.prepare(batch: batch)
        let calls = DenseCalls(layer: layer, batch: batch)
        let bias = DenseReference.random(outputs, seed: 22, scale: 0.3)
        calls.setBias(bias)
        let x = DenseReference.random(batch * inputs, seed: 23)
        let r = DenseReference.random(batch * outputs, seed: 24)
        let w0 = layer.plainWeights()

        let y = calls.forward(x)
        let dy = calls.masked(r, output: y)
        let gradInput = calls.backwardData(dy)
        let (gradWeights, gradBias, _) = calls.backwardWeights(x, dy)

        // Loss and ReLU active set for the current parameters.
        func evaluate(_ x: [Float]) -> (loss: Double, active: [Bool]) {
            let y = calls.forward(x)
            return (zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }, y.map { $0 > 0 })
        }
        var checked = 0, skipped = 0
        /// (L(θ+eps) − L(θ−eps)) / 2eps, where `at(delta)` sets θ+delta and evaluates; nil at a kink.
        func centralDifference(_ at: (Float) -> (loss: Double, active: [Bool])) -> Double? {
            let plus = at(eps), minus = at(-eps)
            guard plus.active == minus.active else { skipped += 1; return nil }
            checked += 1
            return (plus.loss - minus.loss) / (2 * Double(eps))
        }

        for k in 0..<x.count {
            let numeric = centralDifference { delta in
                var xp = x
                xp[k] += delta
                return evaluate(xp)
            }
            if let numeric { assertClose(Double(gradInput[k]), numeric, rtol: 1e-2, atol: 2e-3, "gradInput[\(k)]") }
        }
        // Weights are perturbed through the plain view, i.e. through the blocked layout.
        for k in 0..<w0.count {
            let numeric = centralDifference { delta in
                var w = w0
                w[k] += delta
                layer.setPlainWeights(w)
                return evaluate(x)
            }
            layer.setPlainWeights(w0)
            if let numeric { assertClose(Double(gradWeights[k]), numeric, rtol: 1e-2, atol: 2e-3, "gradWeights[\(k)]") }
        }
        for o in 0..<outputs {
            let numeric = centralDifference { delta in
                layer.bias.values[o] = bias[o] + delta
                return evaluate(x)
            }
            layer.bias.values[o] = bias[o]
            if let numeric { assertClose(Double(gradBias[o]), numeric, rtol: 1e-2, atol: 2e-3, "gradBias[\(o)]") }
        }
        XCTAssertGreaterThan(checked, 9 * skipped, "too many coordinates skipped at ReLU kinks (\(skipped) of \(checked + skipped))")
        XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "test data should have active and inactive units")
    }
}
