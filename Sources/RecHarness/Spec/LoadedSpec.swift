import Foundation

/// A parsed spec with the text it came from, its path and its hash: what the runner stores.
public struct LoadedSpec: Sendable {
    /// The validated spec.
    public var spec: ExperimentSpec
    /// The YAML text as read (stored with the experiment, re-parsed by reports).
    public var text: String
    /// Where the text came from.
    public var path: String

    /// Wraps an already validated spec.
    public init(spec: ExperimentSpec, text: String, path: String) {
        self.spec = spec; self.text = text; self.path = path
    }

    /// Reads and parses the spec file at `path`. Throws `SpecError` (with line numbers) for a bad
    /// spec, or `SpecError` at line 0 when the file cannot be read.
    public static func load(path: String) throws -> LoadedSpec {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SpecError(path: path, line: 0, column: 0, keyPath: "", message: "no such spec file")
        }
        if isDirectory.boolValue {
            throw SpecError(path: path, line: 0, column: 0, keyPath: "", message: "is a directory; give a YAML spec file (e.g. \(path)/quick.yaml)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpecError(path: path, line: 0, column: 0, keyPath: "", message: "cannot read the spec file")
        }
        guard let text = String(validatingUTF8Data: data) else {
            // Name the first byte that is not UTF-8, with its line and column.
            var line = 1, column = 1, i = 0
            let bytes = [UInt8](data)
            while i < bytes.count {
                let len = bytes[i] < 0x80 ? 1 : bytes[i] >> 5 == 0b110 ? 2 : bytes[i] >> 4 == 0b1110 ? 3 : bytes[i] >> 3 == 0b11110 ? 4 : 0
                let valid = len > 0 && i + len <= bytes.count && String(bytes: bytes[i..<(i + len)], encoding: .utf8) != nil
                if !valid { break }
                if bytes[i] == 0x0A { line += 1; column = 1 } else { column += 1 }
                i += len
            }
            throw SpecError(path: path, line: line, column: column, keyPath: "",
                            message: String(format: "the spec is not UTF-8 text (byte 0x%02X)", i < bytes.count ? bytes[i] : 0))
        }
        return try SpecParser.parse(text, path: path)
    }

    /// SHA-256 (hex) of the canonical JSON of the effective spec, with the timeout left out (it
    /// changes how long the harness waits, not what a run measures). Comments, key order and
    /// formatting of the YAML do not change it; any knob, level, count, metric or claim does.
    public var hash: String {
        var canonical = spec
        canonical.timeoutSeconds = 0
        return SHA256Digest.hex(CanonicalJSON.string(canonical))
    }
}

extension String {
    /// The text of `data` when it is valid UTF-8, else nil (no replacement characters).
    init?(validatingUTF8Data data: Data) {
        guard let s = String(data: data, encoding: .utf8), s.utf8.count == data.count else { return nil }
        self = s
    }
}
