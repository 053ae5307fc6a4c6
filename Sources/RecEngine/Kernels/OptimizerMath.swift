import Glibc
internal import CDNNL
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The element-wise update rules, shared by the dense optimizers and the sparse row optimizer so
/// that both apply exactly the same arithmetic (the sparse one just applies it to fewer rows).
///
/// The formulas are TensorFlow 1's (`tf.compat.v1.train.*Optimizer`, which DeepRec builds on):
/// - SGD:     θ −= lr·g
/// - Adagrad: a += g²;  θ −= lr·g / (√a + ε)           (TF1 has no ε; ε = 1e-7 as in Keras guards a = 0)
/// - Adam:    m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
///            θ −= lr_t·m / (√v + ε̂)  with  lr_t = lr·√(1−β2^t) / (1−β1^t)   ("ε-hat" form, ε̂ = 1e-8)
enum OptimizerMath {
    /// SGD: `θ −= lr·g`. Left as a plain loop: LLVM vectorizes it itself (with a runtime check that
    /// θ and g do not overlap), and an explicit 4-lane form was slower (`bench --kernels`, 1024×429
    /// weights: 75 ns/sample plain, 117 ns/sample in 4 lanes).
    @inline(__always)
    static func sgd(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ n: Int, lr: Float) {
        for k in 0..<n { theta[k] -= lr * g[k] }
    }

    /// `sgd` from the gradient `g + plus` (the value summing `plus` into `g` first gives), one pass.
    @inline(__always)
    static func sgd(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, plus: UnsafePointer<Float>, _ n: Int, lr: Float) {
        for k in 0..<n { theta[k] -= lr * (g[k] + plus[k]) }
    }

    /// Adagrad over `n` elements, 8 lanes at a time in a build for an AVX2 host, then 4 (√ as one
    /// `sqrtps`), then `adagradScalar` for the tail; bit-identical to `adagradScalar` (same
    /// operations in the same order per lane).
    @inline(__always)
    static func adagrad(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ acc: UnsafeMutablePointer<Float>,
                        _ n: Int, lr: Float, epsilon: Float, plus: UnsafePointer<Float>? = nil) {
        var k = 0
        #if RECTUNE_TARGET_AVX2
        adagradLanes(sqrt8, theta, g, acc, n, lr: lr, epsilon: epsilon, plus: plus, from: &k)
        #endif
        adagradLanes(sqrt4, theta, g, acc, n, lr: lr, epsilon: epsilon, plus: plus, from: &k)
        adagradScalar(theta + k, g + k, acc + k, n - k, lr: lr, epsilon: epsilon, plus: plus.map { $0 + k })
    }

    /// One vector stage of `adagrad`: whole vectors of `V` from element `k` on (advances `k`).
    @inline(__always)
    static func adagradLanes<V: SIMD>(_ root: (V) -> V, _ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                      _ acc: UnsafeMutablePointer<Float>, _ n: Int, lr: Float, epsilon: Float,
                                      plus: UnsafePointer<Float>?, from k: inout Int) where V.Scalar == Float {
        let rate = V(repeating: lr), eps = V(repeating: epsilon)
        while k + V.scalarCount <= n {
            var gk = UnsafeRawPointer(g + k).loadUnaligned(as: V.self)
            if let plus { gk += UnsafeRawPointer(plus + k).loadUnaligned(as: V.self) }
            let a = UnsafeRawPointer(acc + k).loadUnaligned(as: V.self) + gk * gk
            UnsafeMutableRawPointer(acc + k).storeBytes(of: a, as: V.self)
            let t = UnsafeRawPointer(theta + k).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(theta + k).storeBytes(of: t - rate * gk / (root(a) + eps), as: V.self)
            k += V.scalarCount
        }
    }

    /// The scalar form of `adagrad` (the definition; also its tail).
    @inline(__always)
    static func adagradScalar(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ acc: UnsafeMutablePointer<Float>,
                              _ n: Int, lr: Float, epsilon: Float, plus: UnsafePointer<Float>? = nil) {
        for k in 0..<n {
            var gk = g[k]
            if let plus { gk += plus[k] }
            let a = acc[k] + gk * gk
            acc[k] = a
            theta[k] -= lr * gk / (a.squareRoot() + epsilon)
        }
    }

    /// Adam over `n` elements: 16 lanes at a time where oneDNN reports AVX-512 (`rt_adam_avx512` in
    /// the C shim), then 8 in a build for an AVX2 host (256-bit `vdivps` and
    /// `vsqrtps`), then 4 lanes (SSE, baseline x86-64), then the scalar form for the tail. Every
    /// lane performs the scalar form's operations in the same order (no
    /// fused multiply-add; correctly rounded √ and ÷), so the result is bit-identical to
    /// `adamScalar`. The scalar loop did not vectorize (four pointers that may alias), and Swift's
    /// `SIMD.squareRoot()` runs lane by lane (`sqrtss`), so √ is `sqrtps` through `sqrt4`.
    /// With `plus` the gradient is `g + plus`, element by element (two micro-batches' weight
    /// gradients in one pass instead of summing into `g` first; the same bits as that sum).
    @inline(__always)
    static func adam(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                     _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int,
                     stepSize: Float, beta1: Float, beta2: Float, epsilon: Float, plus: UnsafePointer<Float>? = nil,
                     avx512: Bool = OneDNNInfo.hasAVX512Core) {
        var k = 0
        if avx512 {
            k = rt_adam_avx512(theta, g, plus, m, v, n, stepSize, beta1, beta2, 1 - beta1, 1 - beta2, epsilon)
        }
        #if RECTUNE_TARGET_AVX2
        adamLanes(sqrt8, theta, g, m, v, n, stepSize: stepSize, beta1: beta1, beta2: beta2, epsilon: epsilon, plus: plus, from: &k)
        #endif
        adamLanes(sqrt4, theta, g, m, v, n, stepSize: stepSize, beta1: beta1, beta2: beta2, epsilon: epsilon, plus: plus, from: &k)
        adamScalar(theta + k, g + k, m + k, v + k, n - k, stepSize: stepSize, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   plus: plus.map { $0 + k })
    }

    /// One vector stage of `adam`: whole vectors of `V` from element `k` on (advances `k`).
    @inline(__always)
    static func adamLanes<V: SIMD>(_ root: (V) -> V, _ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                   _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int,
                                   stepSize: Float, beta1: Float, beta2: Float, epsilon: Float, plus: UnsafePointer<Float>?,
                                   from k: inout Int) where V.Scalar == Float {
        let b1 = V(repeating: beta1), b2 = V(repeating: beta2), c1 = V(repeating: 1 - beta1), c2 = V(repeating: 1 - beta2)
        let lr = V(repeating: stepSize), eps = V(repeating: epsilon)
        while k + V.scalarCount <= n {
            var gk = UnsafeRawPointer(g + k).loadUnaligned(as: V.self)
            if let plus { gk += UnsafeRawPointer(plus + k).loadUnaligned(as: V.self) }
            let mk = b1 * UnsafeRawPointer(m + k).loadUnaligned(as: V.self) + c1 * gk
            let vk = b2 * UnsafeRawPointer(v + k).loadUnaligned(as: V.self) + c2 * gk * gk
            UnsafeMutableRawPointer(m + k).storeBytes(of: mk, as: V.self)
            UnsafeMutableRawPointer(v + k).storeBytes(of: vk, as: V.self)
            let t = UnsafeRawPointer(theta + k).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(theta + k).storeBytes(of: t - lr * mk / (root(vk) + eps), as: V.self)
            k += V.scalarCount
        }
    }

    /// Correctly rounded square root of each lane, as one `sqrtps` on x86-64.
    @inline(__always)
    static func sqrt4(_ x: SIMD4<Float>) -> SIMD4<Float> {
        #if arch(x86_64)
        return _mm_sqrt_ps(x)
        #else
        return x.squareRoot()
        #endif
    }

    #if RECTUNE_TARGET_AVX2
    /// Correctly rounded square root of each of 8 lanes, as one 256-bit `vsqrtps` (builds for an
    /// AVX2 host only: the Makefile's TARGET_CPU).
    @inline(__always)
    static func sqrt8(_ x: SIMD8<Float>) -> SIMD8<Float> { _mm256_sqrt_ps(x) }
    #endif

    /// The scalar form of `adam` (the definition; also its tail). With `plus` the gradient is
    /// `g[k] + plus[k]`, the value summing `plus` into `g` first gives.
    @inline(__always)
    static func adamScalar(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                           _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int,
                           stepSize: Float, beta1: Float, beta2: Float, epsilon: Float, plus: UnsafePointer<Float>? = nil) {
        let c1 = 1 - beta1, c2 = 1 - beta2
        for k in 0..<n {
            var gk = g[k]
            if let plus { gk += plus[k] }
            let mk = beta1 * m[k] + c1 * gk
            let vk = beta2 * v[k] + c2 * gk * gk
            m[k] = mk
            v[k] = vk
            theta[k] -= stepSize * mk / (vk.squareRoot() + epsilon)
        }
    }

    /// Adam's bias-corrected step size `lr·√(1−β2^t)/(1−β1^t)` for the 1-based update count `t`,
    /// computed in Double.
    static func adamStepSize(learningRate: Float, beta1: Float, beta2: Float, step: Int) -> Float {
        if step < 1 { fatalError("Adam: step must be >= 1 (1-based update count), got \(step)") }
        let t = Double(step)
        let c1 = 1 - pow(Double(beta1), t)
        let c2 = 1 - pow(Double(beta2), t)
        return Float(Double(learningRate) * c2.squareRoot() / c1)
    }
}

/// A 64-byte-aligned float buffer with exactly one owner, freed in `deinit` (optimizer state).
///
/// `@unchecked Sendable`: the buffer is written only by the update of the one parameter it
/// belongs to, which the step graph runs once per step and never concurrently with itself.
final class AlignedFloats: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(count: Int, initialValue: Float, label: String) {
        self.count = count
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 16) * MemoryLayout<Float>.stride
        if posix_memalign(&raw, 64, bytes) != 0 || raw == nil {
            fatalError("posix_memalign(\(bytes)) failed for optimizer state of \(label)")
        }
        pointer = raw!.bindMemory(to: Float.self, capacity: max(count, 16))
        pointer.initialize(repeating: initialValue, count: count)
    }

    deinit { free(pointer) }
}
