@testable import RecEngine
import XCTest

/// Skips a test that needs bf16 where oneDNN has none (an AVX2 host), naming the reason.
func requireBF16() throws {
    if let reason = OneDNNInfo.bf16Unsupported { throw XCTSkip("bf16 is not supported on this host: \(reason)") }
}

/// The bf16 settings this host can run: off and on, or off alone where oneDNN has no bf16.
let hostBF16Settings: [Bool] = OneDNNInfo.bf16Unsupported == nil ? [false, true] : [false]

/// The dense-layer precisions this host can run: fp32 and bf16, or fp32 alone.
let hostPrecisions: [Precision] = OneDNNInfo.bf16Unsupported == nil ? [.fp32, .bf16] : [.fp32]

/// Reference math and buffers for the dense-layer tests (Double precision, plain layouts).
enum DenseReference {
    /// Deterministic values uniform in [-scale, scale).
    static func random(_ count: Int, seed: UInt64, scale: Double = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float((rng.nextUnit() * 2 - 1) * scale) }
    }

    /// y[b][o] = Σ_i x[b][i]·W[o][i] + bias[o], then ReLU if asked.
    static func forward(x: [Float], w: [Float], bias: [Float], batch: Int, inputs: Int, outputs: Int,
                        relu: Bool) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outputs)
        for b in 0..<batch {
            for o in 0..<outputs {
                var s = Double(bias[o])
                for i in 0..<inputs { s += Double(x[b * inputs + i]) * Double(w[o * inputs + i]) }
                y[b * outputs + o] = relu ? max(s, 0) : s
            }
        }
        return y
    }

    /// `values` as bf16 bits packed two per Float, as a chained bf16 layer hands them over.
    static func bf16Bits(_ values: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        out.withUnsafeMutableBytes { raw in
            let halves = raw.bindMemory(to: UInt16.self)
            for (k, v) in values.enumerated() { halves[k] = BF16Kernels.bits(v) }
        }
        return out
    }

    /// gradInput[b][i] = Σ_o dy[b][o]·W[o][i].
    static func gradInput(dy: [Float], w: [Float], batch: Int, inputs: Int, outputs: Int) -> [Double] {
        var dx = [Double](repeating: 0, count: batch * inputs)
        for b in 0..<batch {
            for i in 0..<inputs {
                for o in 0..<outputs { dx[b * inputs + i] += Double(dy[b * outputs + o]) * Double(w[o * inputs + i]) }
            }
        }
        return dx
    }

    /// gradBias[o] = Σ_b dy[b][o].
    static func gradBias(dy: [Float], batch: Int, outputs: Int) -> [Double] {
        (0..<outputs).map { o in (0..<batch).reduce(0.0) { $0 + Double(dy[$1 * outputs + o]) } }
    }

    /// gradWeights[o][i] = Σ_b dy[b][o]·x[b][i].
    static func gradWeights(x: [Float], dy: [Float], batch: Int, inputs: Int, outputs: Int) -> [Double] {
        var g = [Double](repeating: 0, count: outputs * inputs)
        for b in 0..<batch {
            for o in 0..<outputs {
                let d = Double(dy[b * outputs + o])
                for i in 0..<inputs { g[o * inputs + i] += d * Double(x[b * inputs + i]) }
            }
        }
        return g
    }
}

/// A layer's call buffers as Swift arrays, with the calls the tests need.
struct DenseCalls {
    let layer: DenseLayer
    let batch: Int

    /// A new layer on its own context of `workers` workers, prepared for `batch`, and its calls.
    static func make(_ name: String, inputs: Int, outputs: Int, batch: Int, relu: Bool, precision: Precision,
                     workers: Int = 1, seed: UInt64) throws -> DenseCalls {
        let context = try DNNLContext(workers: workers)
        let layer = try DenseLayer(name: name, inputs: inputs, outputs: outputs, relu: relu, precision: precision,
                                   context: context, seed: seed)
        try layer.prepare(batch: batch)
        return DenseCalls(layer: layer, batch: batch)
    }

    func forward(_ x: [Float], worker: Int = 0) -> [Float] {
        var y = [Float](repeating: .nan, count: batch * layer.outputs)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                layer.forward(batch: batch, input: xp.baseAddress!, output: yp.baseAddress!, worker: worker)
            }
        }
        return y
    }

    func backwardData(_ dy: [Float], worker: Int = 0) -> [Float] {
        var dx = [Float](repeating: .nan, count: batch * layer.inputs)
        dy.withUnsafeBufferPointer { dyp in
            dx.withUnsafeMutableBufferPointer { dxp in
                layer.backwardData(batch: batch, gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!, worker: worker)
            }
        }
        return dx
    }

    /// Returns (plain gradWeights, gradBias, raw blocked gradWeights buffer).
    func backwardWeights(_ x: [Float], _ dy: [Float], worker: Int = 0) -> (weights: [Float], bias: [Float], raw: [Float]) {
        var dw = [Float](repeating: .nan, count: layer.weightGradientCount)
        var db = [Float](repeating: .nan, count: layer.outputs)
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dyp in
                dw.withUnsafeMutableBufferPointer { dwp in
                    db.withUnsafeMutableBufferPointer { dbp in
                        layer.backwardWeights(batch: batch, input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                              gradWeights: dwp.baseAddress!, gradBias: dbp.baseAddress!, worker: worker)
                    }
                }
            }
        }
        let plain = dw.withUnsafeBufferPointer { layer.plainGradient($0.baseAddress!) }
        return (plain, db, dw)
    }

    /// `dy` masked by the layer's ReLU for forward output `y`.
    func masked(_ dy: [Float], output y: [Float]) -> [Float] {
        var g = dy
        y.withUnsafeBufferPointer { yp in
            g.withUnsafeMutableBufferPointer { gp in
                layer.applyReLUMask(batch: batch, output: yp.baseAddress!, gradOutput: gp.baseAddress!)
            }
        }
        return g
    }

    func setBias(_ b: [Float]) {
        for (i, v) in b.enumerated() { layer.bias.values[i] = v }
    }
}
