/// A GRU layer as TF 1.x's `GRUCell` in `dynamic_rnn(sequence_length=…)` computes it, or DIEN's
/// AUGRU (`VecAttGRUCell`, `attentional`): per step
///
///     [r, u] = σ([x, h]·Wg + bg)      (bg starts at 1)
///     c      = tanh([x, r∘h]·Wc + bc) (bc starts at 0)
///     u'     = (1 − α)·u              (AUGRU only; α the attention weight of the step)
///     h'     = u'·h + (1 − u')·c
///
/// and a row's state stops updating past its length. Tensors are time-major; the states
/// `[(maxSteps + 1) × rows × hidden]` start with h₀ = 0, so step t's output is states[t + 1] and
/// a row's final state is states[length]. Steps at or past the micro-batch's longest history are
/// skipped.
///
/// `unfused` adds three nodes per step forward (gate GEMM on the concatenated `[x, h]` with σ,
/// candidate GEMM with tanh, state update) and three per step backward; `fused` one node each way.
///
/// `bf16` (the scripts run `dynamic_rnn` in bf16 under `--bf16`): every product of the cell —
/// gates and candidate, forward, backward-data and weight gradients — takes bf16 operands (the
/// inputs, states, r∘h and the gate/candidate gradients rounded into step tensors, the kernels
/// from their bf16 copies) and accumulates in fp32; σ, tanh, the state update, the states and all
/// gradients stay fp32, and the master kernels stay fp32 (the scripts' GRU variables are bf16 —
/// here, as for every bf16 layer of the engine, the optimizer updates fp32 masters).
final class SeqGRU: @unchecked Sendable {
    let name: String
    let inputs: Int
    let hidden: Int
    let maxSteps: Int
    let attentional: Bool
    let mode: RNNMode
    let gateKernel: ParameterTensor
    let gateBias: ParameterTensor
    let candidateKernel: ParameterTensor
    let candidateBias: ParameterTensor
    /// bf16 only: the kernels' bf16 copies.
    let gateLow: SeqBF16Copy?
    let candidateLow: SeqBF16Copy?
    let optimizer: ClippedAdam

    init(name: String, inputs: Int, hidden: Int, maxSteps: Int, attentional: Bool, mode: RNNMode, bf16: Bool = false, optimizer: ClippedAdam,
         seed: UInt64) {
        self.name = name
        self.inputs = inputs
        self.hidden = hidden
        self.maxSteps = maxSteps
        self.attentional = attentional
        self.mode = mode
        self.optimizer = optimizer
        let k = inputs + hidden
        gateKernel = ParameterTensor(name: "\(name).gates.kernel", rows: k, columns: 2 * hidden)
        gateBias = ParameterTensor(name: "\(name).gates.bias", rows: 1, columns: 2 * hidden)
        candidateKernel = ParameterTensor(name: "\(name).candidate.kernel", rows: k, columns: hidden)
        candidateBias = ParameterTensor(name: "\(name).candidate.bias", rows: 1, columns: hidden)
        var rng = SplitMix64(seed: seed)
        let lg = Float((6.0 / Double(k + 2 * hidden)).squareRoot()), lc = Float((6.0 / Double(k + hidden)).squareRoot())
        for j in 0..<gateKernel.count { gateKernel.values[j] = rng.uniform(-lg, lg) }
        for j in 0..<candidateKernel.count { candidateKernel.values[j] = rng.uniform(-lc, lc) }
        gateBias.values.update(repeating: 1, count: 2 * hidden)
        gateLow = bf16 ? SeqBF16Copy(gateKernel) : nil
        candidateLow = bf16 ? SeqBF16Copy(candidateKernel) : nil
        optimizer.register(gateKernel, low: gateLow)
        optimizer.register(gateBias)
        optimizer.register(candidateKernel, low: candidateLow)
        optimizer.register(candidateBias)
    }

    var parameters: [ParameterTensor] { [gateKernel, gateBias, candidateKernel, candidateBias] }

    /// The bf16 weight copies (empty for fp32).
    var lowCopies: [SeqBF16Copy] { [gateLow, candidateLow].compactMap { $0 } }

    struct Forward {
        let states: TensorID
        let gates: TensorID
        let candidate: TensorID
        /// unfused: `[x, h]` and `[x, r∘h]` per step; fused: `r∘h` per step.
        let concat: [TensorID]
        /// bf16 only, the product operands the backward pass reads again: unfused `[x, h]` and
        /// `[x, r∘h]` per step; fused the inputs, the states h_t and r∘h per step.
        let low: [TensorID]
        let input: TensorID
        let inputOffset: Int
        let alpha: TensorID?
        let done: NodeID
    }

    /// `input` is time-major `[maxSteps × rows × inputs]` from float `inputOffset`; `alpha`
    /// (AUGRU) time-major `[maxSteps × rows]`.
    func addForward(_ b: GraphBuilder, tag: String, rows: Int, lengths: SeqLengths, input: TensorID, inputOffset: Int, alpha: TensorID?,
                    after: [NodeID]) -> Forward {
        let T = maxSteps, H = hidden, E = inputs, K = E + H
        let states = b.floats("\(name).states\(tag)", count: (T + 1) * rows * H)
        let gates = b.floats("\(name).gates\(tag)", count: T * rows * 2 * H)
        let cand = b.floats("\(name).candidate\(tag)", count: T * rows * H)
        let gk = gateKernel, gb = gateBias, ck = candidateKernel, cb = candidateBias
        let extra: [TensorID] = alpha.map { [input, $0] } ?? [input]
        let gl = gateLow, cl = candidateLow
        switch mode {
        case .fused:
            let rh = b.floats("\(name).rh\(tag)", count: T * rows * H)
            let low: [TensorID] = gl == nil ? [] : [b.bf16("\(name).x.bf16\(tag)", count: T * rows * E),
                                                    b.bf16("\(name).h.bf16\(tag)", count: T * rows * H),
                                                    b.bf16("\(name).rh.bf16\(tag)", count: T * rows * H)]
            let node = b.node("\(name).fused\(tag)", kind: .forward, after: after, allocates: [states, gates, cand, rh] + low,
                              uses: extra) { ctx in
                let hs = ctx.memory.floats(states), g = ctx.memory.floats(gates), c = ctx.memory.floats(cand), r = ctx.memory.floats(rh)
                let x = ctx.memory.floats(input) + inputOffset, a = alpha.map { ctx.memory.floats($0) }
                let steps = lengths.longest, len = lengths.lengths
                hs.update(repeating: 0, count: rows * H)
                if let gl, let cl {
                    let xb = ctx.memory.bf16(low[0]), hb = ctx.memory.bf16(low[1]), rb = ctx.memory.bf16(low[2])
                    SeqKernels.toBF16(x, count: steps * rows * E, xb)
                    SeqKernels.gemmBF16(m: steps * rows, n: 2 * H, k: E, a: xb, lda: E, b: gl.bits, ldb: 2 * H, beta: 0, c: g, ldc: 2 * H)
                    SeqKernels.gemmBF16(m: steps * rows, n: H, k: E, a: xb, lda: E, b: cl.bits, ldb: H, beta: 0, c: c, ldc: H)
                    for t in 0..<steps {
                        let h = hs + t * rows * H, gt = g + t * rows * 2 * H, ct = c + t * rows * H, rt = r + t * rows * H
                        let ht = hb + t * rows * H, rbt = rb + t * rows * H
                        SeqKernels.toBF16(h, count: rows * H, ht)
                        SeqKernels.gemmBF16(m: rows, n: 2 * H, k: H, a: ht, lda: H, b: gl.bits + E * 2 * H, ldb: 2 * H, beta: 1, c: gt,
                                            ldc: 2 * H)
                        SeqKernels.gruGates(gates: gt, bias: gb.values, h: h, rows: rows, hidden: H, rh: rt, rhStride: H, rhOffset: 0)
                        SeqKernels.toBF16(rt, count: rows * H, rbt)
                        SeqKernels.gemmBF16(m: rows, n: H, k: H, a: rbt, lda: H, b: cl.bits + E * H, ldb: H, beta: 1, c: ct, ldc: H)
                        SeqKernels.gruUpdate(candidate: ct, bias: cb.values, gates: gt, h: h, alpha: a.map { $0 + t * rows }, lengths: len,
                                             step: t, rows: rows, hidden: H, out: h + rows * H)
                    }
                    return
                }
                // Input projections of every step: one GEMM per weight group.
                SeqKernels.gemm(m: steps * rows, n: 2 * H, k: E, a: x, lda: E, b: gk.values, ldb: 2 * H, beta: 0, c: g, ldc: 2 * H)
                SeqKernels.gemm(m: steps * rows, n: H, k: E, a: x, lda: E, b: ck.values, ldb: H, beta: 0, c: c, ldc: H)
                for t in 0..<steps {
                    let h = hs + t * rows * H, gt = g + t * rows * 2 * H, ct = c + t * rows * H, rt = r + t * rows * H
                    SeqKernels.gemm(m: rows, n: 2 * H, k: H, a: h, lda: H, b: gk.values + E * 2 * H, ldb: 2 * H, beta: 1, c: gt, ldc: 2 * H)
                    SeqKernels.gruGates(gates: gt, bias: gb.values, h: h, rows: rows, hidden: H, rh: rt, rhStride: H, rhOffset: 0)
                    SeqKernels.gemm(m: rows, n: H, k: H, a: rt, lda: H, b: ck.values + E * H, ldb: H, beta: 1, c: ct, ldc: H)
                    SeqKernels.gruUpdate(candidate: ct, bias: cb.values, gates: gt, h: h, alpha: a.map { $0 + t * rows }, lengths: len, step: t,
                                         rows: rows, hidden: H, out: h + rows * H)
                }
            }
            return Forward(states: states, gates: gates, candidate: cand, concat: [rh], low: low, input: input, inputOffset: inputOffset,
                           alpha: alpha, done: node)
        case .unfused:
            let xh = b.floats("\(name).xh\(tag)", count: T * rows * K), xr = b.floats("\(name).xrh\(tag)", count: T * rows * K)
            let low: [TensorID] = gl == nil ? [] : [b.bf16("\(name).xh.bf16\(tag)", count: T * rows * K),
                                                    b.bf16("\(name).xrh.bf16\(tag)", count: T * rows * K)]
            var deps = after
            for t in 0..<T {
                let allocs = t == 0 ? [states, gates, cand, xh, xr] + low : []
                let gn = b.node("\(name).t\(t).gates\(tag)", kind: .forward, after: deps, allocates: allocs,
                                uses: (t == 0 ? [] : [states, gates, xh, xr] + low) + extra) { ctx in
                    let hs = ctx.memory.floats(states)
                    if t == 0 { hs.update(repeating: 0, count: rows * H) }
                    guard t < lengths.longest else { return }
                    let x = ctx.memory.floats(input) + inputOffset + t * rows * E, h = hs + t * rows * H
                    let cat = ctx.memory.floats(xh) + t * rows * K, catR = ctx.memory.floats(xr) + t * rows * K
                    let gt = ctx.memory.floats(gates) + t * rows * 2 * H
                    VectorKernels.copyColumns(src: x, srcStride: E, srcOffset: 0, width: E, batch: rows, dst: cat, dstStride: K, dstOffset: 0)
                    VectorKernels.copyColumns(src: h, srcStride: H, srcOffset: 0, width: H, batch: rows, dst: cat, dstStride: K, dstOffset: E)
                    VectorKernels.copyColumns(src: x, srcStride: E, srcOffset: 0, width: E, batch: rows, dst: catR, dstStride: K, dstOffset: 0)
                    if let gl {
                        let catB = ctx.memory.bf16(low[0]) + t * rows * K
                        SeqKernels.toBF16(cat, count: rows * K, catB)
                        SeqKernels.gemmBF16(m: rows, n: 2 * H, k: K, a: catB, lda: K, b: gl.bits, ldb: 2 * H, beta: 0, c: gt, ldc: 2 * H)
                    } else {
                        SeqKernels.gemm(m: rows, n: 2 * H, k: K, a: cat, lda: K, b: gk.values, ldb: 2 * H, beta: 0, c: gt, ldc: 2 * H)
                    }
                    SeqKernels.gruGates(gates: gt, bias: gb.values, h: h, rows: rows, hidden: H, rh: catR, rhStride: K, rhOffset: E)
                }
                let cn = b.node("\(name).t\(t).candidate\(tag)", kind: .forward, after: [gn], uses: [xr, cand] + low) { ctx in
                    guard t < lengths.longest else { return }
                    let catR = ctx.memory.floats(xr) + t * rows * K, ct = ctx.memory.floats(cand) + t * rows * H
                    if let cl {
                        let catRB = ctx.memory.bf16(low[1]) + t * rows * K
                        SeqKernels.toBF16(catR, count: rows * K, catRB)
                        SeqKernels.gemmBF16(m: rows, n: H, k: K, a: catRB, lda: K, b: cl.bits, ldb: H, beta: 0, c: ct, ldc: H)
                    } else {
                        SeqKernels.gemm(m: rows, n: H, k: K, a: catR, lda: K, b: ck.values, ldb: H, beta: 0, c: ct, ldc: H)
                    }
                }
                let un = b.node("\(name).t\(t).update\(tag)", kind: .forward, after: [cn], uses: [states, gates, cand] + extra) { ctx in
                    guard t < lengths.longest else { return }
                    let h = ctx.memory.floats(states) + t * rows * H
                    SeqKernels.gruUpdate(candidate: ctx.memory.floats(cand) + t * rows * H, bias: cb.values,
                                         gates: ctx.memory.floats(gates) + t * rows * 2 * H, h: h,
                                         alpha: alpha.map { ctx.memory.floats($0) + t * rows }, lengths: lengths.lengths, step: t,
                                         rows: rows, hidden: H, out: h + rows * H)
                }
                deps = [un]
            }
            return Forward(states: states, gates: gates, candidate: cand, concat: [xh, xr], low: low, input: input, inputOffset: inputOffset,
                           alpha: alpha, done: deps[0])
        }
    }

    struct Backward {
        let grads: [TensorID]
        /// AUGRU: ∂loss/∂α, time-major `[maxSteps × rows]`.
        let gradAlpha: TensorID?
        let done: NodeID
    }

    /// Backpropagation through time. `gradOutputs` (optional): ∂loss/∂(step t's output) time-major
    /// `[maxSteps × rows × hidden]` (used on active steps only); `gradFinal` (optional):
    /// ∂loss/∂(final state) `[rows × stride]` at `finalOffset`. Adds ∂loss/∂input into `gradInput`
    /// (time-major, `inputs` wide, from `gradInputOffset`).
    func addBackward(_ b: GraphBuilder, tag: String, rows: Int, lengths: SeqLengths, forward f: Forward, gradOutputs: TensorID?,
                     gradFinal: (tensor: TensorID, stride: Int, offset: Int)?, gradInput: TensorID, gradInputOffset: Int,
                     ready: [NodeID]) -> Backward {
        let T = maxSteps, H = hidden, E = inputs, K = E + H
        let gWg = b.floats("\(name).gates.dW\(tag)", count: K * 2 * H), gbg = b.floats("\(name).gates.db\(tag)", count: 2 * H)
        let gWc = b.floats("\(name).candidate.dW\(tag)", count: K * H), gbc = b.floats("\(name).candidate.db\(tag)", count: H)
        let dh = b.floats("\(name).dh\(tag)", count: rows * H), dhp = b.floats("\(name).dhprev\(tag)", count: rows * H)
        let gAlpha = attentional ? b.floats("\(name).dalpha\(tag)", count: T * rows) : nil
        let gk = gateKernel, ck = candidateKernel, gl = gateLow, cl = candidateLow
        let states = f.states, gates = f.gates, cand = f.candidate, input = f.input, inputOffset = f.inputOffset, alpha = f.alpha
        var reads: [TensorID] = [states, gates, cand, input, gradInput] + f.concat + f.low
        if let alpha { reads.append(alpha) }
        if let gradOutputs { reads.append(gradOutputs) }
        if let gradFinal { reads.append(gradFinal.tensor) }
        let grads = [gWg, gbg, gWc, gbc]
        /// dh = ∂/∂(final state) (or 0).
        let initDh: @Sendable (NodeContext) -> Void = { ctx in
            let d = ctx.memory.floats(dh)
            if let gradFinal {
                VectorKernels.copyColumns(src: ctx.memory.floats(gradFinal.tensor), srcStride: gradFinal.stride, srcOffset: gradFinal.offset,
                                          width: H, batch: rows, dst: d, dstStride: H, dstOffset: 0)
            } else {
                d.update(repeating: 0, count: rows * H)
            }
        }
        /// dh += ∂/∂(output t) on the rows active at t.
        let addOutputGrad: @Sendable (NodeContext, Int) -> Void = { ctx, t in
            guard let gradOutputs else { return }
            let d = ctx.memory.floats(dh), go = ctx.memory.floats(gradOutputs) + t * rows * H
            for i in 0..<rows where t < Int(lengths.lengths[i]) {
                for j in 0..<H { d[i * H + j] += go[i * H + j] }
            }
        }
        switch mode {
        case .fused:
            let dG = b.floats("\(name).dgates\(tag)", count: T * rows * 2 * H), dC = b.floats("\(name).dcandidate\(tag)", count: T * rows * H)
            let dRH = b.floats("\(name).drh\(tag)", count: rows * H)
            let rh = f.concat[0]
            let dLow: [TensorID] = gl == nil ? [] : [b.bf16("\(name).dgates.bf16\(tag)", count: T * rows * 2 * H),
                                                     b.bf16("\(name).dcandidate.bf16\(tag)", count: T * rows * H)]
            let fLow = f.low
            let node = b.node("\(name).fused.bwd\(tag)", kind: .backward, after: ready,
                              allocates: grads + [dh, dhp, dG, dC, dRH] + (gAlpha.map { [$0] } ?? []) + dLow, uses: reads) { ctx in
                initDh(ctx)
                if let gl, let cl {
                    Self.fusedBackwardBF16(ctx, rows: rows, hidden: H, inputs: E, maxSteps: T, lengths: lengths, gateBits: gl.bits,
                                           candidateBits: cl.bits, states: states, gates: gates, candidate: cand, alpha: alpha,
                                           forwardLow: fLow, dh: dh, dhPrev: dhp, dGates: dG, dCandidate: dC, dRH: dRH, gradAlpha: gAlpha,
                                           backwardLow: dLow, gradAddOutput: addOutputGrad, gradGateKernel: gWg, gradGateBias: gbg,
                                           gradCandidateKernel: gWc, gradCandidateBias: gbc, gradInput: gradInput, gradInputOffset: gradInputOffset)
                    return
                }
                let steps = lengths.longest, len = lengths.lengths
                let hs = ctx.memory.floats(states), g = ctx.memory.floats(gates), c = ctx.memory.floats(cand), r = ctx.memory.floats(rh)
                let dGp = ctx.memory.floats(dG), dCp = ctx.memory.floats(dC), d = ctx.memory.floats(dh), dp = ctx.memory.floats(dhp)
                let drh = ctx.memory.floats(dRH), a = alpha.map { ctx.memory.floats($0) }, da = gAlpha.map { ctx.memory.floats($0) }
                for t in stride(from: steps - 1, through: 0, by: -1) {
                    addOutputGrad(ctx, t)
                    let dgt = dGp + t * rows * 2 * H, dct = dCp + t * rows * H, gt = g + t * rows * 2 * H, h = hs + t * rows * H
                    SeqKernels.gruUpdateBackward(candidate: c + t * rows * H, gates: gt, h: h, alpha: a.map { $0 + t * rows },
                                                 lengths: len, step: t, rows: rows, hidden: H, dh: d, dCandidate: dct, dGates: dgt,
                                                 dAlpha: da.map { $0 + t * rows }, dhPrev: dp)
                    SeqKernels.gemm(transB: true, m: rows, n: H, k: H, a: dct, lda: H, b: ck.values + E * H, ldb: H, beta: 0, c: drh, ldc: H)
                    SeqKernels.gruResetBackward(gates: gt, h: h, rows: rows, hidden: H, dRH: drh, stride: H, offset: 0, lengths: len, step: t,
                                                dGates: dgt, dhPrev: dp)
                    d.update(from: dp, count: rows * H)
                    SeqKernels.gemm(transB: true, m: rows, n: H, k: 2 * H, a: dgt, lda: 2 * H, b: gk.values + E * 2 * H, ldb: 2 * H, beta: 1,
                                    c: d, ldc: H)
                }
                let m = steps * rows, x = ctx.memory.floats(input) + inputOffset, gx = ctx.memory.floats(gradInput) + gradInputOffset
                let wg = ctx.memory.floats(gWg), wc = ctx.memory.floats(gWc)
                SeqKernels.gemm(transA: true, m: E, n: 2 * H, k: m, a: x, lda: E, b: dGp, ldb: 2 * H, beta: 0, c: wg, ldc: 2 * H)
                SeqKernels.gemm(transA: true, m: H, n: 2 * H, k: m, a: hs, lda: H, b: dGp, ldb: 2 * H, beta: 0, c: wg + E * 2 * H, ldc: 2 * H)
                SeqKernels.gemm(transA: true, m: E, n: H, k: m, a: x, lda: E, b: dCp, ldb: H, beta: 0, c: wc, ldc: H)
                SeqKernels.gemm(transA: true, m: H, n: H, k: m, a: r, lda: H, b: dCp, ldb: H, beta: 0, c: wc + E * H, ldc: H)
                SeqKernels.columnSums(dGp, rows: m, width: 2 * H, out: ctx.memory.floats(gbg), accumulate: false)
                SeqKernels.columnSums(dCp, rows: m, width: H, out: ctx.memory.floats(gbc), accumulate: false)
                SeqKernels.gemm(transB: true, m: m, n: E, k: 2 * H, a: dGp, lda: 2 * H, b: gk.values, ldb: 2 * H, beta: 1, c: gx, ldc: E)
                SeqKernels.gemm(transB: true, m: m, n: E, k: H, a: dCp, lda: H, b: ck.values, ldb: H, beta: 1, c: gx, ldc: E)
                if let da { for k in (steps * rows)..<(T * rows) { da[k] = 0 } }
            }
            return Backward(grads: grads, gradAlpha: gAlpha, done: node)
        case .unfused:
            let xh = f.concat[0], xr = f.concat[1]
            let dG = b.floats("\(name).dgates\(tag)", count: rows * 2 * H), dC = b.floats("\(name).dcandidate\(tag)", count: rows * H)
            let dX = b.floats("\(name).dconcat\(tag)", count: rows * K)
            // bf16: the step's candidate and gate gradients in bf16.
            let dLow: [TensorID] = gl == nil ? [] : [b.bf16("\(name).dgates.bf16\(tag)", count: rows * 2 * H),
                                                     b.bf16("\(name).dcandidate.bf16\(tag)", count: rows * H)]
            let fLow = f.low
            let begin = b.node("\(name).bwd.begin\(tag)", kind: .backward, after: ready,
                               allocates: grads + [dh, dhp, dG, dC, dX] + (gAlpha.map { [$0] } ?? []) + dLow, uses: reads) { ctx in
                initDh(ctx)
                for (t, n) in [(gWg, K * 2 * H), (gbg, 2 * H), (gWc, K * H), (gbc, H)] { ctx.memory.floats(t).update(repeating: 0, count: n) }
                if let gAlpha { ctx.memory.floats(gAlpha).update(repeating: 0, count: T * rows) }
            }
            var deps = [begin]
            let uses = reads + grads + [dh, dhp, dG, dC, dX] + (gAlpha.map { [$0] } ?? []) + dLow
            for t in stride(from: T - 1, through: 0, by: -1) {
                let un = b.node("\(name).t\(t).update.bwd\(tag)", kind: .backward, after: deps, uses: uses) { ctx in
                    guard t < lengths.longest else { return }
                    addOutputGrad(ctx, t)
                    SeqKernels.gruUpdateBackward(candidate: ctx.memory.floats(cand) + t * rows * H,
                                                 gates: ctx.memory.floats(gates) + t * rows * 2 * H, h: ctx.memory.floats(states) + t * rows * H,
                                                 alpha: alpha.map { ctx.memory.floats($0) + t * rows }, lengths: lengths.lengths, step: t,
                                                 rows: rows, hidden: H, dh: ctx.memory.floats(dh), dCandidate: ctx.memory.floats(dC),
                                                 dGates: ctx.memory.floats(dG), dAlpha: gAlpha.map { ctx.memory.floats($0) + t * rows },
                                                 dhPrev: ctx.memory.floats(dhp))
                }
                let cn = b.node("\(name).t\(t).candidate.bwd\(tag)", kind: .backward, after: [un], uses: uses) { ctx in
                    guard t < lengths.longest else { return }
                    let dc = ctx.memory.floats(dC), dx = ctx.memory.floats(dX)
                    if let cl {
                        let dcb = ctx.memory.bf16(dLow[1]), catRB = ctx.memory.bf16(fLow[1]) + t * rows * K
                        SeqKernels.toBF16(dc, count: rows * H, dcb)
                        SeqKernels.gemmBF16(transA: true, m: K, n: H, k: rows, a: catRB, lda: K, b: dcb, ldb: H, beta: 1,
                                            c: ctx.memory.floats(gWc), ldc: H)
                        SeqKernels.gemmBF16(transB: true, m: rows, n: K, k: H, a: dcb, lda: H, b: cl.bits, ldb: H, beta: 0, c: dx, ldc: K)
                    } else {
                        SeqKernels.gemm(transA: true, m: K, n: H, k: rows, a: ctx.memory.floats(xr) + t * rows * K, lda: K, b: dc, ldb: H,
                                        beta: 1, c: ctx.memory.floats(gWc), ldc: H)
                        SeqKernels.gemm(transB: true, m: rows, n: K, k: H, a: dc, lda: H, b: ck.values, ldb: H, beta: 0, c: dx, ldc: K)
                    }
                    SeqKernels.columnSums(dc, rows: rows, width: H, out: ctx.memory.floats(gbc), accumulate: true)
                    let gx = ctx.memory.floats(gradInput) + gradInputOffset + t * rows * E
                    for i in 0..<rows { VectorKernels.accumulate(dx + i * K, into: gx + i * E, count: E) }
                    SeqKernels.gruResetBackward(gates: ctx.memory.floats(gates) + t * rows * 2 * H, h: ctx.memory.floats(states) + t * rows * H,
                                                rows: rows, hidden: H, dRH: dx, stride: K, offset: E, lengths: lengths.lengths, step: t,
                                                dGates: ctx.memory.floats(dG), dhPrev: ctx.memory.floats(dhp))
                }
                let gn = b.node("\(name).t\(t).gates.bwd\(tag)", kind: .backward, after: [cn], uses: uses) { ctx in
                    guard t < lengths.longest else { return }
                    let dg = ctx.memory.floats(dG), dx = ctx.memory.floats(dX)
                    if let gl {
                        let dgb = ctx.memory.bf16(dLow[0]), catB = ctx.memory.bf16(fLow[0]) + t * rows * K
                        SeqKernels.toBF16(dg, count: rows * 2 * H, dgb)
                        SeqKernels.gemmBF16(transA: true, m: K, n: 2 * H, k: rows, a: catB, lda: K, b: dgb, ldb: 2 * H, beta: 1,
                                            c: ctx.memory.floats(gWg), ldc: 2 * H)
                        SeqKernels.gemmBF16(transB: true, m: rows, n: K, k: 2 * H, a: dgb, lda: 2 * H, b: gl.bits, ldb: 2 * H, beta: 0, c: dx,
                                            ldc: K)
                    } else {
                        SeqKernels.gemm(transA: true, m: K, n: 2 * H, k: rows, a: ctx.memory.floats(xh) + t * rows * K, lda: K, b: dg,
                                        ldb: 2 * H, beta: 1, c: ctx.memory.floats(gWg), ldc: 2 * H)
                        SeqKernels.gemm(transB: true, m: rows, n: K, k: 2 * H, a: dg, lda: 2 * H, b: gk.values, ldb: 2 * H, beta: 0, c: dx,
                                        ldc: K)
                    }
                    SeqKernels.columnSums(dg, rows: rows, width: 2 * H, out: ctx.memory.floats(gbg), accumulate: true)
                    let gx = ctx.memory.floats(gradInput) + gradInputOffset + t * rows * E
                    let d = ctx.memory.floats(dh), dp = ctx.memory.floats(dhp)
                    for i in 0..<rows {
                        VectorKernels.accumulate(dx + i * K, into: gx + i * E, count: E)
                        for j in 0..<H { d[i * H + j] = dp[i * H + j] + dx[i * K + E + j] }
                    }
                }
                deps = [gn]
            }
            return Backward(grads: grads, gradAlpha: gAlpha, done: deps[0])
        }
    }

    /// The fused backward sweep with bf16 products (`bf16: on`): as the fp32 sweep, with each step's
    /// candidate and gate gradients rounded into `backwardLow` (`[dGates, dCandidate]`, all steps,
    /// read again by the whole-sequence weight and input gradients) and the forward's bf16 inputs,
    /// states and r∘h (`forwardLow`).
    private static func fusedBackwardBF16(_ ctx: NodeContext, rows: Int, hidden H: Int, inputs E: Int, maxSteps T: Int, lengths: SeqLengths,
                                          gateBits: UnsafePointer<UInt16>, candidateBits: UnsafePointer<UInt16>, states: TensorID,
                                          gates: TensorID, candidate: TensorID, alpha: TensorID?, forwardLow: [TensorID], dh: TensorID,
                                          dhPrev: TensorID, dGates: TensorID, dCandidate: TensorID, dRH: TensorID, gradAlpha: TensorID?,
                                          backwardLow: [TensorID], gradAddOutput: (NodeContext, Int) -> Void, gradGateKernel: TensorID,
                                          gradGateBias: TensorID, gradCandidateKernel: TensorID, gradCandidateBias: TensorID,
                                          gradInput: TensorID, gradInputOffset: Int) {
        let steps = lengths.longest, len = lengths.lengths, mem = ctx.memory
        let hs = mem.floats(states), g = mem.floats(gates), c = mem.floats(candidate)
        let dGp = mem.floats(dGates), dCp = mem.floats(dCandidate), d = mem.floats(dh), dp = mem.floats(dhPrev), drh = mem.floats(dRH)
        let a = alpha.map { mem.floats($0) }, da = gradAlpha.map { mem.floats($0) }
        let xb = mem.bf16(forwardLow[0]), hb = mem.bf16(forwardLow[1]), rb = mem.bf16(forwardLow[2])
        let dGb = mem.bf16(backwardLow[0]), dCb = mem.bf16(backwardLow[1])
        for t in stride(from: steps - 1, through: 0, by: -1) {
            gradAddOutput(ctx, t)
            let dgt = dGp + t * rows * 2 * H, dct = dCp + t * rows * H, gt = g + t * rows * 2 * H, h = hs + t * rows * H
            let dgbt = dGb + t * rows * 2 * H, dcbt = dCb + t * rows * H
            SeqKernels.gruUpdateBackward(candidate: c + t * rows * H, gates: gt, h: h, alpha: a.map { $0 + t * rows }, lengths: len, step: t,
                                         rows: rows, hidden: H, dh: d, dCandidate: dct, dGates: dgt, dAlpha: da.map { $0 + t * rows },
                                         dhPrev: dp)
            SeqKernels.toBF16(dct, count: rows * H, dcbt)
            SeqKernels.gemmBF16(transB: true, m: rows, n: H, k: H, a: dcbt, lda: H, b: candidateBits + E * H, ldb: H, beta: 0, c: drh, ldc: H)
            SeqKernels.gruResetBackward(gates: gt, h: h, rows: rows, hidden: H, dRH: drh, stride: H, offset: 0, lengths: len, step: t,
                                        dGates: dgt, dhPrev: dp)
            d.update(from: dp, count: rows * H)
            SeqKernels.toBF16(dgt, count: rows * 2 * H, dgbt)
            SeqKernels.gemmBF16(transB: true, m: rows, n: H, k: 2 * H, a: dgbt, lda: 2 * H, b: gateBits + E * 2 * H, ldb: 2 * H, beta: 1,
                                c: d, ldc: H)
        }
        let m = steps * rows, gx = mem.floats(gradInput) + gradInputOffset
        let wg = mem.floats(gradGateKernel), wc = mem.floats(gradCandidateKernel)
        SeqKernels.gemmBF16(transA: true, m: E, n: 2 * H, k: m, a: xb, lda: E, b: dGb, ldb: 2 * H, beta: 0, c: wg, ldc: 2 * H)
        SeqKernels.gemmBF16(transA: true, m: H, n: 2 * H, k: m, a: hb, lda: H, b: dGb, ldb: 2 * H, beta: 0, c: wg + E * 2 * H, ldc: 2 * H)
        SeqKernels.gemmBF16(transA: true, m: E, n: H, k: m, a: xb, lda: E, b: dCb, ldb: H, beta: 0, c: wc, ldc: H)
        SeqKernels.gemmBF16(transA: true, m: H, n: H, k: m, a: rb, lda: H, b: dCb, ldb: H, beta: 0, c: wc + E * H, ldc: H)
        SeqKernels.columnSums(dGp, rows: m, width: 2 * H, out: mem.floats(gradGateBias), accumulate: false)
        SeqKernels.columnSums(dCp, rows: m, width: H, out: mem.floats(gradCandidateBias), accumulate: false)
        SeqKernels.gemmBF16(transB: true, m: m, n: E, k: 2 * H, a: dGb, lda: 2 * H, b: gateBits, ldb: 2 * H, beta: 1, c: gx, ldc: E)
        SeqKernels.gemmBF16(transB: true, m: m, n: E, k: H, a: dCb, lda: H, b: candidateBits, ldb: H, beta: 1, c: gx, ldc: E)
        if let da { for k in (steps * rows)..<(T * rows) { da[k] = 0 } }
    }

    func addUpdates(_ b: GraphBuilder, backward: [Backward]) -> [NodeID] {
        parameters.enumerated().map { k, p in
            optimizer.addUpdate(b, p, grads: backward.map { $0.grads[k] }, after: backward.map(\.done))
        }
    }
}
