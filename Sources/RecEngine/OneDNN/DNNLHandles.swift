internal import CDNNL

// Thin owning wrappers over oneDNN's C handles. Each class owns exactly one handle and destroys
// it in `deinit`; an initializer that fails frees whatever it had created before throwing.

/// A oneDNN CPU engine (`dnnl_engine_create(dnnl_cpu, 0)`).
///
/// `@unchecked Sendable`: oneDNN engines are immutable after creation and documented thread-safe.
final class DNNLEngine: @unchecked Sendable {
    let handle: dnnl_engine_t

    init() throws {
        var engine: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create(cpu, 0)")
        handle = engine!
    }

    deinit { dnnl_engine_destroy(handle) }
}

/// A oneDNN stream (`dnnl_stream_create`): one per worker, used by one thread at a time.
final class DNNLStream {
    let handle: dnnl_stream_t
    /// Keeps the engine alive as long as the stream.
    let engine: DNNLEngine

    init(engine: DNNLEngine) throws {
        var stream: dnnl_stream_t?
        try dnnlCheck(dnnl_stream_create(&stream, engine.handle, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
        handle = stream!
        self.engine = engine
    }

    deinit { dnnl_stream_destroy(handle) }

    /// Waits for the stream's queued work (`dnnl_stream_wait`; CPU streams execute synchronously).
    func wait() { dnnlMust(dnnl_stream_wait(handle), "dnnl_stream_wait") }
}

@available(*, unavailable)
extension DNNLStream: Sendable {}

/// Primitive attributes (`dnnl_primitive_attr_create`): always user-managed scratchpad, so that
/// one primitive may execute concurrently on several workers with per-worker scratchpads.
final class DNNLAttributes {
    let handle: dnnl_primitive_attr_t

    /// - Parameter relu: append a fused ReLU post-op (`dnnl_post_ops_append_eltwise`).
    init(relu: Bool = false) throws {
        var attr: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
        handle = attr!
        // From here on `deinit` frees `handle` if a later call throws.
        try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user),
                      "dnnl_primitive_attr_set_scratchpad_mode(user)")
        if relu {
            var ops: dnnl_post_ops_t?
            try dnnlCheck(dnnl_post_ops_create(&ops), "dnnl_post_ops_create")
            defer { dnnl_post_ops_destroy(ops) }
            try dnnlCheck(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "dnnl_post_ops_append_eltwise(relu)")
            try dnnlCheck(dnnl_primitive_attr_set_post_ops(handle, ops), "dnnl_primitive_attr_set_post_ops")
        }
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}

/// A primitive descriptor (`dnnl_primitive_desc_create` or `dnnl_reorder_primitive_desc_create`).
final class DNNLPrimitiveDesc {
    let handle: dnnl_primitive_desc_t
    let engine: DNNLEngine

    /// Creates the descriptor of an operation (`opDesc` points at a `dnnl_*_desc_t`).
    init(opDesc: UnsafeRawPointer, attributes: DNNLAttributes, engine: DNNLEngine,
         hint: DNNLPrimitiveDesc?, what: String) throws {
        var pd: dnnl_primitive_desc_t?
        try dnnlCheck(dnnl_primitive_desc_create(&pd, opDesc, attributes.handle, engine.handle, hint?.handle),
                      "dnnl_primitive_desc_create(\(what))")
        handle = pd!
        self.engine = engine
    }

    /// Creates a reorder descriptor from `source` to `destination` layout/type.
    init(reorderFrom source: DNNLMemoryDesc, to destination: DNNLMemoryDesc, attributes: DNNLAttributes,
         engine: DNNLEngine, what: String) throws {
        var pd: dnnl_primitive_desc_t?
        var s = source.raw, d = destination.raw
        try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &s, engine.handle, &d, engine.handle, attributes.handle),
                      "dnnl_reorder_primitive_desc_create(\(what))")
        handle = pd!
        self.engine = engine
    }

    deinit { dnnl_primitive_desc_destroy(handle) }

    /// A memory descriptor the primitive chose or uses (`dnnl_primitive_desc_query_md`).
    func memoryDesc(_ what: dnnl_query_t) -> DNNLMemoryDesc {
        guard let md = dnnl_primitive_desc_query_md(handle, what, 0) else { return DNNLMemoryDesc(raw: dnnl_memory_desc_t()) }
        return DNNLMemoryDesc(raw: md.pointee)
    }

    /// The implementation's name, e.g. `brgemm:avx512_core` (`dnnl_query_impl_info_str`).
    var implementationName: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(handle, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else {
            return "unknown"
        }
        return String(cString: name)
    }

    /// Bytes of user scratchpad the primitive needs (0 if none).
    var scratchpadBytes: Int { memoryDesc(dnnl_query_scratchpad_md).bytes }
}

/// An executable primitive (`dnnl_primitive_create`).
///
/// `@unchecked Sendable`: a oneDNN primitive is immutable after creation and may execute on several
/// streams at once; every primitive here uses a user scratchpad, so executions share no state.
final class DNNLPrimitive: @unchecked Sendable {
    let handle: dnnl_primitive_t
    /// The primitive's implementation name (`dnnl_query_impl_info_str`).
    let implementationName: String
    /// The scratchpad memory descriptor (`bytes == 0` when none is needed).
    let scratchpad: DNNLMemoryDesc

    init(_ descriptor: DNNLPrimitiveDesc, what: String) throws {
        var primitive: dnnl_primitive_t?
        try dnnlCheck(dnnl_primitive_create(&primitive, descriptor.handle), "dnnl_primitive_create(\(what))")
        handle = primitive!
        implementationName = descriptor.implementationName
        scratchpad = descriptor.memoryDesc(dnnl_query_scratchpad_md)
    }

    deinit { dnnl_primitive_destroy(handle) }
}

/// A memory object (`dnnl_memory_create`) over caller-owned storage; the handle can be re-pointed.
final class DNNLMemory {
    let handle: dnnl_memory_t
    let desc: DNNLMemoryDesc
    private var current: UnsafeMutableRawPointer?

    init(_ desc: DNNLMemoryDesc, engine: DNNLEngine, pointer: UnsafeMutableRawPointer?) throws {
        var memory: dnnl_memory_t?
        var raw = desc.raw
        // DNNL_MEMORY_NONE: no storage yet; `point(at:)` sets it before use.
        try dnnlCheck(dnnl_memory_create(&memory, &raw, engine.handle, pointer), "dnnl_memory_create")
        handle = memory!
        self.desc = desc
        current = pointer
    }

    deinit { dnnl_memory_destroy(handle) }

    /// Where the memory object points now (nil before the first `point(at:)` of one created
    /// without storage).
    var pointer: UnsafeMutableRawPointer? { current }

    /// Re-points the memory object at `pointer` (`dnnl_memory_set_data_handle`), skipped when unchanged.
    @inline(__always)
    func point(at pointer: UnsafeRawPointer) {
        let p = UnsafeMutableRawPointer(mutating: pointer)
        if p != current {
            dnnlMust(dnnl_memory_set_data_handle(handle, p), "dnnl_memory_set_data_handle")
            current = p
        }
    }
}

@available(*, unavailable)
extension DNNLMemory: Sendable {}

/// A memory descriptor (a plain C struct in oneDNN 2.x: value semantics).
struct DNNLMemoryDesc: @unchecked Sendable {
    // `@unchecked Sendable`: `dnnl_memory_desc_t` is a plain C struct of integers with no pointers.
    var raw: dnnl_memory_desc_t

    init(raw: dnnl_memory_desc_t) { self.raw = raw }

    /// A descriptor by dims, data type and format tag (`dnnl_memory_desc_init_by_tag`).
    init(dims: [Int], type: dnnl_data_type_t, tag: dnnl_format_tag_t) throws {
        raw = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        try dnnlCheck(dnnl_memory_desc_init_by_tag(&raw, Int32(d.count), d, type, tag),
                      "dnnl_memory_desc_init_by_tag(dims \(dims))")
    }

    /// Size in bytes including padding (`dnnl_memory_desc_get_size`).
    var bytes: Int {
        var r = raw
        return dnnl_memory_desc_get_size(&r)
    }

    /// A plain descriptor of the same matrix (same dims and data type) stored `ba`, column by
    /// column: what a reorder from an `ab` descriptor writes when it transposes. 2-D only.
    func transposed() throws -> DNNLMemoryDesc {
        dnnlRequire(raw.ndims == 2, "transposed() needs a 2-D descriptor, got \(raw.ndims) dims")
        return try DNNLMemoryDesc(dims: [Int(raw.dims.0), Int(raw.dims.1)], type: raw.data_type, tag: dnnl_ba)
    }

    /// This descriptor with another data type (same layout, blocking and padding).
    func with(type: dnnl_data_type_t) -> DNNLMemoryDesc {
        var r = raw
        r.data_type = type
        return DNNLMemoryDesc(raw: r)
    }

    /// Compares two descriptors (`dnnl_memory_desc_equal`).
    static func == (a: DNNLMemoryDesc, b: DNNLMemoryDesc) -> Bool {
        var x = a.raw, y = b.raw
        return dnnl_memory_desc_equal(&x, &y) != 0
    }
}
