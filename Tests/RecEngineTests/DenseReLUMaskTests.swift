import XCTest
@testable import RecEngine

final class DenseReLUMaskTests: XCTestCase {
    /// The SIMD mask equals the scalar rule `grad * (output > 0)` on every element, including the
    /// tail past the last full 16-lane chunk, exact zeros and negatives.
    func testMaskMatchesScalarRuleIncludingTail() throws {
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "mask", inputs: 3, outputs: 7, relu: true, precision: .fp32, context: context, seed: 1)
        let batch = 5                       // 35 elements: two 16-lane chunks and a 3-element tail
        let n = batch * 7
        var output = [Float](repeating: 0, count: n)
        for i in 0..<n where i % 3 != 0 {
            output[i] = i % 3 == 1 ? Float(i) : -Float(i)
        }
        let grad: [Float] = (0..<n).map { Float($0) + 0.5 }
        var masked = grad
        output.withUnsafeBufferPointer { o in
            masked.withUnsafeMutableBufferPointer { g in
                layer.applyReLUMask(batch: batch, output: o.baseAddress!, gradOutput: g.baseAddress!)
            }
        }
        for i in 0..<n {
            XCTAssertEqual(masked[i], output[i] > 0 ? grad[i] : 0, "element \(i)")
        }
    }

    func testNoMaskWithoutReLU() throws {
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "linear", inputs: 3, outputs: 20, relu: false, precision: .fp32, context: context, seed: 1)
        let output = [Float](repeating: -1, count: 40)
        var grad = [Float](repeating: 2, count: 40)
        output.withUnsafeBufferPointer { o in
            grad.withUnsafeMutableBufferPointer { layer.applyReLUMask(batch: 2, output: o.baseAddress!, gradOutput: $0.baseAddress!) }
        }
        XCTAssertEqual(grad, [Float](repeating: 2, count: 40))
    }
}
