import Foundation

/// Reads JSON into the object form `JSONSerialization.jsonObject(with:)` gives (`[String: Any]`,
/// `[Any]`, `String`, `Int`, `Double`, `Bool`, `NSNull`), but reads every number exactly.
///
/// On this Foundation (swift-corelibs-foundation with Swift 6.3), `JSONSerialization`'s reader
/// returns a neighbouring double for about one number in five (`0.4567901223456783` comes back as
/// `0.4567901223456784`; 3,841 of 20,000 random doubles in [0, 100)), so a metric read back from a
/// run's result file could differ in its last bit from the value the run wrote. `JSONDecoder`
/// reads all of them exactly, and `JSONSerialization`'s and `JSONEncoder`'s writers write the
/// shortest text that reads back exactly, so text written by either and read here round-trips.
///
/// A number is an `Int` when it is an integer that fits one (as `JSONSerialization` gives it),
/// otherwise a `Double`; `true`/`false` are Swift `Bool`s (not `NSNumber`s).
public enum ExactJSON {
    /// The JSON value in `data` (an object, array or fragment); throws the decoder's error when
    /// `data` is not JSON.
    public static func value(with data: Data) throws -> Any {
        try JSONDecoder().decode(Value.self, from: data).foundationValue
    }

    /// The JSON object in `data`; nil when `data` is not JSON or holds something other than an object.
    public static func object(with data: Data) -> [String: Any]? {
        (try? value(with: data)) as? [String: Any]
    }

    /// One decoded JSON value, converted to Foundation's object form by `foundationValue`.
    private enum Value: Decodable {
        case null, bool(Bool), int(Int), double(Double), string(String), array([Value]), object([String: Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let b = try? container.decode(Bool.self) { self = .bool(b) }
            else if let i = try? container.decode(Int.self) { self = .int(i) }
            else if let d = try? container.decode(Double.self) { self = .double(d) }
            else if let s = try? container.decode(String.self) { self = .string(s) }
            else if let a = try? container.decode([Value].self) { self = .array(a) }
            else { self = .object(try container.decode([String: Value].self)) }
        }

        var foundationValue: Any {
            switch self {
            case .null: NSNull()
            case .bool(let b): b
            case .int(let i): i
            case .double(let d): d
            case .string(let s): s
            case .array(let a): a.map(\.foundationValue)
            case .object(let o): o.mapValues(\.foundationValue)
            }
        }
    }
}
