import XCTest
@testable import RecEngine
import TestSupport

/// Finite-difference checks of the contest ops (embedding bags, L2 normalize, BatchNorm, softmax
/// gates and their mixture, the vector FM, MSE on the sigmoid), shared tables receiving every
/// member's gradient, and the indicator input's two modes.
///
/// Step sizes: bags, mixture (per single input) and FM's cross terms are affine or quadratic with
/// small curvature, so h = 1e-2 with float rounding (~1e-6 / 2h ≈ 5e-5) and atol = rtol = 2e-3
/// catch any wrong term (errors O(0.1)). L2 normalize, BatchNorm, softmax and the loss are smooth
/// but curved: h = 1e-3 in Float with atol 5e-3 (BatchNorm's outputs are O(1) per row).
final class ContestKernelTests: XCTestCase {
    /// Bags for 4 rows: one with duplicates, one empty, one single, one long.
    static func bags(rows: Int = 4, tableRows: Int) -> (ids: [Int32], start: [Int32], count: [Int32]) {
        var ids: [Int32] = [], start: [Int32] = [], count: [Int32] = []
        let lists: [[Int32]] = [[1, 3, 1], [], [2], [0, 4, 5, 6, 1, 2, 3].map { $0 % Int32(tableRows) }]
        for r in 0..<rows {
            start.append(Int32(ids.count)); count.append(Int32(lists[r % 4].count)); ids += lists[r % 4]
        }
        return (ids, start, count)
    }

    func testEmbeddingBagForwardBackwardBothCombiners() {
        for combiner in [BagCombiner.sum, .mean] {
            var rng = KernelTestRNG(seed: 3)
            let rows = 4, dim = 5, tableRows = 7, outStride = dim + 3, outOffset = 2
            let (ids, start, count) = Self.bags(tableRows: tableRows)
            var table = rng.floats(tableRows * dim)
            let r = rng.floats(rows * outStride)
            func forward(_ t: [Float], prefetchDistance: Int = BagKernels.bagPrefetchDistance) -> [Float] {
                var out = [Float](repeating: 9, count: rows * outStride)
                ids.withUnsafeBufferPointer { i in start.withUnsafeBufferPointer { s in count.withUnsafeBufferPointer { c in
                    BagKernels.forward(table: t, rows: tableRows, dim: dim,
                                       bags: BagView(ids: i.baseAddress!, start: s.baseAddress!, count: c.baseAddress!, stride: 1, slot: 0),
                                       batch: rows, combiner: combiner, out: &out, outStride: outStride, outOffset: outOffset,
                                       prefetchDistance: prefetchDistance)
                } } }
                return out
            }
            let out = forward(table)
            for distance in [0, 1, 2] {
                XCTAssertEqual(forward(table, prefetchDistance: distance).map(\.bitPattern), out.map(\.bitPattern),
                               "the prefetch (\(distance) samples ahead) changes speed only")
            }
            XCTAssertEqual(Array(out[outStride + outOffset..<outStride + outOffset + dim]), [0, 0, 0, 0, 0], "an empty bag pools to zeros")
            XCTAssertEqual(out[0], 9, "columns outside the slice are untouched")
            let w: Float = combiner == .mean ? 1 / 3 : 1
            for d in 0..<dim { XCTAssertEqual(out[outOffset + d], w * (2 * table[1 * dim + d] + table[3 * dim + d]), accuracy: 1e-6) }
            var grad = [Float](repeating: 0, count: table.count)
            ids.withUnsafeBufferPointer { i in start.withUnsafeBufferPointer { s in count.withUnsafeBufferPointer { c in
                BagKernels.backwardDense(bags: BagView(ids: i.baseAddress!, start: s.baseAddress!, count: c.baseAddress!, stride: 1, slot: 0),
                                         batch: rows, dim: dim, combiner: combiner, gradOut: r, gradStride: outStride, gradOffset: outOffset,
                                         gradTable: &grad)
            } } }
            // The cotangent on columns outside the slice must not matter: project only the slice.
            var rs = [Float](repeating: 0, count: r.count)
            for i in 0..<rows { for d in 0..<dim { rs[i * outStride + outOffset + d] = r[i * outStride + outOffset + d] } }
            checkGradient(x: &table, indices: Array(0..<table.count), h: 1e-2, analytic: grad, rtol: 2e-3, atol: 2e-3, "bag \(combiner)") {
                project(forward($0), rs)
            }
        }
    }

    /// A shared table's optimizer gets every member's bag gradient: two member slots, SGD with lr 1,
    /// the table moves by minus the sum of both members' dense gradients.
    func testSharedTableReceivesTheGradientsOfAllMembers() {
        var rng = KernelTestRNG(seed: 5)
        let rows = 4, dim = 3, tableRows = 8, slots = 2
        // Row-major [row][slot] bags: slot 0 = the fixture bags, slot 1 = other ids.
        let a = Self.bags(tableRows: tableRows)
        var ids = a.ids, start = [Int32](), count = [Int32]()
        for i in 0..<rows {
            start.append(a.start[i]); count.append(a.count[i])
            let other: [Int32] = [Int32(7 - i), 1]
            start.append(Int32(ids.count)); count.append(Int32(other.count)); ids += other
        }
        let grad = rng.floats(rows * slots * dim)  // member s of row i at i*slots*dim + s*dim
        let table = ParameterTensor(name: "shared", rows: tableRows, columns: dim)
        let initial = rng.floats(tableRows * dim)
        table.load(initial)
        let opt = SparseRowOptimizer(table: table, kind: .sgd, learningRate: 1, maxIdsPerUpdate: tableRows)
        var dense = [Float](repeating: 0, count: tableRows * dim)
        ids.withUnsafeBufferPointer { i in start.withUnsafeBufferPointer { s in count.withUnsafeBufferPointer { c in
            opt.begin()
            for slot in 0..<slots {
                let view = BagView(ids: i.baseAddress!, start: s.baseAddress!, count: c.baseAddress!, stride: slots, slot: slot)
                opt.accumulateBags(view, count: rows, combiner: .mean, grad: grad, gradStride: slots * dim, gradOffset: slot * dim)
                BagKernels.backwardDense(bags: view, batch: rows, dim: dim, combiner: .mean, gradOut: grad, gradStride: slots * dim,
                                         gradOffset: slot * dim, gradTable: &dense)
            }
            opt.apply(step: 1)
        } } }
        let expected = zip(initial, dense).map { $0 - $1 }
        assertClose(table.snapshot(), expected, rtol: 1e-5, atol: 1e-6)
        XCTAssertNotEqual(dense[7 * dim], 0, "row 7 only appears in member 1")
        XCTAssertNotEqual(dense[3 * dim], 0, "row 3 appears in both members")
    }

    func testL2NormalizeOverTheWholeTensor() {
        var rng = KernelTestRNG(seed: 7)
        let n = 12
        var x = rng.floats(n)
        let r = rng.floats(n)
        var y = [Float](repeating: 0, count: n)
        let norm = BagKernels.l2NormalizeForward(x, count: n, out: &y)
        assertClose([Double(norm)], [x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()], rtol: 1e-6)
        assertClose([y.reduce(0.0) { $0 + Double($1) * Double($1) }], [1.0], rtol: 1e-5)
        var g = [Float](repeating: 0, count: n)
        BagKernels.l2NormalizeBackward(y: y, norm: norm, gradOut: r, count: n, clamped: false, gradX: &g)
        checkGradient(x: &x, indices: Array(0..<n), h: 1e-3, analytic: g, rtol: 5e-3, atol: 5e-3, "l2 normalize") { xs in
            var out = [Float](repeating: 0, count: n)
            BagKernels.l2NormalizeForward(xs, count: n, out: &out)
            return project(out, r)
        }
    }

    func testBatchNormOverValidRows() {
        var rng = KernelTestRNG(seed: 9)
        let rows = 6, valid = 5, width = 4
        var x = rng.floats(rows * width, -2, 2)
        var gamma = rng.floats(width, 0.5, 1.5)
        var beta = rng.floats(width)
        var r = rng.floats(rows * width)
        for j in valid * width..<rows * width { r[j] = 0 }  // padding rows carry no loss
        func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: rows * width), mean = [Float](repeating: 0, count: width), inv = mean
            BagKernels.batchNormForward(x: x, rows: rows, valid: valid, width: width, gamma: gamma, beta: beta, epsilon: 1e-3,
                                        out: &out, mean: &mean, invStd: &inv)
            return out
        }
        let y = forward(x, gamma, beta)
        for j in 0..<width {  // normalized valid rows: mean β, std ≈ γ
            let col = (0..<valid).map { Double(y[$0 * width + j]) }
            assertClose([col.reduce(0, +) / Double(valid)], [Double(beta[j])], rtol: 1e-4, atol: 1e-5)
        }
        var mean = [Float](repeating: 0, count: width), inv = mean, out = [Float](repeating: 0, count: rows * width)
        BagKernels.batchNormForward(x: x, rows: rows, valid: valid, width: width, gamma: gamma, beta: beta, epsilon: 1e-3,
                                    out: &out, mean: &mean, invStd: &inv)
        var gx = [Float](repeating: 7, count: rows * width), gg = [Float](repeating: 7, count: width), gb = gg
        BagKernels.batchNormBackward(x: x, rows: rows, valid: valid, width: width, gamma: gamma, mean: mean, invStd: inv, gradOut: r,
                                     gradX: &gx, gradGamma: &gg, gradBeta: &gb)
        XCTAssertEqual(Array(gx[valid * width..<rows * width]), [Float](repeating: 0, count: width), "padding rows get no gradient")
        checkGradient(x: &x, indices: Array(0..<valid * width), h: 1e-3, analytic: gx, rtol: 5e-3, atol: 5e-3, "bn x") { project(forward($0, gamma, beta), r) }
        checkGradient(x: &gamma, indices: Array(0..<width), h: 1e-3, analytic: gg, rtol: 5e-3, atol: 5e-3, "bn gamma") { project(forward(x, $0, beta), r) }
        checkGradient(x: &beta, indices: Array(0..<width), h: 1e-3, analytic: gb, rtol: 5e-3, atol: 5e-3, "bn beta") { project(forward(x, gamma, $0), r) }
    }

    func testSoftmaxGateAndMixture() {
        var rng = KernelTestRNG(seed: 11)
        let rows = 3, k = 4, width = 5, block = rows * width
        var z = rng.floats(rows * k, -2, 2)
        var experts = rng.floats(k * block)  // expert j at j*block
        let r = rng.floats(block)
        func forward(_ z: [Float], _ experts: [Float]) -> [Float] {
            var p = [Float](repeating: 0, count: rows * k), out = [Float](repeating: 0, count: block)
            BagKernels.softmaxForward(z, rows: rows, width: k, out: &p)
            experts.withUnsafeBufferPointer { e in
                let ptrs = (0..<k).map { UnsafePointer(e.baseAddress! + $0 * block) }
                BagKernels.mixtureForward(experts: ptrs, count: k, gate: p, rows: rows, width: width, out: &out)
            }
            return out
        }
        var p = [Float](repeating: 0, count: rows * k)
        BagKernels.softmaxForward(z, rows: rows, width: k, out: &p)
        for i in 0..<rows { XCTAssertEqual(p[i * k..<(i + 1) * k].reduce(0, +), 1, accuracy: 1e-6) }
        var gGate = [Float](repeating: 0, count: rows * k)
        var gExperts = [Float](repeating: 0, count: k * block)
        experts.withUnsafeBufferPointer { e in
            gExperts.withUnsafeMutableBufferPointer { g in
                let ptrs = (0..<k).map { UnsafePointer(e.baseAddress! + $0 * block) }
                let gptrs = (0..<k).map { g.baseAddress! + $0 * block }
                BagKernels.mixtureBackward(experts: ptrs, count: k, gate: p, gradOut: r, rows: rows, width: width, gradGate: &gGate,
                                           gradExperts: gptrs)
            }
        }
        var gz = [Float](repeating: 0, count: rows * k)
        BagKernels.softmaxBackward(p: p, gradOut: gGate, rows: rows, width: k, gradZ: &gz)
        checkGradient(x: &z, indices: Array(0..<z.count), h: 1e-3, analytic: gz, rtol: 5e-3, atol: 5e-3, "gate logits") { project(forward($0, experts), r) }
        checkGradient(x: &experts, indices: Array(0..<experts.count), h: 1e-2, analytic: gExperts, rtol: 2e-3, atol: 2e-3, "experts") {
            project(forward(z, $0), r)
        }
    }

    func testVectorFMAndSigmoidMSE() {
        var rng = KernelTestRNG(seed: 13)
        let rows = 3, fields = 5, dim = 4, stride = fields * dim + 2, offset = 1, outStride = dim + 3, outOffset = 2
        var x = rng.floats(rows * stride)
        let r = rng.floats(rows * outStride)
        func forward(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: rows * outStride)
            BagKernels.fmVectorForward(x: x, stride: stride, offset: offset, fields: fields, dim: dim, batch: rows, out: &out,
                                       outStride: outStride, outOffset: outOffset)
            var s = 0.0
            for i in 0..<rows { for d in 0..<dim { s += Double(out[i * outStride + outOffset + d]) * Double(r[i * outStride + outOffset + d]) } }
            return s
        }
        var g = [Float](repeating: 0, count: x.count)
        BagKernels.fmVectorBackward(x: x, stride: stride, offset: offset, fields: fields, dim: dim, batch: rows, gradOut: r,
                                    gradOutStride: outStride, gradOutOffset: outOffset, gradX: &g, gradStride: stride, gradOffset: offset)
        let indices = (0..<rows).flatMap { i in (0..<fields * dim).map { i * stride + offset + $0 } }
        checkGradient(x: &x, indices: indices, h: 1e-2, analytic: g, rtol: 2e-3, atol: 2e-3, "fm vector") { forward($0) }

        var z = rng.floats(6, -3, 3)
        let y: [Float] = [0, 1, 1, 0, 1, 0]
        var gz = [Float](repeating: 0, count: 6)
        let total = BagKernels.sigmoidMSE(logits: z, labels: y, batch: 6, gradScale: 1, gradLogits: &gz)
        let p = z.map { 1 / (1 + Foundation.exp(-Double($0))) }
        assertClose([total], [zip(p, y).reduce(0.0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) }], rtol: 1e-5)
        checkGradient(x: &z, indices: Array(0..<6), h: 1e-3, analytic: gz, rtol: 5e-3, atol: 1e-4, "sigmoid mse") { zs in
            var scratch = [Float](repeating: 0, count: 6)
            return BagKernels.sigmoidMSE(logits: zs, labels: y, batch: 6, gradScale: 1, gradLogits: &scratch)
        }
    }

    /// Both indicator modes give bit-identical row sums; the dense one materializes rows × width floats
    /// in row blocks (each its own pair of nodes), for the whole batch and for a micro-batch's rows.
    func testIndicatorDenseAndScatterAgreeExactly() throws {
        let schema = ContestSchema.eleme
        let buckets = ContestSchema.elemeBuckets(hashBuckets: 37)
        let data = SyntheticContest.bytes(format: .eleme, trainRows: 40, evalRows: 1, seed: 3)
        let ds = try ContestDataset(format: .eleme, train: data.train, eval: data.eval, buckets: buckets, badRows: .fail)
        var batch = ContestBatch(schema: schema, capacity: 40)
        try ds.fill(&batch, index: 0, batchSize: 40)
        let feed = ContestFeed(schema: schema, capacity: 40)
        feed.stage(batch)
        var results: [[Float]] = [], parts: [[Float]] = []
        for mode in IndicatorMode.allCases {
            let ind = IndicatorInput(feed: feed, slots: ContestSchema.elemeWideSlots, buckets: buckets, mode: mode)
            XCTAssertEqual(ind.width, 15 * 37 + 2 * 5 + 12)
            XCTAssertEqual(ind.bytesPerRow, mode == .dense ? ind.width * 4 : 0)
            results.append(try runToArray(count: 40) { b, out, after in
                let done = ind.addForward(b, tag: "", rowStart: 0, rows: 40, out: out, after: after)
                XCTAssertEqual(done.count, mode == .dense ? IndicatorInput.denseChunks : 1)
                return done
            })
            // Rows 3..<40 (a micro-batch's rows): blocks of 9, 9, 9 and 10 rows.
            parts.append(try runToArray(count: 37) { b, out, after in ind.addForward(b, tag: ".m1", rowStart: 3, rows: 37, out: out, after: after) })
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(parts[0], parts[1])
        XCTAssertEqual(parts[0], Array(results[0][3...]))
        XCTAssertTrue(batch.numerics(row: 0).contains { $0 != $0.rounded() }, "the numerics are not integers, so their order matters")
        // Row 0 by hand: the wide slots' bag sizes plus the numerics.
        let expected = Float(ContestSchema.elemeWideSlots.reduce(Int32(0)) { $0 + batch.bagCount[$1] }) + batch.numerics(row: 0).reduce(0, +)
        XCTAssertEqual(results[1][0], expected)
    }

    /// Runs a one-node-producing graph that writes `count` floats into a tensor and returns them.
    func runToArray(count: Int, _ add: (GraphBuilder, TensorID, [NodeID]) -> [NodeID]) throws -> [Float] {
        final class Sink: @unchecked Sendable { var values: [Float] = [] }  // written by the last node, read after the step
        let sink = Sink()
        let b = GraphBuilder()
        let out = b.floats("out", count: count)
        let alloc = b.node("alloc", kind: .input, allocates: [out]) { _ in }
        let nodes = add(b, out, [alloc])
        b.node("read", kind: .forward, after: nodes, uses: [out]) { ctx in
            sink.values = Array(UnsafeBufferPointer(start: ctx.memory.floats(out), count: count))
        }
        let graph = try b.build()
        InlineExecutor().run(graph, memory: StepMemory(graph: graph, allocator: SystemAllocator()), step: 0)
        return sink.values
    }
}

import Foundation

/// The embedding-column graph nodes: a shared group's members pool from one table into their own
/// fields, and the update node applies both members' gradients to that table (fused and unfused).
final class EmbeddingColumnsTests: XCTestCase {
    func testSharedGroupLookupAndUpdateThroughTheGraph() throws {
        let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let buckets = ContestSchema.elemeBuckets(hashBuckets: 1_000)
        let ds = try ContestDataset(directory: fixtures.appendingPathComponent("eleme").path, format: .eleme, buckets: buckets, badRows: .fail)
        var batch = ContestBatch(schema: ds.schema, capacity: 3)
        try ds.fill(&batch, index: 0, batchSize: 3)
        let feed = ContestFeed(schema: ds.schema, capacity: 3)
        feed.stage(batch)
        let shop = ds.schema.slot("shop_id"), list = ds.schema.slot("shop_id_list"), user = ds.schema.slot("user_id")
        var results: [[Float]] = []
        for fused in [true, false] {
            let dim = 4, rows = 3
            let cols = EmbeddingColumns(name: "t", feed: feed, groups: [[shop, list], [user]], buckets: buckets, dim: dim, combiner: .mean,
                                        kind: .sgd, learningRate: 1, initScale: 0.5, fused: fused, seed: 3)
            XCTAssertEqual(cols.fields, 3)
            let table = cols.tables[0].parameter
            let before = table.snapshot()
            var rng = KernelTestRNG(seed: 1)
            let g = rng.floats(rows * 3 * dim)
            final class Sink: @unchecked Sendable { var pooled: [Float] = [] }  // written by one node, read after the step
            let sink = Sink()
            let b = GraphBuilder()
            let out = b.floats("out", count: rows * 3 * dim), grad = b.floats("grad", count: rows * 3 * dim)
            let alloc = b.node("alloc", kind: .input, allocates: [out, grad]) { ctx in
                ctx.memory.floats(grad).update(from: g, count: g.count)
            }
            let lookups = cols.addLookup(b, tag: "", rowStart: 0, rows: rows, out: out, outStride: 3 * dim, outOffset: 0, after: [alloc])
            let read = b.node("read", kind: .forward, after: lookups, uses: [out]) { ctx in
                sink.pooled = Array(UnsafeBufferPointer(start: ctx.memory.floats(out), count: rows * 3 * dim))
            }
            _ = cols.addUpdates(b, slices: [.init(rowStart: 0, rows: rows, grad: grad, gradStride: 3 * dim, gradOffset: 0, ready: read)])
            let graph = try b.build()
            XCTAssertEqual(graph.nodes.filter { $0.name.hasPrefix("t.update") }.count, fused ? 1 : 2)
            InlineExecutor().run(graph, memory: StepMemory(graph: graph, allocator: SystemAllocator()), step: 0)
            // Forward: field k of each row is the mean of its member's rows in the shared table.
            let fieldOfSlot = [shop: 0, list: 1]
            var dense = [Float](repeating: 0, count: before.count)
            for (slot, field) in fieldOfSlot {
                for i in 0..<rows {
                    let ids = batch.bag(row: i, slot: slot)
                    for d in 0..<dim {
                        let mean = ids.isEmpty ? 0 : ids.reduce(Float(0)) { $0 + before[Int($1) * dim + d] } / Float(ids.count)
                        XCTAssertEqual(sink.pooled[i * 3 * dim + field * dim + d], mean, accuracy: 1e-6, "slot \(slot) row \(i)")
                        for id in ids { dense[Int(id) * dim + d] += g[i * 3 * dim + field * dim + d] / Float(ids.count) }
                    }
                }
            }
            // Update: SGD lr 1 moves the shared table by both members' gradients.
            assertClose(table.snapshot(), zip(before, dense).map { $0 - $1 }, rtol: 1e-5, atol: 1e-6, "fused \(fused)")
            XCTAssertGreaterThan(dense.filter { $0 != 0 }.count, 0)
            results.append(table.snapshot())
        }
        XCTAssertEqual(results[0], results[1], "fusion changes the nodes, not the update")
    }
}
