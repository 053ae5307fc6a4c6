import Foundation

/// JSON has no infinity or NaN, and `JSONSerialization` throws on them ("Invalid number value
/// (inf) in JSON write"): a ratio over an empty total (a contest whose runs stopped early) must
/// not make the whole document unwritable. These are written as `null`, like any value that
/// could not be measured.
enum JSONFinite {
    /// `object` with every non-finite floating-point number, at any depth, replaced by `NSNull()`.
    static func sanitized(_ object: Any) -> Any {
        switch object {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? f : NSNull()
        case let dict as [String: Any]: return dict.mapValues(sanitized)
        case let array as [Any]: return array.map(sanitized)
        default: return object
        }
    }

    /// `JSONSerialization.data` of `sanitized(object)`.
    static func data(_ object: Any, options: JSONSerialization.WritingOptions) throws -> Data {
        try JSONSerialization.data(withJSONObject: sanitized(object), options: options)
    }
}
