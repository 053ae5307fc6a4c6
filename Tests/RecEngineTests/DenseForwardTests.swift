import TestSupport
import XCTest
@testable import RecEngine

final class DenseForwardTests: XCTestCase {
    /// Shapes chosen so the blocked layout pads both dimensions (16×64 blocks).
    func testForwardMatchesDoubleReference() throws {
        let context = try DNNLContext(workers: 1)
        for (inputs, outputs, batch, relu) in [(37, 29, 5, true), (70, 130, 9, false), (13, 1, 4, true)] {
            let layer = try DenseLayer(name: "fwd", inputs: inputs, outputs: outputs, relu: relu, precision: .fp32,
                                       context: context, seed: 3)
            try layer.prepare(batch: batch)
            let calls = DenseCalls(layer: layer, batch: batch)
            let bias = DenseReference.random(outputs, seed: 4, scale: 0.5)
            calls.setBias(bias)
            let x = DenseReference.random(batch * inputs, seed: 5)
            let y = calls.forward(x)
            let expected = DenseReference.forward(x: x, w: layer.plainWeights(), bias: bias, batch: batch, inputs: inputs,
                                                  outputs: outputs, relu: relu)
            // fp32 accumulation of ≤130 products of magnitude ≤ ~0.3: errors ~1e-6.
            assertClose(y, expected, rtol: 1e-5, atol: 1e-5, "\(inputs)→\(outputs) relu \(relu)")
            if relu {
                XCTAssertTrue(y.allSatisfy { $0 >= 0 }, "ReLU output has negatives")
                XCTAssertTrue(expected.contains(0), "test data should exercise the ReLU cut-off")
            }
        }
    }

    func testBackwardMatchesDoubleReference() throws {
        let (inputs, outputs, batch) = (45, 70, 6)
        let calls = try DenseCalls.make("bwd", inputs: inputs, outputs: outputs, batch: batch, relu: false, precision: .fp32, seed: 8)
        let layer = calls.layer
        let x = DenseReference.random(batch * inputs, seed: 9)
        let dy = DenseReference.random(batch * outputs, seed: 10)
        let w = layer.plainWeights()
        assertClose(calls.backwardData(dy), DenseReference.gradInput(dy: dy, w: w, batch: batch, inputs: inputs, outputs: outputs),
                    rtol: 1e-5, atol: 1e-5, "gradInput")
        let grads = calls.backwardWeights(x, dy)
        assertClose(grads.weights, DenseReference.gradWeights(x: x, dy: dy, batch: batch, inputs: inputs, outputs: outputs),
                    rtol: 1e-5, atol: 1e-5, "gradWeights")
        assertClose(grads.bias, DenseReference.gradBias(dy: dy, batch: batch, outputs: outputs), rtol: 1e-5, atol: 1e-5, "gradBias")
    }

    func testReLUMaskZeroesGradientWhereOutputIsNotPositive() throws {
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "mask", inputs: 8, outputs: 4, relu: true, precision: .fp32, context: context, seed: 1)
        let linear = try DenseLayer(name: "nomask", inputs: 8, outputs: 4, relu: false, precision: .fp32, context: context, seed: 1)
        let y: [Float] = [1, 0, -0.0, 2, 0.5, 0, 3, 0]
        let dy: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        XCTAssertEqual(DenseCalls(layer: layer, batch: 2).masked(dy, output: y), [1, 0, 0, 4, 5, 0, 7, 0])
        XCTAssertEqual(DenseCalls(layer: linear, batch: 2).masked(dy, output: y), dy)
    }
}
