import TestSupport
import XCTest
@testable import RecEngine

/// The engine's products for layers with one output (`SingleOutputKernel`) against oneDNN's
/// primitives on the same layer (same seed, same operands) and against the definition, on hosts
/// that take the kernels (fp32: AVX-512; bf16: AVX-512 BF16 without AMX); elsewhere only the
/// eligibility rules are checked.
final class SingleOutputKernelTests: XCTestCase {
    private struct Products {
        let y: [Float]
        let dx: [Float]
        let raw: [Float]
        let bias: [Float]
        let plainWeights: [Float]
        let profile: DenseLayerProfile
    }

    /// Forward, backward-data and backward-weights of one layer, by the kernels (`engine`) or the
    /// primitives. `chained`: bf16 input and input gradient (bits two per float), as the logit
    /// layer after a bf16 layer takes them. Output buffers start as NaN, so an element neither
    /// writes shows.
    private func products(inputs: Int, rows: Int, relu: Bool, chained: Bool, engine: Bool, seed: UInt64,
                          precision: Precision = .bf16) throws -> Products {
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: engine ? "kernel" : "primitive", inputs: inputs, outputs: 1, relu: relu, precision: precision,
                                   context: context, seed: seed, lowPrecisionInput: chained, packedWeightGradient: engine)
        // A bias that is not zero, so forward shows where it is added.
        layer.bias.values[0] = 0.375
        try layer.prepare(batch: rows)
        let values = Self.values(rows * inputs, seed: seed &+ 1)
        let x = chained ? DenseReference.bf16Bits(values) : values
        let dy = Self.values(rows, seed: seed &+ 2).enumerated().map { $0.offset % 3 == 2 ? 0 : $0.element }
        let calls = DenseCalls(layer: layer, batch: rows)
        let g = calls.backwardWeights(x, dy)
        return Products(y: calls.forward(x), dx: calls.backwardData(dy), raw: g.raw, bias: g.bias, plainWeights: layer.plainWeights(),
                        profile: layer.implementationNames(batch: rows)!)
    }

    /// Values over 24 binary orders of magnitude (uniform in [-1, 1) times 2^e, e in -12 ..< 12),
    /// where sums in another order round differently.
    private static func values(_ count: Int, seed: UInt64) -> [Float] {
        zip(DenseReference.random(count, seed: seed), DenseReference.random(count, seed: seed &+ 100)).map {
            $0 * Float(sign: .plus, exponent: Int(($1 * 12).rounded(.down)), significand: 1)
        }
    }

    private static func bf16Rounded(_ v: [Float]) -> [Float] { v.map { Float(bitPattern: UInt32(BF16Kernels.bits($0)) << 16) } }

    private func requireKernel() throws {
        try requireBF16()
        if !SingleOutputKernel.hostTakesBF16Kernel {
            throw XCTSkip("this host keeps oneDNN's primitives for one-output bf16 layers (ISA \(OneDNNInfo.isa))")
        }
    }

    /// At 256→1 and 400→1 on bf16 input (as a layer chained to a bf16 layer takes it) and 429→1
    /// on fp32 input (converted to bf16 by the layer), at 256 and 512 rows: backward-data and
    /// backward-weights give the primitives' bits (padding included, operands whose sums round
    /// differently in another order); forward agrees to fp32 rounding of its sum and matches the
    /// definition on the bf16-rounded operands, bias and ReLU included.
    func testBackwardGivesThePrimitivesBitsAndForwardItsValues() throws {
        try requireKernel()
        for (inputs, rows, chained, relu) in [(256, 256, true, false), (400, 512, true, false), (429, 256, false, true),
                                              (256, 512, true, true)] {
            let label = "\(inputs)→1 at \(rows) rows\(chained ? ", chained" : "")\(relu ? ", relu" : "")"
            let k = try products(inputs: inputs, rows: rows, relu: relu, chained: chained, engine: true, seed: UInt64(inputs + rows))
            let p = try products(inputs: inputs, rows: rows, relu: relu, chained: chained, engine: false, seed: UInt64(inputs + rows))
            XCTAssertEqual([k.profile.forward, k.profile.backwardData, k.profile.backwardWeights],
                           Array(repeating: DensePlan.singleOutputName, count: 3), label)
            XCTAssertFalse(p.profile.forward.hasPrefix("engine"), label)
            XCTAssertEqual(k.dx.map(\.bitPattern), p.dx.map(\.bitPattern), "\(label): input gradient")
            XCTAssertFalse(k.raw.contains { $0.isNaN }, "\(label): every element of the weight gradient written")
            XCTAssertEqual(k.raw.map(\.bitPattern), p.raw.map(\.bitPattern), "\(label): weight gradient")
            XCTAssertEqual(k.bias.map(\.bitPattern), p.bias.map(\.bitPattern), "\(label): bias gradient")
            XCTAssertTrue(k.raw.contains { $0 != 0 } && k.dx.contains { $0 != 0 && !$0.isNaN }, label)

            // Forward: within fp32 rounding of a sum of `inputs` products, against both.
            let x = Self.bf16Rounded(Self.values(rows * inputs, seed: UInt64(inputs + rows) &+ 1))
            let w = Self.bf16Rounded(k.plainWeights)
            let expected = DenseReference.forward(x: x, w: w, bias: [0.375], batch: rows, inputs: inputs, outputs: 1, relu: relu)
            for n in 0..<rows {
                let scale = (0..<inputs).reduce(0.375) { $0 + abs(Double(x[n * inputs + $1]) * Double(w[$1])) }
                XCTAssertEqual(Double(k.y[n]), expected[n], accuracy: 1e-6 * scale, "\(label): row \(n) against the definition")
                XCTAssertEqual(Double(k.y[n]), Double(p.y[n]), accuracy: 1e-6 * scale, "\(label): row \(n) against the primitive")
            }
            if relu { XCTAssertTrue(k.y.contains(0) && k.y.contains { $0 > 0 }, "\(label): ReLU clips some rows") }
        }
    }

    /// Odd row counts (the last pair half zeros), inputs that are not a multiple of 16 or 32, one
    /// row: backward-data still gives the primitive's bits (each value one product); the weight
    /// and bias gradients agree to fp32 rounding, with the padding written as zeros.
    func testOddRowsAndInputsAgreeWithThePrimitive() throws {
        try requireKernel()
        for (inputs, rows, chained) in [(13, 77, false), (67, 1, false), (100, 33, true), (257, 255, true)] {
            let label = "\(inputs)→1 at \(rows) rows"
            let k = try products(inputs: inputs, rows: rows, relu: false, chained: chained, engine: true, seed: UInt64(rows))
            let p = try products(inputs: inputs, rows: rows, relu: false, chained: chained, engine: false, seed: UInt64(rows))
            XCTAssertEqual(k.profile.backwardWeights, DensePlan.singleOutputName, label)
            XCTAssertEqual(k.dx.map(\.bitPattern), p.dx.map(\.bitPattern), "\(label): input gradient")
            XCTAssertFalse(k.raw.contains { $0.isNaN }, "\(label): every element written")
            let scale = p.raw.map { abs(Double($0)) }.max()!
            XCTAssertGreaterThan(scale, 0, label)
            assertClose(k.raw, p.raw, rtol: 0, atol: 1e-6 * scale, label)
            for (e, (a, b)) in zip(k.raw, p.raw).enumerated() where b == 0 && a != 0 {
                XCTFail("\(label): element \(e) is \(a) where the primitive wrote 0")
                break
            }
            assertClose(k.bias, p.bias, rtol: 1e-6, atol: 1e-6 * abs(Double(p.bias[0])), "\(label): bias")
            let y = zip(k.y, p.y).map { abs(Double($0) - Double($1)) }.max()!
            XCTAssertLessThan(y, 1e-5 * max(1, p.y.map { abs(Double($0)) }.max()!), "\(label): forward")
        }
    }

    /// fp32 (every model's logit layer), at WDL's and DeepFM's shapes, odd rows and inputs that
    /// are not a multiple of 16: backward-data gives the primitive's bits (one product per value);
    /// forward, the weight and the bias gradient agree with the primitive and with the definition
    /// to fp32 rounding of their sums.
    func testFP32AgreesWithThePrimitiveAndTheDefinition() throws {
        guard SingleOutputKernel.hostTakesFP32Kernel else {
            throw XCTSkip("this host keeps oneDNN's primitives for one-output fp32 layers (ISA \(OneDNNInfo.isa))")
        }
        for (inputs, rows, relu) in [(256, 256, false), (400, 512, false), (13, 77, true), (257, 1, false)] {
            let label = "fp32 \(inputs)→1 at \(rows) rows\(relu ? ", relu" : "")"
            let seed = UInt64(inputs * 7 + rows)
            let k = try products(inputs: inputs, rows: rows, relu: relu, chained: false, engine: true, seed: seed, precision: .fp32)
            let p = try products(inputs: inputs, rows: rows, relu: relu, chained: false, engine: false, seed: seed, precision: .fp32)
            XCTAssertEqual([k.profile.forward, k.profile.backwardData, k.profile.backwardWeights],
                           Array(repeating: DensePlan.singleOutputName, count: 3), label)
            XCTAssertFalse(p.profile.forward.hasPrefix("engine"), label)
            if let e = k.dx.indices.first(where: { k.dx[$0].bitPattern != p.dx[$0].bitPattern }) {
                XCTFail("\(label): input gradient \(e) is \(k.dx[e]) where the primitive wrote \(p.dx[e])")
            }
            let x = Self.values(rows * inputs, seed: seed &+ 1)
            let dy = Self.values(rows, seed: seed &+ 2).enumerated().map { $0.offset % 3 == 2 ? 0 : $0.element }
            let w = k.plainWeights
            let y = DenseReference.forward(x: x, w: w, bias: [0.375], batch: rows, inputs: inputs, outputs: 1, relu: relu)
            for n in 0..<rows {
                let scale = (0..<inputs).reduce(0.375) { $0 + abs(Double(x[n * inputs + $1]) * Double(w[$1])) }
                XCTAssertEqual(Double(k.y[n]), y[n], accuracy: 1e-6 * scale, "\(label): row \(n) against the definition")
                XCTAssertEqual(Double(k.y[n]), Double(p.y[n]), accuracy: 1e-6 * scale, "\(label): row \(n) against the primitive")
            }
            let gw = DenseReference.gradWeights(x: x, dy: dy, batch: rows, inputs: inputs, outputs: 1)
            for i in 0..<inputs {
                let scale = (0..<rows).reduce(0.0) { $0 + abs(Double(x[$1 * inputs + i]) * Double(dy[$1])) }
                XCTAssertEqual(Double(k.raw[i]), gw[i], accuracy: 1e-6 * scale, "\(label): weight gradient \(i) against the definition")
                XCTAssertEqual(Double(k.raw[i]), Double(p.raw[i]), accuracy: 1e-6 * scale, "\(label): weight gradient \(i)")
            }
            let biasScale = dy.reduce(0.0) { $0 + abs(Double($1)) }
            XCTAssertEqual(Double(k.bias[0]), DenseReference.gradBias(dy: dy, batch: rows, outputs: 1)[0], accuracy: 1e-6 * biasScale, label)
            XCTAssertEqual(Double(k.bias[0]), Double(p.bias[0]), accuracy: 1e-6 * biasScale, label)
            XCTAssertTrue(k.raw.contains { $0 != 0 }, label)
        }
    }

    /// Only layers with one fp32 output take the kernels: not two outputs, not a chained bf16
    /// output, not with `packedWeightGradient: false`; fp32 on AVX-512 hosts, bf16 on those that
    /// take the weight-gradient kernel.
    func testOnlyOneOutputLayersTakeTheKernels() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        func forwardName(_ inputs: Int, _ outputs: Int, precision: Precision = .bf16, chainedOutput: Bool = false,
                         engine: Bool = true) throws -> String {
            let layer = try DenseLayer(name: "l", inputs: inputs, outputs: outputs, relu: false, precision: precision, context: context,
                                       seed: 1, lowPrecisionOutput: chainedOutput, packedWeightGradient: engine)
            try layer.prepare(batch: 64)
            return layer.implementationNames(batch: 64)!.forward
        }
        XCTAssertEqual(try forwardName(256, 1) == DensePlan.singleOutputName, SingleOutputKernel.hostTakesBF16Kernel)
        XCTAssertEqual(try forwardName(256, 1, precision: .fp32) == DensePlan.singleOutputName, SingleOutputKernel.hostTakesFP32Kernel)
        XCTAssertNotEqual(try forwardName(256, 2), DensePlan.singleOutputName)
        XCTAssertNotEqual(try forwardName(256, 2, precision: .fp32), DensePlan.singleOutputName)
        XCTAssertNotEqual(try forwardName(256, 1, precision: .fp32, engine: false), DensePlan.singleOutputName)
        XCTAssertNotEqual(try forwardName(256, 1, chainedOutput: true), DensePlan.singleOutputName)
        XCTAssertNotEqual(try forwardName(256, 1, engine: false), DensePlan.singleOutputName)
    }
}
