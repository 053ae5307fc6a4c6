import XCTest
import TestSupport
@testable import RecEngine

/// `MLPStack.shareStep`: with several micro-batches, the hidden layers' activations and input
/// gradients are whole-batch tensors in which each micro-batch owns its rows, and a layer whose
/// product input and output gradient both lie there takes its weight gradient in one product over
/// the whole batch. Nothing but the summation order of the weight gradients may change.
final class SharedMicroBatchTests: XCTestCase {
    /// One SGD step of a 24→32→16→1 MLP over micro-batches of 5 and 7 rows, built without and with
    /// sharing (same seed, so the same initial weights): the stack's input gradient is the same bit
    /// for bit (the forward and backward-data products of each micro-batch are unchanged, only
    /// their buffers moved), and the parameters agree up to the order in which the weight gradient
    /// is summed. Under bf16 the first layer converts its fp32 input, so its weight gradient is a
    /// whole-batch product too, reading each micro-batch's input converted into its rows.
    func testSharedStepGivesTheSameStepAsSeparateMicroBatches() throws {
        for precision in hostPrecisions {
            var parameters: [Bool: [[Float]]] = [:]
            var inputGrads: [Bool: [Float]] = [:]
            var start: [[Float]] = []
            for shared in [false, true] {
                let run = try Self.oneStep(precision: precision, shared: shared)
                parameters[shared] = run.parameters
                inputGrads[shared] = run.inputGrad
                start = run.initial
                let names = Set(run.graph.nodes.map(\.name))
                if shared {
                    // Layer 1 is always whole-batch; layer 0 only when it converts its input (bf16); the
                    // one-output last layer's gradient is the caller's per-micro-batch tensor.
                    XCTAssertTrue(names.contains("m.1.bwdW"), "\(precision)")
                    XCTAssertFalse(names.contains("m.1.bwdW.m0"), "\(precision)")
                    XCTAssertEqual(names.contains("m.0.bwdW"), precision == .bf16)
                    XCTAssertEqual(names.contains("m.0.bwdW.m0"), precision == .fp32)
                    XCTAssertTrue(names.contains("m.2.bwdW.m0") && names.contains("m.2.bwdW.m1"), "\(precision)")
                    XCTAssertTrue(names.contains("m.step_tensors"))
                } else {
                    XCTAssertTrue(names.contains("m.1.bwdW.m0") && names.contains("m.1.bwdW.m1"), "\(precision)")
                    XCTAssertFalse(names.contains("m.step_tensors"))
                }
            }
            XCTAssertEqual(inputGrads[true], inputGrads[false], "\(precision): the input gradient must not change")
            let separate = try XCTUnwrap(parameters[false]), whole = try XCTUnwrap(parameters[true])
            XCTAssertEqual(separate.count, whole.count)
            for (i, (a, b)) in zip(whole, separate).enumerated() {
                assertClose(a, b, rtol: 1e-5, atol: 1e-6, "\(precision) parameter tensor \(i)")
            }
            // The step moved every tensor, so the comparison is not vacuous.
            for (i, (a, b)) in zip(separate, start).enumerated() { XCTAssertNotEqual(a, b, "\(precision) tensor \(i) did not change") }
        }
    }

    /// Nothing is shared with one micro-batch or one layer, nor with two layers of which the first
    /// reads the caller's fp32 input as it is (no layer's weight gradient could be whole-batch), nor
    /// under bf16 when a micro-batch's rows would start inside a float (an odd row offset times an
    /// odd width).
    func testNothingIsSharedWhereItCannotBe() throws {
        let context = try DNNLContext(workers: 1)
        func stack(_ widths: [Int], _ precision: Precision) throws -> MLPStack {
            try MLPStack(name: "m", inputs: 8, widths: widths, reluOnLast: false, precision: precision, context: context,
                         optimizer: SGD(learningRate: 0.1), seed: 3)
        }
        XCTAssertNil(try stack([6, 4, 1], .fp32).shareStep(GraphBuilder(), rows: [10]))
        XCTAssertNil(try stack([4], .fp32).shareStep(GraphBuilder(), rows: [5, 5]))
        XCTAssertNil(try stack([6, 1], .fp32).shareStep(GraphBuilder(), rows: [5, 5]))
        XCTAssertNotNil(try stack([5, 4, 1], .fp32).shareStep(GraphBuilder(), rows: [5, 5]))
        if OneDNNInfo.bf16Unsupported == nil {
            XCTAssertEqual(try stack([6, 1], .bf16).shareStep(GraphBuilder(), rows: [5, 5])?.merged, [true, false])
            XCTAssertNil(try stack([5, 4, 1], .bf16).shareStep(GraphBuilder(), rows: [5, 5]), "5 rows × 5 bf16 outputs start mid-float")
            XCTAssertNotNil(try stack([6, 4, 1], .bf16).shareStep(GraphBuilder(), rows: [5, 5]))
        }
        let three = try XCTUnwrap(try stack([6, 4, 1], .fp32).shareStep(GraphBuilder(), rows: [3, 4, 5]))
        XCTAssertEqual(three.rowOffsets, [0, 3, 7])
        XCTAssertEqual(three.merged, [false, true, false])
    }

    /// What the inline executor's last node read (one thread: no lock needed).
    private final class Captured: @unchecked Sendable { var values: [Float] = [] }

    private struct Run {
        let graph: StepGraph
        let parameters: [[Float]]
        let initial: [[Float]]
        let inputGrad: [Float]
    }

    private static func oneStep(precision: Precision, shared: Bool) throws -> Run {
        let context = try DNNLContext(workers: 1)
        let inputs = 24, rows = [5, 7]
        let mlp = try MLPStack(name: "m", inputs: inputs, widths: [32, 16, 1], reluOnLast: false, precision: precision,
                               lastLayerPrecision: .fp32, context: context, optimizer: SGD(learningRate: 0.5), seed: 11)
        try mlp.prepare(batches: Set(rows))
        let initial = mlp.layers.flatMap { [$0.plainWeights(), Array(UnsafeBufferPointer(start: $0.bias.values, count: $0.outputs))] }
        let b = GraphBuilder()
        let share = shared ? try mlp.shareStep(b, rows: rows) : nil
        var backward: [MLPStack.Backward] = []
        var inputGrads: [TensorID] = []
        for (m, r) in rows.enumerated() {
            let tag = ".m\(m)"
            let x = b.floats("x\(tag)", count: r * inputs), dy = b.floats("dy\(tag)", count: r)
            let input = b.node("input\(tag)", kind: .input, allocates: [x, dy]) { ctx in
                let xs = ctx.memory.floats(x), g = ctx.memory.floats(dy)
                for k in 0..<(r * inputs) { xs[k] = Float((k * 7 + m * 13) % 17) / 8 - 1 }
                for k in 0..<r { g[k] = Float((k + m) % 3) - 0.9 }
            }
            let f = mlp.addForward(b, tag: tag, rows: r, input: x, after: [input], share: share, micro: m)
            let back = mlp.addBackward(b, tag: tag, rows: r, forward: f, gradOutput: dy, gradReady: [f.done], needInputGrad: true,
                                       share: share, micro: m)
            backward.append(back)
            inputGrads.append(back.inputGrad!)
            // Keep the input gradient alive to read it after the step.
            _ = b.node("keep\(tag)", kind: .backward, after: [back.inputGradReady!], uses: [back.inputGrad!]) { _ in }
        }
        let updates = mlp.addUpdates(b, backward: backward, share: share)
        let captured = Captured(), grads = inputGrads
        _ = b.node("read", kind: .update, after: updates + backward.map(\.inputGradReady!), uses: grads) { ctx in
            for (t, r) in zip(grads, rows) { captured.values += UnsafeBufferPointer(start: ctx.memory.floats(t), count: r * inputs) }
        }
        let graph = try b.build()
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        InlineExecutor().run(graph, memory: memory, step: 0)
        let after = mlp.layers.flatMap { [$0.plainWeights(), Array(UnsafeBufferPointer(start: $0.bias.values, count: $0.outputs))] }
        return Run(graph: graph, parameters: after, initial: initial, inputGrad: captured.values)
    }
}
