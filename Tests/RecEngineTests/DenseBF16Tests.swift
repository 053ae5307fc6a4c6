import TestSupport
import XCTest
@testable import RecEngine

/// bf16 layers against fp32 layers with the same weights. bf16 keeps 8 significant bits
/// (relative rounding ≤ 2^-9 ≈ 2e-3 per operand); with fp32 accumulation over a few hundred
/// products the result error is ~1e-3 of the result's scale, so each tensor must agree within
/// 1e-2 × its largest magnitude (the "relative ~1e-2" of the brief), while wrong math is off by O(1).
final class DenseBF16Tests: XCTestCase {
    func testBF16AgreesWithFP32WithinBF16Tolerance() throws {
        let context = try DNNLContext(workers: 1)
        let (inputs, outputs, batch) = (300, 200, 64)
        let exact = try DenseLayer(name: "f32", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                   context: context, seed: 31)
        let low = try DenseLayer(name: "bf16", inputs: inputs, outputs: outputs, relu: true, precision: .bf16,
                                 context: context, seed: 31)
        XCTAssertEqual(low.plainWeights(), exact.plainWeights(), "same seed, same fp32 master")
        try exact.prepare(batch: batch)
        try low.prepare(batch: batch)
        let bias = DenseReference.random(outputs, seed: 32, scale: 0.1)
        let e = DenseCalls(layer: exact, batch: batch), l = DenseCalls(layer: low, batch: batch)
        e.setBias(bias)
        l.setBias(bias)
        let x = DenseReference.random(batch * inputs, seed: 33)
        let dy = DenseReference.random(batch * outputs, seed: 34)

        let ye = e.forward(x), yl = l.forward(x)
        assertRelative(yl, ye, "forward")
        let dxe = e.backwardData(dy), dxl = l.backwardData(dy)
        assertRelative(dxl, dxe, "gradInput")
        let ge = e.backwardWeights(x, dy), gl = l.backwardWeights(x, dy)
        assertRelative(gl.weights, ge.weights, "gradWeights")
        assertRelative(gl.bias, ge.bias, "gradBias")
        XCTAssertEqual(gl.raw.count, low.weights.count, "bf16 diff-weights share the fp32 master layout")
        XCTAssertNotEqual(yl, ye, "bf16 products should differ from fp32 in the low bits")
    }

    func testRefreshCopiesMasterIntoBF16Weights() throws {
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "refresh", inputs: 64, outputs: 32, relu: false, precision: .bf16,
                                   context: context, seed: 41)
        try layer.prepare(batch: 4)
        let calls = DenseCalls(layer: layer, batch: 4)
        let x = DenseReference.random(4 * 64, seed: 42)
        let before = calls.forward(x)
        // An optimizer writes the fp32 master in place: doubling W doubles y (bias is zero).
        for i in 0..<layer.weights.count { layer.weights.values[i] *= 2 }
        XCTAssertEqual(calls.forward(x), before, "forward must read the bf16 copy until it is refreshed")
        layer.refreshLowPrecisionWeights()
        assertClose(calls.forward(x), before.map { 2 * $0 }, rtol: 1e-6, atol: 0, "after refresh")
    }

    private func assertRelative(_ actual: [Float], _ expected: [Float], _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        let scale = expected.map { abs(Double($0)) }.max() ?? 0
        XCTAssertGreaterThan(scale, 0, what, file: file, line: line)
        assertClose(actual, expected, rtol: 0, atol: 1e-2 * scale, what, file: file, line: line)
    }
}
