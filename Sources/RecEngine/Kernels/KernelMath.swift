/// Small vector primitives shared by the kernels.
///
/// Float reductions (dot products, row sums) are not auto-vectorized without fast-math, because
/// the compiler must keep the sequential summation order. These helpers vectorize them by hand
/// with `SIMD8<Float>` partial sums (two independent accumulators to hide add latency), then fold
/// the lanes and a scalar tail. Products use `*` then `+`, not `addProduct`: without an FMA
/// target CPU that would become a libm `fmaf` call per lane. Element-wise loops (axpy, add) are left to the auto-vectorizer; short-row copies are `copy`.
enum KernelMath {
    /// Σ_k x[k] * y[k] for k in 0..<n.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var k = 0
        var acc0 = SIMD8<Float>(repeating: 0)
        var acc1 = SIMD8<Float>(repeating: 0)
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while k + 16 <= n {
            let byteOffset = k &* 4
            let x0 = rx.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
            let y0 = ry.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
            let x1 = rx.loadUnaligned(fromByteOffset: byteOffset &+ 32, as: SIMD8<Float>.self)
            let y1 = ry.loadUnaligned(fromByteOffset: byteOffset &+ 32, as: SIMD8<Float>.self)
            acc0 += x0 * y0
            acc1 += x1 * y1
            k &+= 16
        }
        if k + 8 <= n {
            let byteOffset = k &* 4
            acc0 += rx.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
                * ry.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
            k &+= 8
        }
        var s = (acc0 + acc1).sum()
        while k < n {
            s += x[k] * y[k]
            k &+= 1
        }
        return s
    }

    /// Σ_k x[k] for k in 0..<n.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var k = 0
        var acc0 = SIMD8<Float>(repeating: 0)
        var acc1 = SIMD8<Float>(repeating: 0)
        let rx = UnsafeRawPointer(x)
        while k + 16 <= n {
            acc0 += rx.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
            acc1 += rx.loadUnaligned(fromByteOffset: k &* 4 &+ 32, as: SIMD8<Float>.self)
            k &+= 16
        }
        var s = (acc0 + acc1).sum()
        while k < n {
            s += x[k]
            k &+= 1
        }
        return s
    }

    /// y[k] += a * x[k] for k in 0..<n.
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for k in 0..<n { y[k] += a * x[k] }
    }

    /// y[k] += x[k] for k in 0..<n.
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        for k in 0..<n { y[k] += x[k] }
    }

    /// y[k] = x[k] for k in 0..<n, for short rows (an embedding row, a sample's vector): inline
    /// 8-float loads and stores instead of a `memmove` call per row, whose call and size dispatch
    /// cost more than copying 64 bytes (the gathers' `memmove` was 3–5% of a bf16 DLRM/DeepFM step
    /// in `perf`). The regions must not overlap. Long copies keep `update(from:count:)`.
    @inline(__always)
    static func copy(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, _ n: Int) {
        var k = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while k &+ 8 <= n {
            ry.storeBytes(of: rx.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self), toByteOffset: k &* 4,
                          as: SIMD8<Float>.self)
            k &+= 8
        }
        while k < n {
            y[k] = x[k]
            k &+= 1
        }
    }
}

/// A register-sized group of floats a kernel can process generically: `SIMD8<Float>` for the
/// vector body and `Float` for the scalar tail, so one `@inline(__always)` generic function
/// serves both (specialized at each call site; no dynamic dispatch).
protocol KernelLanes {
    init(splat: Float)
    static func load(_ p: UnsafePointer<Float>, byteOffset: Int) -> Self
    func store(_ p: UnsafeMutablePointer<Float>, byteOffset: Int)
    static func * (lhs: Self, rhs: Self) -> Self
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func += (lhs: inout Self, rhs: Self)
}

extension SIMD8: KernelLanes where Scalar == Float {
    @inline(__always) init(splat: Float) { self.init(repeating: splat) }
    @inline(__always) static func load(_ p: UnsafePointer<Float>, byteOffset: Int) -> Self {
        UnsafeRawPointer(p).loadUnaligned(fromByteOffset: byteOffset, as: Self.self)
    }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>, byteOffset: Int) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, toByteOffset: byteOffset, as: Self.self)
    }
}

extension Float: KernelLanes {
    @inline(__always) init(splat: Float) { self = splat }
    @inline(__always) static func load(_ p: UnsafePointer<Float>, byteOffset: Int) -> Float {
        UnsafeRawPointer(p).load(fromByteOffset: byteOffset, as: Float.self)
    }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>, byteOffset: Int) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, toByteOffset: byteOffset, as: Float.self)
    }
}
