import Foundation

/// The contest's sequence models on Amazon Books (`reference/tianchi/DIN/train.py`,
/// `reference/tianchi/DIEN/train.py`), what the scripts really compute:
///
/// - embeddings dim 18: uid (`embedding_column`, truncated normal σ = 1/√18), ONE item table and
///   ONE category table (`tf.get_variable`, Glorot uniform) shared by the candidate, the history
///   and (DIEN) the non-clicked history; item = [item; category] (36); history steps past a row's
///   length are zero vectors; histories are the first 50 items;
/// - attention (`_attention`): q = PReLU(dense(item → 36)) (α starts at 0.1); per step the MLP
///   80 σ → 40 σ → 1 on [q, f, q − f, q·f]; softmax over the row's real steps (the scripts' −2³²+1
///   padding gives exactly 0 weight past the length);
/// - DIN: top input [uid, item, Σhist, item·Σhist, Σ_t p_t·hist_t] (162);
/// - DIEN: GRU(36) over the history (`dynamic_rnn` with `sequence_length`); the auxiliary loss on
///   [h_t, e_{t+1}] (clicked: the next real history item; non-clicked: the negative history) through
///   BN → 100 σ → 50 σ → 2, softmax + 1e-8, `−log p₀` resp. `−log(1 − p₀)`, masked by
///   `mask[:, 1:]` and averaged over ALL batch × (T − 1) positions (T = the batch's longest
///   history; a batch whose histories all have length 1 has no positions — TF's mean is NaN, here 0);
///   attention weights α from the GRU outputs against the candidate; AUGRU(36) (update gate scaled by
///   1 − α); top input [uid, item, Σhist, item·Σhist, final AUGRU state]; loss = CE + auxiliary loss;
/// - top network BN → 200 ReLU → 80 ReLU → 2 (linear) → 1 (linear); sigmoid cross-entropy averaged
///   over the batch; Adam 0.001 on everything; every gradient clipped by norm 5 (`tf.clip_by_norm`
///   per tensor).
///
/// `bf16: on` (the scripts' `--bf16`: the embeddings are cast to bf16 and the attention, auxiliary
/// and top MLPs run under `keep_weights(dtype=float32)`, the GRUs with `dtype=bfloat16`): every
/// matrix product — the attention query layer and MLP 80-40-1, both GRU/AUGRU cells (gates and
/// candidate), the auxiliary MLP 100-50-2 and the top MLP 200-80-2-1, forward, backward-data and
/// weight gradients — takes bf16 operands and accumulates in fp32 (`dnnl_gemm_bf16bf16f32`), as the
/// engine's other bf16 layers do; fp32 master weights take Adam's updates and a bf16 copy of each
/// kernel is refreshed after every update and after a checkpoint restore. Stays fp32 (where the
/// scripts compute in bf16): the embedding tables and lookups, the history sums and products of
/// the top input, PReLU, the masked softmax and weighted sum, σ/tanh and the GRU state update, the
/// inference-mode BatchNorms, biases, losses, all outputs and gradients.
///
/// Quirks kept: both BatchNorms are `tf.layers.batch_normalization(x)` without `training=True`,
/// so they run in inference mode on moving statistics that are never updated — an affine map
/// `γ·x/√1.001 + β` (`SeqAffineBN`); the top network's 80 → 2 → 1 is two linear layers in a row.
/// Differences: embedding tables use the engine's lazy (touched rows only) Adam like the other
/// contest models, and their gradient is clipped by the norm of the summed (deduplicated) rows,
/// where TF clips the concatenation of each lookup's `IndexedSlices` (the same when no id appears
/// in two lookups of a batch, e.g. as candidate and history item).
public final class ContestSequenceModel: ContestModel {
    /// How DIN pools the history into the last top-input block (`sum` is a test baseline: the block is 0,
    /// so only Σhist and item·Σhist carry the history).
    enum Pooling { case attention, sum }

    public let kind: ModelKind
    public let head: ContestHead
    let feed: ContestFeed
    let pooling: Pooling
    let embeddings: SeqEmbeddings
    let attention: SeqAttention?
    let gru: SeqGRU?
    let augru: SeqGRU?
    let auxiliary: SeqMLP?
    let top: SeqMLP
    let dim = 18
    static let maxLength = 50
    static let clipNorm: Float = 5
    var width: Int { 2 * dim }
    var topWidth: Int { dim + 4 * width }

    /// - Parameter buckets: table size per slot (uid, item, cat, hist_item, hist_cat, neg_hist_item, neg_hist_cat).
    init(config: TrainConfig, context: DNNLContext, feed: ContestFeed, buckets: [Int], pooling: Pooling = .attention) throws {
        guard config.model == .din || config.model == .dien else {
            throw EngineError.invalidConfiguration("--model \(config.model.rawValue) is not a sequence model (din, dien)")
        }
        let schema = feed.schema
        for name in ["uid", "item", "cat", "hist_item", "hist_cat"] + (config.model == .dien ? ["neg_hist_item", "neg_hist_cat"] : [])
        where !schema.slots.contains(name) {
            throw EngineError.invalidConfiguration("--model \(config.model.rawValue) needs slot \(name); the data set has \(schema.slots)")
        }
        guard buckets.count == schema.slots.count else {
            throw EngineError.invalidConfiguration("\(buckets.count) table sizes for \(schema.slots.count) slots")
        }
        guard schema.labels.count == 1 else { throw EngineError.invalidConfiguration("sequence models need 1 label, got \(schema.labels)") }
        kind = config.model
        self.feed = feed
        self.pooling = pooling
        head = ContestHead(feed: feed, loss: .sigmoidCrossEntropy)
        let lr = config.learningRate ?? 0.001
        let optimizer = ClippedAdam(learningRate: lr, clipNorm: Self.clipNorm)
        let dien = kind == .dien
        embeddings = SeqEmbeddings(feed: feed, buckets: buckets, dim: dim, maxLength: Self.maxLength, negatives: dien, learningRate: lr,
                                   clipNorm: Self.clipNorm, fused: config.embFusion, seed: config.seed)
        let w = 2 * dim, bf16 = config.bf16
        attention = dien || pooling == .attention
            ? SeqAttention(name: "\(kind.rawValue).attention", width: w, maxSteps: Self.maxLength, bf16: bf16, optimizer: optimizer,
                           seed: config.seed &+ 11)
            : nil
        gru = dien ? SeqGRU(name: "dien.gru1", inputs: w, hidden: w, maxSteps: Self.maxLength, attentional: false, mode: config.rnn,
                            bf16: bf16, optimizer: optimizer, seed: config.seed &+ 21) : nil
        augru = dien ? SeqGRU(name: "dien.augru", inputs: w, hidden: w, maxSteps: Self.maxLength, attentional: true, mode: config.rnn,
                              bf16: bf16, optimizer: optimizer, seed: config.seed &+ 31) : nil
        auxiliary = dien ? SeqMLP(name: "dien.aux", inputs: 2 * w, layers: [(100, .sigmoid), (50, .sigmoid), (2, .none)], batchNorm: true,
                                  bf16: bf16, optimizer: optimizer, seed: config.seed &+ 41) : nil
        top = SeqMLP(name: "\(kind.rawValue).top", inputs: dim + 4 * w, layers: [(200, .relu), (80, .relu), (2, .none), (1, .none)],
                     batchNorm: true, bf16: bf16, optimizer: optimizer, seed: config.seed &+ 51)
    }

    /// The bf16 copies of every kernel the products read (`bf16: on`; empty otherwise).
    var lowCopies: [SeqBF16Copy] {
        (attention?.lowCopies ?? []) + (gru?.lowCopies ?? []) + (augru?.lowCopies ?? []) + (auxiliary?.lowCopies ?? []) + top.lowCopies
    }

    public var parameters: [ParameterTensor] {
        embeddings.parameters + (attention?.parameters ?? []) + (gru?.parameters ?? []) + (augru?.parameters ?? [])
            + (auxiliary?.parameters ?? []) + top.parameters
    }

    public func trainingGraph(microBatches: [MicroBatch]) throws -> StepGraph { try build(microBatches, training: true) }

    public func evaluationGraph(rows: Int) throws -> StepGraph { try build([MicroBatch(start: 0, rows: rows)], training: false) }

    private func build(_ micros: [MicroBatch], training: Bool) throws -> StepGraph {
        let b = GraphBuilder()
        let T = Self.maxLength, W = topWidth, E = width, H = width, d = dim, feed = self.feed, head = self.head
        let histSlot = feed.schema.slot("hist_item")
        let dien = kind == .dien
        var topB: [SeqMLP.Backward] = [], attB: [SeqAttention.Backward] = [], auxB: [SeqMLP.Backward] = []
        var gruB: [SeqGRU.Backward] = [], augruB: [SeqGRU.Backward] = [], slices: [SeqEmbeddings.GradientSlice] = []
        for (m, micro) in micros.enumerated() {
            let tag = micros.count > 1 ? ".m\(m)" : ""
            let R = micro.rows, start = micro.start
            let lens = SeqLengths(rows: R)
            let x = b.floats("seq.top_input\(tag)", count: R * W)
            let item = b.floats("seq.item\(tag)", count: R * E)
            let hist = b.floats("seq.hist\(tag)", count: T * R * E)
            let neg: TensorID? = dien && training ? b.floats("seq.neg_hist\(tag)", count: T * R * E) : nil
            let input = b.node("input\(tag)", kind: .input, allocates: [x, item, hist] + (neg.map { [$0] } ?? [])) { _ in
                lens.load(feed: feed, slot: histSlot, start: start, maxLength: T)
            }
            let lookups = embeddings.addLookup(b, tag: tag, start: start, rows: R, lengths: lens, top: x, topStride: W, item: item, hist: hist,
                                               neg: neg, after: [input])
            let topIn = b.node("seq.top_input\(tag)", kind: .forward, after: lookups, uses: [x, item, hist]) { ctx in
                let xp = ctx.memory.floats(x), it = ctx.memory.floats(item), h = ctx.memory.floats(hist)
                for i in 0..<R {
                    let row = xp + i * W
                    (row + d).update(from: it + i * E, count: E)
                    let s = row + d + E
                    s.update(repeating: 0, count: E)
                    for t in 0..<Int(lens.lengths[i]) { VectorKernels.accumulate(h + (t * R + i) * E, into: s, count: E) }
                    for j in 0..<E { row[d + 2 * E + j] = row[d + j] * s[j] }
                }
            }
            var last = topIn
            var attF: SeqAttention.Forward?, g1: SeqGRU.Forward?, g2: SeqGRU.Forward?
            if !dien {
                if let attention {
                    let f = attention.addForward(b, tag: tag, rows: R, lengths: lens, item: item, facts: hist, factsOffset: 0, after: lookups)
                    attF = f
                    last = b.node("din.attention.sum\(tag)", kind: .forward, after: [f.done, topIn], uses: [f.weights, hist, x]) { ctx in
                        SeqKernels.weightedSum(p: ctx.memory.floats(f.weights), facts: ctx.memory.floats(hist), rows: R, steps: lens.longest,
                                               width: E, out: ctx.memory.floats(x) + d + 3 * E, outStride: W)
                    }
                } else {
                    last = b.node("din.sum_pooling\(tag)", kind: .forward, after: [topIn], uses: [x]) { ctx in
                        let xp = ctx.memory.floats(x)
                        for i in 0..<R { (xp + i * W + d + 3 * E).update(repeating: 0, count: E) }
                    }
                }
            } else if let gru, let augru, let attention {
                let f1 = gru.addForward(b, tag: tag, rows: R, lengths: lens, input: hist, inputOffset: 0, alpha: nil, after: lookups)
                let f = attention.addForward(b, tag: tag, rows: R, lengths: lens, item: item, facts: f1.states, factsOffset: R * H,
                                             after: lookups + [f1.done])
                let f2 = augru.addForward(b, tag: tag, rows: R, lengths: lens, input: f1.states, inputOffset: R * H, alpha: f.weights,
                                          after: [f.done])
                g1 = f1; g2 = f2; attF = f
                last = b.node("dien.final_state\(tag)", kind: .forward, after: [f2.done, topIn], uses: [f2.states, x]) { ctx in
                    let s = ctx.memory.floats(f2.states), xp = ctx.memory.floats(x)
                    for i in 0..<R {
                        (xp + i * W + d + 3 * E).update(from: s + (Int(lens.lengths[i]) * R + i) * H, count: H)
                    }
                }
            }
            let tf = top.addForward(b, tag: tag, maxRows: R, rows: { R }, input: x, after: [last])
            let loss = head.addLoss(b, tag: tag, index: m, micro: micro, logits: [[tf.output]], after: [tf.done], training: training)
            guard training else { continue }

            // Auxiliary loss (DIEN): the positions (t, i) with a next step (t + 1 < length_i), packed
            // (`auxPairs`), clicked rows then non-clicked. The other positions of the scripts' padded
            // grid have weight 0 (they only count in the mean's denominator), so they get no rows.
            var auxLossNode: NodeID?, auxGrad: TensorID?, auxF: SeqMLP.Forward?
            let auxPairs = SeqPairs(capacity: dien ? (T - 1) * R : 0)
            if dien, let auxiliary, let g1, let neg {
                let maxRows = 2 * (T - 1) * R
                let xa = b.floats("dien.aux.input\(tag)", count: maxRows * 2 * H)
                let states = g1.states
                let an = b.node("dien.aux.input\(tag)", kind: .forward, after: lookups + [g1.done], allocates: [xa], uses: [states, hist, neg]) { ctx in
                    auxPairs.load(lens, shortenedBy: 1)
                    let M = auxPairs.count, out = ctx.memory.floats(xa), s = ctx.memory.floats(states)
                    let h = ctx.memory.floats(hist), n = ctx.memory.floats(neg)
                    for p in 0..<M {
                        let r = Int(auxPairs.index[p]), next = r + R  // step t + 1, same row
                        let c = out + p * 2 * H, nc = out + (M + p) * 2 * H
                        c.update(from: s + next * H, count: H); (c + H).update(from: h + next * E, count: E)
                        nc.update(from: s + next * H, count: H); (nc + H).update(from: n + next * E, count: E)
                    }
                }
                let f = auxiliary.addForward(b, tag: tag, maxRows: maxRows, rows: { 2 * auxPairs.count }, input: xa, after: [an])
                let gz = b.floats("dien.aux.dlogits\(tag)", count: maxRows * 2)
                let z = f.output
                auxLossNode = b.node("dien.aux.loss\(tag)", kind: .backward, after: [f.done], allocates: [gz], uses: [z]) { ctx in
                    let M = auxPairs.count
                    let positions = feed.validRows * max(lens.batchLongest - 1, 0)
                    let scale: Float = positions > 0 ? 1 / Float(positions) : 0
                    let weight: (Int) -> Float = { _ in 1 }
                    let zp = ctx.memory.floats(z), g = ctx.memory.floats(gz)
                    let click = SeqKernels.auxiliaryLoss(logits: zp, count: M, clicked: true, weight: weight, scale: scale, gradZ: g)
                    let noclick = SeqKernels.auxiliaryLoss(logits: zp + 2 * M, count: M, clicked: false, weight: weight, scale: scale,
                                                           gradZ: g + 2 * M)
                    head.extraLoss[m] = (click + noclick) * Double(scale)
                }
                auxGrad = gz; auxF = f
            }

            let tb = top.addBackward(b, tag: tag, maxRows: R, rows: { R }, forward: tf, gradOutput: loss.grads[0], gradReady: [loss.node],
                                     needInputGrad: true)
            topB.append(tb)
            let gx = tb.inputGrad!
            let gItem = b.floats("seq.item.grad\(tag)", count: R * E)
            let gHist = b.floats("seq.hist.grad\(tag)", count: T * R * E)
            let gStates: TensorID? = dien ? b.floats("dien.gru1.doutputs\(tag)", count: T * R * H) : nil
            let gNeg: TensorID? = dien ? b.floats("seq.neg_hist.grad\(tag)", count: T * R * E) : nil
            let extra = [gStates, gNeg].compactMap { $0 }
            let topInB = b.node("seq.top_input.bwd\(tag)", kind: .backward, after: [tb.done], allocates: [gItem, gHist] + extra,
                                uses: [gx, x]) { ctx in
                let g = ctx.memory.floats(gx), xp = ctx.memory.floats(x), gi = ctx.memory.floats(gItem), gh = ctx.memory.floats(gHist)
                gh.update(repeating: 0, count: T * R * E)
                for t in extra { ctx.memory.floats(t).update(repeating: 0, count: T * R * E) }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: E) { buf in
                    let gs = buf.baseAddress!
                    for i in 0..<R {
                        let gr = g + i * W, row = xp + i * W, gir = gi + i * E
                        for j in 0..<E {
                            let gProd = gr[d + 2 * E + j]
                            gir[j] = gr[d + j] + gProd * row[d + E + j]
                            gs[j] = gr[d + E + j] + gProd * row[d + j]
                        }
                        for t in 0..<Int(lens.lengths[i]) { (gh + (t * R + i) * E).update(from: gs, count: E) }
                    }
                }
            }
            var done = topInB
            if !dien {
                if let attention, let attF {
                    let gp = b.floats("din.attention.dweights\(tag)", count: T * R)
                    let wsB = b.node("din.attention.sum.bwd\(tag)", kind: .backward, after: [topInB], allocates: [gp],
                                     uses: [attF.weights, hist, gx, gHist]) { ctx in
                        SeqKernels.weightedSumBackward(p: ctx.memory.floats(attF.weights), facts: ctx.memory.floats(hist), rows: R,
                                                       steps: lens.longest, width: E, gradOut: ctx.memory.floats(gx) + d + 3 * E, gradStride: W,
                                                       gradP: ctx.memory.floats(gp), gradFacts: ctx.memory.floats(gHist))
                    }
                    let ab = attention.addBackward(b, tag: tag, rows: R, lengths: lens, forward: attF, item: item, facts: hist, factsOffset: 0,
                                                   gradWeights: gp, ready: [wsB], gradFacts: gHist, gradFactsOffset: 0, gradItem: gItem)
                    attB.append(ab)
                    done = ab.done
                }
            } else if let gru, let augru, let attention, let attF, let g1, let g2, let gStates, let gNeg, let auxiliary, let auxF,
                      let auxGrad, let auxLossNode {
                let a2 = augru.addBackward(b, tag: tag, rows: R, lengths: lens, forward: g2, gradOutputs: nil, gradFinal: (gx, W, d + 3 * E),
                                           gradInput: gStates, gradInputOffset: 0, ready: [topInB])
                augruB.append(a2)
                let ab = attention.addBackward(b, tag: tag, rows: R, lengths: lens, forward: attF, item: item, facts: g1.states,
                                               factsOffset: R * H, gradWeights: a2.gradAlpha!, ready: [a2.done], gradFacts: gStates,
                                               gradFactsOffset: 0, gradItem: gItem)
                attB.append(ab)
                let xb = auxiliary.addBackward(b, tag: tag, maxRows: 2 * (T - 1) * R, rows: { 2 * auxPairs.count }, forward: auxF,
                                               gradOutput: auxGrad, gradReady: [auxLossNode], needInputGrad: true)
                auxB.append(xb)
                let gxa = xb.inputGrad!
                let scatter = b.node("dien.aux.input.bwd\(tag)", kind: .backward, after: [xb.done, ab.done],
                                     uses: [gxa, gStates, gHist, gNeg]) { ctx in
                    let M = auxPairs.count, g = ctx.memory.floats(gxa)
                    let gs = ctx.memory.floats(gStates), gh = ctx.memory.floats(gHist), gn = ctx.memory.floats(gNeg)
                    for p in 0..<M {
                        let r = Int(auxPairs.index[p])
                        let c = g + p * 2 * H, nc = g + (M + p) * 2 * H
                        VectorKernels.accumulate(c, into: gs + r * H, count: H)
                        VectorKernels.accumulate(nc, into: gs + r * H, count: H)
                        VectorKernels.accumulate(c + H, into: gh + (r + R) * E, count: E)
                        VectorKernels.accumulate(nc + H, into: gn + (r + R) * E, count: E)
                    }
                }
                let a1 = gru.addBackward(b, tag: tag, rows: R, lengths: lens, forward: g1, gradOutputs: gStates, gradFinal: nil,
                                         gradInput: gHist, gradInputOffset: 0, ready: [scatter])
                gruB.append(a1)
                done = a1.done
            }
            slices.append(.init(start: start, rows: R, lengths: lens, top: gx, topStride: W, item: gItem, hist: gHist, neg: gNeg, ready: done))
        }
        if training {
            _ = top.addUpdates(b, backward: topB)
            if let attention, !attB.isEmpty { _ = attention.addUpdates(b, backward: attB) }
            if let gru { _ = gru.addUpdates(b, backward: gruB) }
            if let augru { _ = augru.addUpdates(b, backward: augruB) }
            if let auxiliary { _ = auxiliary.addUpdates(b, backward: auxB) }
            _ = embeddings.addUpdates(b, slices: slices)
        }
        return try b.build()
    }
}

/// Builds DIN or DIEN (by `config.model`) over a feed with the Amazon Books slots (`ContestSchema`
/// amazon-books: uid, item, cat, hist_item, hist_cat, neg_hist_item, neg_hist_cat); `buckets` are
/// the table sizes per slot (the data set's vocabulary sizes).
public func makeSequenceModel(config: TrainConfig, context: DNNLContext, feed: ContestFeed, buckets: [Int]) throws -> any ContestModel {
    try ContestSequenceModel(config: config, context: context, feed: feed, buckets: buckets)
}

/// The embedding tables of the sequence models and their lookups: per micro-batch the uid into the
/// top input, the candidate's [item; cat] (`rows × 36`), the history and (DIEN) the non-clicked
/// history as time-major `[maxLength × rows × 36]` (zero past each row's length). `fused`
/// (`emb_fusion`): one lookup and one update node for the three tables; otherwise one per table.
final class SeqEmbeddings: @unchecked Sendable {
    struct Table {
        let parameter: ParameterTensor
        let optimizer: SparseRowOptimizer
    }

    let feed: ContestFeed
    let dim: Int
    let maxLength: Int
    let negatives: Bool
    let fused: Bool
    let clipNorm: Float
    /// uid, item, cat.
    let tables: [Table]
    let uidSlot: Int, itemSlot: Int, catSlot: Int, histItemSlot: Int, histCatSlot: Int, negItemSlot: Int, negCatSlot: Int

    init(feed: ContestFeed, buckets: [Int], dim: Int, maxLength: Int, negatives: Bool, learningRate: Float, clipNorm: Float, fused: Bool,
         seed: UInt64) {
        self.feed = feed
        self.dim = dim
        self.maxLength = maxLength
        self.negatives = negatives
        self.fused = fused
        self.clipNorm = clipNorm
        let s = feed.schema
        uidSlot = s.slot("uid"); itemSlot = s.slot("item"); catSlot = s.slot("cat")
        histItemSlot = s.slot("hist_item"); histCatSlot = s.slot("hist_cat")
        negItemSlot = negatives ? s.slot("neg_hist_item") : -1
        negCatSlot = negatives ? s.slot("neg_hist_cat") : -1
        var rng = SplitMix64(seed: seed)
        func table(_ name: String, rows: Int, init value: (inout SplitMix64) -> Float) -> Table {
            let t = ParameterTensor(name: name, rows: rows, columns: dim)
            for k in 0..<t.count { t.values[k] = value(&rng) }
            return Table(parameter: t, optimizer: SparseRowOptimizer(table: t, kind: .adam, learningRate: learningRate, maxIdsPerUpdate: rows))
        }
        let sigma = 1 / Float(dim).squareRoot()
        let uid = table("seq.emb.uid", rows: buckets[uidSlot]) { rng in
            while true {  // truncated normal: redraw beyond 2σ
                let u1 = max(rng.nextUnit(), 1e-300), u2 = rng.nextUnit()
                let z = Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
                if abs(z) <= 2 { return z * sigma }
            }
        }
        let itemRows = buckets[itemSlot], catRows = buckets[catSlot]
        let li = Float((6.0 / Double(itemRows + dim)).squareRoot()), lc = Float((6.0 / Double(catRows + dim)).squareRoot())
        let item = table("seq.emb.item", rows: itemRows) { $0.uniform(-li, li) }
        let cat = table("seq.emb.cat", rows: catRows) { $0.uniform(-lc, lc) }
        tables = [uid, item, cat]
    }

    var parameters: [ParameterTensor] { tables.map(\.parameter) }

    private var nodeGroups: [[Int]] { fused ? [[0, 1, 2]] : [[0], [1], [2]] }
    private static let labels = ["uid", "item", "cat"]
    private func label(_ g: [Int]) -> String { g.count == 1 ? Self.labels[g[0]] : "fused" }

    /// Copies row `id` of `table` (checked) into `dst`.
    @inline(__always)
    private func row(_ t: ParameterTensor, _ id: Int32, slot: Int, sample: Int) -> UnsafeMutablePointer<Float> {
        if id < 0 || Int(id) >= t.rows {
            fatalError("\(t.name): id \(id) of slot \(feed.schema.slots[slot]), sample \(sample) is outside 0..<\(t.rows)")
        }
        return t.values + Int(id) * dim
    }

    /// Gathers the history of `slot` into columns `offset..<offset+dim` of a time-major `[T × rows × 2·dim]` tensor.
    private func gather(_ t: ParameterTensor, slot: Int, start: Int, rows: Int, lengths: SeqLengths, out: UnsafeMutablePointer<Float>,
                        offset: Int) {
        let w = 2 * dim, sc = feed.slotCount
        for i in 0..<rows {
            let n = Int(lengths.lengths[i]), k = (start + i) * sc + slot
            let first = Int(feed.bagStart[k]), have = Int(feed.bagCount[k])
            for s in 0..<maxLength {
                let dst = out + (s * rows + i) * w + offset
                if s < n && s < have {
                    KernelMath.copy(row(t, feed.ids[first + s], slot: slot, sample: start + i), to: dst, dim)
                } else {
                    dst.update(repeating: 0, count: dim)
                }
            }
        }
    }

    func addLookup(_ b: GraphBuilder, tag: String, start: Int, rows: Int, lengths: SeqLengths, top: TensorID, topStride: Int, item: TensorID,
                   hist: TensorID, neg: TensorID?, after: [NodeID]) -> [NodeID] {
        let dim = self.dim
        return nodeGroups.map { group in
            b.node("seq.emb.lookup.\(label(group))\(tag)", kind: .forward, after: after, uses: [top, item, hist] + (neg.map { [$0] } ?? [])) { [self] ctx in
                for t in group {
                    let p = tables[t].parameter
                    switch t {
                    case 0:
                        BagKernels.forward(table: p.values, rows: p.rows, dim: dim, bags: feed.bags(slot: uidSlot, rowStart: start), batch: rows,
                                           combiner: .mean, out: ctx.memory.floats(top), outStride: topStride, outOffset: 0)
                    default:
                        let off = t == 1 ? 0 : dim
                        BagKernels.forward(table: p.values, rows: p.rows, dim: dim, bags: feed.bags(slot: t == 1 ? itemSlot : catSlot, rowStart: start),
                                           batch: rows, combiner: .mean, out: ctx.memory.floats(item), outStride: 2 * dim, outOffset: off)
                        gather(p, slot: t == 1 ? histItemSlot : histCatSlot, start: start, rows: rows, lengths: lengths,
                               out: ctx.memory.floats(hist), offset: off)
                        if let neg {
                            gather(p, slot: t == 1 ? negItemSlot : negCatSlot, start: start, rows: rows, lengths: lengths,
                                   out: ctx.memory.floats(neg), offset: off)
                        }
                    }
                }
            }
        }
    }

    struct GradientSlice {
        let start: Int
        let rows: Int
        let lengths: SeqLengths
        let top: TensorID
        let topStride: Int
        let item: TensorID
        let hist: TensorID
        let neg: TensorID?
        let ready: NodeID
    }

    /// Per row, the history gradients of `slot` (columns `offset…` of a time-major gradient) into `optimizer`.
    private func accumulateHistory(_ o: SparseRowOptimizer, slot: Int, s: GradientSlice, grad: UnsafePointer<Float>, offset: Int, valid: Int) {
        let sc = feed.slotCount, w = 2 * dim
        for i in 0..<valid {
            let k = (s.start + i) * sc + slot
            let n = min(Int(s.lengths.lengths[i]), Int(feed.bagCount[k]))
            guard n > 0 else { continue }
            o.accumulate(ids: feed.ids + Int(feed.bagStart[k]), idStride: 1, column: 0, count: n, grad: grad + i * w + offset,
                         gradStride: s.rows * w, gradOffset: 0)
        }
    }

    func addUpdates(_ b: GraphBuilder, slices: [GradientSlice]) -> [NodeID] {
        let grads = Array(Set(slices.flatMap { [$0.top, $0.item, $0.hist] + ($0.neg.map { [$0] } ?? []) }))
        return nodeGroups.map { group in
            b.node("seq.emb.update.\(label(group))", kind: .update, after: slices.map(\.ready), uses: grads) { [self] ctx in
                for t in group {
                    let o = tables[t].optimizer
                    o.begin()
                    for s in slices {
                        let valid = feed.validRows(start: s.start, count: s.rows)
                        guard valid > 0 else { continue }
                        if t == 0 {
                            o.accumulateBags(feed.bags(slot: uidSlot, rowStart: s.start), count: valid, combiner: .mean,
                                             grad: ctx.memory.floats(s.top), gradStride: s.topStride, gradOffset: 0)
                            continue
                        }
                        let off = t == 1 ? 0 : dim
                        o.accumulateBags(feed.bags(slot: t == 1 ? itemSlot : catSlot, rowStart: s.start), count: valid, combiner: .mean,
                                         grad: ctx.memory.floats(s.item), gradStride: 2 * dim, gradOffset: off)
                        accumulateHistory(o, slot: t == 1 ? histItemSlot : histCatSlot, s: s, grad: ctx.memory.floats(s.hist), offset: off,
                                          valid: valid)
                        if let neg = s.neg {
                            accumulateHistory(o, slot: t == 1 ? negItemSlot : negCatSlot, s: s, grad: ctx.memory.floats(neg), offset: off,
                                              valid: valid)
                        }
                    }
                    o.clipAccumulated(maxNorm: clipNorm)
                    o.apply(step: ctx.step + 1)
                }
            }
        }
    }
}
