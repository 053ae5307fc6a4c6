/// Errors of the training engine that are not tied to a C library or the data: a configuration it refuses before it builds anything.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    /// A value outside its range, a missing file, a memory estimate above the machine's.
    case invalidConfiguration(String)
    /// A valid configuration this host cannot run (e.g. `bf16: on` where oneDNN has no bf16
    /// GEMM): the same configuration runs on another host.
    case unsupportedOnThisHost(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let s): "invalid configuration: \(s)"
        case .unsupportedOnThisHost(let s): "not supported on this host: \(s)"
        }
    }
}
