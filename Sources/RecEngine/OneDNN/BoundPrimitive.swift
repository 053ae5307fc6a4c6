internal import CDNNL

/// A primitive bound to its memory objects: the `dnnl_exec_arg_t` array is built once (no
/// allocation per call) and the memory objects are re-pointed at each call's buffers.
/// Used by one thread at a time (the owner's lock or worker lock orders its use).
final class BoundPrimitive {
    let primitive: DNNLPrimitive
    private let args: UnsafeMutablePointer<dnnl_exec_arg_t>
    private let argumentCount: Int32
    private let scratchpad: DNNLMemory?
    /// Keeps the bound memory objects alive as long as `args` refers to them.
    private let memories: [DNNLMemory]

    /// Binds `primitive` to `(DNNL_ARG_*, memory)` pairs; adds a scratchpad memory object when the
    /// primitive needs one (its storage is supplied per call).
    init(_ primitive: DNNLPrimitive, _ bindings: [(Int32, DNNLMemory)], engine: DNNLEngine) throws {
        var all = bindings
        if primitive.scratchpad.bytes > 0 {
            let memory = try DNNLMemory(primitive.scratchpad, engine: engine, pointer: nil)
            all.append((DNNL_ARG_SCRATCHPAD, memory))
            scratchpad = memory
        } else {
            scratchpad = nil
        }
        self.primitive = primitive
        memories = all.map(\.1)
        argumentCount = Int32(all.count)
        args = .allocate(capacity: all.count)
        for (i, (arg, memory)) in all.enumerated() {
            args[i] = dnnl_exec_arg_t(arg: arg, memory: memory.handle)
        }
    }

    deinit { args.deallocate() }

    /// Executes on `stream` with `scratchpad` as the user scratchpad (`dnnl_primitive_execute`).
    @inline(__always)
    func execute(on stream: DNNLStream, scratchpad pointer: UnsafeMutableRawPointer) {
        scratchpad?.point(at: pointer)
        dnnlMust(dnnl_primitive_execute(primitive.handle, stream.handle, argumentCount, args),
                 "dnnl_primitive_execute(\(primitive.implementationName))")
    }
}

@available(*, unavailable)
extension BoundPrimitive: Sendable {}
