import XCTest
@testable import RecEngine

/// Finite-difference checks of the sequence models' ops: PReLU, masked softmax, the attention
/// unit (query dense + PReLU, [q, f, q − f, q·f], MLP 80-40-1, masked softmax) and DIN's weighted
/// sum, the GRU and AUGRU layers unrolled over masked sequences (backpropagation through time, both
/// `rnn` modes), the DIEN auxiliary loss, the inference-mode BatchNorm, and clipping by norm.
///
/// Step sizes: all ops are smooth; h = 1e-2 on O(1) inputs in Float gives central-difference
/// truncation O(h²·f''') ≈ 1e-4 and rounding ≈ 1e-6/h ≈ 1e-4 on these small sums, so atol 2e-3
/// with rtol 2e-2 separates a right gradient from any wrong term (errors O(0.1)). PReLU's kink is
/// avoided by keeping inputs away from 0.
final class SequenceKernelTests: XCTestCase {
    func testPReLUGradients() {
        var rng = SplitMix64(seed: 1)
        let rows = 4, w = 5
        var x = rng.floats(rows * w).map { $0 + ($0 >= 0 ? 0.1 : -0.1) }
        var alpha = rng.floats(w, 0.05, 0.5)
        let r = rng.floats(rows * w)
        func f(_ x: [Float], _ a: [Float]) -> Double {
            var y = [Float](repeating: 0, count: rows * w)
            SeqKernels.preluForward(x, rows: rows, width: w, alpha: a, out: &y)
            return project(y, r)
        }
        var gx = [Float](repeating: 0, count: rows * w), ga = [Float](repeating: 0, count: w)
        SeqKernels.preluBackward(x, rows: rows, width: w, alpha: alpha, gradOut: r, gradX: &gx, gradAlpha: &ga)
        let a0 = alpha
        checkGradient(x: &x, indices: Array(0..<(rows * w)), h: 1e-2, analytic: gx, rtol: 2e-2, atol: 2e-3, "prelu dx") { f($0, a0) }
        let x0 = x
        checkGradient(x: &alpha, indices: Array(0..<w), h: 1e-2, analytic: ga, rtol: 2e-2, atol: 2e-3, "prelu dalpha") { f(x0, $0) }
        // The script's form: x for x > 0, α·x below.
        var y = [Float](repeating: 0, count: 2)
        SeqKernels.preluForward([2, -2], rows: 1, width: 2, alpha: [0.1, 0.3], out: &y)
        XCTAssertEqual(y, [2, -0.6])
    }

    func testMaskedSoftmaxAndWeightedSumGradients() {
        var rng = SplitMix64(seed: 2)
        let rows = 3, steps = 5, w = 4
        let lengths: [Int32] = [5, 2, 1]
        var s = rng.floats(steps * rows, -2, 2)
        var facts = rng.floats(steps * rows * w)
        let r = rng.floats(rows * w)
        func weights(_ s: [Float]) -> [Float] {
            var p = [Float](repeating: 0, count: steps * rows)
            SeqKernels.maskedSoftmaxForward(scores: s, lengths: lengths, rows: rows, steps: steps, out: &p)
            return p
        }
        func f(_ s: [Float], _ facts: [Float]) -> Double {
            var out = [Float](repeating: 0, count: rows * w)
            SeqKernels.weightedSum(p: weights(s), facts: facts, rows: rows, steps: steps, width: w, out: &out, outStride: w)
            return project(out, r)
        }
        let p = weights(s)
        // Masked steps get exactly 0; each row sums to 1.
        XCTAssertEqual(p[2 * rows + 1], 0); XCTAssertEqual(p[1 * rows + 2], 0)
        for i in 0..<rows { XCTAssertEqual((0..<steps).reduce(Float(0)) { $0 + p[$1 * rows + i] }, 1, accuracy: 1e-6) }
        var gp = [Float](repeating: 0, count: steps * rows), gf = [Float](repeating: 0, count: steps * rows * w)
        SeqKernels.weightedSumBackward(p: p, facts: facts, rows: rows, steps: steps, width: w, gradOut: r, gradStride: w, gradP: &gp, gradFacts: &gf)
        var gs = [Float](repeating: 0, count: steps * rows)
        SeqKernels.maskedSoftmaxBackward(p: p, gradP: gp, rows: rows, steps: steps, gradScores: &gs)
        let f0 = facts
        checkGradient(x: &s, indices: Array(0..<(steps * rows)), h: 1e-2, analytic: gs, rtol: 2e-2, atol: 2e-3, "softmax dscores") { f($0, f0) }
        let s0 = s
        checkGradient(x: &facts, indices: Array(0..<(steps * rows * w)), h: 1e-2, analytic: gf, rtol: 2e-2, atol: 2e-3, "weighted sum dfacts") {
            f(s0, $0)
        }
    }

    func testAuxiliaryLossGradientsAndMask() {
        var rng = SplitMix64(seed: 3)
        let n = 6
        var z = rng.floats(2 * n, -3, 3)
        let mask: [Float] = [1, 1, 0, 1, 0, 1]
        for clicked in [true, false] {
            func f(_ z: [Float]) -> Double {
                var g = [Float](repeating: 0, count: 2 * n)
                return SeqKernels.auxiliaryLoss(logits: z, count: n, clicked: clicked, weight: { mask[$0] }, scale: 1, gradZ: &g)
            }
            var g = [Float](repeating: 0, count: 2 * n)
            let loss = SeqKernels.auxiliaryLoss(logits: z, count: n, clicked: clicked, weight: { mask[$0] }, scale: 1, gradZ: &g)
            // −log(softmax₀ + 1e-8) (clicked) or −log(1 − softmax₀ − 1e-8), masked rows excluded.
            var expected = 0.0
            for r in 0..<n where mask[r] != 0 {
                let p0 = 1 / (1 + exp(Double(z[2 * r + 1] - z[2 * r]))) + 1e-8
                expected += clicked ? -log(p0) : -log(1 - p0)
            }
            XCTAssertEqual(loss, expected, accuracy: 1e-4)
            XCTAssertEqual(g[4], 0); XCTAssertEqual(g[5], 0)
            checkGradient(x: &z, indices: Array(0..<(2 * n)), h: 1e-2, analytic: g, rtol: 2e-2, atol: 2e-3, "aux loss clicked=\(clicked)", forward: f)
        }
    }

    func testAffineBatchNormGradients() {
        var rng = SplitMix64(seed: 4)
        let rows = 3, w = 4
        var x = rng.floats(rows * w)
        var gamma = rng.floats(w, 0.5, 1.5)
        let beta = rng.floats(w), r = rng.floats(rows * w)
        func f(_ x: [Float], _ g: [Float]) -> Double {
            var y = [Float](repeating: 0, count: rows * w)
            SeqKernels.affineBNForward(x, rows: rows, width: w, gamma: g, beta: beta, epsilon: 0.001, out: &y)
            return project(y, r)
        }
        var gx = [Float](repeating: 0, count: rows * w), gg = [Float](repeating: 0, count: w), gb = [Float](repeating: 0, count: w)
        SeqKernels.affineBNBackward(x, rows: rows, width: w, gamma: gamma, epsilon: 0.001, gradOut: r, gradX: &gx, gradGamma: &gg, gradBeta: &gb)
        let g0 = gamma, x0 = x
        checkGradient(x: &x, indices: Array(0..<(rows * w)), h: 1e-2, analytic: gx, rtol: 2e-2, atol: 2e-3, "bn dx") { f($0, g0) }
        checkGradient(x: &gamma, indices: Array(0..<w), h: 1e-2, analytic: gg, rtol: 2e-2, atol: 2e-3, "bn dgamma") { f(x0, $0) }
        for j in 0..<w { XCTAssertEqual(gb[j], (0..<rows).reduce(Float(0)) { $0 + r[$1 * w + j] }, accuracy: 1e-5) }
    }

    func testClipByNorm() {
        var g: [Float] = [3, 4, 0]
        XCTAssertEqual(SeqKernels.clipByNorm(&g, count: 3, maxNorm: 5), 5)
        XCTAssertEqual(g, [3, 4, 0], "a norm of exactly 5 is left alone")
        g = [6, 8, 0]
        XCTAssertEqual(SeqKernels.clipByNorm(&g, count: 3, maxNorm: 5), 10)
        XCTAssertEqual(g[0], 3, accuracy: 1e-6); XCTAssertEqual(g[1], 4, accuracy: 1e-6)
        // The sparse optimizer clips its summed rows by their joint norm before the update.
        let t = ParameterTensor(name: "t", rows: 4, columns: 2)
        let o = SparseRowOptimizer(table: t, kind: .sgd, learningRate: 1, maxIdsPerUpdate: 4)
        let ids: [Int32] = [1, 3, 1], grad: [Float] = [3, 0, 0, 8, 3, 0]
        o.begin()
        o.accumulate(ids: ids, idStride: 1, column: 0, count: 3, grad: grad, gradStride: 2, gradOffset: 0)
        XCTAssertEqual(o.clipAccumulated(maxNorm: 5), 10, accuracy: 1e-5)  // rows (6, 0) and (0, 8)
        o.apply(step: 1)
        XCTAssertEqual(t.snapshot(), [0, 0, -3, 0, 0, 0, 0, -4].map { Float($0) })
    }

    // MARK: - Layers in step graphs

    /// Holds what a test graph's last node copies out.
    final class Out: @unchecked Sendable {
        var loss = 0.0
        var grads: [[Float]] = []
        var gradInput: [Float] = []
        var gradAlpha: [Float] = []
        var gradItem: [Float] = []
    }

    static func run(_ b: GraphBuilder) throws {
        let g = try b.build()
        let memory = StepMemory(graph: g, allocator: SystemAllocator())
        InlineExecutor().run(g, memory: memory, step: 0)
    }

    /// One GRU/AUGRU layer over `x` (time-major, masked by `lengths`) with L = Σ rOut·outputs (active
    /// steps) + Σ rFin·final state; returns L and the backward's gradients.
    static func gru(_ layer: SeqGRU, rows: Int, lengths: [Int32], x: [Float], alpha: [Float], rOut: [Float], rFin: [Float]) throws -> Out {
        let T = layer.maxSteps, E = layer.inputs, H = layer.hidden
        let lens = SeqLengths(rows: rows)
        for i in 0..<rows { lens.lengths[i] = lengths[i] }
        lens.longest = Int(lengths.max()!)
        let out = Out()
        let b = GraphBuilder()
        let xt = b.floats("x", count: T * rows * E), at = b.floats("alpha", count: T * rows)
        let go = b.floats("gout", count: T * rows * H), gf = b.floats("gfin", count: rows * H), gx = b.floats("gx", count: T * rows * E)
        let input = b.node("input", kind: .input, allocates: [xt, at, go, gf, gx]) { ctx in
            ctx.memory.floats(xt).update(from: x, count: x.count)
            ctx.memory.floats(at).update(from: alpha, count: alpha.count)
            ctx.memory.floats(go).update(from: rOut, count: rOut.count)
            ctx.memory.floats(gf).update(from: rFin, count: rFin.count)
            ctx.memory.floats(gx).update(repeating: 0, count: T * rows * E)
        }
        let f = layer.addForward(b, tag: "", rows: rows, lengths: lens, input: xt, inputOffset: 0, alpha: layer.attentional ? at : nil,
                                 after: [input])
        let loss = b.node("loss", kind: .forward, after: [f.done], uses: [f.states]) { ctx in
            let s = ctx.memory.floats(f.states)
            var l = 0.0
            for t in 0..<lens.longest { for i in 0..<rows where t < Int(lengths[i]) { for j in 0..<H { l += Double(rOut[(t * rows + i) * H + j] * s[((t + 1) * rows + i) * H + j]) } } }
            for i in 0..<rows { for j in 0..<H { l += Double(rFin[i * H + j] * s[(Int(lengths[i]) * rows + i) * H + j]) } }
            out.loss = l
        }
        let bw = layer.addBackward(b, tag: "", rows: rows, lengths: lens, forward: f, gradOutputs: go, gradFinal: (gf, H, 0), gradInput: gx,
                                   gradInputOffset: 0, ready: [loss])
        b.node("extract", kind: .backward, after: [bw.done], uses: bw.grads + [gx] + (bw.gradAlpha.map { [$0] } ?? [])) { ctx in
            out.grads = zip(bw.grads, layer.parameters).map { Array(UnsafeBufferPointer(start: ctx.memory.floats($0.0), count: $0.1.count)) }
            out.gradInput = Array(UnsafeBufferPointer(start: ctx.memory.floats(gx), count: T * rows * E))
            if let ga = bw.gradAlpha { out.gradAlpha = Array(UnsafeBufferPointer(start: ctx.memory.floats(ga), count: T * rows)) }
        }
        try run(b)
        return out
    }

    /// GRU and AUGRU, unfused and fused: ∂L/∂input, ∂L/∂α and every weight gradient against central
    /// differences, over rows of lengths 4, 1, 3 in a 5-step layer (steps past the longest and past
    /// each row's length are masked).
    func testGRUAndAUGRUBackpropagationThroughTime() throws {
        let rows = 3, T = 5, E = 4, H = 3
        let lengths: [Int32] = [4, 1, 3]
        for attentional in [false, true] {
            for mode in RNNMode.allCases {
                var rng = SplitMix64(seed: 5)
                let layer = SeqGRU(name: "g", inputs: E, hidden: H, maxSteps: T, attentional: attentional, mode: mode,
                                   optimizer: ClippedAdam(learningRate: 0, clipNorm: 5), seed: 9)
                for p in layer.parameters { for k in 0..<p.count { p.values[k] += rng.uniform(-0.3, 0.3) } }
                var x = rng.floats(T * rows * E)
                var alpha = rng.floats(T * rows, 0.05, 0.95)
                let rOut = rng.floats(T * rows * H), rFin = rng.floats(rows * H)
                let what = "\(attentional ? "augru" : "gru") \(mode)"
                let base = try Self.gru(layer, rows: rows, lengths: lengths, x: x, alpha: alpha, rOut: rOut, rFin: rFin)
                let a0 = alpha, x0 = x
                func loss(_ x: [Float], _ a: [Float]) -> Double {
                    (try? Self.gru(layer, rows: rows, lengths: lengths, x: x, alpha: a, rOut: rOut, rFin: rFin).loss) ?? .nan
                }
                checkGradient(x: &x, indices: Array(0..<(T * rows * E)), h: 1e-2, analytic: base.gradInput, rtol: 2e-2, atol: 2e-3,
                              "\(what) dx") { loss($0, a0) }
                // Masked steps of the input get no gradient.
                XCTAssertEqual(base.gradInput[(1 * rows + 1) * E], 0, "\(what): row 1 has length 1")
                if attentional {
                    checkGradient(x: &alpha, indices: Array(0..<(T * rows)), h: 1e-2, analytic: base.gradAlpha, rtol: 2e-2, atol: 2e-3,
                                  "\(what) dalpha") { loss(x0, $0) }
                }
                for (k, p) in layer.parameters.enumerated() {
                    var v = p.snapshot()
                    checkGradient(x: &v, indices: Array(0..<p.count), h: 1e-2, analytic: base.grads[k], rtol: 2e-2, atol: 2e-3,
                                  "\(what) \(p.name)") { w in
                        let saved = p.snapshot()
                        p.values.update(from: w, count: w.count)
                        defer { p.values.update(from: saved, count: saved.count) }
                        return loss(x0, a0)
                    }
                }
            }
        }
    }

    /// The attention's MLP rows: the real (step, row) positions, time-major, and nothing past a
    /// row's history (4 rows of lengths 4, 2, 1 and 0: 7 of the 16 grid positions).
    func testAttentionPairsAreTheRealPositionsTimeMajor() {
        let lens = SeqLengths(rows: 4)
        for (i, n) in [4, 2, 1, 0].enumerated() { lens.lengths[i] = Int32(n) }
        lens.longest = 4
        let pairs = SeqPairs(capacity: 16)
        pairs.load(lens)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: pairs.index, count: pairs.count)), [0, 1, 2, 4, 5, 8, 12])
        lens.lengths[3] = 3
        pairs.load(lens)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: pairs.index, count: pairs.count)), [0, 1, 2, 3, 4, 5, 7, 8, 11, 12])
        // DIEN's auxiliary rows: positions with a next step (t + 1 < length).
        pairs.load(lens, shortenedBy: 1)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: pairs.index, count: pairs.count)), [0, 1, 3, 4, 7, 8])
    }

    /// The attention unit: ∂L/∂item, ∂L/∂facts and every parameter's gradient for L = Σ r·weights.
    func testAttentionUnitGradients() throws {
        let rows = 3, T = 4, w = 3
        let lengths: [Int32] = [4, 2, 1]
        var rng = SplitMix64(seed: 6)
        let unit = SeqAttention(name: "att", width: w, maxSteps: T, optimizer: ClippedAdam(learningRate: 0, clipNorm: 5), seed: 3)
        for p in unit.parameters { for k in 0..<p.count { p.values[k] += rng.uniform(-0.3, 0.3) } }
        var item = rng.floats(rows * w), facts = rng.floats(T * rows * w)
        let r = rng.floats(T * rows)
        func eval(_ item: [Float], _ facts: [Float]) throws -> Out {
            let lens = SeqLengths(rows: rows)
            for i in 0..<rows { lens.lengths[i] = lengths[i] }
            lens.longest = T
            let out = Out(), b = GraphBuilder()
            let it = b.floats("item", count: rows * w), ft = b.floats("facts", count: T * rows * w)
            let gr = b.floats("gw", count: T * rows), gi = b.floats("gi", count: rows * w), gf = b.floats("gf", count: T * rows * w)
            let input = b.node("input", kind: .input, allocates: [it, ft, gr, gi, gf]) { ctx in
                ctx.memory.floats(it).update(from: item, count: item.count)
                ctx.memory.floats(ft).update(from: facts, count: facts.count)
                ctx.memory.floats(gr).update(from: r, count: r.count)
                ctx.memory.floats(gi).update(repeating: 0, count: rows * w)
                ctx.memory.floats(gf).update(repeating: 0, count: T * rows * w)
            }
            let f = unit.addForward(b, tag: "", rows: rows, lengths: lens, item: it, facts: ft, factsOffset: 0, after: [input])
            let loss = b.node("loss", kind: .forward, after: [f.done], uses: [f.weights]) { ctx in
                out.loss = project(Array(UnsafeBufferPointer(start: ctx.memory.floats(f.weights), count: T * rows)), r)
            }
            let bw = unit.addBackward(b, tag: "", rows: rows, lengths: lens, forward: f, item: it, facts: ft, factsOffset: 0, gradWeights: gr,
                                      ready: [loss], gradFacts: gf, gradFactsOffset: 0, gradItem: gi)
            b.node("extract", kind: .backward, after: [bw.done], uses: bw.grads + [gi, gf]) { ctx in
                out.grads = zip(bw.grads, unit.parameters).map { Array(UnsafeBufferPointer(start: ctx.memory.floats($0.0), count: $0.1.count)) }
                out.gradItem = Array(UnsafeBufferPointer(start: ctx.memory.floats(gi), count: rows * w))
                out.gradInput = Array(UnsafeBufferPointer(start: ctx.memory.floats(gf), count: T * rows * w))
            }
            try Self.run(b)
            return out
        }
        let base = try eval(item, facts)
        let i0 = item, f0 = facts
        checkGradient(x: &item, indices: Array(0..<(rows * w)), h: 1e-2, analytic: base.gradItem, rtol: 2e-2, atol: 2e-3, "attention ditem") {
            (try? eval($0, f0).loss) ?? .nan
        }
        checkGradient(x: &facts, indices: Array(0..<(T * rows * w)), h: 1e-2, analytic: base.gradInput, rtol: 2e-2, atol: 2e-3,
                      "attention dfacts") { (try? eval(i0, $0).loss) ?? .nan }
        for (k, p) in unit.parameters.enumerated() {
            var v = p.snapshot()
            checkGradient(x: &v, indices: Array(0..<min(p.count, 40)), h: 1e-2, analytic: base.grads[k], rtol: 2e-2, atol: 2e-3, p.name) { wv in
                let saved = p.snapshot()
                p.values.update(from: wv, count: wv.count)
                defer { p.values.update(from: saved, count: saved.count) }
                return (try? eval(i0, f0).loss) ?? .nan
            }
        }
    }
}
