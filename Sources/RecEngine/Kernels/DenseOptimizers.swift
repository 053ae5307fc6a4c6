import Synchronization

/// A dense optimizer: updates every element of a parameter from a gradient buffer of
/// `param.count` floats, element-wise, so the parameter's layout does not matter (a oneDNN-blocked
/// weight and its gradient in the same blocked layout are updated correctly).
///
/// Per-parameter state (Adagrad accumulators, Adam moments) is created by `register` (call it at
/// model build time so no allocation happens in a step) or, failing that, on the first `update`.
/// Different parameters, and disjoint element ranges of one parameter, may be updated
/// concurrently from different threads; an element must not be updated by two threads at once.
public protocol DenseOptimizer: AnyObject, Sendable {
    /// Allocates the optimizer state for `p` (idempotent).
    func register(_ p: ParameterTensor)
    /// Applies one update to `p.values[elements]` from `gradient[elements]`, plus `plus[elements]`
    /// when given (the sum of two micro-batches' gradients, read in the same pass: the bits of
    /// summing `plus` into `gradient` first); `step` is the 1-based count of updates applied so
    /// far including this one (Adam's bias correction uses it). The rules are element-wise, so
    /// updating a parameter in pieces gives the bits of one whole update.
    func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int)
    /// The same update in consecutive runs of `run` floats from `elements.lowerBound` (the last
    /// may be shorter), calling `afterRun` with each run's elements as soon as they are updated,
    /// while they are still in the core's first-level cache: a bf16 layer converts them into its
    /// low-precision copy there instead of in a second pass over the weights. The bits are those
    /// of `update(_:gradient:plus:elements:step:)`.
    func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int,
                runs run: Int, afterRun: (Range<Int>) -> Void)
}

extension DenseOptimizer {
    /// One update of every element of `p` from `gradient` (plus `plus`, when given).
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>? = nil, step: Int) {
        update(p, gradient: gradient, plus: plus, elements: 0..<p.count, step: step)
    }
}

/// Per-parameter state buffers, looked up by the parameter's identity under a lock (the lookup is
/// once per parameter per step; the element loop runs outside the lock).
final class OptimizerSlots: Sendable {
    private let slots = Mutex<[ObjectIdentifier: [AlignedFloats]]>([:])
    private let names: [String]
    private let initialValue: Float

    /// `names`: one per state buffer of a parameter (the names a checkpoint stores them under).
    init(names: [String], initialValue: Float) {
        self.names = names
        self.initialValue = initialValue
    }

    /// The state buffers of `p`, creating them on first use.
    func buffers(for p: ParameterTensor) -> [AlignedFloats] {
        slots.withLock { table in
            if let existing = table[ObjectIdentifier(p)] { return existing }
            let created = names.map { _ in AlignedFloats(count: p.count, initialValue: initialValue, label: p.name) }
            for (name, buffer) in zip(names, created) { p.attachSlot(name, pointer: buffer.pointer, count: buffer.count, owner: buffer) }
            table[ObjectIdentifier(p)] = created
            return created
        }
    }
}

/// Plain stochastic gradient descent: `θ −= lr·g`. Stateless.
public final class SGD: DenseOptimizer {
    /// The learning rate.
    public let learningRate: Float

    /// Creates SGD with learning rate `learningRate`.
    public init(learningRate: Float) { self.learningRate = learningRate }

    /// Nothing to allocate.
    public func register(_ p: ParameterTensor) {}

    /// SGD in runs of `run` floats, `afterRun` after each.
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int,
                       runs run: Int, afterRun: (Range<Int>) -> Void) {
        forEachRun(of: elements, length: run, afterRun) { update(p, gradient: gradient, plus: plus, elements: $0, step: step) }
    }

    /// `p.values[k] −= lr·gradient[k]` (or `lr·(gradient[k] + plus[k])`) for `k` in `elements`.
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int) {
        let k = elements.lowerBound
        if let plus {
            OptimizerMath.sgd(p.values + k, gradient + k, plus: plus + k, elements.count, lr: learningRate)
        } else {
            OptimizerMath.sgd(p.values + k, gradient + k, elements.count, lr: learningRate)
        }
    }
}

/// Adagrad (TF1 form plus a Keras-style ε): `a += g²; θ −= lr·g/(√a + ε)`, with the accumulator
/// starting at `initialAccumulator` (TF's default 0.1).
public final class Adagrad: DenseOptimizer {
    /// The learning rate.
    public let learningRate: Float
    /// The accumulator's starting value.
    public let initialAccumulator: Float
    /// Added to `√a` in the denominator.
    public let epsilon: Float
    private let slots: OptimizerSlots

    /// Creates Adagrad; defaults are TensorFlow's (`initialAccumulator` 0.1) and Keras's ε (1e-7).
    public init(learningRate: Float, initialAccumulator: Float = 0.1, epsilon: Float = 1e-7) {
        self.learningRate = learningRate
        self.initialAccumulator = initialAccumulator
        self.epsilon = epsilon
        slots = OptimizerSlots(names: ["adagrad.accumulator"], initialValue: initialAccumulator)
    }

    /// Allocates the accumulator of `p`.
    public func register(_ p: ParameterTensor) { _ = slots.buffers(for: p) }

    /// One Adagrad step over `elements` (one run of the run-wise update).
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int) {
        update(p, gradient: gradient, plus: plus, elements: elements, step: step, runs: elements.count) { _ in }
    }

    /// Adagrad in runs of `run` floats, `afterRun` after each (the accumulator looked up once).
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int,
                       runs run: Int, afterRun: (Range<Int>) -> Void) {
        let acc = slots.buffers(for: p)[0]
        forEachRun(of: elements, length: run, afterRun) { r in
            let k = r.lowerBound
            OptimizerMath.adagrad(p.values + k, gradient + k, acc.pointer + k, r.count, lr: learningRate, epsilon: epsilon,
                                  plus: plus.map { $0 + k })
        }
    }
}

/// Adam in TensorFlow 1's form (`tf.compat.v1.train.AdamOptimizer`, DeepRec's): moments
/// `m, v`, bias correction folded into the step size `lr·√(1−β2^t)/(1−β1^t)`, and ε̂ = 1e-8 added
/// to `√v` (TF1's default; Keras's 1e-7 differs only in that constant).
public final class Adam: DenseOptimizer {
    /// The learning rate.
    public let learningRate: Float
    /// First-moment decay.
    public let beta1: Float
    /// Second-moment decay.
    public let beta2: Float
    /// ε̂, added to `√v`.
    public let epsilon: Float
    private let slots: OptimizerSlots

    /// Creates Adam with TF1's defaults.
    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        slots = OptimizerSlots(names: ["adam.m", "adam.v"], initialValue: 0)
    }

    /// Allocates `m` and `v` for `p`.
    public func register(_ p: ParameterTensor) { _ = slots.buffers(for: p) }

    /// One Adam step over `elements` (one run of the run-wise update); `step` (1-based) drives the
    /// bias correction.
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int) {
        update(p, gradient: gradient, plus: plus, elements: elements, step: step, runs: elements.count) { _ in }
    }

    /// Adam in runs of `run` floats, `afterRun` after each (state and step size looked up once).
    public func update(_ p: ParameterTensor, gradient: UnsafePointer<Float>, plus: UnsafePointer<Float>?, elements: Range<Int>, step: Int,
                       runs run: Int, afterRun: (Range<Int>) -> Void) {
        let state = slots.buffers(for: p), m = state[0].pointer, v = state[1].pointer
        let stepSize = OptimizerMath.adamStepSize(learningRate: learningRate, beta1: beta1, beta2: beta2, step: step)
        forEachRun(of: elements, length: run, afterRun) { r in
            let k = r.lowerBound
            OptimizerMath.adam(p.values + k, gradient + k, m + k, v + k, r.count, stepSize: stepSize, beta1: beta1, beta2: beta2,
                               epsilon: epsilon, plus: plus.map { $0 + k })
        }
    }
}

/// Calls `body` then `afterRun` for consecutive runs of `length` (at least 1) elements of `elements`.
@inline(__always)
private func forEachRun(of elements: Range<Int>, length: Int, _ afterRun: (Range<Int>) -> Void, _ body: (Range<Int>) -> Void) {
    let length = max(length, 1)
    var start = elements.lowerBound
    while start < elements.upperBound {
        let run = start..<min(start + length, elements.upperBound)
        body(run)
        afterRun(run)
        start = run.upperBound
    }
}
