import RecContract

/// An error in an experiment spec, pointing at the file, line and column, the key path, the
/// offending value and what would have been accepted.
///
/// Rendered like a compiler diagnostic:
/// `Experiments/x.yaml:12:14: error: factors.executor[1]: unknown value 'fast' (allowed: pool, inline, costmodel)`.
public struct SpecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The spec file (or a description of where the text came from).
    public var path: String
    /// 1-based line and column of the offending node; 0 when unknown.
    public var line: Int
    public var column: Int
    /// Dotted key path, e.g. `factors.executor[1]`.
    public var keyPath: String
    /// What is wrong.
    public var message: String
    /// The offending value as written, if any.
    public var value: String?
    /// The accepted values or keys, if there is a closed set.
    public var allowed: [String]
    /// The closest accepted value, when one is close enough to be a likely typo.
    public var suggestion: String?

    /// An error at `line:column` of `path`; `suggestion` is computed from `value` and `allowed`.
    public init(path: String, line: Int, column: Int, keyPath: String, message: String, value: String? = nil,
                allowed: [String] = []) {
        self.path = path; self.line = line; self.column = column; self.keyPath = keyPath
        self.message = message; self.value = value; self.allowed = allowed
        self.suggestion = value.flatMap { SpecError.closest(to: $0, in: allowed) }
    }

    public var description: String {
        // A file-level error (missing, a directory, unreadable) has no line: `path: error: …`.
        var text = line > 0 ? "\(path):\(line):\(column): error: \(keyPath.isEmpty ? "spec" : keyPath): \(message)"
                            : "\(path): error: \(message)"
        if let value { text += " '\(value)'" }
        if let suggestion { text += "; did you mean '\(suggestion)'?" }
        if !allowed.isEmpty { text += " (allowed: \(allowed.joined(separator: ", ")))" }
        return text
    }

    /// The candidate within edit distance ⌈len/3⌉ (at least 1, at most 3) of `word`, if any.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let limit = max(1, min(3, (word.count + 2) / 3))
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }.filter { $0.1 <= limit }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// Levenshtein distance (`RecContract.EditDistance`).
    static func editDistance(_ a: String, _ b: String) -> Int { EditDistance.between(a, b) }
}
