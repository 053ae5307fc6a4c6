import Glibc
import Synchronization

/// Throughput of the dense layer's three products, measured on the calling thread (printing-free:
/// the CLI prints). FLOPs per product are `2·batch·inputs·outputs`; bf16 timings include the
/// fp32→bf16 activation reorders the layer performs, because training pays for them too.
public enum DenseBenchmark {
    /// A layer shape.
    public struct Shape: Sendable, Hashable, CustomStringConvertible {
        public let inputs: Int
        public let outputs: Int
        /// Creates `inputs→outputs`.
        public init(_ inputs: Int, _ outputs: Int) {
            self.inputs = inputs
            self.outputs = outputs
        }
        /// `inputs→outputs`.
        public var description: String { "\(inputs)→\(outputs)" }
    }

    /// One shape's result.
    public struct Result: Sendable {
        public let shape: Shape
        public let batch: Int
        public let precision: Precision
        public let threads: Int
        /// Median GFLOP/s over the timed iterations.
        public let forwardGFLOPS: Double
        public let backwardDataGFLOPS: Double
        public let backwardWeightsGFLOPS: Double
        /// Best (fastest-iteration) GFLOP/s: what the kernels reach when the machine is not
        /// contended; compare with the median to see scheduling noise on shared hosts.
        public let bestForwardGFLOPS: Double
        public let bestBackwardDataGFLOPS: Double
        public let bestBackwardWeightsGFLOPS: Double
        /// Implementations oneDNN chose.
        public let profile: DenseLayerProfile
    }

    /// WDL's deep tower (the shapes the ~300 GFLOP/s figure refers to).
    public static let wdlShapes = [Shape(429, 1024), Shape(1024, 512), Shape(512, 256)]

    /// Times forward, backward-data and backward-weights of a ReLU layer per shape.
    /// - Parameters:
    ///   - threads: OpenMP threads for the calling thread (`omp_set_num_threads`).
    ///   - iterations: timed calls per product (after 3 warm-up calls); median and best are reported.
    ///   - packedWeightGradient: the engine's kernels where they apply, as in training (bf16
    ///     backward-weights by `PackedWeightGradient`, one-output layers by `SingleOutputKernel`),
    ///     and only the shapes they apply to are timed (the others would time the primitives
    ///     again); false (the default, and the host rates below): oneDNN's primitives, so the
    ///     roofline measures the host, not the engine.
    /// - Throws: `DNNLError` if a primitive cannot be created.
    public static func run(shapes: [Shape] = wdlShapes, batch: Int = 512, precision: Precision,
                           iterations: Int = 50, threads: Int = 2, packedWeightGradient: Bool = false) throws -> [Result] {
        dnnlRequire(iterations >= 1, "iterations must be >= 1, got \(iterations)")
        let context = try DNNLContext(workers: 1)
        context.setIntraOpThreads(threads)
        var results: [Result] = []
        for (index, shape) in shapes.enumerated() {
            let rig = try LayerRig(shape: shape, index: index, batch: batch, precision: precision, context: context,
                                   packedWeightGradient: packedWeightGradient)
            let profile = rig.layer.implementationNames(batch: batch)!
            // Both engine kernels name backward-weights "engine …".
            if packedWeightGradient && !profile.backwardWeights.hasPrefix("engine") { continue }
            let flops = rig.flops
            let fwd = timeSeconds(iterations) { rig.forward() }
            let bwdData = timeSeconds(iterations) { rig.backwardData() }
            let bwdWeights = timeSeconds(iterations) { rig.backwardWeights() }
            results.append(Result(shape: shape, batch: batch, precision: precision, threads: threads,
                                  forwardGFLOPS: flops / fwd.median / 1e9,
                                  backwardDataGFLOPS: flops / bwdData.median / 1e9,
                                  backwardWeightsGFLOPS: flops / bwdWeights.median / 1e9,
                                  bestForwardGFLOPS: flops / fwd.best / 1e9,
                                  bestBackwardDataGFLOPS: flops / bwdData.best / 1e9,
                                  bestBackwardWeightsGFLOPS: flops / bwdWeights.best / 1e9,
                                  profile: profile))
        }
        return results
    }

    /// The host's dense GEMM rate on one thread (GFLOP/s): all FLOPs of forward, backward-data and
    /// backward-weights over `shapes`, divided by the sum of their median times. What one core
    /// delivers to a model's dense layers, for the roofline of `rectune bench`.
    public static func hostRate(shapes: [Shape] = wdlShapes, batch: Int = 512, precision: Precision,
                                iterations: Int = 20) throws -> Double {
        var flops = 0.0, seconds = 0.0
        for r in try run(shapes: shapes, batch: batch, precision: precision, iterations: iterations, threads: 1) {
            let f = 2.0 * Double(batch) * Double(r.shape.inputs) * Double(r.shape.outputs)
            flops += 3 * f
            seconds += f / (r.forwardGFLOPS * 1e9) + f / (r.backwardDataGFLOPS * 1e9) + f / (r.backwardWeightsGFLOPS * 1e9)
        }
        return flops / seconds / 1e9
    }

    /// The GEMM rate of every one of `threads` cores while all of them run dense products at once
    /// (GFLOP/s per thread, in thread order). Each thread has its own oneDNN context and its own
    /// layers of `shapes`, runs on one OpenMP thread, and repeats rounds (forward, backward-data and
    /// backward-weights of every shape) for `seconds` of wall time, all threads starting together
    /// and stopping together, so the rounds overlap throughout. With `threads: 1` it is the rate of
    /// one core alone, measured the same way. Why: the roofline multiplies one core's rate by the
    /// cores, which holds only if the cores do not share what a GEMM needs (the FMA units of SMT
    /// siblings, memory bandwidth, a host's other tenants); this measures what they deliver together.
    /// - Throws: `DNNLError` if a primitive cannot be created.
    public static func concurrentRate(threads: Int, shapes: [Shape] = wdlShapes, batch: Int = 512,
                                      precision: Precision, seconds: Double = 1.5) throws -> [Double] {
        dnnlRequire(threads >= 1, "threads must be >= 1, got \(threads)")
        dnnlRequire(seconds > 0, "seconds must be positive, got \(seconds)")
        let shared = ConcurrentRun()
        let body: @Sendable (Int) -> Void = { t in
            let outcome = Swift.Result<Double, any Error> {
                let context = try DNNLContext(workers: 1)
                context.setIntraOpThreads(1)
                let rigs = try shapes.enumerated().map {
                    try LayerRig(shape: $0.element, index: $0.offset, batch: batch, precision: precision, context: context)
                }
                let round = { for rig in rigs { rig.forward(); rig.backwardData(); rig.backwardWeights() } }
                round()
                round()
                shared.ready.add(1, ordering: .acquiringAndReleasing)
                while shared.ready.load(ordering: .acquiring) < threads { sched_yield() }
                var rounds = 0
                let start = monotonicSeconds()
                repeat {
                    round()
                    rounds += 1
                } while !shared.stop.load(ordering: .acquiring) && (t != 0 || monotonicSeconds() - start < seconds)
                shared.stop.store(true, ordering: .releasing)
                let elapsed = monotonicSeconds() - start
                return Double(rounds) * rigs.reduce(0) { $0 + 3 * $1.flops } / elapsed / 1e9
            }
            if case .failure = outcome {
                shared.ready.add(threads, ordering: .acquiringAndReleasing)
                shared.stop.store(true, ordering: .releasing)
            }
            shared.outcomes.withLock { $0[t] = outcome }
        }
        let workers = (0..<threads).map { t in WorkerThread(name: "gemm-bench-\(t)") { body(t) } }
        for w in workers { w.join() }
        let all = shared.outcomes.withLock { $0 }
        return try (0..<threads).map { try all[$0]!.get() }
    }

    /// What the threads of `concurrentRate` share: the start barrier, the stop flag, the results.
    private final class ConcurrentRun: Sendable {
        let ready = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let outcomes = Mutex<[Int: Swift.Result<Double, any Error>]>([:])
    }

    /// One layer of a shape with its input, output and gradient buffers, on worker 0 of its context.
    final class LayerRig {
        let layer: DenseLayer
        let batch: Int
        /// FLOPs of one product: `2·batch·inputs·outputs`.
        let flops: Double
        private let buffers: [AlignedBuffer]

        init(shape: Shape, index: Int, batch: Int, precision: Precision, context: DNNLContext, relu: Bool = true,
             layout: WeightLayout? = nil, weightGradient: WeightGradientMethod? = nil,
             forwardWeights: ForwardWeights? = nil, packedWeightGradient: Bool = false) throws {
            layer = try DenseLayer(name: "bench.\(index)", inputs: shape.inputs, outputs: shape.outputs, relu: relu,
                                   precision: precision, context: context, seed: UInt64(index + 1), weightLayout: layout,
                                   weightGradient: weightGradient, forwardWeights: forwardWeights,
                                   packedWeightGradient: packedWeightGradient)
            try layer.prepare(batch: batch)
            self.batch = batch
            flops = 2.0 * Double(batch) * Double(shape.inputs) * Double(shape.outputs)
            buffers = [filled(batch * shape.inputs, seed: 11), filled(batch * shape.outputs, seed: 12),
                       AlignedBuffer(bytes: batch * shape.outputs * 4), AlignedBuffer(bytes: batch * shape.inputs * 4),
                       AlignedBuffer(bytes: layer.weightGradientCount * 4), AlignedBuffer(bytes: shape.outputs * 4)]
        }

        private func floats(_ i: Int) -> UnsafeMutablePointer<Float> { buffers[i].pointer.assumingMemoryBound(to: Float.self) }

        func forward() { layer.forward(batch: batch, input: floats(0), output: floats(2), worker: 0) }
        func backwardData() { layer.backwardData(batch: batch, gradOutput: floats(1), gradInput: floats(3), worker: 0) }
        func backwardWeights() {
            layer.backwardWeights(batch: batch, input: floats(0), gradOutput: floats(1), gradWeights: floats(4),
                                  gradBias: floats(5), worker: 0)
        }
    }

    /// Median and best wall time of `iterations` calls of `body`, after 3 untimed warm-up calls.
    static func timeSeconds(_ iterations: Int, _ body: () -> Void) -> (median: Double, best: Double) {
        for _ in 0..<3 { body() }
        var times = [Double](repeating: 0, count: iterations)
        for i in 0..<iterations {
            let start = monotonicSeconds()
            body()
            times[i] = monotonicSeconds() - start
        }
        times.sort()
        return (times[iterations / 2], times[0])
    }

    static func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// An aligned buffer of `count` floats uniform in [-1, 1).
    static func filled(_ count: Int, seed: UInt64) -> AlignedBuffer {
        let buffer = AlignedBuffer(bytes: count * 4)
        let p = buffer.pointer.assumingMemoryBound(to: Float.self)
        var rng = SplitMix64(seed: seed)
        for i in 0..<count { p[i] = Float(rng.nextUnit() * 2 - 1) }
        return buffer
    }
}
