/// Why one line is not a valid Criteo row: the field (0 = label, 1…13 = I1…I13, 14…39 = C1…C26)
/// and the byte range of the offending text within the buffer. Built without allocation; the
/// human-readable reason is only formatted when needed.
struct CriteoRowFault: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case fieldCount(Int)
        case label
        case integer
        case integerRange
        case hex
        case hexTooLong
    }
    var kind: Kind
    var field: Int
    var start: Int
    var end: Int

    /// The name of `field` as in the Criteo description: label, I1…I13, C1…C26.
    static func fieldName(_ field: Int) -> String {
        if field == 0 { return "label" }
        if field <= CriteoSchema.denseCount { return "I\(field)" }
        return "C\(field - CriteoSchema.denseCount)"
    }

    /// A reason naming the field and quoting the offending text (at most 40 bytes of it).
    func reason(in bytes: UnsafeBufferPointer<UInt8>) -> String {
        let cut = min(end, start + 40)
        var text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<cut]), as: UTF8.self)
        if cut < end { text += "…" }
        let quoted = "\"\(text)\""
        let name = Self.fieldName(field)
        switch kind {
        case .fieldCount(let n):
            return "expected \(CriteoSchema.fieldCount) tab-separated fields, found \(n) in \(quoted)"
        case .label: return "field \(name): \(quoted) is not 0 or 1"
        case .integer: return "field \(name): \(quoted) is not an integer"
        case .integerRange: return "field \(name): \(quoted) is out of the 64-bit integer range"
        case .hex: return "field \(name): \(quoted) is not a hexadecimal id"
        case .hexTooLong: return "field \(name): \(quoted) has more than 16 hex digits"
        }
    }
}

/// Parses Criteo TSV lines straight from bytes into `Batch` rows: no `String`, no allocation.
struct CriteoRowParser: Sendable {
    /// Rows per categorical table (see `CriteoHash`).
    let buckets: Int
    /// `log1p(x)` for `x` in `0..<log1pTable.count`, so common small counts skip the libm call.
    let log1pTable: [Float]
    /// Byte → hex digit value (0…15), 0xFF for a non-hex byte.
    let hexTable: [UInt8]

    init(buckets: Int) {
        self.buckets = buckets
        self.log1pTable = (0..<4096).map { Float(log1p(Double($0))) }
        self.hexTable = (0..<256).map { b -> UInt8 in
            switch b {
            case 48...57: return UInt8(b - 48)
            case 65...70: return UInt8(b - 55)
            case 97...102: return UInt8(b - 87)
            default: return 0xFF
            }
        }
    }

    /// Raw views of the lookup tables, valid inside `withTables`.
    struct Tables {
        var log1p: UnsafeBufferPointer<Float>
        var hex: UnsafePointer<UInt8>
    }

    /// Calls `body` with raw views of the lookup tables.
    @inline(__always)
    func withTables<R>(_ body: (Tables) throws -> R) rethrows -> R {
        try log1pTable.withUnsafeBufferPointer { l in
            try hexTable.withUnsafeBufferPointer { h in try body(Tables(log1p: l, hex: h.baseAddress!)) }
        }
    }

    /// Output slots of one row.
    struct Row {
        var label: UnsafeMutablePointer<Float>
        var dense: UnsafeMutablePointer<Float>
        var categorical: UnsafeMutablePointer<Int32>
    }

    /// Parses `bytes[start..<end]` (one line without its `\n`; a trailing `\r` is ignored) into
    /// `row`. Returns nil on success, else the fault; on a fault the row's slots hold garbage.
    @inline(__always)
    func parse(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end lineEnd: Int,
               into row: Row, tables: Tables) -> CriteoRowFault? {
        let p = bytes.baseAddress!
        var end = lineEnd
        if end > start && p[end - 1] == 13 { end -= 1 }  // CR of a CRLF file
        let tab: UInt8 = 9
        var pos = start

        // Label: exactly "0" or "1".
        let labelStart = pos
        while pos < end && p[pos] != tab { pos += 1 }
        if pos - labelStart != 1 || (p[labelStart] != 48 && p[labelStart] != 49) {
            if pos >= end { return fieldCountFault(p, start, end) }
            return CriteoRowFault(kind: .label, field: 0, start: labelStart, end: pos)
        }
        row.label.pointee = p[labelStart] == 49 ? 1 : 0

        // I1…I13: optional '-', decimal digits; empty reads as 0; value → log(1 + max(x, 0)).
        let tableCount = tables.log1p.count
        let tableBase = tables.log1p.baseAddress!
        for j in 0..<CriteoSchema.denseCount {
            if pos >= end { return fieldCountFault(p, start, end) }
            pos += 1  // the tab before this field
            let fieldStart = pos
            var negative = false
            if pos < end && p[pos] == 45 { negative = true; pos += 1 }
            var value: UInt64 = 0
            var digits = 0
            while pos < end {
                let d = p[pos] &- 48
                if d > 9 { break }
                value = value &* 10 &+ UInt64(d)
                digits += 1
                pos += 1
            }
            if pos < end && p[pos] != tab {
                while pos < end && p[pos] != tab { pos += 1 }
                return CriteoRowFault(kind: .integer, field: 1 + j, start: fieldStart, end: pos)
            }
            if digits == 0 && negative {
                return CriteoRowFault(kind: .integer, field: 1 + j, start: fieldStart, end: pos)
            }
            if digits > 18 {
                return CriteoRowFault(kind: .integerRange, field: 1 + j, start: fieldStart, end: pos)
            }
            let x: Float
            if negative || value == 0 {
                x = 0
            } else if value < UInt64(tableCount) {
                x = tableBase[Int(value)]
            } else {
                x = Float(log1p(Double(value)))
            }
            row.dense[j] = x
        }

        // C1…C26: 0…16 hex digits; empty → the missing id. Fast path: exactly 8 digits.
        let buckets = self.buckets
        let hex = tables.hex
        for c in 0..<CriteoSchema.categoricalCount {
            if pos >= end { return fieldCountFault(p, start, end) }
            pos += 1
            let fieldStart = pos
            if end - pos >= 8 && (pos + 8 == end || p[pos + 8] == tab),
               let value = Self.hexValue(ofEightDigits: UInt64(littleEndian: UnsafeRawPointer(p + pos).loadUnaligned(as: UInt64.self))) {
                pos += 8
                row.categorical[c] = CriteoHash.id(value: value, column: c, buckets: buckets)
                continue
            }
            var value: UInt64 = 0
            while pos < end {
                let d = hex[Int(p[pos])]
                if d > 15 { break }
                value = (value << 4) | UInt64(d)
                pos += 1
            }
            if pos < end && p[pos] != tab {
                while pos < end && p[pos] != tab { pos += 1 }
                return CriteoRowFault(kind: .hex, field: 1 + CriteoSchema.denseCount + c, start: fieldStart, end: pos)
            }
            let digits = pos - fieldStart
            if digits > 16 {
                return CriteoRowFault(kind: .hexTooLong, field: 1 + CriteoSchema.denseCount + c, start: fieldStart, end: pos)
            }
            row.categorical[c] = digits == 0
                ? CriteoHash.missingID
                : CriteoHash.id(value: value, column: c, buckets: buckets)
        }
        if pos != end { return fieldCountFault(p, start, end) }
        return nil
    }

    /// The value of the 8 hex digits (either case) in `word`, the first digit in its low byte (as
    /// 8 bytes of text load on a little-endian machine); nil when any byte is not a hex digit. All
    /// eight bytes are range-checked and decoded at once (SWAR), then the nibbles are packed with the
    /// first digit most significant: what the digit-by-digit loop gives, in fewer dependent steps.
    @inline(__always)
    static func hexValue(ofEightDigits word: UInt64) -> UInt64? {
        let ones: UInt64 = 0x0101_0101_0101_0101, high = ones &* 0x80
        // No hex digit has the top bit set; excluding those bytes keeps every sum below in its byte.
        if word & high != 0 { return nil }
        /// The top bit of each byte b (< 0x80) of `x` that lies in lo...hi: the top bit of
        /// b + (0x80 − lo) says b >= lo, that of b + (0x7F − hi) says b > hi.
        @inline(__always) func within(_ x: UInt64, _ lo: UInt64, _ hi: UInt64) -> UInt64 {
            (x &+ ones &* (0x80 &- lo)) & ~(x &+ ones &* (0x7F &- hi)) & high
        }
        let digits = within(word, 0x30, 0x39)                     // '0'…'9'
        let letters = within(word | (ones &* 0x20), 0x61, 0x66)   // 'a'…'f' and 'A'…'F'
        if digits | letters != high { return nil }
        // A digit's value is its low nibble; a letter's (bit 6 set) its low nibble + 9.
        let nibbles = (word & (ones &* 0x0F)) &+ ((word >> 6) & ones) &* 9
        var v = nibbles.byteSwapped  // the first digit in the top byte
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF
        return (v | (v >> 16)) & 0xFFFF_FFFF
    }

    /// The fault for a line with the wrong number of fields (counts the tabs of the whole line).
    private func fieldCountFault(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> CriteoRowFault {
        var fields = end > start ? 1 : 0
        for i in start..<end where p[i] == 9 { fields += 1 }
        return CriteoRowFault(kind: .fieldCount(fields), field: 0, start: start, end: end)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
