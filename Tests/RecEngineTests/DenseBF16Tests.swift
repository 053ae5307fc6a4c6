import TestSupport
import XCTest
@testable import RecEngine
import CDNNL

/// bf16 layers against fp32 layers with the same weights. bf16 keeps 8 significant bits
/// (relative rounding ≤ 2^-9 ≈ 2e-3 per operand); with fp32 accumulation over a few hundred
/// products the result error is ~1e-3 of the result's scale, so each tensor must agree within
/// 1e-2 × its largest magnitude (the "relative ~1e-2" of the brief), while wrong math is off by O(1).
final class DenseBF16Tests: XCTestCase {
    func testBF16AgreesWithFP32WithinBF16Tolerance() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        let (inputs, outputs, batch) = (300, 200, 64)
        let exact = try DenseLayer(name: "f32", inputs: inputs, outputs: outputs, relu: true, precision: .fp32,
                                   context: context, seed: 31)
        let low = try DenseLayer(name: "bf16", inputs: inputs, outputs: outputs, relu: true, precision: .bf16,
                                 context: context, seed: 31)
        XCTAssertEqual(low.plainWeights(), exact.plainWeights(), "same seed, same fp32 master")
        try exact.prepare(batch: batch)
        try low.prepare(batch: batch)
        let bias = DenseReference.random(outputs, seed: 32, scale: 0.1)
        let e = DenseCalls(layer: exact, batch: batch), l = DenseCalls(layer: low, batch: batch)
        e.setBias(bias)
        l.setBias(bias)
        let x = DenseReference.random(batch * inputs, seed: 33)
        let dy = DenseReference.random(batch * outputs, seed: 34)

        let ye = e.forward(x), yl = l.forward(x)
        assertRelative(yl, ye, "forward")
        let dxe = e.backwardData(dy), dxl = l.backwardData(dy)
        assertRelative(dxl, dxe, "gradInput")
        let ge = e.backwardWeights(x, dy), gl = l.backwardWeights(x, dy)
        assertRelative(gl.weights, ge.weights, "gradWeights")
        assertRelative(gl.bias, ge.bias, "gradBias")
        XCTAssertEqual(gl.raw.count, low.weights.count, "bf16 diff-weights share the fp32 master layout")
        XCTAssertNotEqual(yl, ye, "bf16 products should differ from fp32 in the low bits")
    }

    func testRefreshCopiesMasterIntoBF16Weights() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        let layer = try DenseLayer(name: "refresh", inputs: 64, outputs: 32, relu: false, precision: .bf16,
                                   context: context, seed: 41)
        try layer.prepare(batch: 4)
        let calls = DenseCalls(layer: layer, batch: 4)
        let x = DenseReference.random(4 * 64, seed: 42)
        let before = calls.forward(x)
        // An optimizer writes the fp32 master in place: doubling W doubles y (bias is zero).
        for i in 0..<layer.weights.count { layer.weights.values[i] *= 2 }
        XCTAssertEqual(calls.forward(x), before, "forward must read the bf16 copy until it is refreshed")
        layer.refreshWeightCopy()
        assertClose(calls.forward(x), before.map { 2 * $0 }, rtol: 1e-6, atol: 0, "after refresh")
    }

    /// The engine's refresh of the bf16 copy writes the same bytes as oneDNN's reorder, padding
    /// included, at the engine's layer shapes (inputs not a multiple of 16 or 32, one output, wide
    /// and narrow output blocks), over values that cover rounding ties, both signs, large and small.
    func testEngineRefreshMatchesTheReorderBitForBit() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        var tookPairedPass = 0
        for (inputs, outputs) in [(429, 1024), (1024, 512), (512, 256), (256, 1), (13, 512), (367, 64), (27, 16), (3, 5)] {
            let layer = try DenseLayer(name: "refresh.\(inputs)x\(outputs)", inputs: inputs, outputs: outputs,
                                       relu: true, precision: .bf16, context: context, seed: 51)
            var rng = SplitMix64(seed: UInt64(inputs * 7 + outputs))
            let plain = (0..<(inputs * outputs)).map { i -> Float in
                switch i % 5 {
                case 0: Float(bitPattern: 0x3F80_8000 | UInt32(rng.next() % 2) << 16)  // a tie: odd or even last kept bit
                case 1: -Float(rng.nextUnit()) * 1e-30
                case 2: Float(rng.nextUnit() * 2 - 1) * 3e4
                default: Float(rng.nextUnit() * 2 - 1)
                }
            }
            layer.setPlainWeights(plain)
            let copies = try XCTUnwrap(layer.lowPrecisionCopies())
            XCTAssertEqual(copies.refreshed, copies.reordered, "\(inputs)→\(outputs): engine refresh ≠ oneDNN reorder")
            if copies.byPairs { tookPairedPass += 1 }
        }
        // With AMX (copy AB16b<X>a2b) and with avx512_core_bf16 (copy AB8b<X>a2b) oneDNN's brgemm
        // picks paired layouts at every shape (checked with its own descriptors); elsewhere it may
        // not, and the reorder stays: say so rather than pass silently.
        if ["avx512_core_amx", "avx512_core_bf16"].contains(OneDNNInfo.isa) {
            XCTAssertEqual(tookPairedPass, 8, "every shape takes the engine's pass on \(OneDNNInfo.isa)")
        } else if tookPairedPass == 0 {
            print("note: no layer took the engine's bf16 refresh on this host (\(OneDNNInfo.isa))")
        }
    }

    /// A large layer's update in pieces (one node per worker): every piece updated by the optimizer
    /// and, bf16, refreshing its own output blocks of the copy, gives the master, the optimizer
    /// state and the bf16 copy of one whole update and refresh, bit for bit, fp32 and bf16, with
    /// one and two gradients.
    func testUpdateInPiecesEqualsOneWholeUpdate() throws {
        let context = try DNNLContext(workers: 2)
        for precision in hostPrecisions {
            for (inputs, outputs) in [(429, 400), (1024, 512), (512, 256)] {
                let whole = try DenseLayer(name: "whole", inputs: inputs, outputs: outputs, relu: true, precision: precision,
                                           context: context, seed: 61)
                let pieced = try DenseLayer(name: "pieced", inputs: inputs, outputs: outputs, relu: true, precision: precision,
                                            context: context, seed: 61)
                let pieces = pieced.updatePieces(maximum: 2)
                let label = "\(precision) \(inputs)→\(outputs)"
                XCTAssertEqual(pieces.first?.elements.lowerBound, 0, label)
                XCTAssertEqual(pieces.last?.elements.upperBound, pieced.weightGradientCount, label)
                for (a, b) in zip(pieces, pieces.dropFirst()) { XCTAssertEqual(a.elements.upperBound, b.elements.lowerBound, label) }
                if precision == .fp32 || pieced.refreshesLowPrecisionByPairs {
                    XCTAssertEqual(pieces.count, 2, "\(label): a layer this large is updated in two pieces")
                }
                let n = whole.weightGradientCount
                var rng = SplitMix64(seed: UInt64(inputs + outputs))
                let g1 = (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * 0.1 }, g2 = (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * 0.1 }
                let wholeAdam = Adam(learningRate: 0.01), piecesAdam = Adam(learningRate: 0.01)
                for step in 1...3 {
                    let plus: [Float]? = step == 2 ? nil : g2
                    wholeAdam.update(whole.weights, gradient: g1, plus: plus, step: step)
                    whole.refreshWeightCopy()
                    for piece in pieces {
                        piecesAdam.update(pieced.weights, gradient: g1, plus: plus, elements: piece.elements, step: step)
                        pieced.refreshWeightCopy(piece: piece)
                    }
                }
                try assertSameWeightsStateAndCopy(whole, pieced, seed: 61, context: context, label)
            }
        }
    }

    /// `DenseLayer.update(_:optimizer:...)`, which converts each pair of master rows into the bf16
    /// copy right after the optimizer wrote it: the master, the optimizer state and the copy of
    /// an update followed by `refreshWeightCopy(piece:)`, bit for bit, for whole layers and
    /// for pieces, every optimizer, one and two gradients; fp32 layers just update.
    func testRefreshRidingOnTheUpdateEqualsUpdateThenRefresh() throws {
        let context = try DNNLContext(workers: 2)
        var rode = 0, paired = 0
        for precision in hostPrecisions {
            for (inputs, outputs) in [(429, 400), (1024, 512), (512, 256), (27, 16), (3, 5)] {
                for (name, make) in [("adam", { Adam(learningRate: 0.01) as any DenseOptimizer }),
                                     ("adagrad", { Adagrad(learningRate: 0.05) }), ("sgd", { SGD(learningRate: 0.1) })] {
                    for maximum in [1, 2] {
                        let label = "\(precision) \(inputs)→\(outputs) \(name), \(maximum) piece(s) at most"
                        let riding = try DenseLayer(name: "riding", inputs: inputs, outputs: outputs, relu: true, precision: precision,
                                                    context: context, seed: 67)
                        let separate = try DenseLayer(name: "separate", inputs: inputs, outputs: outputs, relu: true, precision: precision,
                                                      context: context, seed: 67)
                        let ridingOptimizer = make(), separateOptimizer = make()
                        ridingOptimizer.register(riding.weights)
                        separateOptimizer.register(separate.weights)
                        let n = riding.weightGradientCount
                        var rng = SplitMix64(seed: UInt64(inputs * 3 + outputs))
                        let g1 = (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * 0.1 }
                        let g2 = (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * 0.1 }
                        var rodeHere = false
                        for step in 1...3 {
                            let plus: [Float]? = step == 2 ? nil : g2
                            for piece in riding.updatePieces(maximum: maximum) {
                                rodeHere = riding.update(piece, optimizer: ridingOptimizer, gradient: g1, plus: plus, step: step)
                                separateOptimizer.update(separate.weights, gradient: g1, plus: plus, elements: piece.elements, step: step)
                                separate.refreshWeightCopy(piece: piece)
                            }
                        }
                        try assertSameWeightsStateAndCopy(riding, separate, seed: 67, context: context, label)
                        if precision == .fp32 { XCTAssertFalse(rodeHere, "\(label): fp32 has no copy to refresh") }
                        if precision == .bf16 && riding.refreshesLowPrecisionByPairs { paired += 1; if rodeHere { rode += 1 } }
                    }
                }
            }
        }
        // Where the paired layouts are taken (AMX and avx512_core_bf16, every shape above), the
        // refresh rides on the update at every one of them; say so when no layer took them.
        if ["avx512_core_amx", "avx512_core_bf16"].contains(OneDNNInfo.isa) {
            XCTAssertEqual(paired, 5 * 3 * 2, "every shape takes the paired layouts on \(OneDNNInfo.isa)")
        }
        XCTAssertEqual(rode, paired, "the refresh rides on the update wherever the layouts are paired")
        if paired == 0 { print("note: no bf16 layer took the paired layouts on this host (\(OneDNNInfo.isa))") }
    }

    /// `a` and `b` (twins built with `seed`) hold the same master, optimizer state and bf16 copy,
    /// bit for bit, and the master moved away from a fresh layer's.
    private func assertSameWeightsStateAndCopy(_ a: DenseLayer, _ b: DenseLayer, seed: UInt64, context: DNNLContext,
                                               _ label: String) throws {
        XCTAssertEqual(a.weights.snapshot().map(\.bitPattern), b.weights.snapshot().map(\.bitPattern), label)
        let fresh = try DenseLayer(name: "fresh", inputs: a.inputs, outputs: a.outputs, relu: true, precision: a.precision,
                                   context: context, seed: seed)
        XCTAssertNotEqual(a.weights.snapshot(), fresh.weights.snapshot(), "\(label): the update moved the weights")
        for (x, y) in zip(a.weights.slots, b.weights.slots) {
            XCTAssertEqual((0..<x.count).map { x.pointer[$0].bitPattern }, (0..<y.count).map { y.pointer[$0].bitPattern }, "\(label): \(x.name)")
        }
        if let aLow = a.weightCopy, let bLow = b.weightCopy {
            XCTAssertEqual(Array(UnsafeRawBufferPointer(start: aLow.pointer, count: aLow.bytes)),
                           Array(UnsafeRawBufferPointer(start: bLow.pointer, count: bLow.bytes)), "\(label): bf16 copy")
        }
    }

    /// The scalar, 16-lane and (where the CPU has it) `vcvtneps2bf16` conversions follow the
    /// instruction's rules on the special cases, in both kernels, full vectors and tails.
    func testBF16RoundingRules() {
        let cases: [(Float, UInt16)] = [
            (1.0, 0x3F80), (-2.5, 0xC020),
            (Float(bitPattern: 0x3F80_8000), 0x3F80),  // tie, even kept bit: down
            (Float(bitPattern: 0x3F81_8000), 0x3F82),  // tie, odd kept bit: up
            (Float(bitPattern: 0x3F80_8001), 0x3F81),  // above the tie: up
            (Float(bitPattern: 0x0000_0001), 0x0000),  // denormal → +0
            (Float(bitPattern: 0x8040_0000), 0x8000),  // negative denormal → -0
            (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (Float(bitPattern: 0x7F80_0001), 0x7FC0),  // signalling NaN comes out quiet
            (Float.greatestFiniteMagnitude, 0x7F80),  // rounds up to infinity
        ]
        var row0 = cases.map(\.0), row1 = cases.map { -$0.0 }
        while row0.count < 19 { row0.append(0.5); row1.append(-0.5) }  // one 16-lane vector and a tail
        let expected0 = cases.map(\.1) + [UInt16](repeating: 0x3F00, count: row0.count - cases.count)
        let expected1 = row1.map { BF16Kernels.bits($0) }
        for (x, bits) in cases { XCTAssertEqual(BF16Kernels.bits(x), bits, "scalar \(x)") }
        for instruction in OneDNNInfo.hasAVX512BF16 ? [false, true] : [false] {
            var pairs = [UInt32](repeating: 0, count: row0.count)
            var halves = [UInt16](repeating: 0, count: row0.count)
            pairs.withUnsafeMutableBufferPointer {
                BF16Kernels.interleavePairs(row0, row1, into: $0.baseAddress!, count: row0.count, instruction: instruction)
            }
            halves.withUnsafeMutableBytes {
                BF16Kernels.convert(row0, to: $0.baseAddress!, count: row0.count, instruction: instruction)
            }
            XCTAssertEqual(pairs.map { UInt16(truncatingIfNeeded: $0) }, expected0, "pairs, first rows, instruction \(instruction)")
            XCTAssertEqual(pairs.map { UInt16(truncatingIfNeeded: $0 >> 16) }, expected1, "pairs, second rows, instruction \(instruction)")
            XCTAssertEqual(halves, expected0, "convert, instruction \(instruction)")
        }
    }

    /// The activation conversion gives the bits oneDNN's fp32→bf16 reorder gives (what the products
    /// read before the engine converted them itself), over random values of several magnitudes.
    func testConvertMatchesTheReorder() throws {
        let count = 1000 * 13 + 7
        var rng = SplitMix64(seed: 61)
        let values = (0..<count).map { i in Float(rng.nextUnit() * 2 - 1) * [1e-3, 1, 1e3][i % 3] }
        let context = try DNNLContext(workers: 1)
        let from = try DNNLMemoryDesc(dims: [count], type: dnnl_f32, tag: dnnl_a)
        let to = from.with(type: dnnl_bf16)
        let reorder = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: from, to: to, attributes: DNNLAttributes(),
                                                          engine: context.engine, what: "test"), what: "test")
        let source = AlignedBuffer(bytes: count * 4), reordered = AlignedBuffer(bytes: count * 2)
        values.withUnsafeBytes { source.pointer.copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
        let bound = try BoundPrimitive(reorder, [(DNNL_ARG_FROM, DNNLMemory(from, engine: context.engine, pointer: source.pointer)),
                                                 (DNNL_ARG_TO, DNNLMemory(to, engine: context.engine, pointer: reordered.pointer))],
                                       engine: context.engine)
        let stream = try DNNLStream(engine: context.engine)
        let scratch = AlignedBuffer(bytes: reorder.scratchpad.bytes)
        bound.execute(on: stream, scratchpad: scratch.pointer)
        stream.wait()
        let expected = Array(UnsafeRawBufferPointer(start: reordered.pointer, count: count * 2))
        for instruction in OneDNNInfo.hasAVX512BF16 ? [false, true] : [false] {
            let out = AlignedBuffer(bytes: count * 2)
            BF16Kernels.convert(source.pointer.assumingMemoryBound(to: Float.self), to: out.pointer, count: count,
                                instruction: instruction)
            XCTAssertEqual(Array(UnsafeRawBufferPointer(start: out.pointer, count: count * 2)), expected,
                           "instruction \(instruction)")
        }
    }

    /// Two bf16 layers chained (`lowPrecisionOutput` → `lowPrecisionInput`: bf16 activation and
    /// gradient between them, masked in bf16) give the same bits as the same layers exchanging
    /// fp32 and converting before each product: output, input gradient, both weight gradients.
    func testChainedLayersGiveTheUnchainedResultsBitForBit() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        let (batch, inputs, hidden, outputs) = (24, 37, 67, 20)
        let x = DenseReference.random(batch * inputs, seed: 73)
        let dz = DenseReference.random(batch * outputs, seed: 74)
        func run(chained: Bool) throws -> (results: [[Float]], hiddenActivation: [Float]) {
            let first = try DenseLayer(name: "a", inputs: inputs, outputs: hidden, relu: true, precision: .bf16,
                                       context: context, seed: 71, lowPrecisionOutput: chained)
            let second = try DenseLayer(name: "b", inputs: hidden, outputs: outputs, relu: true, precision: .bf16,
                                        context: context, seed: 72, lowPrecisionInput: chained)
            try first.prepare(batch: batch)
            try second.prepare(batch: batch)
            let a = DenseCalls(layer: first, batch: batch), b = DenseCalls(layer: second, batch: batch)
            let y = a.forward(x)  // bf16 bits in the first half of the floats when chained
            let z = b.forward(y)
            var dzMasked = dz
            z.withUnsafeBufferPointer { o in
                dzMasked.withUnsafeMutableBufferPointer { second.applyReLUMask(batch: batch, output: o.baseAddress!, gradOutput: $0.baseAddress!) }
            }
            var dy = b.backwardData(dzMasked)
            y.withUnsafeBufferPointer { o in
                dy.withUnsafeMutableBufferPointer { first.applyReLUMask(batch: batch, output: o.baseAddress!, gradOutput: $0.baseAddress!) }
            }
            let gradSecond = b.backwardWeights(y, dzMasked), gradFirst = a.backwardWeights(x, dy)
            return ([z, a.backwardData(dy), gradFirst.raw, gradFirst.bias, gradSecond.raw, gradSecond.bias], y)
        }
        let chained = try run(chained: true), unchained = try run(chained: false)
        for (k, (c, u)) in zip(chained.results, unchained.results).enumerated() {
            XCTAssertEqual(c.map(\.bitPattern), u.map(\.bitPattern), "result \(k)")
        }
        let half = batch * hidden / 2
        XCTAssertTrue(chained.hiddenActivation[half...].allSatisfy(\.isNaN), "chained: the activation is bf16 (half the bytes)")
        XCTAssertFalse(unchained.hiddenActivation.contains { $0.isNaN })
        XCTAssertTrue(unchained.hiddenActivation.contains(0) && unchained.hiddenActivation.contains { $0 > 0 },
                      "the ReLU masks some gradients and keeps others")
    }

    private func assertRelative(_ actual: [Float], _ expected: [Float], _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        let scale = expected.map { abs(Double($0)) }.max() ?? 0
        XCTAssertGreaterThan(scale, 0, what, file: file, line: line)
        assertClose(actual, expected, rtol: 0, atol: 1e-2 * scale, what, file: file, line: line)
    }

    /// oneDNN 2.6.3 runs bf16 from AVX-512 up: the host probe agrees with the ISA and names it when
    /// it says no. A bf16 run where the probe says no is refused before anything is built, naming
    /// the reason (injected here, so every host checks the refusal); fp32 runs are not affected.
    func testBF16NeedsAVX512AndIsRefusedWithTheReasonWhereItIsMissing() throws {
        XCTAssertEqual(OneDNNInfo.bf16Unsupported == nil, OneDNNInfo.hasAVX512Core, OneDNNInfo.bf16Unsupported ?? "bf16 supported")
        if let reason = OneDNNInfo.bf16Unsupported {
            XCTAssertTrue(reason.contains("ISA \(OneDNNInfo.isa)") && reason.contains("dnnl_unimplemented"), reason)
        }
        for model in [ModelKind.wdl, .din] {
            var c = TrainConfig()
            c.model = model
            if model == .din { c.dataset = .amazonBooks; c.syntheticRows = 2000; c.evalRows = 200 }
            c.bf16 = true
            XCTAssertThrowsError(try c.validate(bf16Unsupported: "no bf16 here")) { error in
                XCTAssertEqual(error as? EngineError, .unsupportedOnThisHost("--bf16 on: no bf16 here"), "\(model)")
            }
            if let reason = OneDNNInfo.bf16Unsupported {
                // The trainer itself refuses (DIN's bf16 GEMMs would otherwise stop the process).
                XCTAssertThrowsError(try Trainer(config: c, counterEvents: []).run()) { error in
                    XCTAssertEqual(error as? EngineError, .unsupportedOnThisHost("--bf16 on: \(reason)"), "\(model)")
                }
            }
            c.bf16 = false
            XCTAssertNoThrow(try c.validate(bf16Unsupported: "no bf16 here"), "\(model)")
        }
    }
}
