import Glibc

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
    /// - Throws: `DNNLError` if a primitive cannot be created.
    public static func run(shapes: [Shape] = wdlShapes, batch: Int = 512, precision: Precision,
                           iterations: Int = 50, threads: Int = 2) throws -> [Result] {
        dnnlRequire(iterations >= 1, "iterations must be >= 1, got \(iterations)")
        let context = try DNNLContext(workers: 1)
        context.setIntraOpThreads(threads)
        var results: [Result] = []
        for (index, shape) in shapes.enumerated() {
            let layer = try DenseLayer(name: "bench.\(index)", inputs: shape.inputs, outputs: shape.outputs, relu: true,
                                       precision: precision, context: context, seed: UInt64(index + 1))
            try layer.prepare(batch: batch)
            let input = filled(batch * shape.inputs, seed: 11)
            let gradOutput = filled(batch * shape.outputs, seed: 12)
            let output = AlignedBuffer(bytes: batch * shape.outputs * 4)
            let gradInput = AlignedBuffer(bytes: batch * shape.inputs * 4)
            let gradWeights = AlignedBuffer(bytes: layer.weightGradientCount * 4)
            let gradBias = AlignedBuffer(bytes: shape.outputs * 4)
            let x = UnsafePointer(input.pointer.assumingMemoryBound(to: Float.self))
            let dy = UnsafePointer(gradOutput.pointer.assumingMemoryBound(to: Float.self))
            let y = output.pointer.assumingMemoryBound(to: Float.self)
            let dx = gradInput.pointer.assumingMemoryBound(to: Float.self)
            let dw = gradWeights.pointer.assumingMemoryBound(to: Float.self)
            let db = gradBias.pointer.assumingMemoryBound(to: Float.self)
            let flops = 2.0 * Double(batch) * Double(shape.inputs) * Double(shape.outputs)
            let fwd = timeSeconds(iterations) { layer.forward(batch: batch, input: x, output: y, worker: 0) }
            let bwdData = timeSeconds(iterations) { layer.backwardData(batch: batch, gradOutput: dy, gradInput: dx, worker: 0) }
            let bwdWeights = timeSeconds(iterations) {
                layer.backwardWeights(batch: batch, input: x, gradOutput: dy, gradWeights: dw, gradBias: db, worker: 0)
            }
            results.append(Result(shape: shape, batch: batch, precision: precision, threads: threads,
                                  forwardGFLOPS: flops / fwd.median / 1e9,
                                  backwardDataGFLOPS: flops / bwdData.median / 1e9,
                                  backwardWeightsGFLOPS: flops / bwdWeights.median / 1e9,
                                  bestForwardGFLOPS: flops / fwd.best / 1e9,
                                  bestBackwardDataGFLOPS: flops / bwdData.best / 1e9,
                                  bestBackwardWeightsGFLOPS: flops / bwdWeights.best / 1e9,
                                  profile: layer.implementationNames(batch: batch)!))
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
