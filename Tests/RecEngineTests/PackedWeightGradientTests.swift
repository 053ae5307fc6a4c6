import TestSupport
import XCTest
@testable import RecEngine

/// The engine's bf16 weight-gradient kernel (`PackedWeightGradient`) against oneDNN's
/// backward-weights primitive on the same layer (same seed, same inputs), on hosts that take the
/// kernel (AVX-512 BF16 without AMX); elsewhere only the eligibility rules are checked.
final class PackedWeightGradientTests: XCTestCase {
    /// A layer's weight and bias gradients by the kernel and by the primitive, every element of the
    /// raw (blocked, padded) buffers, which start as NaN so that an element neither writes shows.
    /// `spread`: values over 24 binary orders of magnitude, where sums in another order round
    /// differently (over [-1, 1) bf16 products and their sums are mostly exact in fp32, and any
    /// order gives the same bits).
    private func gradients(inputs: Int, outputs: Int, rows: Int, chained: Bool = false, spread: Bool = true, seed: UInt64)
        throws -> (kernel: (raw: [Float], bias: [Float], name: String), primitive: (raw: [Float], bias: [Float], name: String)) {
        let x = Self.values(rows * inputs, spread: spread, seed: seed &+ 1)
        let dy = Self.outputGradient(rows * outputs, spread: spread, seed: seed)
        func run(_ packed: Bool) throws -> (raw: [Float], bias: [Float], name: String) {
            let context = try DNNLContext(workers: 1)
            let layer = try DenseLayer(name: packed ? "kernel" : "primitive", inputs: inputs, outputs: outputs, relu: true,
                                       precision: .bf16, context: context, seed: seed, lowPrecisionInput: chained,
                                       lowPrecisionOutput: chained, packedWeightGradient: packed)
            try layer.prepare(batch: rows)
            // Chained layers read bf16 bits: hand both the same bits (the first half of the floats).
            let input = chained ? DenseReference.bf16Bits(x) : x, gradient = chained ? DenseReference.bf16Bits(dy) : dy
            let g = DenseCalls(layer: layer, batch: rows).backwardWeights(input, gradient)
            return (g.raw, g.bias, layer.implementationNames(batch: rows)!.backwardWeights)
        }
        return (try run(true), try run(false))
    }

    /// Uniform in [-1, 1), or with `spread` each times 2^e for e uniform in -12 ..< 12.
    private static func values(_ count: Int, spread: Bool, seed: UInt64) -> [Float] {
        let base = DenseReference.random(count, seed: seed)
        guard spread else { return base }
        let exponents = DenseReference.random(count, seed: seed &+ 100)
        return zip(base, exponents).map { $0 * Float(sign: .plus, exponent: Int(($1 * 12).rounded(.down)), significand: 1) }
    }

    /// The output gradient `gradients` uses: a ReLU's gradient is zero in about half the places,
    /// so zeros are kept among the values.
    private static func outputGradient(_ count: Int, spread: Bool, seed: UInt64) -> [Float] {
        values(count, spread: spread, seed: seed &+ 2).enumerated().map { $0.offset % 3 == 0 ? 0 : $0.element }
    }

    private func requireKernel() throws {
        try requireBF16()
        if !PackedWeightGradient.hostTakesKernel {
            throw XCTSkip("this host keeps oneDNN's bf16 backward-weights (ISA \(OneDNNInfo.isa): the kernel is for avx512_core_bf16 without AMX)")
        }
    }

    /// At 256 and 512 rows both sum each output in one fp32 accumulator over the row pairs in
    /// order, the bias too: the same bits, padding included, at WDL's three shapes, a DLRM
    /// top-MLP one and DeepFM's two (400 outputs: six whole panels of 64 and 16 outputs of a
    /// seventh, whose other 48 columns the kernel writes as zeros without computing them), with
    /// operands whose sums round differently in any other order.
    func testKernelGivesThePrimitivesBitsAt256And512Rows() throws {
        try requireKernel()
        for (inputs, outputs, rows) in [(429, 1024, 256), (1024, 512, 256), (512, 256, 512), (479, 1024, 256), (429, 400, 256),
                                        (400, 400, 512)] {
            let g = try gradients(inputs: inputs, outputs: outputs, rows: rows, seed: UInt64(inputs))
            XCTAssertTrue(g.kernel.name.hasPrefix("engine"), "\(inputs)→\(outputs): \(g.kernel.name)")
            XCTAssertFalse(g.primitive.name.hasPrefix("engine"), "\(inputs)→\(outputs): \(g.primitive.name)")
            XCTAssertFalse(g.kernel.raw.contains { $0.isNaN }, "\(inputs)→\(outputs): every element written")
            XCTAssertEqual(g.kernel.raw.map(\.bitPattern), g.primitive.raw.map(\.bitPattern), "\(inputs)→\(outputs) weights")
            XCTAssertEqual(g.kernel.bias.map(\.bitPattern), g.primitive.bias.map(\.bitPattern), "\(inputs)→\(outputs) bias")
            XCTAssertTrue(g.kernel.raw.contains { $0 != 0 }, "a gradient that is not all zeros")
            // The data can tell orders apart: a plain row-by-row sum of the (bf16) output gradient
            // differs from the bias gradient in some column.
            let dy = Self.outputGradient(rows * outputs, spread: true, seed: UInt64(inputs))
                .map { Float(bitPattern: UInt32(BF16Kernels.bits($0)) << 16) }
            let rowByRow = (0..<outputs).map { o in (0..<rows).reduce(Float(0)) { $0 + dy[$1 * outputs + o] } }
            XCTAssertNotEqual(rowByRow.map(\.bitPattern), g.kernel.bias.map(\.bitPattern), "\(inputs)→\(outputs): sums in another order")
        }
    }

    /// Chained layers hand the kernel bf16 bits directly (no conversion): the same bits again.
    func testChainedLayerGivesThePrimitivesBits() throws {
        try requireKernel()
        let g = try gradients(inputs: 1024, outputs: 512, rows: 256, chained: true, seed: 5)
        XCTAssertTrue(g.kernel.name.hasPrefix("engine"), g.kernel.name)
        XCTAssertEqual(g.kernel.raw.map(\.bitPattern), g.primitive.raw.map(\.bitPattern))
        XCTAssertEqual(g.kernel.bias.map(\.bitPattern), g.primitive.bias.map(\.bitPattern))
    }

    /// An odd row count (the last pair half zeros), outputs that are not a multiple of the block,
    /// inputs that are not a multiple of 16 or of the 6-row tile: the sums agree to fp32 rounding,
    /// and the padding is written as the primitive writes it (zeros).
    func testOddRowsAndPaddedShapesAgreeWithThePrimitive() throws {
        try requireKernel()
        for (inputs, outputs, rows) in [(479, 1024, 255), (100, 72, 77), (67, 200, 2), (64, 64, 1)] {
            let g = try gradients(inputs: inputs, outputs: outputs, rows: rows, spread: false, seed: UInt64(rows))
            XCTAssertTrue(g.kernel.name.hasPrefix("engine"), "\(inputs)→\(outputs): \(g.kernel.name)")
            XCTAssertFalse(g.kernel.raw.contains { $0.isNaN }, "\(inputs)→\(outputs) at \(rows) rows: every element written")
            let scale = g.primitive.raw.map { abs(Double($0)) }.max()!
            XCTAssertGreaterThan(scale, 0)
            assertClose(g.kernel.raw, g.primitive.raw, rtol: 0, atol: 1e-6 * scale, "\(inputs)→\(outputs) at \(rows) rows")
            for (k, (a, b)) in zip(g.kernel.raw, g.primitive.raw).enumerated() where b == 0 && a != 0 {
                XCTFail("\(inputs)→\(outputs) at \(rows) rows: element \(k) is \(a) where the primitive wrote 0")
                break
            }
            assertClose(g.kernel.bias, g.primitive.bias, rtol: 1e-6, atol: 1e-6, "\(inputs)→\(outputs) bias")
        }
    }

    /// Against the definition in Double (the bf16-rounded operands' exact products): the kernel
    /// is right, not merely like oneDNN.
    func testKernelMatchesTheDefinitionOnBF16RoundedOperands() throws {
        try requireKernel()
        let (inputs, outputs, rows) = (96, 80, 33)
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "k", inputs: inputs, outputs: outputs, relu: false, precision: .bf16, context: context,
                                   seed: 9)
        try layer.prepare(batch: rows)
        let round = { (v: [Float]) in v.map { Float(bitPattern: UInt32(BF16Kernels.bits($0)) << 16) } }
        let x = round(DenseReference.random(rows * inputs, seed: 10)), dy = round(DenseReference.random(rows * outputs, seed: 11))
        let g = DenseCalls(layer: layer, batch: rows).backwardWeights(x, dy)
        XCTAssertTrue(layer.implementationNames(batch: rows)!.backwardWeights.hasPrefix("engine"))
        let expected = DenseReference.gradWeights(x: x, dy: dy, batch: rows, inputs: inputs, outputs: outputs)
        assertClose(g.weights, expected.map { Float($0) }, rtol: 1e-5, atol: 1e-5, "weights")
        assertClose(g.bias, DenseReference.gradBias(dy: dy, batch: rows, outputs: outputs).map { Float($0) }, rtol: 1e-5,
                    atol: 1e-5, "bias")
    }

    /// Where the kernel does not apply, the primitive runs: small layers (fewer than 64 inputs or
    /// outputs), more rows than the kernel takes, fp32, and `packedWeightGradient: false`.
    func testSmallLayersLongCallsAndFP32KeepThePrimitive() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        func name(_ inputs: Int, _ outputs: Int, rows: Int, precision: Precision = .bf16, packed: Bool = true) throws -> String {
            let layer = try DenseLayer(name: "l", inputs: inputs, outputs: outputs, relu: true, precision: precision,
                                       context: context, seed: 1, packedWeightGradient: packed)
            try layer.prepare(batch: rows)
            return layer.implementationNames(batch: rows)!.backwardWeights
        }
        XCTAssertFalse(try name(13, 512, rows: 256).hasPrefix("engine"))
        XCTAssertFalse(try name(512, 32, rows: 256).hasPrefix("engine"))
        XCTAssertFalse(try name(512, 256, rows: PackedWeightGradient.maxRows + 2).hasPrefix("engine"))
        XCTAssertFalse(try name(512, 256, rows: 256, precision: .fp32).hasPrefix("engine"))
        XCTAssertFalse(try name(512, 256, rows: 256, packed: false).hasPrefix("engine"))
        XCTAssertEqual(try name(512, 256, rows: 256).hasPrefix("engine"), PackedWeightGradient.hostTakesKernel)
    }
}
