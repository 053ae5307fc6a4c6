/// Why one Amazon Books row is not valid: what is wrong, in which file (the main file or its `_neg`
/// companion) and where. Built without allocation; the message is formatted only when needed.
struct AmazonRowFault: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// The main line has this many TAB-separated fields instead of 6.
        case fieldCount(Int)
        /// The label is not 0 or 1 (bytes `start..<end`).
        case label
        /// A history list is empty (column 4 or 5).
        case emptyHistory
        /// History items and history categories differ in length.
        case historyLengths(items: Int, categories: Int)
        /// The `_neg` line has this many TAB-separated fields instead of 2.
        case negativeFieldCount(Int)
        /// The `_neg` lists' lengths differ from the history's.
        case negativeLengths(items: Int, categories: Int, history: Int)
        /// The `_neg` file has no line for this row (it is shorter than the main file).
        case noNegativeLine(negativeLines: Int)
    }
    var kind: Kind
    /// Whether the fault is in the `_neg` file (its line number is the row's).
    var inNegativeFile: Bool
    /// 0-based column (of the main file's 6, or the `_neg` file's 2).
    var column: Int
    var start: Int
    var end: Int

    static let columns = ["label", "uid", "item", "category", "history items", "history categories"]
    static let negativeColumns = ["non-clicked history items", "non-clicked history categories"]

    /// A reason naming the field and quoting the offending text (≤ 40 bytes) where there is one.
    func reason(in bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch kind {
        case .fieldCount(let n): return "expected 6 TAB-separated fields (label, uid, item, category, history items, history categories), found \(n)"
        case .label:
            let cut = min(end, start + 40)
            var text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<cut]), as: UTF8.self)
            if cut < end { text += "…" }
            return "field 1 (label): \"\(text)\" is not 0 or 1"
        case .emptyHistory: return "field \(column + 1) (\(Self.columns[column])): empty history (the data scripts write at least one item)"
        case let .historyLengths(i, c): return "history items (\(i)) and history categories (\(c)) differ in length"
        case .negativeFieldCount(let n): return "expected 2 TAB-separated fields (non-clicked history items, categories), found \(n)"
        case let .negativeLengths(i, c, h):
            return "non-clicked history of \(i) items and \(c) categories for a history of \(h) (one per history position expected)"
        case .noNegativeLine(let n): return "no line for this row: the file has \(n) lines, fewer than its main file (rows and negative histories would misalign)"
        }
    }
}

/// Parses Amazon Books rows (a main line and, when negatives are read, the `_neg` line of the same
/// number) straight from bytes into a `ContestBatch` row: vocabulary ids by hashing the token bytes
/// (`AmazonVocabulary`), no `String`, no allocation.
///
/// Slots: 0 uid, 1 item, 2 cat (one id each; an empty field reads as `decode_csv`'s default `" "`),
/// 3 hist_item, 4 hist_cat (file order, first `AmazonBooks.maxHistory`), 5 neg_hist_item,
/// 6 neg_hist_cat (same length as the history; empty bags when negatives are not read).
/// Checks: 6 (and 2) fields, label 0/1 (empty → 0), non-empty history, items and categories of equal
/// length, negative lists as long as the history (all counted before truncation).
struct AmazonRowParser: Sendable {
    let uid: AmazonVocabulary
    let mid: AmazonVocabulary
    let cat: AmazonVocabulary
    /// Ids of the empty-field default `" "` per vocabulary.
    private let blank: (Int32, Int32, Int32)

    /// An upper bound on the ids of one row.
    static let idRoom = 3 + 4 * AmazonBooks.maxHistory

    init(uid: AmazonVocabulary, mid: AmazonVocabulary, cat: AmazonVocabulary) {
        self.uid = uid
        self.mid = mid
        self.cat = cat
        blank = (uid.id(" "), mid.id(" "), cat.id(" "))
    }

    /// Table sizes per slot (the vocabulary sizes, shared tables as in the scripts).
    var buckets: [Int] { [uid.count, mid.count, cat.count, mid.count, cat.count, mid.count, cat.count] }

    /// Parses main line `p[start..<end]` and, if `negative` is given, the `_neg` line `n[ns..<ne]`
    /// (both without `\n`; a trailing `\r` is ignored) into `row`, writing ids from `idCursor`.
    /// Returns the ids written or the fault (the row then holds garbage).
    func parse(_ p: UnsafePointer<UInt8>, start: Int, end lineEnd: Int,
               negative: (bytes: UnsafePointer<UInt8>, start: Int, end: Int)?,
               into row: ContestRowParser.Row, idCursor: Int) -> Result<Int, AmazonRowFault> {
        var end = lineEnd
        if end > start && p[end - 1] == 13 { end -= 1 }
        var pos = start
        var cursor = idCursor
        var historyLength = 0
        for c in 0..<6 {
            if c > 0 {
                if pos >= end { return .failure(Self.fieldCountFault(p, start, end, negative: false)) }
                pos += 1  // the TAB
            }
            let fs = pos
            while pos < end && p[pos] != 9 { pos += 1 }
            let fe = pos
            switch c {
            case 0:
                if fe == fs { row.labels[0] = 0; break }
                if fe - fs != 1 || (p[fs] != 48 && p[fs] != 49) {
                    return .failure(AmazonRowFault(kind: .label, inNegativeFile: false, column: 0, start: fs, end: fe))
                }
                row.labels[0] = p[fs] == 49 ? 1 : 0
            case 1, 2, 3:
                let vocabulary = c == 1 ? uid : c == 2 ? mid : cat
                let slot = c - 1
                row.bagStart[slot] = Int32(truncatingIfNeeded: cursor)
                if fe > fs {
                    row.ids[cursor] = vocabulary.id(p, fs, fe)
                } else {
                    row.ids[cursor] = c == 1 ? blank.0 : c == 2 ? blank.1 : blank.2
                }
                cursor += 1
                row.bagCount[slot] = 1
            default:  // 4 history items, 5 history categories
                if fe == fs { return .failure(AmazonRowFault(kind: .emptyHistory, inNegativeFile: false, column: c, start: fs, end: fe)) }
                let n = Self.list(p, fs, fe, vocabulary: c == 4 ? mid : cat, slot: c - 1, row: row, cursor: &cursor)
                if c == 4 {
                    historyLength = n
                } else if n != historyLength {
                    return .failure(AmazonRowFault(kind: .historyLengths(items: historyLength, categories: n), inNegativeFile: false,
                                                   column: c, start: fs, end: fe))
                }
            }
        }
        if pos != end { return .failure(Self.fieldCountFault(p, start, end, negative: false)) }
        guard let negative else {
            for slot in 5...6 { row.bagStart[slot] = Int32(truncatingIfNeeded: cursor); row.bagCount[slot] = 0 }
            return .success(cursor - idCursor)
        }
        let q = negative.bytes
        var nend = negative.end
        if nend > negative.start && q[nend - 1] == 13 { nend -= 1 }
        var npos = negative.start
        var lengths = (0, 0)
        for c in 0..<2 {
            if c > 0 {
                if npos >= nend { return .failure(Self.fieldCountFault(q, negative.start, nend, negative: true)) }
                npos += 1
            }
            let fs = npos
            while npos < nend && q[npos] != 9 { npos += 1 }
            let n = npos == fs ? 0 : Self.list(q, fs, npos, vocabulary: c == 0 ? mid : cat, slot: 5 + c, row: row, cursor: &cursor)
            if npos == fs { row.bagStart[5 + c] = Int32(truncatingIfNeeded: cursor); row.bagCount[5 + c] = 0 }
            if c == 0 { lengths.0 = n } else { lengths.1 = n }
        }
        if npos != nend { return .failure(Self.fieldCountFault(q, negative.start, nend, negative: true)) }
        if lengths.0 != historyLength || lengths.1 != historyLength {
            return .failure(AmazonRowFault(kind: .negativeLengths(items: lengths.0, categories: lengths.1, history: historyLength),
                                           inNegativeFile: true, column: 0, start: negative.start, end: nend))
        }
        return .success(cursor - idCursor)
    }

    /// Looks up the `\x02`-separated tokens of `p[s..<e]` into `slot`, keeping the first
    /// `maxHistory`; returns the number of tokens (all of them).
    @inline(__always)
    private static func list(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, vocabulary: AmazonVocabulary, slot: Int,
                             row: ContestRowParser.Row, cursor: inout Int) -> Int {
        row.bagStart[slot] = Int32(truncatingIfNeeded: cursor)
        var n = 0
        var ts = s
        var i = s
        while i <= e {
            if i == e || p[i] == AmazonBooks.listSeparator {
                if n < AmazonBooks.maxHistory {
                    row.ids[cursor] = vocabulary.id(p, ts, i)
                    cursor += 1
                }
                n += 1
                ts = i + 1
            }
            i += 1
        }
        row.bagCount[slot] = Int32(min(n, AmazonBooks.maxHistory))
        return n
    }

    private static func fieldCountFault(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, negative: Bool) -> AmazonRowFault {
        var fields = 1
        for i in start..<end where p[i] == 9 { fields += 1 }
        return AmazonRowFault(kind: negative ? .negativeFieldCount(fields) : .fieldCount(fields), inNegativeFile: negative,
                              column: 0, start: start, end: end)
    }
}
