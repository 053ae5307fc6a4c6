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
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SpecError(path: path, line: 0, column: 0, keyPath: "", message: "cannot read the spec file: \(error.localizedDescription)")
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
