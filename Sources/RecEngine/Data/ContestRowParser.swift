/// Why one line is not a valid contest row: the column (0-based) and the byte range of the
/// offending text. Built without allocation; the message is formatted only when needed.
struct ContestRowFault: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case fieldCount(Int)
        case label
        case integer
        case number
        case identityRange(Int)
    }
    var kind: Kind
    var column: Int
    var start: Int
    var end: Int

    /// A reason naming the field (number and name) and quoting the offending text (≤ 40 bytes).
    func reason(in bytes: UnsafeBufferPointer<UInt8>, schema: ContestSchema) -> String {
        let cut = min(end, start + 40)
        var text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<cut]), as: UTF8.self)
        if cut < end { text += "…" }
        let quoted = "\"\(text)\""
        let field = "field \(column + 1) (\(schema.columns[min(column, schema.columns.count - 1)].name))"
        switch kind {
        case .fieldCount(let n): return "expected \(schema.fieldCount) comma-separated fields, found \(n)"
        case .label: return "\(field): \(quoted) is not 0 or 1"
        case .integer: return "\(field): \(quoted) is not an integer"
        case .number: return "\(field): \(quoted) is not a number"
        case .identityRange(let b): return "\(field): \(quoted) is outside the identity range 0..<\(b)"
        }
    }
}

/// Parses contest CSV lines (Ele.me, Taobao) straight from bytes: no `String`, no allocation.
///
/// Hashed tokens: `id = ContestHash.id(token bytes, buckets)` — the same token maps to the same
/// id in every column with the same bucket count (TF's `Fingerprint64(token) % buckets`), which is
/// what makes a shared table's members agree.
struct ContestRowParser: Sendable {
    let schema: ContestSchema
    /// Buckets per slot.
    let buckets: [Int]
    /// Per column: the decoding plan, flattened for the hot loop.
    private let plan: [Step]
    /// Vocabulary tokens as byte arrays.
    private let vocabulary: [[UInt8]]

    private enum Op: UInt8 { case label, hashed, hashedList, vocabulary, vocabularyList, identity, numeric, integer, numericMean, unusedInteger, unusedText }
    private struct Step: Sendable {
        var op: Op
        var target: Int       // slot, numeric index or label index
        var separator: UInt8
        var defaultValue: Float
        var defaultHash: Int32   // id of the default token (−1: empty → no id)
    }

    init(schema: ContestSchema, buckets: [Int]) {
        precondition(buckets.count == schema.slots.count, "\(schema.format): \(buckets.count) bucket counts for \(schema.slots.count) slots")
        self.schema = schema
        self.buckets = buckets
        self.vocabulary = ContestSchema.vocabulary.map { Array($0.utf8) }
        plan = schema.columns.map { c in
            switch c.kind {
            case .label(let i): return Step(op: .label, target: i, separator: 0, defaultValue: 0, defaultHash: -1)
            case .hashed(let s, let d), .hashedList(let s, _, let d):
                let tok = Array(d.utf8)
                let id = tok.isEmpty && !c.kind.isList ? -1 : tok.withUnsafeBufferPointer { ContestHash.id($0.baseAddress, 0, tok.count, buckets: buckets[s]) }
                var sep: UInt8 = 0
                if case .hashedList(_, let sp, _) = c.kind { sep = sp }
                return Step(op: c.kind.isList ? .hashedList : .hashed, target: s, separator: sep, defaultValue: 0, defaultHash: id)
            case .vocabulary(let s): return Step(op: .vocabulary, target: s, separator: 0, defaultValue: 0, defaultHash: -1)
            case .vocabularyList(let s): return Step(op: .vocabularyList, target: s, separator: 59, defaultValue: 0, defaultHash: -1)
            case .identity(let s): return Step(op: .identity, target: s, separator: 0, defaultValue: 0, defaultHash: -1)
            case .numeric(let k, let integer, let d): return Step(op: integer ? .integer : .numeric, target: k, separator: 0, defaultValue: d, defaultHash: -1)
            case .numericListMean(let k): return Step(op: .numericMean, target: k, separator: 59, defaultValue: 0, defaultHash: -1)
            case .unusedInteger: return Step(op: .unusedInteger, target: 0, separator: 0, defaultValue: 0, defaultHash: -1)
            case .unusedText: return Step(op: .unusedText, target: 0, separator: 0, defaultValue: 0, defaultHash: -1)
            case .vocabularyFile, .vocabularyFileList: preconditionFailure("\(schema.format): Amazon Books rows are read by AmazonRowParser")
            }
        }
    }

    /// Output slots of one row; `ids` has room for at least `idRoom(lineBytes:)` more ids from `idCursor`.
    struct Row {
        var labels: UnsafeMutablePointer<Float>
        var numeric: UnsafeMutablePointer<Float>
        var bagStart: UnsafeMutablePointer<Int32>
        var bagCount: UnsafeMutablePointer<Int32>
        var ids: UnsafeMutablePointer<Int32>
    }

    /// An upper bound on the ids one line of `lineBytes` bytes can produce.
    @inline(__always)
    func idRoom(lineBytes: Int) -> Int { lineBytes + schema.slots.count + 1 }

    /// Parses `bytes[start..<end]` (one line without its `\n`; a trailing `\r` is ignored) into
    /// `row`, writing ids from `idCursor` on. Returns the ids written, or the fault (the row's
    /// slots then hold garbage).
    func parse(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end lineEnd: Int, into row: Row,
               idCursor: Int) -> Result<Int, ContestRowFault> {
        let p = bytes.baseAddress!
        var end = lineEnd
        if end > start && p[end - 1] == 13 { end -= 1 }
        let comma = schema.separator
        var pos = start
        var cursor = idCursor
        let columnCount = plan.count
        for c in 0..<columnCount {
            if c > 0 {
                if pos >= end { return .failure(fieldCountFault(p, start, end)) }
                pos += 1  // the comma
            }
            let fs = pos
            while pos < end && p[pos] != comma { pos += 1 }
            let fe = pos
            let step = plan[c]
            switch step.op {
            case .label:
                if fe == fs { row.labels[step.target] = 0; break }
                if fe - fs != 1 || (p[fs] != 48 && p[fs] != 49) { return .failure(ContestRowFault(kind: .label, column: c, start: fs, end: fe)) }
                row.labels[step.target] = p[fs] == 49 ? 1 : 0
            case .hashed:
                row.bagStart[step.target] = Int32(truncatingIfNeeded: cursor)
                if fe > fs {
                    row.ids[cursor] = ContestHash.id(p, fs, fe, buckets: buckets[step.target]); cursor += 1
                } else if step.defaultHash >= 0 {
                    row.ids[cursor] = step.defaultHash; cursor += 1
                }
                row.bagCount[step.target] = Int32(truncatingIfNeeded: cursor) - row.bagStart[step.target]
            case .hashedList:
                row.bagStart[step.target] = Int32(truncatingIfNeeded: cursor)
                if fe == fs {
                    row.ids[cursor] = step.defaultHash; cursor += 1
                } else {
                    let b = buckets[step.target], sep = step.separator
                    var ts = fs
                    var i = fs
                    while i <= fe {
                        if i == fe || p[i] == sep {
                            row.ids[cursor] = ContestHash.id(p, ts, i, buckets: b); cursor += 1
                            ts = i + 1
                        }
                        i += 1
                    }
                }
                row.bagCount[step.target] = Int32(truncatingIfNeeded: cursor) - row.bagStart[step.target]
            case .vocabulary, .vocabularyList:
                row.bagStart[step.target] = Int32(truncatingIfNeeded: cursor)
                if fe > fs {
                    let list = step.op == .vocabularyList
                    var ts = fs
                    var i = fs
                    while i <= fe {
                        if i == fe || (list && p[i] == 59) {
                            let v = vocabularyIndex(p, ts, i)
                            if v >= 0 { row.ids[cursor] = v; cursor += 1 }
                            ts = i + 1
                        }
                        i += 1
                    }
                }
                row.bagCount[step.target] = Int32(truncatingIfNeeded: cursor) - row.bagStart[step.target]
            case .identity:
                var v: Int64 = 0
                if fe > fs {
                    guard let x = Self.parseInteger(p, fs, fe) else { return .failure(ContestRowFault(kind: .integer, column: c, start: fs, end: fe)) }
                    v = x
                }
                let b = buckets[step.target]
                if v < 0 || v >= Int64(b) { return .failure(ContestRowFault(kind: .identityRange(b), column: c, start: fs, end: fe)) }
                row.bagStart[step.target] = Int32(truncatingIfNeeded: cursor)
                row.ids[cursor] = Int32(truncatingIfNeeded: v); cursor += 1
                row.bagCount[step.target] = 1
            case .integer, .unusedInteger:
                var v = step.defaultValue
                if fe > fs {
                    guard let x = Self.parseInteger(p, fs, fe) else { return .failure(ContestRowFault(kind: .integer, column: c, start: fs, end: fe)) }
                    v = Float(x)
                }
                if step.op == .integer { row.numeric[step.target] = v }
            case .numeric:
                var v = step.defaultValue
                if fe > fs {
                    guard let x = Self.parseNumber(p, fs, fe) else { return .failure(ContestRowFault(kind: .number, column: c, start: fs, end: fe)) }
                    v = Float(x)
                }
                row.numeric[step.target] = v
            case .numericMean:
                var sum = 0.0, n = 0
                if fe > fs {
                    var ts = fs
                    var i = fs
                    while i <= fe {
                        if i == fe || p[i] == 59 {
                            guard let x = Self.parseNumber(p, ts, i) else { return .failure(ContestRowFault(kind: .number, column: c, start: fs, end: fe)) }
                            sum += x; n += 1
                            ts = i + 1
                        }
                        i += 1
                    }
                }
                row.numeric[step.target] = n > 0 ? Float(sum / Double(n)) : 0
            case .unusedText:
                break
            }
        }
        if pos != end { return .failure(fieldCountFault(p, start, end)) }
        return .success(cursor - idCursor)
    }

    @inline(__always)
    private func vocabularyIndex(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Int32 {
        for (k, word) in vocabulary.enumerated() where word.count == e - s {
            var same = true
            for j in 0..<word.count where word[j] != p[s + j] { same = false; break }
            if same { return Int32(k) }
        }
        return -1
    }

    /// `[-+]digits` (at most 18 digits), or nil.
    @inline(__always)
    static func parseInteger(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Int64? {
        var i = s
        var negative = false
        if i < e && (p[i] == 45 || p[i] == 43) { negative = p[i] == 45; i += 1 }
        if i == e || e - i > 18 { return nil }
        var v: Int64 = 0
        while i < e {
            let d = p[i] &- 48
            if d > 9 { return nil }
            v = v &* 10 &+ Int64(d)
            i += 1
        }
        return negative ? -v : v
    }

    /// A decimal number `[-+]digits[.digits][(e|E)[-+]digits]` (at least one digit), or nil.
    @inline(__always)
    static func parseNumber(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Double? {
        var i = s
        var negative = false
        if i < e && (p[i] == 45 || p[i] == 43) { negative = p[i] == 45; i += 1 }
        var mantissa: UInt64 = 0
        var scale = 0
        var digits = 0
        while i < e, p[i] &- 48 <= 9 {
            if mantissa < 1 << 59 { mantissa = mantissa * 10 + UInt64(p[i] - 48) } else { scale += 1 }
            digits += 1; i += 1
        }
        if i < e && p[i] == 46 {
            i += 1
            while i < e, p[i] &- 48 <= 9 {
                if mantissa < 1 << 59 { mantissa = mantissa * 10 + UInt64(p[i] - 48); scale -= 1 }
                digits += 1; i += 1
            }
        }
        if digits == 0 { return nil }
        if i < e && (p[i] == 101 || p[i] == 69) {
            i += 1
            var expNegative = false
            if i < e && (p[i] == 45 || p[i] == 43) { expNegative = p[i] == 45; i += 1 }
            var x = 0, expDigits = 0
            while i < e, p[i] &- 48 <= 9 { x = min(x * 10 + Int(p[i] - 48), 400); expDigits += 1; i += 1 }
            if expDigits == 0 { return nil }
            scale += expNegative ? -x : x
        }
        if i != e { return nil }
        var v = Double(mantissa)
        if scale != 0 { v *= pow(10.0, Double(scale)) }
        return negative ? -v : v
    }

    private func fieldCountFault(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> ContestRowFault {
        var fields = 1
        for i in start..<end where p[i] == schema.separator { fields += 1 }
        return ContestRowFault(kind: .fieldCount(fields), column: 0, start: start, end: end)
    }
}

extension ContestColumnKind {
    var isList: Bool {
        switch self {
        case .hashedList, .vocabularyList, .numericListMean, .vocabularyFileList: true
        default: false
        }
    }
}

/// The token hash of the contest readers: FNV-1a 64 over the token's bytes, a SplitMix64
/// finalizer, then Lemire's multiply-shift reduction to `[0, buckets)`. No column salt: equal
/// tokens get equal ids in equal-sized tables (TF's `Fingerprint64(token) % buckets` semantics;
/// the hash function itself differs from TF's).
public enum ContestHash {
    /// The id of `p[s..<e]` among `buckets` rows.
    @inline(__always)
    public static func id(_ p: UnsafePointer<UInt8>?, _ s: Int, _ e: Int, buckets: Int) -> Int32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        if let p { for i in s..<e { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 } }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        return Int32(truncatingIfNeeded: h.multipliedFullWidth(by: UInt64(buckets)).high)
    }

    /// The id of `token` (for tests and generators).
    public static func id(_ token: String, buckets: Int) -> Int32 {
        let bytes = Array(token.utf8)
        return bytes.withUnsafeBufferPointer { id($0.baseAddress, 0, bytes.count, buckets: buckets) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
