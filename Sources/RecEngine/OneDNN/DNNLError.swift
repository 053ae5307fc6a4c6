internal import CDNNL

/// A failed oneDNN call: the library's status code and the name of the C function that returned it.
public struct DNNLError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The raw `dnnl_status_t` value.
    public let rawValue: Int32
    /// The C function that failed, e.g. `dnnl_primitive_desc_create(inner_product forward)`.
    public let call: String

    /// Wraps a raw status code and the failing call's name.
    public init(rawValue: Int32, call: String) {
        self.rawValue = rawValue
        self.call = call
    }

    /// The status' symbolic name (`dnnl_unimplemented`, `dnnl_invalid_arguments`, ...).
    public var statusName: String {
        switch dnnl_status_t(rawValue: UInt32(bitPattern: rawValue)) {
        case dnnl_success: "dnnl_success"
        case dnnl_out_of_memory: "dnnl_out_of_memory"
        case dnnl_invalid_arguments: "dnnl_invalid_arguments"
        case dnnl_unimplemented: "dnnl_unimplemented"
        case dnnl_iterator_ends: "dnnl_iterator_ends"
        case dnnl_runtime_error: "dnnl_runtime_error"
        case dnnl_not_required: "dnnl_not_required"
        default: "dnnl_status(\(rawValue))"
        }
    }

    /// `call failed: status`.
    public var description: String { "\(call) failed: \(statusName)" }
}

/// Throws `DNNLError` unless `status` is `dnnl_success`.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    if status != dnnl_success {
        throw DNNLError(rawValue: Int32(bitPattern: status.rawValue), call: call())
    }
}

/// For calls that cannot fail once their objects were validated at preparation time (execute on a
/// prepared primitive, set a data handle): a failure is a programming error, reported with the call.
@inline(__always)
func dnnlMust(_ status: dnnl_status_t, _ call: @autoclosure () -> String) {
    if status != dnnl_success {
        fatalError("\(DNNLError(rawValue: Int32(bitPattern: status.rawValue), call: call()))")
    }
}

/// A usage check that also holds in -Ounchecked builds (RecEngine's release setting), where
/// `precondition` is not evaluated: out-of-range workers or sizes would otherwise corrupt memory.
@inline(__always)
func dnnlRequire(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
