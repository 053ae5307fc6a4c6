import TestSupport
import XCTest
@testable import RecEngine

/// `bf16: on` for DIN and DIEN at the kernel and layer level: the fp32 → bf16 conversion rounds to
/// nearest even, `dnnl_gemm_bf16bf16f32` equals `dnnl_sgemm` on the rounded operands (fp32
/// accumulation) for every transpose combination, and a bf16 `SeqDense` really multiplies rounded
/// operands (inputs that are not bf16-representable show the rounding) and reads a bf16 weight copy
/// that follows its fp32 master on refresh and on a checkpoint reload.
///
/// Tolerances: a product of two bf16 values is exact in fp32, so bf16 GEMM and sgemm on the rounded
/// operands differ only in the fp32 summation order: ≤ k·2⁻²⁴ of the sum of |terms| (1e-5 of the
/// result scale here). Against fp32 on the unrounded operands each operand is off by ≤ 2⁻⁹
/// relative, so results agree within 1e-2 of their scale and differ by more than 1e-4 of it.
final class SequenceBF16Tests: XCTestCase {
    func testConversionRoundsToNearestEven() {
        let cases: [(Float, UInt16)] = [
            (1, 0x3F80), (-2.5, 0xC020), (0, 0x0000),
            (1 + 0x1p-8, 0x3F80),             // halfway between 1 and 1 + 2⁻⁷: to the even 0x3F80
            (1 + 3 * 0x1p-8, 0x3F82),         // halfway between 0x3F81 and 0x3F82: to the even 0x3F82
            (1 + 0x1p-8 + 0x1p-20, 0x3F81),   // just above halfway: up
            (1 + 0x1p-8 - 0x1p-20, 0x3F80),   // just below halfway: down
            (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (.greatestFiniteMagnitude, 0x7F80),  // rounds past bf16's largest finite value
        ]
        for (x, bits) in cases {
            XCTAssertEqual(SeqKernels.bf16Bits(x), bits, "\(x)")
            if x.isFinite && bits != 0x7F80 { XCTAssertEqual(SeqKernels.float(bf16: bits), x, accuracy: abs(x) * 0x1p-8, "\(x)") }
        }
        XCTAssertTrue(SeqKernels.float(bf16: SeqKernels.bf16Bits(.nan)).isNaN)
        XCTAssertTrue(SeqKernels.float(bf16: SeqKernels.bf16Bits(Float(bitPattern: 0x7F80_0001))).isNaN, "a signalling NaN stays NaN")
        var src: [Float] = [1, 1 + 0x1p-8 + 0x1p-20, -3], dst = [UInt16](repeating: 0, count: 3)
        SeqKernels.toBF16(&src, count: 3, &dst)
        XCTAssertEqual(dst, [0x3F80, 0x3F81, 0xC040])
    }

    /// `op(A)` m×k and `op(B)` k×n stored with padded leading dimensions, C with padding that
    /// must stay untouched; alpha 0.5, beta 0.25 on a nonzero C.
    func testGemmBF16MatchesSGEMMOnRoundedOperandsForAllTransposes() throws {
        try requireBF16()
        let (m, n, k) = (7, 5, 33)
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            var rng = SplitMix64(seed: 11 + UInt64(transA ? 2 : 0) + UInt64(transB ? 1 : 0))
            let aRows = transA ? k : m, aCols = transA ? m : k, lda = aCols + 3
            let bRows = transB ? n : k, bCols = transB ? k : n, ldb = bCols + 2
            let ldc = n + 2
            let a = rng.floats(aRows * lda), b = rng.floats(bRows * ldb), c0 = rng.floats(m * ldc)
            let aBits = a.map(SeqKernels.bf16Bits), bBits = b.map(SeqKernels.bf16Bits)
            let aRounded = aBits.map { SeqKernels.float(bf16: $0) }, bRounded = bBits.map { SeqKernels.float(bf16: $0) }
            XCTAssertNotEqual(a, aRounded, "the operands must not be bf16-representable")
            var low = c0, reference = c0, exact = c0
            SeqKernels.gemmBF16(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: aBits, lda: lda, b: bBits, ldb: ldb,
                                beta: 0.25, c: &low, ldc: ldc)
            SeqKernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: aRounded, lda: lda, b: bRounded, ldb: ldb,
                            beta: 0.25, c: &reference, ldc: ldc)
            SeqKernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 0.25,
                            c: &exact, ldc: ldc)
            let label = "transA \(transA) transB \(transB)"
            let scale = Double(exact.map { abs($0) }.max()!)
            assertClose(low, reference, rtol: 0, atol: 1e-5 * scale, "\(label): bf16 GEMM vs sgemm on the rounded operands")
            assertClose(low, exact, rtol: 0, atol: 1e-2 * scale, "\(label): bf16 GEMM vs fp32")
            let largest = zip(low, exact).map { Double(abs($0 - $1)) }.max()!
            XCTAssertGreaterThan(largest, 1e-4 * scale, "\(label): the products must be computed on rounded operands")
            for i in 0..<m { for j in n..<ldc { XCTAssertEqual(low[i * ldc + j], c0[i * ldc + j], "\(label): C padding written") } }
        }
    }

    /// A bf16 `SeqDense` (forward, weight and input gradients) equals fp32 products of the rounded
    /// operands, differs from the fp32 layer, and reads a bf16 copy that follows the master only on
    /// refresh (the update node's job) or reload (a checkpoint restore's).
    func testDenseLayerMultipliesRoundedOperandsAndFollowsItsMaster() throws {
        try requireBF16()
        let (rows, inputs, outputs) = (6, 40, 9)
        let exactLayer = SeqDense(name: "f32", inputs: inputs, outputs: outputs, activation: .sigmoid, seed: 5)
        let layer = SeqDense(name: "bf16", inputs: inputs, outputs: outputs, activation: .sigmoid, seed: 5, bf16: true)
        XCTAssertNil(exactLayer.low)
        XCTAssertEqual(layer.weights.snapshot(), exactLayer.weights.snapshot(), "same seed, same fp32 master")
        var rng = SplitMix64(seed: 6)
        for k in 0..<outputs { layer.bias.values[k] = Float(k) * 0.01; exactLayer.bias.values[k] = Float(k) * 0.01 }
        let x = rng.floats(rows * inputs), g = rng.floats(rows * outputs)
        let round: ([Float]) -> [Float] = { $0.map { SeqKernels.float(bf16: SeqKernels.bf16Bits($0)) } }
        let w = layer.weights.snapshot(), bias = (0..<outputs).map { Float($0) * 0.01 }
        func run(_ l: SeqDense) -> (y: [Float], gW: [Float], gx: [Float], gy: [Float]) {
            var y = [Float](repeating: 0, count: rows * outputs), gy = g
            var gW = [Float](repeating: 0, count: inputs * outputs), gB = [Float](repeating: 0, count: outputs)
            var gx = [Float](repeating: 0, count: rows * inputs)
            var xl = [UInt16](repeating: 0, count: rows * inputs), gyl = [UInt16](repeating: 0, count: rows * outputs)
            let low = l.low != nil
            xl.withUnsafeMutableBufferPointer { xlp in
                gyl.withUnsafeMutableBufferPointer { gylp in
                    l.forward(rows: rows, x: x, xLow: low ? xlp.baseAddress : nil, y: &y)
                    l.backward(rows: rows, x: x, xLow: low ? UnsafePointer(xlp.baseAddress) : nil, y: y, gy: &gy,
                               gyLow: low ? gylp.baseAddress : nil, gW: &gW, gB: &gB, gx: &gx)
                }
            }
            return (y, gW, gx, gy)
        }
        let e = run(exactLayer), l = run(layer)
        // Reference: fp32 GEMMs on the rounded operands.
        var yRef = [Float](repeating: 0, count: rows * outputs)
        SeqKernels.gemm(m: rows, n: outputs, k: inputs, a: round(x), lda: inputs, b: round(w), ldb: outputs, beta: 0, c: &yRef, ldc: outputs)
        SeqKernels.biasActivate(&yRef, rows: rows, width: outputs, bias: bias, activation: .sigmoid)
        var gWRef = [Float](repeating: 0, count: inputs * outputs), gxRef = [Float](repeating: 0, count: rows * inputs)
        SeqKernels.gemm(transA: true, m: inputs, n: outputs, k: rows, a: round(x), lda: inputs, b: round(l.gy), ldb: outputs, beta: 0,
                        c: &gWRef, ldc: outputs)
        SeqKernels.gemm(transB: true, m: rows, n: inputs, k: outputs, a: round(l.gy), lda: outputs, b: round(w), ldb: outputs, beta: 0,
                        c: &gxRef, ldc: inputs)
        assertClose(l.y, yRef, rtol: 1e-5, atol: 1e-6, "forward")
        assertClose(l.gW, gWRef, rtol: 1e-4, atol: 1e-6, "weight gradient")
        assertClose(l.gx, gxRef, rtol: 1e-4, atol: 1e-6, "input gradient")
        for (a, b, what) in [(l.y, e.y, "forward"), (l.gW, e.gW, "weight gradient"), (l.gx, e.gx, "input gradient")] {
            let scale = Double(b.map { abs($0) }.max()!)
            assertClose(a, b, rtol: 0, atol: 1e-2 * scale, "\(what): bf16 vs fp32")
            XCTAssertNotEqual(a, b, "\(what): bf16 products must differ from fp32 in the low bits")
        }
        // The copy follows the master only when refreshed or reloaded.
        for k in 0..<layer.weights.count { layer.weights.values[k] *= 2 }
        XCTAssertEqual(run(layer).y, l.y, "forward reads the bf16 copy until it is refreshed")
        layer.low!.refresh()
        let doubled = run(layer).y
        XCTAssertNotEqual(doubled, l.y)
        for k in 0..<layer.weights.count { layer.weights.values[k] /= 2 }
        layer.weights.didReload()
        XCTAssertEqual(run(layer).y, l.y, "a reload (checkpoint restore) refreshes the copy")
    }
}
