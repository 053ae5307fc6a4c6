import XCTest
import Foundation
@testable import RecEngine
import TestSupport

/// Forward kernels against naive Double references written independently of the kernels.
final class KernelForwardTests: XCTestCase {
    /// The short-row copy behind the gathers: every length (whole 8-float vectors, tails, both),
    /// from and to unaligned addresses, writes exactly `n` floats.
    func testRowCopyCopiesEveryLengthAndNothingPast() {
        var rng = KernelTestRNG(seed: 11)
        let source = rng.floats(40)
        let sentinel: Float = -777
        for n in 0...25 {
            var destination = [Float](repeating: sentinel, count: n + 3)
            source.withUnsafeBufferPointer { src in
                destination.withUnsafeMutableBufferPointer { dst in
                    KernelMath.copy(src.baseAddress! + 1, to: dst.baseAddress! + 1, n)
                }
            }
            XCTAssertEqual(Array(destination[1..<(n + 1)]), Array(source[1..<(n + 1)]), "n = \(n)")
            XCTAssertEqual(destination[0], sentinel, "n = \(n): wrote before the row")
            XCTAssertEqual(Array(destination[(n + 1)...]), [sentinel, sentinel], "n = \(n): wrote past the row")
        }
    }

    func testGatherMatchesNaiveLookupIntoAStridedSlice() {
        // Batch 33 > the gather's prefetch distance; dims with and without a scalar tail.
        for dim in [1, 16, 21] {
            gatherMatchesNaiveLookup(dim: dim)
        }
    }

    private func gatherMatchesNaiveLookup(dim: Int) {
        var rng = KernelTestRNG(seed: 1)
        let rows = 97, batch = 33, columns = 26, dense = 13
        let outStride = columns * dim + dense
        let tables = (0..<columns).map { _ in rng.floats(rows * dim) }
        let ids = (0..<(batch * columns)).map { _ in Int32(rng.int(rows)) }
        let sentinel: Float = -777
        var out = [Float](repeating: sentinel, count: batch * outStride)
        for c in 0..<columns {
            EmbeddingKernels.gather(table: tables[c], rows: rows, dim: dim, ids: ids, idStride: columns, column: c, batch: batch,
                                    out: &out, outStride: outStride, outOffset: c * dim)
        }
        for i in 0..<batch {
            for c in 0..<columns {
                let id = Int(ids[i * columns + c])
                for d in 0..<dim {
                    XCTAssertEqual(out[i * outStride + c * dim + d], tables[c][id * dim + d], "dim \(dim) sample \(i) column \(c) d \(d)")
                }
            }
            for j in (columns * dim)..<outStride { XCTAssertEqual(out[i * outStride + j], sentinel, "dense slot overwritten") }
        }
    }

    func testGatherAllEqualsPerColumnGather() {
        var rng = KernelTestRNG(seed: 2)
        let columns = 5, dim = 3, batch = 7
        let rowCounts = [4, 9, 1, 30, 2]
        let tables = rowCounts.map { rng.floats($0 * dim) }
        let ids = (0..<(batch * columns)).map { Int32(rng.int(rowCounts[$0 % columns])) }
        var expected = [Float](repeating: 0, count: batch * columns * dim)
        for c in 0..<columns {
            EmbeddingKernels.gather(table: tables[c], rows: rowCounts[c], dim: dim, ids: ids, idStride: columns, column: c, batch: batch,
                                    out: &expected, outStride: columns * dim, outOffset: c * dim)
        }
        var actual = [Float](repeating: 0, count: expected.count)
        let pointers = tables.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
        defer { pointers.forEach { $0.deallocate() } }
        for (p, t) in zip(pointers, tables) { p.initialize(from: t, count: t.count) }
        let constPointers = pointers.map { UnsafePointer($0) }
        EmbeddingKernels.gatherAll(tables: constPointers, rows: rowCounts, columns: columns, dim: dim, ids: ids, idStride: columns,
                                   batch: batch, out: &actual, outStride: columns * dim, outOffset: 0)
        XCTAssertEqual(actual, expected)
        XCTAssertNotEqual(actual, [Float](repeating: 0, count: actual.count))
    }

    /// The wide / first-order logit in one pass equals gathering every column's weight into a row
    /// and summing the row, bit for bit (26 columns: the SIMD body and the scalar tail of the sum),
    /// with and without the prefetch.
    func testGatherSumEqualsGatherAllThenRowSumsBitForBit() {
        var rng = KernelTestRNG(seed: 5)
        for columns in [1, 7, 26] {
            let batch = 9
            let rowCounts = (0..<columns).map { 1 + ($0 * 7) % 23 }
            let tables = rowCounts.map { rng.floats($0) }
            let ids = (0..<(batch * columns)).map { Int32(rng.int(rowCounts[$0 % columns])) }
            let pointers = tables.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
            defer { pointers.forEach { $0.deallocate() } }
            for (p, t) in zip(pointers, tables) { p.initialize(from: t, count: t.count) }
            let constPointers = pointers.map { UnsafePointer($0) }
            var gathered = [Float](repeating: 0, count: batch * columns)
            EmbeddingKernels.gatherAll(tables: constPointers, rows: rowCounts, columns: columns, dim: 1, ids: ids, idStride: columns,
                                       batch: batch, out: &gathered, outStride: columns, outOffset: 0)
            var expected = [Float](repeating: 0, count: batch)
            VectorKernels.sumRows(x: gathered, stride: columns, offset: 0, width: columns, batch: batch, out: &expected, accumulate: false)
            // The prefetch (none, some samples ahead, further than the batch) changes speed only.
            for distance in [0, 4, 16] {
                var actual = [Float](repeating: .nan, count: batch)
                EmbeddingKernels.gatherSum(tables: constPointers, rows: rowCounts, columns: columns, ids: ids, idStride: columns,
                                           batch: batch, out: &actual, prefetchDistance: distance)
                XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), "\(columns) columns, prefetch \(distance)")
                XCTAssertNotEqual(actual, [Float](repeating: 0, count: batch))
            }
        }
    }

    func testFMForwardEqualsSumOfPairwiseDots() {
        for dim in [1, 8, 16, 21] {
            var rng = KernelTestRNG(seed: 3 + UInt64(dim))
            let batch = 4, fields = 6, stride = fields * dim + 2, offset = 1
            let x = rng.floats(batch * stride)
            var out = [Float](repeating: 0, count: batch)
            FMKernels.forward(x: x, stride: stride, offset: offset, fields: fields, dim: dim, batch: batch, out: &out)
            for i in 0..<batch {
                var expected: Double = 0
                for f in 0..<fields {
                    for g in (f + 1)..<fields {
                        for d in 0..<dim {
                            expected += Double(x[i * stride + offset + f * dim + d]) * Double(x[i * stride + offset + g * dim + d])
                        }
                    }
                }
                // (Σv)² − Σv² cancels: allow float rounding relative to the sum of squares (~fields·dim/3).
                assertClose(Double(out[i]), expected, rtol: 0, atol: 1e-5 * Double(fields * dim), "dim \(dim) sample \(i)")
            }
        }
    }

    func testInteractionForwardLayoutAndValues() {
        // 13: four-dimension steps + a remainder; fields 2, 7 and 8: windows wider than the row (F+1 ≤ 8 or 9 vectors).
        for (fields, dim) in [(26, 16), (11, 13), (2, 4), (7, 1), (8, 5), (16, 8)] {
            checkInteractionForward(fields: fields, dim: dim)
        }
    }

    /// The 16-wide AVX-512 kernels give the 8-wide Swift kernels' results bit for bit (forward at
    /// every shape; backward where `dim` is a multiple of 16, elsewhere both take the Swift path),
    /// with windows wider than a row, several windows per row, and odd and even `fields`.
    func testInteractionAVX512KernelsMatchTheSwiftKernelsBitForBit() throws {
        try XCTSkipUnless(OneDNNInfo.hasAVX512Core, "no AVX-512 on this host: the Swift kernels are the only path")
        for (fields, dim) in [(26, 16), (11, 13), (2, 4), (7, 1), (16, 32), (33, 16), (1, 16), (40, 7)] {
            var rng = KernelTestRNG(seed: 90 + UInt64(fields * dim))
            let batch = 5
            let width = InteractionKernels.outputWidth(fields: fields, dim: dim)
            let embStride = fields * dim + 3, embOffset = 1, outStride = width + 2
            let bottom = rng.floats(batch * dim), emb = rng.floats(batch * embStride), gradOut = rng.floats(batch * outStride)
            var outputs: [[Float]] = [], gradients: [[Float]] = []
            for avx512 in [false, true] {
                var out = [Float](repeating: 999, count: batch * outStride)
                InteractionKernels.forward(bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, fields: fields,
                                           dim: dim, batch: batch, out: &out, outStride: outStride, avx512: avx512)
                var gradBottom = [Float](repeating: 999, count: batch * dim)
                var gradEmb = [Float](repeating: 999, count: batch * embStride)
                InteractionKernels.backward(bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, fields: fields,
                                            dim: dim, batch: batch, gradOut: gradOut, gradOutStride: outStride,
                                            gradBottom: &gradBottom, gradEmb: &gradEmb, gradEmbStride: embStride,
                                            gradEmbOffset: embOffset, avx512: avx512)
                outputs.append(out)
                gradients.append(gradBottom + gradEmb)
            }
            XCTAssertEqual(outputs[1].map(\.bitPattern), outputs[0].map(\.bitPattern), "forward, fields \(fields) dim \(dim)")
            XCTAssertEqual(gradients[1].map(\.bitPattern), gradients[0].map(\.bitPattern), "backward, fields \(fields) dim \(dim)")
        }
    }

    /// `grad v_a = Σ_{b≠a} g_ab v_b` (plus the passthrough for v_0) against a Double reference; odd and
    /// even `fields` reach both the two-rows-at-a-time loop and its single-row remainder.
    func testInteractionBackwardValues() {
        for (fields, dim) in [(26, 16), (11, 13), (1, 8), (2, 3), (9, 17), (4, 32)] {
            var rng = KernelTestRNG(seed: 7 + UInt64(fields))
            let batch = 3
            let width = InteractionKernels.outputWidth(fields: fields, dim: dim)
            let embStride = fields * dim + 5, embOffset = 2, gradOutStride = width + 3
            let bottom = rng.floats(batch * dim), emb = rng.floats(batch * embStride), gradOut = rng.floats(batch * gradOutStride)
            var gradBottom = [Float](repeating: 999, count: batch * dim)
            var gradEmb = [Float](repeating: 999, count: batch * embStride)
            InteractionKernels.backward(bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, fields: fields, dim: dim,
                                        batch: batch, gradOut: gradOut, gradOutStride: gradOutStride, gradBottom: &gradBottom,
                                        gradEmb: &gradEmb, gradEmbStride: embStride, gradEmbOffset: embOffset)
            for i in 0..<batch {
                func vector(_ a: Int) -> [Float] {
                    interactionVector(a, sample: i, bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, dim: dim)
                }
                var g = [[Double]](repeating: [Double](repeating: 0, count: fields + 1), count: fields + 1)
                var k = dim
                for a in 0...fields {
                    for b in (a + 1)..<(fields + 1) {
                        g[a][b] = Double(gradOut[i * gradOutStride + k]); g[b][a] = g[a][b]
                        k += 1
                    }
                }
                for a in 0...fields {
                    for d in 0..<dim {
                        var expected = a == 0 ? Double(gradOut[i * gradOutStride + d]) : 0
                        for b in 0...fields where b != a { expected += g[a][b] * Double(vector(b)[d]) }
                        let got = a == 0 ? gradBottom[i * dim + d] : gradEmb[i * embStride + embOffset + (a - 1) * dim + d]
                        assertClose(Double(got), expected, rtol: 1e-5, atol: 1e-5, "fields \(fields) dim \(dim) sample \(i) vector \(a) dim \(d)")
                    }
                }
                XCTAssertEqual(gradEmb[i * embStride], 999, "column before the slice written")
                XCTAssertEqual(gradEmb[i * embStride + embOffset + fields * dim], 999, "column after the slice written")
            }
        }
    }

    /// Vector `a` of sample `i` as the interaction kernels read it: the bottom output for a = 0,
    /// embedding a − 1 of the sample's emb row otherwise.
    private func interactionVector(_ a: Int, sample i: Int, bottom: [Float], emb: [Float], embStride: Int, embOffset: Int,
                                   dim: Int) -> [Float] {
        a == 0 ? Array(bottom[(i * dim)..<((i + 1) * dim)])
               : Array(emb[(i * embStride + embOffset + (a - 1) * dim)..<(i * embStride + embOffset + a * dim)])
    }

    private func checkInteractionForward(fields: Int, dim: Int) {
        var rng = KernelTestRNG(seed: 4)
        let batch = 3
        let width = InteractionKernels.outputWidth(fields: fields, dim: dim)
        XCTAssertEqual(width, dim + (fields + 1) * fields / 2)
        XCTAssertEqual(InteractionKernels.outputWidth(fields: 26, dim: 16), 16 + 27 * 26 / 2)
        XCTAssertEqual(InteractionKernels.outputWidth(fields: 2, dim: 4), 4 + 3)
        let embStride = fields * dim + 13, embOffset = 13, outStride = width + 1
        let bottom = rng.floats(batch * dim)
        let emb = rng.floats(batch * embStride)
        var out = [Float](repeating: 999, count: batch * outStride)
        InteractionKernels.forward(bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, fields: fields, dim: dim,
                                   batch: batch, out: &out, outStride: outStride)
        for i in 0..<batch {
            func vector(_ a: Int) -> [Float] {
                interactionVector(a, sample: i, bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, dim: dim)
            }
            XCTAssertEqual(Array(out[(i * outStride)..<(i * outStride + dim)]), vector(0), "passthrough of the bottom vector")
            var k = dim
            for a in 0...fields {
                for b in (a + 1)..<(fields + 1) {
                    let expected = zip(vector(a), vector(b)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    assertClose(Double(out[i * outStride + k]), expected, rtol: 1e-5, atol: 1e-6, "pair (\(a),\(b))")
                    k += 1
                }
            }
            XCTAssertEqual(k, width)
            XCTAssertEqual(out[i * outStride + width], 999, "padding column written")
        }
    }

    func testSigmoidCrossEntropyValuesAreStableAndExact() {
        let logits: [Float] = [0, 2, -2, 100, -100, 30, -30]
        let labels: [Float] = [1, 0, 1, 0, 1, 1, 0]
        var grad = [Float](repeating: 0, count: logits.count)
        let sum = LossKernels.sigmoidCrossEntropy(logits: logits, labels: labels, batch: logits.count, gradScale: 0.5, gradLogits: &grad)
        var expected: Double = 0
        for (z, y) in zip(logits.map(Double.init), labels.map(Double.init)) {
            // Reference: softplus(z) − z·y, computed in Double.
            expected += (z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))) - z * y
        }
        XCTAssertTrue(sum.isFinite)
        assertClose(sum, expected, rtol: 1e-6)
        // z = 100 with y = 0 costs 100; z = −100 with y = 1 costs 100.
        XCTAssertGreaterThan(sum, 200)
        for k in 0..<logits.count {
            let p = 1 / (1 + Foundation.exp(-Double(logits[k])))
            assertClose(Double(grad[k]), (p - Double(labels[k])) * 0.5, rtol: 1e-6, atol: 1e-7, "grad \(k)")
        }
        var probabilities = [Float](repeating: 0, count: logits.count)
        LossKernels.sigmoid(logits, count: logits.count, out: &probabilities)
        for k in 0..<logits.count {
            assertClose(Double(probabilities[k]), 1 / (1 + Foundation.exp(-Double(logits[k]))), rtol: 1e-6, atol: 1e-30)
        }
    }

    func testVectorHelpers() {
        var rng = KernelTestRNG(seed: 9)
        let a = rng.floats(37), b = rng.floats(37)
        var out = [Float](repeating: 0, count: 37)
        VectorKernels.add(a, b, count: 37, out: &out)
        XCTAssertEqual(out, zip(a, b).map { $0 + $1 })
        var dst = a
        VectorKernels.accumulate(b, into: &dst, count: 37)
        XCTAssertEqual(dst, out)
        VectorKernels.scale(&dst, count: 37, by: 2)
        XCTAssertEqual(dst, out.map { $0 * 2 })

        let batch = 4, src = rng.floats(batch * 10)
        var block = [Float](repeating: -1, count: batch * 8)
        VectorKernels.copyColumns(src: src, srcStride: 10, srcOffset: 3, width: 5, batch: batch, dst: &block, dstStride: 8, dstOffset: 2)
        for i in 0..<batch {
            XCTAssertEqual(Array(block[(i * 8 + 2)..<(i * 8 + 7)]), Array(src[(i * 10 + 3)..<(i * 10 + 8)]))
            XCTAssertEqual([block[i * 8], block[i * 8 + 1], block[i * 8 + 7]], [-1, -1, -1])
        }
        var sums: [Float] = [1, 1, 1, 1]
        VectorKernels.sumRows(x: src, stride: 10, offset: 3, width: 5, batch: batch, out: &sums, accumulate: true)
        for i in 0..<batch {
            assertClose(Double(sums[i]), 1 + src[(i * 10 + 3)..<(i * 10 + 8)].reduce(0.0) { $0 + Double($1) }, rtol: 1e-6, atol: 1e-6)
        }
    }
}
