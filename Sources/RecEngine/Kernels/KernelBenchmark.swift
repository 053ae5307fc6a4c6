import Glibc

/// Micro-benchmarks of the Swift kernels at the engine's default shapes (26 categorical columns,
/// embedding dim 16, 10,000-row tables, batch 512). For `rectune bench` and for tuning; never
/// used by tests to assert anything.
public enum KernelBenchmark {
    /// One measured kernel: the median over repetitions of one call on a whole batch.
    public struct Timing: Sendable {
        /// What was measured, e.g. "gather 26×16".
        public let name: String
        /// Median nanoseconds per call (one whole batch).
        public let nsPerCall: Double
        /// `nsPerCall / batch`.
        public let nsPerSample: Double
    }

    /// Runs every kernel `repetitions` times (after one warm-up call) and returns the medians.
    public static func run(batch: Int = 512, columns: Int = 26, dim: Int = 16, rows: Int = 10_000,
                           repetitions: Int = 200) -> [Timing] {
        var rng = SplitMix64(seed: 0x5EED)
        func random() -> UInt64 { rng.next() }
        func uniform() -> Float { rng.uniform(-0.5, 0.5) }
        /// Skewed ids: half the draws from the 1% hottest rows, like a Zipf-ish categorical column.
        func skewedId() -> Int32 { Int32(random() & 1 == 0 ? Int(random() % UInt64(max(rows / 100, 1))) : Int(random() % UInt64(rows))) }

        let tables = (0..<columns).map { c in ParameterTensor(name: "bench.emb\(c)", rows: rows, columns: dim) }
        for t in tables { for k in 0..<t.count { t.values[k] = uniform() * 0.1 } }
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: batch * columns)
        for k in 0..<(batch * columns) { ids[k] = skewedId() }
        let width = columns * dim + 13
        let deep = UnsafeMutablePointer<Float>.allocate(capacity: batch * width)
        let gradDeep = UnsafeMutablePointer<Float>.allocate(capacity: batch * width)
        for k in 0..<(batch * width) { deep[k] = uniform(); gradDeep[k] = uniform() * 0.01 }
        let bottom = UnsafeMutablePointer<Float>.allocate(capacity: batch * dim)
        let gradBottom = UnsafeMutablePointer<Float>.allocate(capacity: batch * dim)
        for k in 0..<(batch * dim) { bottom[k] = uniform() }
        let interWidth = InteractionKernels.outputWidth(fields: columns, dim: dim)
        let inter = UnsafeMutablePointer<Float>.allocate(capacity: batch * interWidth)
        let gradInter = UnsafeMutablePointer<Float>.allocate(capacity: batch * interWidth)
        for k in 0..<(batch * interWidth) { gradInter[k] = uniform() * 0.01 }
        let vec = UnsafeMutablePointer<Float>.allocate(capacity: batch * 3)
        for k in 0..<batch { vec[k] = uniform() * 8; vec[batch + k] = Float(random() & 1) }
        defer {
            ids.deallocate(); deep.deallocate(); gradDeep.deallocate(); bottom.deallocate(); gradBottom.deallocate()
            inter.deallocate(); gradInter.deallocate(); vec.deallocate()
        }
        let sparse = tables.map { SparseRowOptimizer(table: $0, kind: .adam, learningRate: 0.001, maxIdsPerUpdate: batch) }
        let denseWeights = ParameterTensor(name: "bench.fc", rows: 1024, columns: width)
        let denseGrad = UnsafeMutablePointer<Float>.allocate(capacity: denseWeights.count)
        defer { denseGrad.deallocate() }
        for k in 0..<denseWeights.count { denseGrad[k] = uniform() * 0.01 }
        let adam = Adam(learningRate: 0.001)
        adam.register(denseWeights)

        var results: [Timing] = []
        func measure(_ name: String, setup: () -> Void = {}, _ body: () -> Void) {
            setup()
            body()
            var samples = [Double](repeating: 0, count: repetitions)
            for r in 0..<repetitions {
                setup()
                let start = now()
                body()
                samples[r] = now() - start
            }
            samples.sort()
            let median = samples[repetitions / 2]
            results.append(Timing(name: name, nsPerCall: median, nsPerSample: median / Double(batch)))
        }

        measure("gather \(columns) cols × dim \(dim)") {
            for c in 0..<columns {
                EmbeddingKernels.gather(table: tables[c].values, rows: rows, dim: dim, ids: ids, idStride: columns, column: c,
                                        batch: batch, out: deep, outStride: width, outOffset: c * dim)
            }
        }
        measure("FM forward \(columns)×\(dim)") {
            FMKernels.forward(x: deep, stride: width, offset: 0, fields: columns, dim: dim, batch: batch, out: vec + 2 * batch)
        }
        measure("FM backward \(columns)×\(dim)") {
            FMKernels.backward(x: deep, stride: width, offset: 0, fields: columns, dim: dim, batch: batch, gradOut: vec,
                               gradX: gradDeep, gradStride: width, gradOffset: 0)
        }
        measure("interaction forward \(columns + 1) vectors × \(dim)") {
            InteractionKernels.forward(bottom: bottom, emb: deep, embStride: width, embOffset: 0, fields: columns, dim: dim,
                                       batch: batch, out: inter, outStride: interWidth)
        }
        measure("interaction backward \(columns + 1) vectors × \(dim)") {
            InteractionKernels.backward(bottom: bottom, emb: deep, embStride: width, embOffset: 0, fields: columns, dim: dim,
                                        batch: batch, gradOut: gradInter, gradOutStride: interWidth, gradBottom: gradBottom,
                                        gradEmb: gradDeep, gradEmbStride: width, gradEmbOffset: 0)
        }
        /// Starts an update of every table and accumulates one batch of `batchIds` into it.
        func accumulate(_ optimizers: [SparseRowOptimizer], _ batchIds: UnsafePointer<Int32>) {
            for c in 0..<columns {
                optimizers[c].begin()
                optimizers[c].accumulate(ids: batchIds, idStride: columns, column: c, count: batch,
                                         grad: gradDeep, gradStride: width, gradOffset: c * dim)
            }
        }
        func accumulateAll() { accumulate(sparse, ids) }
        measure("sparse accumulate \(columns) tables × \(batch) ids", accumulateAll)
        var step = 0
        measure("sparse Adam apply \(columns) tables × \(batch) ids", setup: accumulateAll) {
            step += 1
            for c in 0..<columns { sparse[c].apply(step: step) }
        }
        // Training draws new ids every step, so most rows (table, m and v) are not in cache: a pool
        // of batches larger than the caches, one batch per call, with and without prefetching.
        let freshBatches = 48
        let freshIds = UnsafeMutablePointer<Int32>.allocate(capacity: freshBatches * batch * columns)
        defer { freshIds.deallocate() }
        for k in 0..<(freshBatches * batch * columns) { freshIds[k] = skewedId() }
        // The default distance, then the others for comparison (the best distance depends on the
        // core's miss buffers and the host's page walks).
        let distances = [SparseRowOptimizer.defaultPrefetchDistance] + [0, 8, 16, 64].filter { $0 != SparseRowOptimizer.defaultPrefetchDistance }
        for distance in distances {
            let optimizers = distance == SparseRowOptimizer.defaultPrefetchDistance ? sparse : tables.map {
                SparseRowOptimizer(table: $0, kind: .adam, learningRate: 0.001, maxIdsPerUpdate: batch, prefetchDistance: distance)
            }
            let label = distance == 0 ? "no prefetch" : "prefetch \(distance) rows"
            var call = 0
            measure("sparse Adam apply, fresh ids, \(label)", setup: {
                call += 1
                accumulate(optimizers, freshIds + (call % freshBatches) * batch * columns)
            }) {
                for c in 0..<columns { optimizers[c].apply(step: call) }
            }
        }
        var accumulateCall = 0
        measure("sparse accumulate \(columns) tables × \(batch) ids, fresh ids") {
            accumulateCall += 1
            accumulate(sparse, freshIds + (accumulateCall % freshBatches) * batch * columns)
        }
        // What one update node does per step: accumulate a batch of fresh ids, then apply.
        var updateCall = 0
        measure("sparse accumulate + Adam apply, fresh ids") {
            updateCall += 1
            accumulate(sparse, freshIds + (updateCall % freshBatches) * batch * columns)
            for c in 0..<columns { sparse[c].apply(step: updateCall) }
        }
        // The gathers with fresh ids per call (as in training: the rows are mostly cache misses).
        var gatherCall = 0
        measure("gather \(columns) cols × dim \(dim), fresh ids") {
            gatherCall += 1
            let batchIds = freshIds + (gatherCall % freshBatches) * batch * columns
            for c in 0..<columns {
                EmbeddingKernels.gather(table: tables[c].values, rows: rows, dim: dim, ids: batchIds, idStride: columns, column: c,
                                        batch: batch, out: deep, outStride: width, outOffset: c * dim)
            }
        }
        // WDL's wide part and DeepFM's first order: a dim-1 table per column, each column's row
        // gradient the sample's logit gradient (gradient stride 1, the same for every column),
        // fresh ids per call as in training.
        let wideTables = (0..<columns).map { c in ParameterTensor(name: "bench.wide\(c)", rows: rows, columns: 1) }
        for t in wideTables { for k in 0..<t.count { t.values[k] = uniform() * 0.01 } }
        let wideSparse = wideTables.map { SparseRowOptimizer(table: $0, kind: .adam, learningRate: 0.001, maxIdsPerUpdate: batch) }
        measure("gather \(columns) cols × dim 1") {
            for c in 0..<columns {
                EmbeddingKernels.gather(table: wideTables[c].values, rows: rows, dim: 1, ids: ids, idStride: columns, column: c,
                                        batch: batch, out: deep, outStride: columns, outOffset: c)
            }
        }
        measure("gather \(columns) cols × dim 1, then sum the row") {
            for c in 0..<columns {
                EmbeddingKernels.gather(table: wideTables[c].values, rows: rows, dim: 1, ids: ids, idStride: columns, column: c,
                                        batch: batch, out: deep, outStride: columns, outOffset: c)
            }
            VectorKernels.sumRows(x: deep, stride: columns, offset: 0, width: columns, batch: batch, out: vec + 2 * batch, accumulate: false)
        }
        let widePointers = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: columns)
        let wideRows = UnsafeMutablePointer<Int>.allocate(capacity: columns)
        defer { widePointers.deallocate(); wideRows.deallocate() }
        for c in 0..<columns { widePointers[c] = UnsafePointer(wideTables[c].values); wideRows[c] = rows }
        measure("gather-sum \(columns) dim-1 tables (one pass)") {
            EmbeddingKernels.gatherSum(tables: widePointers, rows: wideRows, columns: columns, ids: ids, idStride: columns, batch: batch,
                                       out: vec + 2 * batch)
        }
        // Fresh ids per call. Here the 26 small tables stay in this core's L2, so the prefetch
        // shows its cost; in a step the products evict them and it halves the node (see
        // `gatherSumPrefetchDistance`).
        for distance in [0, EmbeddingKernels.gatherSumPrefetchDistance] {
            var call = 0
            let label = distance == 0 ? "no prefetch" : "prefetch \(distance) samples"
            measure("gather-sum \(columns) dim-1 tables, fresh ids, \(label)") {
                call += 1
                EmbeddingKernels.gatherSum(tables: widePointers, rows: wideRows, columns: columns,
                                           ids: freshIds + (call % freshBatches) * batch * columns, idStride: columns, batch: batch,
                                           out: vec + 2 * batch, prefetchDistance: distance)
            }
        }
        func accumulateWide(_ batchIds: UnsafePointer<Int32>) {
            for c in 0..<columns {
                wideSparse[c].begin()
                wideSparse[c].accumulate(ids: batchIds, idStride: columns, column: c, count: batch, grad: vec, gradStride: 1, gradOffset: 0)
            }
        }
        var wideCall = 0
        measure("sparse accumulate \(columns) dim-1 tables × \(batch) ids, fresh ids") {
            wideCall += 1
            accumulateWide(freshIds + (wideCall % freshBatches) * batch * columns)
        }
        measure("sparse Adam apply \(columns) dim-1 tables, fresh ids", setup: {
            wideCall += 1
            accumulateWide(freshIds + (wideCall % freshBatches) * batch * columns)
        }) {
            for c in 0..<columns { wideSparse[c].apply(step: wideCall) }
        }
        measure("sigmoid cross-entropy") {
            _ = LossKernels.sigmoidCrossEntropy(logits: vec, labels: vec + batch, batch: batch, gradScale: 1 / Float(batch),
                                                gradLogits: vec + 2 * batch)
        }
        var denseStep = 0
        measure("dense Adam 1024×\(width) weights") {
            denseStep += 1
            adam.update(denseWeights, gradient: denseGrad, step: denseStep)
        }
        // Two micro-batches' weight gradients: summed into the first, then updated (the engine
        // before), against Adam reading both in its pass.
        let secondGrad = UnsafeMutablePointer<Float>.allocate(capacity: denseWeights.count)
        let summedGrad = UnsafeMutablePointer<Float>.allocate(capacity: denseWeights.count)
        defer { secondGrad.deallocate(); summedGrad.deallocate() }
        for k in 0..<denseWeights.count { secondGrad[k] = uniform() * 0.01 }
        measure("dense Adam 1024×\(width), 2 gradients: sum, then update", setup: {
            summedGrad.update(from: denseGrad, count: denseWeights.count)
        }) {
            denseStep += 1
            VectorKernels.accumulate(secondGrad, into: summedGrad, count: denseWeights.count)
            adam.update(denseWeights, gradient: summedGrad, step: denseStep)
        }
        measure("dense Adam 1024×\(width), 2 gradients in one pass") {
            denseStep += 1
            adam.update(denseWeights, gradient: summedGrad, plus: secondGrad, step: denseStep)
        }
        // SGD (a plain loop LLVM vectorizes) and Adagrad: its 4-lane pass and, in the same run, its
        // scalar definition (the loop the engine ran before), so the ratio is measured on one host at one moment.
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: denseWeights.count)
        accumulator.initialize(repeating: 0.1, count: denseWeights.count)
        defer { accumulator.deallocate() }
        let n = denseWeights.count
        measure("dense SGD 1024×\(width) weights") { OptimizerMath.sgd(denseWeights.values, denseGrad, n, lr: 1e-6) }
        measure("dense Adagrad 1024×\(width) weights") {
            OptimizerMath.adagrad(denseWeights.values, denseGrad, accumulator, n, lr: 1e-6, epsilon: 1e-7)
        }
        measure("dense Adagrad 1024×\(width), scalar loop") {
            OptimizerMath.adagradScalar(denseWeights.values, denseGrad, accumulator, n, lr: 1e-6, epsilon: 1e-7)
        }
        // bf16: the conversion of a layer's input or output gradient before its products (batch ×
        // 512 floats: one 256-row micro-batch of WDL's widest layer, 1024), and the refresh of the
        // bf16 weight copy after an update by the engine's pass and by oneDNN's reorder, same run.
        let activations = UnsafeMutablePointer<Float>.allocate(capacity: batch * 512)
        let lowActivations = AlignedBuffer(bytes: batch * 512 * 2)
        defer { activations.deallocate() }
        for k in 0..<(batch * 512) { activations[k] = uniform() }
        measure("bf16 convert \(batch)×512 activations") {
            BF16Kernels.convert(activations, to: lowActivations.pointer, count: batch * 512)
        }
        if let context = try? DNNLContext(workers: 1),
           let layer = try? DenseLayer(name: "bench.refresh", inputs: width, outputs: 1024, relu: true, precision: .bf16,
                                       context: context, seed: 1) {
            let how = layer.refreshesLowPrecisionByPairs ? "engine pass" : "oneDNN reorder (layouts not paired)"
            measure("bf16 weight refresh 1024×\(width), \(how)") { layer.refreshWeightCopy() }
            measure("bf16 weight refresh 1024×\(width), oneDNN reorder") { layer.refreshWeightCopyWithReorder() }
            // A bf16 layer's whole update: Adam, then the refresh as a second pass over the master,
            // against the refresh riding on Adam's pass (each row pair converted as it is written).
            let layerAdam = Adam(learningRate: 1e-6)
            layerAdam.register(layer.weights)
            let whole = layer.updatePieces(maximum: 1)[0], count = layer.weightGradientCount
            let layerGrad = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { layerGrad.deallocate() }
            for k in 0..<count { layerGrad[k] = uniform() * 0.01 }
            measure("bf16 layer 1024×\(width): Adam, then refresh") {
                layerAdam.update(layer.weights, gradient: layerGrad, plus: nil, elements: whole.elements, step: 1)
                layer.refreshWeightCopy(piece: whole)
            }
            let riding = layer.update(whole, optimizer: layerAdam, gradient: layerGrad, plus: nil, step: 1)
            measure("bf16 layer 1024×\(width): refresh riding on Adam\(riding ? "" : " (not taken: layouts not paired)")") {
                layer.update(whole, optimizer: layerAdam, gradient: layerGrad, plus: nil, step: 1)
            }
        }
        // The same memory traffic as Adam (read θ, g, m, v; write θ, m, v) with trivial arithmetic:
        // what the update would cost if it were bound by memory bandwidth alone.
        let m = UnsafeMutablePointer<Float>.allocate(capacity: denseWeights.count)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: denseWeights.count)
        m.initialize(repeating: 0, count: denseWeights.count)
        v.initialize(repeating: 0, count: denseWeights.count)
        defer { m.deallocate(); v.deallocate() }
        measure("bandwidth reference, Adam's traffic 1024×\(width)") {
            let theta = denseWeights.values, n = denseWeights.count
            for k in 0..<n {
                let gk = denseGrad[k]
                m[k] += gk
                v[k] += gk
                theta[k] -= gk
            }
        }
        return results
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }
}
