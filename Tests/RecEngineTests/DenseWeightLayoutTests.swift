import TestSupport
import XCTest
@testable import RecEngine

/// The `weight_layout` knob: forced layouts, weight-gradient methods and forward weights compute the same products,
/// the timed choice is one of the timed candidates and is remembered, small layers keep oneDNN's layout, and training picks
/// the layout up through the context.
final class DenseWeightLayoutTests: XCTestCase {
    /// The forced arrangements: oneDNN's layout, and `ab` and `ba` each with both weight-gradient
    /// methods and both forward weights.
    static let forcedArrangements = [WeightArrangement(.preferred)]
        + [WeightLayout.plain, .transposed].flatMap { l in
            ForwardWeights.allCases.flatMap { f in WeightGradientMethod.allCases.map { WeightArrangement(l, $0, forward: f) } }
        }

    /// The arrangements whole models train on in `ModelWeightLayoutTests` (each model trains once
    /// per arrangement): oneDNN's, `ab` and `ba` with either method, and the forward copy on each
    /// layout, once with each method.
    static let modelArrangements = [WeightArrangement(.preferred)]
        + [WeightLayout.plain, .transposed].flatMap { l in WeightGradientMethod.allCases.map { WeightArrangement(l, $0) } }
        + [WeightArrangement(.plain, forward: .transposedCopy), WeightArrangement(.transposed, .transposedGEMM, forward: .transposedCopy)]

    /// Every forced arrangement stores the layout it was asked for and gives the double-precision
    /// reference's forward, backward-data, backward-weights and bias gradient (the preferred one is
    /// gradient-checked elsewhere), with 16-lane and leftover columns (70 outputs) and with one
    /// output, where `ab` and `ba` are the same memory. A forward copy is in the other plain layout.
    func testForcedLayoutsComputeTheReferenceProducts() throws {
        let context = try DNNLContext(workers: 1)
        for (inputs, outputs, batch) in [(45, 70, 6), (37, 1, 5)] {
            try assertForcedArrangementsComputeTheReference(context: context, inputs: inputs, outputs: outputs, batch: batch)
        }
    }

    private func assertForcedArrangementsComputeTheReference(context: DNNLContext, inputs: Int, outputs: Int,
                                                             batch: Int) throws {
        let x = DenseReference.random(batch * inputs, seed: 9)
        let dy = DenseReference.random(batch * outputs, seed: 10)
        let bias = DenseReference.random(outputs, seed: 4, scale: 0.5)
        var plainWeights: [Float]?
        for arrangement in Self.forcedArrangements {
            let layout = arrangement.layout
            let layer = try DenseLayer(name: "wl", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                       context: context, seed: 3, weightLayout: layout, weightGradient: arrangement.gradient,
                                       forwardWeights: arrangement.forward)
            XCTAssertEqual(layer.weightGradient, arrangement.gradient)
            XCTAssertEqual(layer.forwardWeights, arrangement.forward)
            if arrangement.forward == .transposedCopy {
                XCTAssertEqual(layer.copyDesc?.formatTag, layer.masterDesc.formatTag == "ab" && outputs > 1 ? "ba" : "ab")
            } else {
                XCTAssertNil(layer.copyDesc)
            }
            switch layout {
            case .plain: XCTAssertEqual(layer.masterDesc.formatTag, "ab")
            case .transposed: XCTAssertEqual(layer.masterDesc.formatTag, outputs == 1 ? "ab" : "ba", "a [1][in] ba matrix is ab")
            case .preferred: break
            }
            // The initial weights are drawn in plain order, so every layout starts from the same values.
            let w = layer.plainWeights()
            if let plainWeights { XCTAssertEqual(w, plainWeights, "\(layout): initial weights") } else { plainWeights = w }
            try layer.prepare(batch: batch)
            let calls = DenseCalls(layer: layer, batch: batch)
            calls.setBias(bias)
            let y = calls.forward(x)
            assertClose(y, DenseReference.forward(x: x, w: w, bias: bias, batch: batch, inputs: inputs, outputs: outputs, relu: true),
                        rtol: 1e-5, atol: 1e-5, "\(arrangement) forward")
            assertClose(calls.backwardData(dy), DenseReference.gradInput(dy: dy, w: w, batch: batch, inputs: inputs, outputs: outputs),
                        rtol: 1e-5, atol: 1e-5, "\(arrangement) backward-data")
            let grads = calls.backwardWeights(x, dy)
            assertClose(grads.weights, DenseReference.gradWeights(x: x, dy: dy, batch: batch, inputs: inputs, outputs: outputs),
                        rtol: 1e-5, atol: 1e-5, "\(arrangement) backward-weights")
            assertClose(grads.bias, DenseReference.gradBias(dy: dy, batch: batch, outputs: outputs), rtol: 1e-5, atol: 1e-5,
                        "\(arrangement) bias gradient")
            let profile = try XCTUnwrap(layer.implementationNames(batch: batch))
            XCTAssertEqual(profile.backwardWeights.contains("dnnl_sgemm"), arrangement.gradient == .transposedGEMM,
                           profile.backwardWeights)
            XCTAssertEqual(profile.weightCopyLayout?.hasPrefix("forward copy "), arrangement.forward == .transposedCopy ? true : nil,
                           profile.description)
        }
    }

    /// The forward copy follows every change of the master: an optimizer update through the
    /// layer (its only update piece refreshes the whole copy), new plain weights, and a checkpoint
    /// restore. Forward then gives the reference product of the master's current values, on
    /// `ab` and on `ba` weights; backward-data reads the master.
    func testForwardCopyFollowsEveryChangeOfTheWeights() throws {
        let context = try DNNLContext(workers: 1)
        let (inputs, outputs, batch) = (300, 256, 8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wl-copy-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let x = DenseReference.random(batch * inputs, seed: 21)
        let dy = DenseReference.random(batch * outputs, seed: 22)
        for layout in [WeightLayout.plain, .transposed] {
            let layer = try DenseLayer(name: "copy", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                       context: context, seed: 7, weightLayout: layout, forwardWeights: .transposedCopy)
            try layer.prepare(batch: batch)
            let calls = DenseCalls(layer: layer, batch: batch)
            func assertForwardReadsTheMaster(_ what: String) {
                let w = layer.plainWeights()
                assertClose(calls.forward(x), DenseReference.forward(x: x, w: w, bias: layer.bias.snapshot(),
                                                                     batch: batch, inputs: inputs, outputs: outputs, relu: true),
                            rtol: 1e-5, atol: 1e-5, "\(layout) forward \(what)")
                assertClose(calls.backwardData(dy), DenseReference.gradInput(dy: dy, w: w, batch: batch, inputs: inputs, outputs: outputs),
                            rtol: 1e-5, atol: 1e-5, "\(layout) backward-data \(what)")
            }
            assertForwardReadsTheMaster("at init")
            XCTAssertEqual(layer.updatePieces(maximum: 4).count, 1, "the copy's refresh needs the whole update done")
            let before = layer.plainWeights()
            let gradient = DenseReference.random(layer.weightGradientCount, seed: 23)
            gradient.withUnsafeBufferPointer { g in
                layer.update(layer.updatePieces(maximum: 2)[0], optimizer: SGD(learningRate: 0.5), gradient: g.baseAddress!,
                             plus: nil, step: 1)
            }
            XCTAssertNotEqual(layer.plainWeights(), before)
            assertForwardReadsTheMaster("after an update")
            layer.setPlainWeights(DenseReference.random(inputs * outputs, seed: 24, scale: 0.1))
            assertForwardReadsTheMaster("after new plain weights")
            try Checkpoint.save(model: "m", dataset: "d", globalStep: 1, parameters: [layer.weights, layer.bias], to: dir)
            let saved = layer.plainWeights()
            layer.setPlainWeights(before)
            XCTAssertEqual(try Checkpoint.restore(from: dir, model: "m", dataset: "d", parameters: [layer.weights, layer.bias]), 1)
            XCTAssertEqual(layer.plainWeights(), saved)
            assertForwardReadsTheMaster("after a checkpoint restore")
        }
    }

    /// The transposed GEMM overwrites the weight and bias gradients (as the primitive does), works
    /// on every prepared batch size (an odd one too) and on each worker, and matches oneDNN's
    /// primitive on a model-sized shape.
    func testTransposedGEMMMatchesThePrimitive() throws {
        let context = try DNNLContext(workers: 2)
        let (inputs, outputs) = (367, 96)
        for layout in [WeightLayout.plain, .transposed] {
            let primitive = try DenseLayer(name: "ip", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                           context: context, seed: 5, weightLayout: layout)
            let gemm = try DenseLayer(name: "gemm", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                      context: context, seed: 5, weightLayout: layout, weightGradient: .transposedGEMM)
            for (batch, worker) in [(64, 0), (33, 1), (64, 1)] {
                let x = DenseReference.random(batch * inputs, seed: UInt64(batch))
                let dy = DenseReference.random(batch * outputs, seed: UInt64(batch + 1))
                try primitive.prepare(batch: batch)
                try gemm.prepare(batch: batch)
                // DenseCalls fills the gradient buffers with NaN first: both must overwrite them.
                let a = DenseCalls(layer: primitive, batch: batch).backwardWeights(x, dy, worker: worker)
                let b = DenseCalls(layer: gemm, batch: batch).backwardWeights(x, dy, worker: worker)
                XCTAssertEqual(b.raw.count, a.raw.count)
                assertClose(b.weights, a.weights.map(Double.init), rtol: 1e-5, atol: 1e-5, "\(layout) batch \(batch) weights")
                assertClose(b.bias, a.bias.map(Double.init), rtol: 1e-5, atol: 1e-5, "\(layout) batch \(batch) bias")
            }
        }
    }

    /// The chooser times each distinct candidate, keeps oneDNN's layout unless another is
    /// `margin` faster, and answers the same shape again from memory.
    func testTimedChoiceIsATimedCandidateAndIsRemembered() throws {
        WeightLayoutChooser.forgetChoices()
        let choice = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1)
        let preferred = try XCTUnwrap(choice.roundSeconds[.onednn], "oneDNN's layout and primitive are always timed")
        XCTAssertGreaterThanOrEqual(choice.tags.count, 2, "on gemm-based hosts ab and ba both run: \(choice.tags)")
        XCTAssertEqual(Set(choice.roundSeconds.keys.map(\.layout)), Set(choice.tags.keys))
        XCTAssertEqual(Set(choice.tags.values).count, choice.tags.count, "a layout is timed once: \(choice.tags)")
        for (layout, tag) in choice.tags {
            // Each layout with oneDNN's primitive, and the dense ones also with the transposed GEMM
            // and each method with the forward copy.
            XCTAssertNotNil(choice.roundSeconds[WeightArrangement(layout)], "\(layout)")
            for arrangement in [WeightArrangement(layout, .transposedGEMM), WeightArrangement(layout, forward: .transposedCopy),
                                WeightArrangement(layout, .transposedGEMM, forward: .transposedCopy)] {
                XCTAssertEqual(choice.roundSeconds[arrangement] != nil, tag == "ab" || tag == "ba", "\(arrangement) (\(tag))")
            }
        }
        XCTAssertEqual(choice.candidates.first, .onednn)
        XCTAssertEqual(Set(choice.candidates), Set(choice.roundSeconds.keys))
        XCTAssertTrue(choice.roundSeconds.values.allSatisfy { $0 > 0 && $0.isFinite })
        let chosen = try XCTUnwrap(choice.roundSeconds[choice.arrangement])
        if choice.arrangement == .onednn {
            XCTAssertFalse(choice.roundSeconds.values.contains { $0 < preferred * (1 - WeightLayoutChooser.margin) })
        } else {
            XCTAssertLessThan(chosen, preferred * (1 - WeightLayoutChooser.margin))
            XCTAssertEqual(chosen, choice.roundSeconds.values.min())
        }
        let again = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1)
        XCTAssertEqual(again, choice, "a shape is timed once per process")
    }

    /// After the first timed rounds, candidates more than `pruneFactor` behind the fastest stop
    /// being timed, except oneDNN's (the rigs that still time products for the remaining
    /// candidates keep running; `testTimedChoiceIsATimedCandidateAndIsRemembered` checks every
    /// candidate still gets a time).
    func testCandidatesFarBehindStopBeingTimed() {
        let arrangements = [WeightArrangement.onednn, WeightArrangement(.preferred, .transposedGEMM),
                            WeightArrangement(.plain), WeightArrangement(.plain, .transposedGEMM),
                            WeightArrangement(.transposed, forward: .transposedCopy)]
        let f = WeightLayoutChooser.pruneFactor
        // Fastest 1.0: oneDNN's far behind stays; the others far behind go.
        XCTAssertEqual(WeightLayoutChooser.stillTimed(arrangements, best: [f + 0.5, f + 0.1, f + 0.1, 1.0, f + 0.2]),
                       [true, false, false, true, false])
        // Everything within the factor stays (a tie at the factor is not behind).
        XCTAssertEqual(WeightLayoutChooser.stillTimed(arrangements, best: [1.0, f, 1.1, 1.05, f]),
                       [true, true, true, true, true])
    }

    /// Under the timed policy a large layer takes the remembered choice's layout and a small one
    /// keeps oneDNN's.
    func testTimedPolicyAppliesToLargeLayersOnly() throws {
        let timed = try DNNLContext(workers: 1, weightLayout: .timed(batch: 64))
        let onednn = try DNNLContext(workers: 1)
        timed.setIntraOpThreads(1)
        let small = try DenseLayer(name: "small", inputs: 13, outputs: 64, relu: true, precision: .fp32, context: timed, seed: 1)
        let reference = try DenseLayer(name: "ref", inputs: 13, outputs: 64, relu: true, precision: .fp32, context: onednn, seed: 1)
        XCTAssertEqual(small.masterDesc.formatTag, reference.masterDesc.formatTag)
        let large = try DenseLayer(name: "large", inputs: 300, outputs: 256, relu: true, precision: .fp32, context: timed, seed: 1)
        let choice = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1)
        XCTAssertEqual(large.masterDesc.formatTag, choice.tags[choice.layout])
        XCTAssertEqual(large.weightGradient, choice.arrangement.gradient)
        XCTAssertEqual(timed.relaidLayers, choice.layout == .preferred ? 0 : 1)
        XCTAssertEqual(timed.transposedGEMMLayers, choice.arrangement.gradient == .transposedGEMM ? 1 : 0)
        XCTAssertEqual(large.forwardWeights, choice.arrangement.forward)
        XCTAssertEqual(timed.forwardCopyLayers, choice.arrangement.forward == .transposedCopy ? 1 : 0)
        XCTAssertEqual(small.weightGradient, .innerProduct)
        XCTAssertEqual(small.forwardWeights, .master)
    }

    /// The knob reaches the context: `weight_layout timed` times at the micro-batch's rows, and a
    /// bf16 run keeps oneDNN's layouts.
    func testTrainConfigSelectsThePolicy() throws {
        var c = TrainConfig()
        c.batch = 512
        XCTAssertEqual(try Trainer.makeContext(c, workers: 1).weightLayout, .onednn)
        try c.set(.weightLayout, "timed")
        XCTAssertEqual(c.value(of: .weightLayout), "timed")
        XCTAssertEqual(try Trainer.makeContext(c, workers: 1).weightLayout, .timed(batch: 512))
        c.microBatch = 3
        XCTAssertEqual(try Trainer.makeContext(c, workers: 1).weightLayout, .timed(batch: 171))
        c.bf16 = true
        XCTAssertEqual(try Trainer.makeContext(c, workers: 1).weightLayout, .onednn)
        XCTAssertThrowsError(try c.set(.weightLayout, "fastest")) { error in
            XCTAssertTrue("\(error)".contains("onednn, timed"), "\(error)")
        }
    }
}

/// Every model trains to the same parameters on every weight layout, up to float rounding: the
/// layout changes only where the products read the weights from.
final class ModelWeightLayoutTests: XCTestCase {
    /// Values the first `steps` steps changed, and how many of them differ between two runs by more
    /// than rounding (atol 1e-5 + rtol 1e-3: a different summation order moves a product by ~1e-7
    /// relative, and Adam's early steps amplify it on near-zero gradients).
    /// Blocked layouts (AVX-512 hosts) are left out: nil there.
    static func compare(_ a: [[Float]?], _ b: [[Float]?], initial: [[Float]?]) -> (changed: Int, mismatched: Int) {
        var changed = 0, mismatched = 0
        for t in a.indices {
            guard let a = a[t], let b = b[t], let initial = initial[t] else { continue }
            for k in a.indices where a[k] != initial[k] {
                changed += 1
                if abs(a[k] - b[k]) > 1e-5 + 1e-3 * abs(a[k]) { mismatched += 1 }
            }
        }
        return (changed, mismatched)
    }

    /// Every parameter as `rows × columns` row-major (`ba` weights transposed back); nil for a
    /// blocked layout.
    static func plain(_ parameters: [ParameterTensor]) -> [[Float]?] {
        parameters.map { p in
            let values = p.snapshot()
            switch p.layout {
            case nil, "ab": return values
            case "ba":
                var out = [Float](repeating: 0, count: p.rows * p.columns)
                for c in 0..<p.columns { for r in 0..<p.rows { out[r * p.columns + c] = values[c * p.rows + r] } }
                return out
            default: return nil
            }
        }
    }

    /// Runs `train` (the parameters in plain order and the eval logloss) with every layer forced to
    /// each of `DenseWeightLayoutTests.modelArrangements`, and checks `ab` and `ba`, with either
    /// weight-gradient method and with the forward copy, against oneDNN's layout and primitive.
    static func assertEveryLayoutMatches(_ model: ModelKind, initial: [[Float]?],
                                         train: () throws -> (parameters: [[Float]?], logloss: Double)) throws {
        var runs: [WeightArrangement: (parameters: [[Float]?], logloss: Double)] = [:]
        for arrangement in DenseWeightLayoutTests.modelArrangements {
            runs[arrangement] = try WeightLayoutChooser.withForcedLayout(arrangement.layout, gradient: arrangement.gradient,
                                                                        forward: arrangement.forward, train)
        }
        let reference = runs[.onednn]!
        for arrangement in DenseWeightLayoutTests.modelArrangements where arrangement != .onednn {
            let run = runs[arrangement]!
            let (changed, mismatched) = compare(reference.parameters, run.parameters, initial: initial)
            XCTAssertGreaterThan(changed, 1_000, "\(model): the steps must change many values")
            XCTAssertLessThanOrEqual(mismatched, changed / 1_000,
                                     "\(model) \(arrangement): \(mismatched) of \(changed) changed values differ")
            XCTAssertEqual(run.logloss, reference.logloss, accuracy: 1e-4 * reference.logloss, "\(model) \(arrangement) eval logloss")
        }
    }

    func testContestModelsMatchOnEveryLayout() throws {
        for model in [ModelKind.wdl, .dlrm, .deepfm, .mmoe] {
            let ds = model == .mmoe ? ContestModelTests.taobao : ContestModelTests.eleme
            var c = ContestModelTests.config(model, steps: 3, batch: 128)
            c.executor = .inline
            c.weightLayout = .timed
            c.indicator = .scatter
            var initial: [[Float]?] = []
            var zero = c
            zero.steps = 1
            zero.learningRate = 0
            _ = try ContestModelTests.run(zero, ds) { initial = Self.plain($0.parameters) }
            try Self.assertEveryLayoutMatches(model, initial: initial) {
                var snap: [[Float]?] = []
                let logloss = try ContestModelTests.run(c, ds) { snap = Self.plain($0.parameters) }.result.logloss
                return (snap, logloss)
            }
        }
    }

    func testCriteoModelsMatchOnEveryLayout() throws {
        for model in ModelKind.criteoModels {
            var c = ModelTrainingTests.config(model, steps: 3, warmup: 0)
            c.executor = .inline
            c.intraThreads = 1
            c.weightLayout = .timed
            var zero = c
            zero.steps = 1
            zero.learningRate = 0
            zero.wideLearningRate = 0
            var initial: [[Float]?] = []
            _ = try Trainer(config: zero, counterEvents: []).run(dataset: ModelTrainingTests.dataset) { initial = Self.plain($0.parameters) }
            try Self.assertEveryLayoutMatches(model, initial: initial) {
                var snap: [[Float]?] = []
                let logloss = try Trainer(config: c, counterEvents: []).run(dataset: ModelTrainingTests.dataset) {
                    snap = Self.plain($0.parameters)
                }.logloss
                return (snap, logloss)
            }
        }
    }

    /// `dense.relaid_layers` counts the layers whose layout the timed policy changed: 0 under
    /// `onednn`, and under `timed` exactly the weight tensors whose layout differs from the
    /// `onednn` run's. `dense.transposed_gemm_layers` counts the layers it gave the transposed
    /// GEMM, and `dense.forward_copy_layers` those it gave the forward copy: 0 under `onednn`, and
    /// under `timed` the large layers whose remembered choice has it.
    func testDenseCountersCountWhatTheTimedPolicyChanged() throws {
        var layouts: [WeightLayoutMode: [String]] = [:]
        var shapes: [(outputs: Int, inputs: Int)] = []
        var relaid: [WeightLayoutMode: Double] = [:]
        var transposedGEMM: [WeightLayoutMode: Double] = [:]
        var forwardCopy: [WeightLayoutMode: Double] = [:]
        var c = ModelTrainingTests.config(.dlrm, steps: 2, warmup: 0)
        c.intraThreads = 1
        for mode in WeightLayoutMode.allCases {
            c.weightLayout = mode
            let r = try Trainer(config: c, counterEvents: []).run(dataset: ModelTrainingTests.dataset) {
                layouts[mode] = $0.parameters.compactMap(\.layout)
                shapes = $0.parameters.filter { $0.layout != nil }.map { ($0.rows, $0.columns) }
            }
            relaid[mode] = try XCTUnwrap(r.counters["dense.relaid_layers"])
            transposedGEMM[mode] = try XCTUnwrap(r.counters["dense.transposed_gemm_layers"])
            forwardCopy[mode] = try XCTUnwrap(r.counters["dense.forward_copy_layers"])
        }
        XCTAssertEqual(relaid[.onednn], 0)
        XCTAssertEqual(transposedGEMM[.onednn], 0)
        XCTAssertEqual(forwardCopy[.onednn], 0)
        let changed = zip(layouts[.onednn]!, layouts[.timed]!).filter { $0 != $1 }.count
        XCTAssertEqual(relaid[.timed], Double(changed))
        XCTAssertEqual(layouts[.onednn]!.count, 7, "DLRM's seven dense layers")
        // DLRM's large layers are hidden ReLU layers; the run remembered their choices.
        guard case .timed(let rows) = try Trainer.makeContext(c, workers: 1).weightLayout else { return XCTFail("timed") }
        let chosen = try shapes.filter { $0.outputs * $0.inputs >= WeightLayoutChooser.minimumWeights }.map {
            try WeightLayoutChooser.choose(inputs: $0.inputs, outputs: $0.outputs, relu: true, rows: rows, threads: 1).arrangement
        }
        XCTAssertEqual(transposedGEMM[.timed], Double(chosen.filter { $0.gradient == .transposedGEMM }.count))
        XCTAssertEqual(forwardCopy[.timed], Double(chosen.filter { $0.forward == .transposedCopy }.count))
    }

    /// A checkpoint saved from `ab` weights restores into `ba` ones and back, values and optimizer
    /// slots transposed; a change to another layout is refused, naming both.
    func testCheckpointRestoresAcrossThePlainLayouts() throws {
        let context = try DNNLContext(workers: 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wl-ckpt-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func layer(_ layout: WeightLayout, seed: UInt64) throws -> (DenseLayer, ParameterTensor) {
            let l = try DenseLayer(name: "wl", inputs: 40, outputs: 24, relu: true, precision: .fp32, context: context,
                                   seed: seed, weightLayout: layout)
            let slot = ParameterTensor(name: "slot", rows: 1, columns: l.weights.count)
            for k in 0..<l.weights.count { slot.values[k] = Float(seed) + Float(k) * 0.25 }
            l.weights.attachSlot("adam.m", pointer: slot.values, count: l.weights.count, owner: slot)
            return (l, slot)
        }
        for (from, to) in [(WeightLayout.plain, WeightLayout.transposed), (.transposed, .plain)] {
            let (a, slotA) = try layer(from, seed: 1)
            let (b, slotB) = try layer(to, seed: 2)
            XCTAssertNotEqual(a.weights.layout, b.weights.layout)
            XCTAssertNotEqual(b.plainWeights(), a.plainWeights())
            try Checkpoint.save(model: "m", dataset: "d", globalStep: 3, parameters: [a.weights, a.bias], to: dir)
            XCTAssertEqual(try Checkpoint.restore(from: dir, model: "m", dataset: "d", parameters: [b.weights, b.bias]), 3)
            XCTAssertEqual(b.plainWeights(), a.plainWeights(), "\(from) → \(to): weights")
            XCTAssertEqual(b.plainGradient(slotB.values), a.plainGradient(slotA.values), "\(from) → \(to): slot in the weights' layout")
        }
        // A blocked layout does not convert: refused before anything is overwritten.
        let (a, _) = try layer(.plain, seed: 1)
        try Checkpoint.save(model: "m", dataset: "d", globalStep: 4, parameters: [a.weights], to: dir)
        let blocked = ParameterTensor(name: a.weights.name, rows: 24, columns: 40, count: 24 * 40, layout: "AB16b64a")
        XCTAssertThrowsError(try Checkpoint.restore(from: dir, model: "m", dataset: "d", parameters: [blocked])) { error in
            XCTAssertTrue("\(error)".contains("layout AB16b64a") && "\(error)".contains("layout ab"), "\(error)")
            XCTAssertTrue("\(error)".contains("weight_layout"), "\(error)")
        }
        XCTAssertTrue(blocked.snapshot().allSatisfy { $0 == 0 })
    }
}
