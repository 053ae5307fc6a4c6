/// Errors of the data pipeline (reading, parsing and generating Criteo-format data).
public enum DataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A row that is not valid Criteo format, under `BadRowPolicy.fail`.
    /// `line` is 1-based within `file`; `reason` names the field and quotes the offending text.
    case malformedRow(file: String, line: Int, reason: String)
    /// The file could not be opened, measured, mapped or written (`call` failed with `errno`).
    case io(path: String, call: String, errno: Int32)
    /// The data has too few rows for the requested split.
    case notEnoughRows(file: String, rows: Int, evalRows: Int)
    /// A parameter is out of range (`name` = `value`, with what is allowed).
    case invalidParameter(name: String, value: String, allowed: String)
    /// Training saw no valid row (every one was malformed and skipped under `--bad-rows skip`).
    case noUsableRows(file: String, skipped: Int)

    public var description: String {
        switch self {
        case let .malformedRow(file, line, reason):
            return "\(file):\(line): malformed row: \(reason)"
        case let .io(path, call, code):
            return "\(path): \(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .notEnoughRows(file, rows, evalRows):
            return "\(file): \(rows) rows is not enough for \(evalRows) evaluation rows plus at least one training row"
        case let .invalidParameter(name, value, allowed):
            return "invalid \(name) \(value): \(allowed)"
        case let .noUsableRows(file, skipped):
            return "\(file): no valid training row (\(skipped) malformed rows skipped); nothing was trained"
                + " (use --bad-rows fail to see the first bad row)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
