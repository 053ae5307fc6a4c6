#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Amazon Books layout (DIN, DIEN) as the contest's data scripts write it
/// (`../shared/reference/tianchi/{DIN,DIEN}/data/script`).
public enum AmazonBooks {
    /// Training and test files: `label \t uid \t item \t category \t history items \t history categories`.
    public static let trainFile = "local_train_splitByUser"
    public static let evalFile = "local_test_splitByUser"
    /// DIEN's line-aligned companions (`generate_neg.py`): `neg history items \t neg history categories`.
    public static let negativeSuffix = "_neg"
    /// Vocabularies (`generate_voc.py` + `pick2txt.py`): one token per line, line number = id.
    /// `uid_voc.txt` has no default token (id 0 is the most frequent training user); `mid_voc.txt`
    /// starts with `default_mid`, `cat_voc.txt` with `default_cat`; the rest by training count, descending.
    public static let uidVocabulary = "uid_voc.txt"
    public static let midVocabulary = "mid_voc.txt"
    public static let catVocabulary = "cat_voc.txt"
    /// The first tokens of `mid_voc.txt` and `cat_voc.txt`.
    public static let defaultMid = "default_mid"
    public static let defaultCat = "default_cat"
    /// History lists are read up to their first 50 tokens (`tf.sparse.slice(…, [0, 0], [B, MAX_SEQ_LENGTH])`).
    public static let maxHistory = 50
    /// The list separator inside a history field (Ctrl-B).
    public static let listSeparator: UInt8 = 2
}

/// What the Amazon Books reader does with DIEN's `_neg` files.
public enum AmazonNegatives: String, Sendable, CaseIterable {
    /// Both `_neg` files must exist (DIEN's script refuses to start without them).
    case required
    /// Read them when both exist; when neither does, the negative-history slots are empty bags.
    /// One without the other is an error.
    case ifPresent
    /// Never open them (DIN's script does not read them): the negative-history slots are empty bags.
    case ignored
}

/// One vocabulary file (`uid_voc.txt`, `mid_voc.txt`, `cat_voc.txt`) as an open-addressing hash table
/// keyed by the tokens' bytes, the way TF's `categorical_column_with_vocabulary_file(…, default_value=0)`
/// reads it: line `i` (0-based) is token `i`, every line is one whole token (a final `\n` and a
/// trailing `\r` are not part of it), unknown tokens map to 0. A repeated token is an error, as TF's
/// table initializer refuses it.
///
/// Lookups hash the token's bytes in place (no `String`); immutable after init, so `@unchecked
/// Sendable`: no lock is needed because nothing is written after `init` returns.
public final class AmazonVocabulary: @unchecked Sendable {
    /// The file (path, or a label for in-memory data) named in errors.
    public let name: String
    /// Number of tokens (= the embedding table's rows).
    public let count: Int
    private let arena: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<Int>
    private let hashes: UnsafeMutablePointer<UInt64>
    private let slots: UnsafeMutablePointer<Int32>
    private let mask: Int

    /// Reads the vocabulary file at `path`. Throws `DataError.io` if it cannot be read and
    /// `DataError.malformedRow` (file, line) for an empty file or a repeated token.
    public convenience init(path: String) throws {
        try self.init(storage: CriteoBytes(mapping: path), name: path)
    }

    /// A vocabulary from the file's bytes; `name` stands for the file in errors. Throws as `init(path:)`.
    public convenience init(contents: [UInt8], name: String) throws {
        try self.init(storage: CriteoBytes(array: contents), name: name)
    }

    init(storage: CriteoBytes, name: String) throws {
        self.name = name
        // Tokens back to back, and where each starts (one more entry: the end).
        let (tokens, starts) = storage.withBytes { bytes -> ([UInt8], [Int]) in
            var tokens: [UInt8] = [], starts: [Int] = []
            guard let p = bytes.baseAddress, bytes.count > 0 else { return ([], [0]) }
            tokens.reserveCapacity(bytes.count)
            var s = 0
            while s < bytes.count {
                var e = s
                while e < bytes.count && p[e] != 10 { e += 1 }
                var t = e
                if t > s && p[t - 1] == 13 { t -= 1 }
                starts.append(tokens.count)
                tokens.append(contentsOf: UnsafeBufferPointer(start: p + s, count: t - s))
                s = e + 1
            }
            starts.append(tokens.count)
            return (tokens, starts)
        }
        guard starts.count > 1 else { throw DataError.malformedRow(file: name, line: 1, reason: "empty vocabulary (one token per line expected)") }
        count = starts.count - 1
        arena = .allocate(capacity: max(tokens.count, 1))
        offsets = .allocate(capacity: count + 1)
        hashes = .allocate(capacity: count)
        var capacity = 16
        while capacity < 2 * count { capacity <<= 1 }
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: -1, count: capacity)
        tokens.withUnsafeBufferPointer { if let b = $0.baseAddress { arena.initialize(from: b, count: $0.count) } }
        for i in 0...count { offsets[i] = starts[i] }
        for i in 0..<count {
            let (s, e) = (offsets[i], offsets[i + 1])
            let h = Self.hash(arena, s, e)
            hashes[i] = h
            var k = Int(truncatingIfNeeded: h) & mask
            while slots[k] >= 0 {
                let j = Int(slots[k])
                if hashes[j] == h && offsets[j + 1] - offsets[j] == e - s && memcmp(arena + offsets[j], arena + s, e - s) == 0 {
                    let token = String(decoding: UnsafeBufferPointer(start: arena + s, count: min(e - s, 40)), as: UTF8.self)
                    throw DataError.malformedRow(file: name, line: i + 1, reason: "token \"\(token)\" repeats line \(j + 1) (a vocabulary lists each token once)")
                }
                k = (k + 1) & mask
            }
            slots[k] = Int32(i)
        }
    }

    deinit {
        arena.deallocate(); offsets.deallocate(); hashes.deallocate(); slots.deallocate()
    }

    /// FNV-1a 64 over the bytes with a SplitMix64 finalizer.
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = s
        while i < e { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3; i += 1 }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// The id of the token `p[s..<e]`: its line index, or 0 when it is not in the vocabulary.
    @inline(__always)
    func id(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> Int32 {
        let h = Self.hash(p, s, e)
        let n = e - s
        var k = Int(truncatingIfNeeded: h) & mask
        while true {
            let j = slots[k]
            if j < 0 { return 0 }
            let i = Int(j)
            if hashes[i] == h && offsets[i + 1] - offsets[i] == n && memcmp(arena + offsets[i], p + s, n) == 0 { return j }
            k = (k + 1) & mask
        }
    }

    /// The id of `token` (0 when unknown); for tests and tools.
    public func id(_ token: String) -> Int32 {
        let bytes = Array(token.utf8)
        return bytes.withUnsafeBufferPointer { b in
            b.baseAddress.map { id($0, 0, b.count) } ?? { var z: UInt8 = 0; return id(&z, 0, 0) }()
        }
    }

    /// Token `i` (for tests and tools).
    public func token(_ i: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: arena + offsets[i], count: offsets[i + 1] - offsets[i]), as: UTF8.self)
    }
}
