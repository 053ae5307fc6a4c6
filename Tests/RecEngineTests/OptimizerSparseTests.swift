import XCTest
@testable import RecEngine
import TestSupport

/// The sparse row optimizer against the dense optimizers and against itself.
///
/// Tolerance: the sparse and dense paths share `OptimizerMath`, and the duplicate-id sums are
/// formed in sample order, so results agree to the last bit in practice; we allow rtol 1e-6 /
/// atol 1e-7 (a few float ulps) so that a different but valid vectorization cannot fail the test.
final class OptimizerSparseTests: XCTestCase {
    let rows = 50, dim = 7, columns = 3, denseWidth = 5

    private func makeTable(seed: UInt64) -> ParameterTensor {
        var rng = KernelTestRNG(seed: seed)
        let t = ParameterTensor(name: "emb", rows: rows, columns: dim)
        t.load(rng.floats(rows * dim))
        return t
    }

    private func dense(_ kind: SparseRowOptimizer.Kind, lr: Float) -> any DenseOptimizer {
        switch kind {
        case .sgd: SGD(learningRate: lr)
        case .adagrad: Adagrad(learningRate: lr)
        case .adam: Adam(learningRate: lr)
        }
    }

    /// Unique ids read from column 1 of a [batch][3] id matrix, gradients from the slice at offset
    /// dim of a [batch][3*dim + 5] buffer (the WDL deep-input layout): the touched rows equal the
    /// dense optimizer run on a compact copy of those rows; every other row is bit-identical.
    func testUniqueIdsMatchDenseOptimizerAndLeaveOtherRowsUntouched() {
        for kind in SparseRowOptimizer.Kind.allCases {
            var rng = KernelTestRNG(seed: 100)
            let table = makeTable(seed: 1)
            let initial = table.snapshot()
            let picked: [Int32] = [17, 3, 42, 0, 49, 8]
            let batch = picked.count
            let sparse = SparseRowOptimizer(table: table, kind: kind, learningRate: 0.05, maxIdsPerUpdate: batch)
            let compact = ParameterTensor(name: "compact", rows: batch, columns: dim)
            compact.load(picked.flatMap { id in initial[(Int(id) * dim)..<(Int(id) * dim + dim)] })
            let denseOpt = dense(kind, lr: 0.05)
            let gradStride = columns * dim + denseWidth
            var ids = [Int32](repeating: -5, count: batch * columns)
            for i in 0..<batch { ids[i * columns + 1] = picked[i] }
            for step in 1...3 {
                let grad = rng.floats(batch * gradStride)
                sparse.begin()
                sparse.accumulate(ids: ids, idStride: columns, column: 1, count: batch, grad: grad, gradStride: gradStride, gradOffset: dim)
                XCTAssertEqual(sparse.pendingRows, batch)
                XCTAssertEqual(sparse.apply(step: step), batch)
                XCTAssertEqual(sparse.pendingRows, 0)
                let compactGrad = (0..<batch).flatMap { i in grad[(i * gradStride + dim)..<(i * gradStride + 2 * dim)] }
                denseOpt.update(compact, gradient: compactGrad, step: step)
            }
            let after = table.snapshot()
            let expected = compact.snapshot()
            for (i, id) in picked.enumerated() {
                assertClose(after[(Int(id) * dim)..<(Int(id) * dim + dim)], expected[(i * dim)..<(i * dim + dim)],
                            rtol: 1e-6, atol: 1e-7, "\(kind) row \(id)")
                XCTAssertNotEqual(Array(after[(Int(id) * dim)..<(Int(id) * dim + dim)]),
                                  Array(initial[(Int(id) * dim)..<(Int(id) * dim + dim)]), "\(kind) row \(id) not updated")
            }
            for row in 0..<rows where !picked.contains(Int32(row)) {
                XCTAssertEqual(Array(after[(row * dim)..<(row * dim + dim)]), Array(initial[(row * dim)..<(row * dim + dim)]),
                               "\(kind) row \(row) touched")
            }
        }
    }

    /// Duplicate ids in one batch are summed first: equal to each id once with the summed gradient.
    func testDuplicateIdsAreSummed() {
        for kind in SparseRowOptimizer.Kind.allCases {
            var rng = KernelTestRNG(seed: 200)
            let ids: [Int32] = [3, 5, 3, 3, 7, 5]
            let grad = rng.floats(ids.count * dim)
            var summed: [Int32: [Float]] = [:]
            var order: [Int32] = []
            for (i, id) in ids.enumerated() {
                let row = Array(grad[(i * dim)..<(i * dim + dim)])
                if let s = summed[id] { summed[id] = zip(s, row).map { $0 + $1 } } else { summed[id] = row; order.append(id) }
            }
            let a = makeTable(seed: 2), b = makeTable(seed: 2)
            let withDuplicates = SparseRowOptimizer(table: a, kind: kind, learningRate: 0.1, maxIdsPerUpdate: 3)
            let uniqueOnce = SparseRowOptimizer(table: b, kind: kind, learningRate: 0.1, maxIdsPerUpdate: 3)
            for step in 1...2 {
                withDuplicates.begin()
                withDuplicates.accumulate(ids: ids, idStride: 1, column: 0, count: ids.count, grad: grad, gradStride: dim, gradOffset: 0)
                XCTAssertEqual(withDuplicates.apply(step: step), 3)
                uniqueOnce.begin()
                uniqueOnce.accumulate(ids: order, idStride: 1, column: 0, count: order.count, grad: order.flatMap { summed[$0]! },
                                      gradStride: dim, gradOffset: 0)
                uniqueOnce.apply(step: step)
            }
            assertClose(a.snapshot(), b.snapshot(), rtol: 1e-6, atol: 1e-7, "\(kind)")
            XCTAssertNotEqual(a.snapshot(), makeTable(seed: 2).snapshot())
        }
    }

    /// Prefetching the rows ahead changes speed only: with and without it, every rule leaves the
    /// table bit-identical, for row widths below, at and across a cache line (1, 7, 16, 33 floats)
    /// and with far more unique rows than the prefetch distance (so the prefetching path runs).
    func testPrefetchingLeavesEveryRuleBitIdentical() {
        XCTAssertGreaterThan(SparseRowOptimizer.defaultPrefetchDistance, 0)
        for kind in SparseRowOptimizer.Kind.allCases {
            for width in [1, 7, 16, 33] {
                var rng = KernelTestRNG(seed: 500 + UInt64(width))
                let tableRows = 2000, batch = 600
                let initial = rng.floats(tableRows * width)
                let a = ParameterTensor(name: "a", rows: tableRows, columns: width)
                let b = ParameterTensor(name: "b", rows: tableRows, columns: width)
                a.load(initial); b.load(initial)
                let prefetching = SparseRowOptimizer(table: a, kind: kind, learningRate: 0.03, maxIdsPerUpdate: batch)
                let plain = SparseRowOptimizer(table: b, kind: kind, learningRate: 0.03, maxIdsPerUpdate: batch, prefetchDistance: 0)
                XCTAssertEqual(prefetching.prefetchDistance, SparseRowOptimizer.defaultPrefetchDistance)
                XCTAssertEqual(plain.prefetchDistance, 0)
                for step in 1...4 {
                    let ids = (0..<batch).map { _ in Int32(rng.int(tableRows)) }
                    let grad = rng.floats(batch * width)
                    var applied: [Int] = []
                    for opt in [prefetching, plain] {
                        opt.begin()
                        opt.accumulate(ids: ids, idStride: 1, column: 0, count: batch, grad: grad, gradStride: width, gradOffset: 0)
                        applied.append(opt.apply(step: step))
                    }
                    XCTAssertEqual(applied[0], applied[1])
                    XCTAssertGreaterThan(applied[0], 4 * SparseRowOptimizer.defaultPrefetchDistance, "\(kind) width \(width)")
                }
                XCTAssertEqual(a.snapshot(), b.snapshot(), "\(kind) width \(width)")
                XCTAssertNotEqual(a.snapshot(), initial, "\(kind) width \(width)")
            }
        }
    }

    /// `accumulate` requests each sample's gradient row `gradientPrefetchDistance` samples ahead
    /// (both lines a row can span) and its companion's: a hint only, so with and without it
    /// (prefetchDistance 0) the tables and their state end bit-identical. The gradient is laid out
    /// as a step's concatenated embedding gradient (WDL's rows of 26 × 16 + 13 floats; column 5
    /// read, so most rows span two cache lines), with and without a dim-1 companion, over far more
    /// samples than the distance.
    func testGradientPrefetchLeavesAccumulateBitIdentical() {
        XCTAssertGreaterThan(SparseRowOptimizer.gradientPrefetchDistance, 0)
        let tableRows = 3000, batch = 256, width = 16, stride = 26 * 16 + 13, column = 5
        for withCompanion in [false, true] {
            var rng = KernelTestRNG(seed: 640 + (withCompanion ? 1 : 0))
            let initial = rng.floats(tableRows * width), initialWide = rng.floats(tableRows)
            let tables = (0..<2).map { ParameterTensor(name: "t\($0)", rows: tableRows, columns: width) }
            let wides = (0..<2).map { ParameterTensor(name: "w\($0)", rows: tableRows, columns: 1) }
            for t in tables { t.load(initial) }
            for t in wides { t.load(initialWide) }
            let opts = [SparseRowOptimizer.defaultPrefetchDistance, 0].enumerated().map { k, distance in
                SparseRowOptimizer(table: tables[k], kind: .adam, learningRate: 0.02, maxIdsPerUpdate: 2 * batch,
                                   prefetchDistance: distance,
                                   companion: withCompanion ? SparseRowOptimizer(table: wides[k], kind: .adagrad, learningRate: 0.05,
                                                                                 maxIdsPerUpdate: 2 * batch, prefetchDistance: distance) : nil)
            }
            for step in 1...3 {
                for opt in opts { opt.begin() }
                for _ in 0..<2 {  // two micro-batches per step
                    let ids = (0..<(batch * 26)).map { _ in Int32(rng.int(3) == 0 ? rng.int(40) : rng.int(tableRows)) }
                    let grad = rng.floats(batch * stride), wideGrad = rng.floats(batch)
                    wideGrad.withUnsafeBufferPointer { wide in
                        for opt in opts {
                            opt.accumulate(ids: ids, idStride: 26, column: column, count: batch, grad: grad, gradStride: stride,
                                           gradOffset: column * width, companionGrad: withCompanion ? wide.baseAddress : nil,
                                           companionStride: 1, companionOffset: 0)
                        }
                    }
                }
                let applied = opts.map { $0.apply(step: step) }
                XCTAssertEqual(applied[0], applied[1])
                XCTAssertGreaterThan(applied[0], 10 * SparseRowOptimizer.gradientPrefetchDistance)
            }
            let label = withCompanion ? "with a companion" : "alone"
            XCTAssertEqual(tables[0].snapshot().map(\.bitPattern), tables[1].snapshot().map(\.bitPattern), label)
            XCTAssertNotEqual(tables[0].snapshot(), initial, label)
            for (a, b) in zip(tables[0].slots, tables[1].slots) {
                XCTAssertEqual((0..<a.count).map { a.pointer[$0].bitPattern }, (0..<b.count).map { b.pointer[$0].bitPattern }, "\(label): \(a.name)")
            }
            if withCompanion {
                XCTAssertEqual(wides[0].snapshot().map(\.bitPattern), wides[1].snapshot().map(\.bitPattern))
                XCTAssertNotEqual(wides[0].snapshot(), initialWide)
            }
        }
    }

    /// `accumulateBags` requests the ids' positions (direct) or hash slots `BagKernels.bagPrefetchDistance`
    /// samples ahead: a hint only, so with and without it (prefetchDistance 0) the tables end
    /// bit-identical, for direct positions and the hash table, sum and mean, with bags of 0…12 ids
    /// over far more samples than the distance.
    func testBagPrefetchingLeavesTheTablesBitIdentical() {
        XCTAssertGreaterThan(BagKernels.bagPrefetchDistance, 0)
        let tableRows = 10_000, width = 16, batch = 200
        var rng = KernelTestRNG(seed: 620)
        let initial = rng.floats(tableRows * width)
        for combiner in [BagCombiner.sum, .mean] {
            // (direct, prefetching), (direct, plain), (hashed, prefetching), (hashed, plain)
            let setups = [(10_000, SparseRowOptimizer.defaultPrefetchDistance), (10_000, 0), (2400, SparseRowOptimizer.defaultPrefetchDistance), (2400, 0)]
            let tables = setups.indices.map { ParameterTensor(name: "t\($0)", rows: tableRows, columns: width) }
            for t in tables { t.load(initial) }
            let opts = zip(tables, setups).map { t, s in
                SparseRowOptimizer(table: t, kind: .adam, learningRate: 0.02, maxIdsPerUpdate: s.0, prefetchDistance: s.1)
            }
            XCTAssertEqual(opts.map(\.indexesDirectly), [true, true, false, false])
            for step in 1...3 {
                var bagIds: [Int32] = [], starts: [Int32] = [], counts: [Int32] = []
                for _ in 0..<batch {
                    let n = rng.int(13)
                    starts.append(Int32(bagIds.count)); counts.append(Int32(n))
                    for _ in 0..<n { bagIds.append(Int32(rng.int(3) == 0 ? rng.int(20) : rng.int(tableRows))) }
                }
                let grad = rng.floats(batch * width)
                let applied = opts.map { opt in
                    opt.begin()
                    bagIds.withUnsafeBufferPointer { i in starts.withUnsafeBufferPointer { s in counts.withUnsafeBufferPointer { c in
                        opt.accumulateBags(BagView(ids: i.baseAddress!, start: s.baseAddress!, count: c.baseAddress!, stride: 1, slot: 0),
                                           count: batch, combiner: combiner, grad: grad, gradStride: width, gradOffset: 0)
                    } } }
                    return opt.apply(step: step)
                }
                XCTAssertEqual(Set(applied).count, 1, "\(combiner) step \(step): \(applied)")
                XCTAssertGreaterThan(applied[0], 500)
            }
            let bits = tables.map { $0.snapshot().map(\.bitPattern) }
            for k in 1..<bits.count { XCTAssertEqual(bits[k], bits[0], "\(combiner): setup \(k) against direct with prefetching") }
            XCTAssertNotEqual(tables[0].snapshot(), initial)
        }
    }

    /// Two micro-batches accumulated before one apply equal the concatenated batch accumulated once.
    func testMicroBatchAccumulationEqualsFullBatch() {
        for kind in SparseRowOptimizer.Kind.allCases {
            var rng = KernelTestRNG(seed: 300)
            let half = 40
            let ids = (0..<(2 * half)).map { _ in Int32(rng.int(rows)) }  // overlapping ids across halves
            let grad = rng.floats(2 * half * dim)
            let a = makeTable(seed: 3), b = makeTable(seed: 3)
            let micro = SparseRowOptimizer(table: a, kind: kind, learningRate: 0.02, maxIdsPerUpdate: 2 * half)
            let full = SparseRowOptimizer(table: b, kind: kind, learningRate: 0.02, maxIdsPerUpdate: 2 * half)
            for step in 1...3 {
                micro.begin()
                ids.withUnsafeBufferPointer { idp in
                    grad.withUnsafeBufferPointer { gp in
                        micro.accumulate(ids: idp.baseAddress!, idStride: 1, column: 0, count: half,
                                         grad: gp.baseAddress!, gradStride: dim, gradOffset: 0)
                        micro.accumulate(ids: idp.baseAddress! + half, idStride: 1, column: 0, count: half,
                                         grad: gp.baseAddress! + half * dim, gradStride: dim, gradOffset: 0)
                    }
                }
                micro.apply(step: step)
                full.begin()
                full.accumulate(ids: ids, idStride: 1, column: 0, count: 2 * half, grad: grad, gradStride: dim, gradOffset: 0)
                full.apply(step: step)
            }
            assertClose(a.snapshot(), b.snapshot(), rtol: 1e-6, atol: 1e-7, "\(kind)")
        }
    }

    /// Many colliding ids in a large table: the per-row sums equal a dictionary reference (SGD with
    /// lr 1 turns the table delta into the summed gradient), across several reuse cycles of the hash.
    func testHashTableAgainstDictionaryReference() {
        var rng = KernelTestRNG(seed: 400)
        let bigRows = 100_000, count = 3000
        let table = ParameterTensor(name: "wide", rows: bigRows, columns: 1)
        let opt = SparseRowOptimizer(table: table, kind: .sgd, learningRate: 1, maxIdsPerUpdate: count)
        for step in 1...3 {
            let before = table.snapshot()
            // Zipf-ish: a few hot ids repeated often, plus a long tail.
            let ids = (0..<count).map { _ in Int32(rng.int(4) == 0 ? rng.int(20) : rng.int(bigRows)) }
            let grad = (0..<count).map { _ in Float(rng.int(9) - 4) }  // small integers: sums are exact in float
            var reference: [Int32: Float] = [:]
            for (id, g) in zip(ids, grad) { reference[id, default: 0] += g }
            opt.begin()
            opt.accumulate(ids: ids, idStride: 1, column: 0, count: count, grad: grad, gradStride: 1, gradOffset: 0)
            XCTAssertEqual(opt.apply(step: step), reference.count)
            let after = table.snapshot()
            for row in 0..<bigRows {
                let expectedDelta = -(reference[Int32(row)] ?? 0)
                if after[row] - before[row] != expectedDelta {
                    XCTFail("step \(step) row \(row): delta \(after[row] - before[row]), expected \(expectedDelta)")
                    return
                }
            }
        }
    }

    /// Ids indexing their positions directly (a table of at most as many rows as the hash table
    /// would have slots, as the contest tables) and through the hash table give the same bits:
    /// single ids and bags (weighted rows), duplicates within and across micro-batches, Adam, three
    /// steps; and `begin` forgets an unapplied gradient in both.
    func testDirectPositionsEqualTheHashTableBitForBit() {
        let tableRows = 1000, width = 4, batch = 60
        var rng = KernelTestRNG(seed: 410)
        let values = rng.floats(tableRows * width)
        let directTable = ParameterTensor(name: "direct", rows: tableRows, columns: width)
        let hashedTable = ParameterTensor(name: "hashed", rows: tableRows, columns: width)
        directTable.load(values)
        hashedTable.load(values)
        let direct = SparseRowOptimizer(table: directTable, kind: .adam, learningRate: 0.05, maxIdsPerUpdate: 600)
        let hashed = SparseRowOptimizer(table: hashedTable, kind: .adam, learningRate: 0.05, maxIdsPerUpdate: 250)
        XCTAssertTrue(direct.indexesDirectly)
        XCTAssertFalse(hashed.indexesDirectly)
        // Bags of 0…3 ids per sample.
        var bagIds: [Int32] = [], starts: [Int32] = [], counts: [Int32] = []
        for _ in 0..<batch {
            let n = rng.int(4)
            starts.append(Int32(bagIds.count)); counts.append(Int32(n))
            for _ in 0..<n { bagIds.append(Int32(rng.int(4) == 0 ? rng.int(5) : rng.int(tableRows))) }
        }
        for step in 1...3 {
            let ids = (0..<batch).map { _ in Int32(rng.int(3) == 0 ? rng.int(8) : rng.int(tableRows)) }
            let grads = (0..<2).map { _ in rng.floats(batch * width) }
            let bagGrad = rng.floats(batch * width)
            for opt in [direct, hashed] {
                opt.accumulate(ids: ids, idStride: 1, column: 0, count: batch, grad: grads[0], gradStride: width, gradOffset: 0)
                opt.begin()  // forgets the gradient just accumulated
                for g in grads {
                    opt.accumulate(ids: ids, idStride: 1, column: 0, count: batch, grad: g, gradStride: width, gradOffset: 0)
                }
                bagIds.withUnsafeBufferPointer { i in starts.withUnsafeBufferPointer { s in counts.withUnsafeBufferPointer { c in
                    opt.accumulateBags(BagView(ids: i.baseAddress!, start: s.baseAddress!, count: c.baseAddress!, stride: 1, slot: 0),
                                       count: batch, combiner: .mean, grad: bagGrad, gradStride: width, gradOffset: 0)
                } } }
            }
            XCTAssertEqual(direct.pendingRows, hashed.pendingRows)
            XCTAssertEqual(direct.apply(step: step), hashed.apply(step: step))
            XCTAssertEqual(directTable.snapshot().map(\.bitPattern), hashedTable.snapshot().map(\.bitPattern), "step \(step)")
        }
        XCTAssertNotEqual(directTable.snapshot(), values)
    }

    func testBeginDiscardsUnappliedGradient() {
        let table = makeTable(seed: 4)
        let initial = table.snapshot()
        let opt = SparseRowOptimizer(table: table, kind: .adam, learningRate: 0.1, maxIdsPerUpdate: 4)
        let ids: [Int32] = [1, 2]
        let grad = [Float](repeating: 1, count: 2 * dim)
        opt.accumulate(ids: ids, idStride: 1, column: 0, count: 2, grad: grad, gradStride: dim, gradOffset: 0)
        opt.begin()
        XCTAssertEqual(opt.pendingRows, 0)
        XCTAssertEqual(opt.apply(step: 1), 0)
        XCTAssertEqual(table.snapshot(), initial)
    }

    /// A companion table (WDL's wide, DeepFM's first-order weights) riding on a host's update:
    /// both tables, and both tables' optimizer state, end bit-identical to each updated by its
    /// own optimizer, for every pair of rules, companion widths 1 and 3, duplicate ids, two
    /// micro-batches per step and gradients read with a stride (the wide part's logit gradient).
    func testCompanionRidingOnHostEqualsUpdatingEachOnItsOwn() {
        for hostKind in SparseRowOptimizer.Kind.allCases {
            for companionKind in SparseRowOptimizer.Kind.allCases {
                for companionWidth in [1, 3] {
                    var rng = KernelTestRNG(seed: 900 + UInt64(companionWidth))
                    let tableRows = 120, batch = 96, micro = 2, hostWidth = 16
                    func pair(_ width: Int) -> (ParameterTensor, ParameterTensor) {
                        let initial = rng.floats(tableRows * width)
                        let a = ParameterTensor(name: "a", rows: tableRows, columns: width)
                        let b = ParameterTensor(name: "b", rows: tableRows, columns: width)
                        a.load(initial); b.load(initial)
                        return (a, b)
                    }
                    let (host, hostAlone) = pair(hostWidth)
                    let (rider, riderAlone) = pair(companionWidth)
                    let riding = SparseRowOptimizer(table: rider, kind: companionKind, learningRate: 0.05, maxIdsPerUpdate: batch * micro)
                    let hosting = SparseRowOptimizer(table: host, kind: hostKind, learningRate: 0.01, maxIdsPerUpdate: batch * micro,
                                                     companion: riding)
                    let separateHost = SparseRowOptimizer(table: hostAlone, kind: hostKind, learningRate: 0.01, maxIdsPerUpdate: batch * micro)
                    let separateRider = SparseRowOptimizer(table: riderAlone, kind: companionKind, learningRate: 0.05,
                                                           maxIdsPerUpdate: batch * micro)
                    let initialRider = rider.snapshot()
                    for step in 1...3 {
                        hosting.begin(); separateHost.begin(); separateRider.begin()
                        for _ in 0..<micro {
                            // Two id columns; column 1 is read. A few hot ids, so duplicates are common.
                            let ids = (0..<(batch * 2)).map { _ in Int32(rng.int(4) == 0 ? rng.int(5) : rng.int(tableRows)) }
                            let hostGrad = rng.floats(batch * hostWidth)
                            let riderGrad = rng.floats(batch * (companionWidth + 2))  // stride companionWidth + 2, offset 1
                            hosting.accumulate(ids: ids, idStride: 2, column: 1, count: batch, grad: hostGrad, gradStride: hostWidth,
                                               gradOffset: 0, companionGrad: riderGrad, companionStride: companionWidth + 2, companionOffset: 1)
                            separateHost.accumulate(ids: ids, idStride: 2, column: 1, count: batch, grad: hostGrad, gradStride: hostWidth,
                                                    gradOffset: 0)
                            separateRider.accumulate(ids: ids, idStride: 2, column: 1, count: batch, grad: riderGrad,
                                                     gradStride: companionWidth + 2, gradOffset: 1)
                        }
                        XCTAssertEqual(riding.pendingRows, 0, "the companion's own table stays empty")
                        let applied = hosting.apply(step: step)
                        XCTAssertEqual(applied, separateHost.apply(step: step))
                        XCTAssertEqual(applied, separateRider.apply(step: step))
                    }
                    let label = "host \(hostKind), companion \(companionKind) width \(companionWidth)"
                    XCTAssertEqual(host.snapshot().map(\.bitPattern), hostAlone.snapshot().map(\.bitPattern), label)
                    XCTAssertEqual(rider.snapshot().map(\.bitPattern), riderAlone.snapshot().map(\.bitPattern), label)
                    XCTAssertNotEqual(rider.snapshot(), initialRider, label)
                    for (a, b) in zip(host.slots + rider.slots, hostAlone.slots + riderAlone.slots) {
                        XCTAssertEqual(a.name, b.name)
                        XCTAssertEqual((0..<a.count).map { a.pointer[$0].bitPattern }, (0..<b.count).map { b.pointer[$0].bitPattern },
                                       "\(label): slot \(a.name)")
                    }
                }
            }
        }
    }
}
