import TestSupport
import XCTest
@testable import RecEngine
import CDNNL

final class DenseLayoutTests: XCTestCase {
    /// 429→1024 pads inputs to a multiple of 16 in the blocked layout (432 on avx512 machines).
    func testPlainWeightsRoundTripThroughBlockedLayout() throws {
        let context = try DNNLContext(workers: 1)
        for precision in hostPrecisions {
            let layer = try DenseLayer(name: "layout", inputs: 429, outputs: 1024, relu: true, precision: precision,
                                       context: context, seed: 1)
            XCTAssertGreaterThanOrEqual(layer.weights.count, 429 * 1024)
            XCTAssertEqual(layer.weightGradientCount, layer.weights.count)
            let w = DenseReference.random(429 * 1024, seed: 2)
            layer.setPlainWeights(w)
            XCTAssertEqual(layer.plainWeights(), w, "\(precision): plain → blocked → plain must be exact")
            // Padding holds zeros: the blocked buffer's multiset of values is the plain one plus zeros.
            let blocked = layer.weights.snapshot()
            XCTAssertEqual(blocked.filter { $0 != 0 }.count, w.filter { $0 != 0 }.count)
            XCTAssertEqual(blocked.reduce(0.0) { $0 + Double($1) }, w.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-6)
            if layer.weights.count > 429 * 1024 {
                XCTAssertNotEqual(blocked.prefix(429 * 1024).map { $0 }, w, "blocked storage should not be plain order")
            }
        }
    }

    func testInitializationIsSeededAndScaled() throws {
        let context = try DNNLContext(workers: 1)
        let a = try DenseLayer(name: "a", inputs: 96, outputs: 40, relu: true, precision: .fp32, context: context, seed: 7)
        let b = try DenseLayer(name: "b", inputs: 96, outputs: 40, relu: true, precision: .fp32, context: context, seed: 7)
        let c = try DenseLayer(name: "c", inputs: 96, outputs: 40, relu: true, precision: .fp32, context: context, seed: 8)
        let g = try DenseLayer(name: "g", inputs: 96, outputs: 40, relu: false, precision: .fp32, context: context, seed: 7)
        XCTAssertEqual(a.plainWeights(), b.plainWeights())
        XCTAssertNotEqual(a.plainWeights(), c.plainWeights())
        let he = (6.0 / 96).squareRoot(), glorot = (6.0 / 136).squareRoot()
        let wa = a.plainWeights().map { Double($0) }, wg = g.plainWeights().map { Double($0) }
        XCTAssertLessThanOrEqual(wa.map(abs).max()!, he)
        XCTAssertGreaterThan(wa.map(abs).max()!, 0.9 * he, "He-uniform should fill its range")
        XCTAssertLessThanOrEqual(wg.map(abs).max()!, glorot)
        XCTAssertGreaterThan(wg.map(abs).max()!, 0.9 * glorot, "Glorot-uniform should fill its range")
        XCTAssertEqual(wa.reduce(0, +) / Double(wa.count), 0, accuracy: 0.05 * he)
        XCTAssertTrue(a.bias.snapshot().allSatisfy { $0 == 0 })
    }

    func testFormatTagNames() throws {
        let ab = try DNNLMemoryDesc(dims: [4, 6], type: dnnl_f32, tag: dnnl_ab)
        let ba = try DNNLMemoryDesc(dims: [4, 6], type: dnnl_f32, tag: dnnl_ba)
        let blocked = try DNNLMemoryDesc(dims: [100, 30], type: dnnl_f32, tag: dnnl_AB16b64a)
        let vnni = try DNNLMemoryDesc(dims: [100, 30], type: dnnl_bf16, tag: dnnl_AB8b64a2b)
        XCTAssertEqual(ab.formatTag, "ab")
        XCTAssertEqual(ba.formatTag, "ba")
        XCTAssertEqual(blocked.formatTag, "AB16b64a")
        XCTAssertEqual(vnni.formatTag, "AB8b64a2b")
        XCTAssertEqual(ab.bytes, 96)
        XCTAssertEqual(blocked.bytes, 128 * 32 * 4, "padded to 64×16 blocks")
    }
}
