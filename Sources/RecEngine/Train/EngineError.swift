/// Errors of the training engine that are not tied to a C library or the data.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let s): "invalid configuration: \(s)"
        }
    }
}
