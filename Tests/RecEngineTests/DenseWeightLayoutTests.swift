import TestSupport
import XCTest
@testable import RecEngine

/// The `weight_layout` knob: forced layouts compute the same products, the timed choice is one of
/// the timed candidates and is remembered, small layers keep oneDNN's layout, and training picks
/// the layout up through the context.
final class DenseWeightLayoutTests: XCTestCase {
    /// Every forced layout stores what it was asked for and gives the double-precision reference's
    /// forward, backward-data and backward-weights (the preferred one is gradient-checked elsewhere).
    func testForcedLayoutsComputeTheReferenceProducts() throws {
        let context = try DNNLContext(workers: 1)
        let (inputs, outputs, batch) = (45, 70, 6)
        let x = DenseReference.random(batch * inputs, seed: 9)
        let dy = DenseReference.random(batch * outputs, seed: 10)
        let bias = DenseReference.random(outputs, seed: 4, scale: 0.5)
        var plainWeights: [Float]?
        for layout in WeightLayout.allCases {
            let layer = try DenseLayer(name: "wl", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                       context: context, seed: 3, weightLayout: layout)
            switch layout {
            case .plain: XCTAssertEqual(layer.masterDesc.formatTag, "ab")
            case .transposed: XCTAssertEqual(layer.masterDesc.formatTag, "ba")
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
                        rtol: 1e-5, atol: 1e-5, "\(layout) forward")
            var dx = [Double](repeating: 0, count: batch * inputs)
            for b in 0..<batch {
                for i in 0..<inputs {
                    for o in 0..<outputs { dx[b * inputs + i] += Double(dy[b * outputs + o]) * Double(w[o * inputs + i]) }
                }
            }
            assertClose(calls.backwardData(dy), dx, rtol: 1e-5, atol: 1e-5, "\(layout) backward-data")
            assertClose(calls.backwardWeights(x, dy).weights,
                        DenseReference.gradWeights(x: x, dy: dy, batch: batch, inputs: inputs, outputs: outputs),
                        rtol: 1e-5, atol: 1e-5, "\(layout) backward-weights")
        }
    }

    /// The chooser times each distinct candidate, keeps oneDNN's layout unless another is
    /// `margin` faster, and answers the same shape again from memory.
    func testTimedChoiceIsATimedCandidateAndIsRemembered() throws {
        WeightLayoutChooser.forgetChoices()
        let choice = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1)
        let preferred = try XCTUnwrap(choice.roundSeconds[.preferred], "oneDNN's layout is always timed")
        XCTAssertGreaterThanOrEqual(choice.roundSeconds.count, 2, "on gemm-based hosts ab and ba both run: \(choice.tags)")
        XCTAssertEqual(Set(choice.roundSeconds.keys), Set(choice.tags.keys))
        XCTAssertEqual(Set(choice.tags.values).count, choice.tags.count, "a layout is timed once: \(choice.tags)")
        XCTAssertTrue(choice.roundSeconds.values.allSatisfy { $0 > 0 && $0.isFinite })
        let chosen = try XCTUnwrap(choice.roundSeconds[choice.layout])
        if choice.layout == .preferred {
            XCTAssertFalse(choice.roundSeconds.values.contains { $0 < preferred * (1 - WeightLayoutChooser.margin) })
        } else {
            XCTAssertLessThan(chosen, preferred * (1 - WeightLayoutChooser.margin))
            XCTAssertEqual(chosen, choice.roundSeconds.values.min())
        }
        let again = try WeightLayoutChooser.choose(inputs: 300, outputs: 256, relu: true, rows: 64, threads: 1)
        XCTAssertEqual(again, choice, "a shape is timed once per process")
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
    /// each layout, and checks `ab` and `ba` against oneDNN's layout.
    static func assertEveryLayoutMatches(_ model: ModelKind, initial: [[Float]?],
                                         train: () throws -> (parameters: [[Float]?], logloss: Double)) throws {
        var runs: [WeightLayout: (parameters: [[Float]?], logloss: Double)] = [:]
        for layout in WeightLayout.allCases {
            runs[layout] = try WeightLayoutChooser.withForcedLayout(layout, train)
        }
        let reference = runs[.preferred]!
        for layout in [WeightLayout.plain, .transposed] {
            let run = runs[layout]!
            let (changed, mismatched) = compare(reference.parameters, run.parameters, initial: initial)
            XCTAssertGreaterThan(changed, 1_000, "\(model): the steps must change many values")
            XCTAssertLessThanOrEqual(mismatched, changed / 1_000, "\(model) \(layout): \(mismatched) of \(changed) changed values differ")
            XCTAssertEqual(run.logloss, reference.logloss, accuracy: 1e-4 * reference.logloss, "\(model) \(layout) eval logloss")
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
    /// `onednn` run's.
    func testRelaidLayersCounterCountsTheChangedLayouts() throws {
        var layouts: [WeightLayoutMode: [String]] = [:]
        var relaid: [WeightLayoutMode: Double] = [:]
        for mode in WeightLayoutMode.allCases {
            var c = ModelTrainingTests.config(.dlrm, steps: 2, warmup: 0)
            c.intraThreads = 1
            c.weightLayout = mode
            let r = try Trainer(config: c, counterEvents: []).run(dataset: ModelTrainingTests.dataset) {
                layouts[mode] = $0.parameters.compactMap(\.layout)
            }
            relaid[mode] = try XCTUnwrap(r.counters["dense.relaid_layers"])
        }
        XCTAssertEqual(relaid[.onednn], 0)
        let changed = zip(layouts[.onednn]!, layouts[.timed]!).filter { $0 != $1 }.count
        XCTAssertEqual(relaid[.timed], Double(changed))
        XCTAssertEqual(layouts[.onednn]!.count, 7, "DLRM's seven dense layers")
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
