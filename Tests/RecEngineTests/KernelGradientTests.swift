import XCTest
@testable import RecEngine
import TestSupport

/// Finite-difference checks of every kernel with a backward pass.
///
/// Step size and tolerance: FM, interaction, row sums and the linear layer are affine in each
/// single input coordinate (FM and the interaction only multiply DIFFERENT vectors, f < g), so a
/// central difference has no truncation error at any h. We use h = 0.25 so that the only error is
/// float rounding of the O(1–10) outputs (~1e-6 absolute) divided by 2h: ~2e-6. Tolerance
/// atol = rtol = 1e-4 leaves a 50× margin and still catches any wrong term (errors are O(0.1–1)).
/// Dims 3, 11 and 21 exercise the scalar tail, the 8-wide and the 16-wide SIMD paths.
final class KernelGradientTests: XCTestCase {
    let dims = [3, 11, 21]

    func testFMBackwardMatchesFiniteDifferences() {
        for dim in dims {
            var rng = KernelTestRNG(seed: 11 + UInt64(dim))
            let batch = 3, fields = 4, stride = fields * dim + 5, offset = 2
            let gStride = fields * dim + 3, gOffset = 1
            var x = rng.floats(batch * stride)
            let r = rng.floats(batch)
            let prefill = rng.floats(batch * gStride)
            var gradX = prefill
            x.withUnsafeBufferPointer { xp in
                FMKernels.backward(x: xp.baseAddress!, stride: stride, offset: offset, fields: fields, dim: dim, batch: batch,
                                   gradOut: r, gradX: &gradX, gradStride: gStride, gradOffset: gOffset)
            }
            // Backward accumulates: the kernel's contribution is gradX − prefill, re-indexed to x's layout.
            var analytic = [Float](repeating: 0, count: x.count)
            var indices: [Int] = []
            for i in 0..<batch {
                for j in 0..<(fields * dim) {
                    analytic[i * stride + offset + j] = gradX[i * gStride + gOffset + j] - prefill[i * gStride + gOffset + j]
                    indices.append(i * stride + offset + j)
                }
                // Outside the slice: untouched.
                for j in 0..<gOffset { XCTAssertEqual(gradX[i * gStride + j], prefill[i * gStride + j]) }
                for j in (gOffset + fields * dim)..<gStride { XCTAssertEqual(gradX[i * gStride + j], prefill[i * gStride + j]) }
            }
            checkGradient(x: &x, indices: indices, h: 0.25, analytic: analytic, rtol: 1e-4, atol: 1e-4, "FM dim \(dim)") { x in
                var out = [Float](repeating: 0, count: batch)
                FMKernels.forward(x: x, stride: stride, offset: offset, fields: fields, dim: dim, batch: batch, out: &out)
                return project(out, r)
            }
        }
    }

    /// The 8-lane FM backward against its scalar definition (the field sums formed in field order,
    /// then `gradX += g·(s − v)`), bit for bit, at widths with and without a tail.
    func testFMBackwardEqualsItsScalarDefinitionBitForBit() {
        for dim in [1, 7, 8, 16, 21] {
            var rng = KernelTestRNG(seed: 71 + UInt64(dim))
            let batch = 5, fields = 6, stride = fields * dim + 3, offset = 1, gStride = fields * dim + 2, gOffset = 2
            let x = rng.floats(batch * stride), r = rng.floats(batch), prefill = rng.floats(batch * gStride)
            var gradX = prefill
            FMKernels.backward(x: x, stride: stride, offset: offset, fields: fields, dim: dim, batch: batch, gradOut: r,
                               gradX: &gradX, gradStride: gStride, gradOffset: gOffset)
            var expected = prefill
            for i in 0..<batch {
                var sums = [Float](repeating: 0, count: dim)
                for d in 0..<dim {
                    sums[d] = x[i * stride + offset + d]
                    for f in 1..<fields { sums[d] += x[i * stride + offset + f * dim + d] }
                }
                for f in 0..<fields {
                    for d in 0..<dim {
                        expected[i * gStride + gOffset + f * dim + d] += r[i] * (sums[d] - x[i * stride + offset + f * dim + d])
                    }
                }
            }
            XCTAssertEqual(gradX.map(\.bitPattern), expected.map(\.bitPattern), "dim \(dim)")
        }
    }

    func testInteractionBackwardMatchesFiniteDifferences() {
        for dim in dims {
            var rng = KernelTestRNG(seed: 23 + UInt64(dim))
            let batch = 3, fields = 10  // ≥ 8 pairs per row for rows 0–2: exercises the 8-dots-at-once path
            let width = InteractionKernels.outputWidth(fields: fields, dim: dim)
            let embStride = fields * dim + 4, embOffset = 3, outStride = width + 2
            let gStride = fields * dim + 6, gOffset = 2
            var bottom = rng.floats(batch * dim)
            var emb = rng.floats(batch * embStride)
            // Cotangent on the valid columns only; padding columns carry garbage the kernel must ignore.
            let r = rng.floats(batch * outStride)
            let garbage = rng.floats(batch * gStride, 50, 60)
            var gradBottom = rng.floats(batch * dim, 50, 60)
            var gradEmb = garbage
            InteractionKernels.backward(bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, fields: fields, dim: dim,
                                        batch: batch, gradOut: r, gradOutStride: outStride, gradBottom: &gradBottom,
                                        gradEmb: &gradEmb, gradEmbStride: gStride, gradEmbOffset: gOffset)
            func loss(_ bottom: [Float], _ emb: [Float]) -> Double {
                var out = [Float](repeating: 0, count: batch * outStride)
                InteractionKernels.forward(bottom: bottom, emb: emb, embStride: embStride, embOffset: embOffset, fields: fields, dim: dim,
                                           batch: batch, out: &out, outStride: outStride)
                var s: Double = 0
                for i in 0..<batch { for k in 0..<width { s += Double(out[i * outStride + k]) * Double(r[i * outStride + k]) } }
                return s
            }
            checkGradient(x: &bottom, indices: Array(0..<bottom.count), h: 0.25, analytic: gradBottom, rtol: 1e-4, atol: 1e-4,
                          "interaction bottom dim \(dim)") { loss($0, emb) }
            var analyticEmb = [Float](repeating: 0, count: emb.count)
            var indices: [Int] = []
            for i in 0..<batch {
                for j in 0..<(fields * dim) {
                    analyticEmb[i * embStride + embOffset + j] = gradEmb[i * gStride + gOffset + j]
                    indices.append(i * embStride + embOffset + j)
                }
                for j in 0..<gStride where j < gOffset || j >= gOffset + fields * dim {
                    XCTAssertEqual(gradEmb[i * gStride + j], garbage[i * gStride + j], "outside the gradient slice")
                }
            }
            checkGradient(x: &emb, indices: indices, h: 0.25, analytic: analyticEmb, rtol: 1e-4, atol: 1e-4,
                          "interaction emb dim \(dim)") { loss(bottom, $0) }
        }
    }

    /// The loss is not affine (softplus), so here truncation matters: |ℓ'''| ≤ 0.1, h = 1e-2 gives
    /// h²/6·0.1 ≈ 2e-6; float rounding of each per-sample loss (~1e-7·|ℓ| ≤ 5e-7) over 2h adds ~3e-5.
    /// Tolerance atol 2e-4 on gradients of magnitude ≤ 1/batch·1 (gradScale = 0.25).
    func testSigmoidCrossEntropyGradientMatchesFiniteDifferences() {
        var rng = KernelTestRNG(seed: 5)
        let batch = 16
        var logits = rng.floats(batch, -4, 4)
        let labels = (0..<batch).map { Float($0 % 3 == 0 ? 1 : 0) }
        let scale: Float = 0.25
        var grad = [Float](repeating: 0, count: batch)
        _ = LossKernels.sigmoidCrossEntropy(logits: logits, labels: labels, batch: batch, gradScale: scale, gradLogits: &grad)
        checkGradient(x: &logits, indices: Array(0..<batch), h: 1e-2, analytic: grad, rtol: 1e-3, atol: 2e-4, "loss") { z in
            var scratch = [Float](repeating: 0, count: batch)
            return Double(scale) * LossKernels.sigmoidCrossEntropy(logits: z, labels: labels, batch: batch, gradScale: 1, gradLogits: &scratch)
        }
    }

    func testBroadcastColumnIsTheGradientOfSumRows() {
        for width in [1, 13, 37] {
            var rng = KernelTestRNG(seed: 7 + UInt64(width))
            let batch = 4, stride = width + 3, offset = 2
            var x = rng.floats(batch * stride)
            let r = rng.floats(batch)
            let prefill = rng.floats(batch * stride)
            var accumulated = prefill
            var overwritten = prefill
            VectorKernels.broadcastColumn(gradOut: r, batch: batch, width: width, gradX: &accumulated, stride: stride, offset: offset, accumulate: true)
            VectorKernels.broadcastColumn(gradOut: r, batch: batch, width: width, gradX: &overwritten, stride: stride, offset: offset, accumulate: false)
            var analytic = [Float](repeating: 0, count: x.count)
            var indices: [Int] = []
            for i in 0..<batch {
                for j in 0..<stride {
                    let k = i * stride + j
                    if j >= offset && j < offset + width {
                        analytic[k] = overwritten[k]
                        indices.append(k)
                        XCTAssertEqual(accumulated[k], prefill[k] + overwritten[k], accuracy: 1e-6)
                    } else {
                        XCTAssertEqual(overwritten[k], prefill[k])
                        XCTAssertEqual(accumulated[k], prefill[k])
                    }
                }
            }
            checkGradient(x: &x, indices: indices, h: 0.25, analytic: analytic, rtol: 1e-4, atol: 1e-4, "sumRows width \(width)") { x in
                var out = [Float](repeating: 0, count: batch)
                VectorKernels.sumRows(x: x, stride: stride, offset: offset, width: width, batch: batch, out: &out, accumulate: false)
                return project(out, r)
            }
        }
    }

    func testLinearBackwardMatchesFiniteDifferences() {
        var rng = KernelTestRNG(seed: 13)
        let batch = 5, width = 13, stride = 20, offset = 4
        var x = rng.floats(batch * stride)
        var w = rng.floats(width)
        var b: [Float] = [0.3]
        let r = rng.floats(batch)
        var gradW = rng.floats(width, 50, 60)  // overwritten (accumulate: false)
        var gradB: [Float] = [55]
        var gradX = [Float](repeating: 0, count: batch * stride)
        VectorKernels.linearBackward(x: x, stride: stride, offset: offset, width: width, batch: batch, weights: w, gradOut: r,
                                     gradWeights: &gradW, gradBias: &gradB, gradX: &gradX, gradXStride: stride, gradXOffset: offset,
                                     accumulate: false)
        func loss(_ x: [Float], _ w: [Float], _ b: Float) -> Double {
            var out = [Float](repeating: 0, count: batch)
            VectorKernels.linearForward(x: x, stride: stride, offset: offset, width: width, batch: batch, weights: w, bias: b,
                                        out: &out, accumulate: false)
            return project(out, r)
        }
        let xIndices = (0..<batch).flatMap { i in (0..<width).map { i * stride + offset + $0 } }
        checkGradient(x: &x, indices: xIndices, h: 0.25, analytic: gradX, rtol: 1e-4, atol: 1e-4, "linear x") { loss($0, w, b[0]) }
        checkGradient(x: &w, indices: Array(0..<width), h: 0.25, analytic: gradW, rtol: 1e-4, atol: 1e-4, "linear w") { loss(x, $0, b[0]) }
        checkGradient(x: &b, indices: [0], h: 0.25, analytic: gradB, rtol: 1e-4, atol: 1e-4, "linear b") { loss(x, w, $0[0]) }

        // accumulate: true adds the same contribution on top of what is there.
        var gradW2 = gradW, gradB2 = gradB, gradX2 = gradX
        VectorKernels.linearBackward(x: x, stride: stride, offset: offset, width: width, batch: batch, weights: w, gradOut: r,
                                     gradWeights: &gradW2, gradBias: &gradB2, gradX: &gradX2, gradXStride: stride, gradXOffset: offset,
                                     accumulate: true)
        assertClose(gradW2, gradW.map { 2 * $0 }, rtol: 1e-6, atol: 1e-6)
        assertClose(gradB2, gradB.map { 2 * $0 }, rtol: 1e-6, atol: 1e-6)
        assertClose(gradX2, gradX.map { 2 * $0 }, rtol: 1e-6, atol: 1e-6)
    }
}
