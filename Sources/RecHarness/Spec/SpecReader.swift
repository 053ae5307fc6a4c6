import Foundation
import Yams

/// Typed access to a composed YAML document that turns every mismatch into a `SpecError` naming
/// the file, line, column and key path (from Yams' node marks).
struct SpecReader {
    let path: String

    func error(_ node: Node?, _ keyPath: String, _ message: String, value: String? = nil, allowed: [String] = []) -> SpecError {
        SpecError(path: path, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, keyPath: keyPath,
                  message: message, value: value, allowed: allowed)
    }

    /// A mapping's entries as (key text, key node, value node), in document order; rejects
    /// non-scalar and duplicate keys.
    func entries(_ node: Node, _ keyPath: String) throws -> [(key: String, keyNode: Node, value: Node)] {
        guard case .mapping(let mapping) = node else {
            throw error(node, keyPath, "expected a mapping (key: value), found \(kind(node))")
        }
        var seen = Set<String>()
        var result: [(key: String, keyNode: Node, value: Node)] = []
        for (k, v) in mapping {
            guard let key = k.scalar?.string else { throw error(k, keyPath, "keys must be plain text") }
            let sub = join(keyPath, key)
            guard seen.insert(key).inserted else { throw error(k, sub, "duplicate key") }
            result.append((key, k, v))
        }
        return result
    }

    /// Like `entries`, and rejects keys outside `allowed` with a did-you-mean suggestion.
    func entries(_ node: Node, _ keyPath: String, allowed: [String]) throws -> [(key: String, keyNode: Node, value: Node)] {
        let all = try entries(node, keyPath)
        for e in all where !allowed.contains(e.key) {
            throw error(e.keyNode, join(keyPath, e.key), "unknown key", value: e.key, allowed: allowed)
        }
        return all
    }

    func scalar(_ node: Node, _ keyPath: String) throws -> String {
        guard let s = node.scalar else { throw error(node, keyPath, "expected a single value, found \(kind(node))") }
        return s.string
    }

    func int(_ node: Node, _ keyPath: String, min: Int) throws -> Int {
        let text = try scalar(node, keyPath)
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw error(node, keyPath, "expected an integer", value: text)
        }
        guard v >= min else { throw error(node, keyPath, "must be at least \(min), got", value: text) }
        return v
    }

    func double(_ node: Node, _ keyPath: String, minExclusive: Double) throws -> Double {
        let text = try scalar(node, keyPath)
        guard let v = Double(text), v.isFinite else { throw error(node, keyPath, "expected a number", value: text) }
        guard v > minExclusive else { throw error(node, keyPath, "must be greater than \(minExclusive), got", value: text) }
        return v
    }

    func sequence(_ node: Node, _ keyPath: String) throws -> [Node] {
        guard case .sequence(let seq) = node else { throw error(node, keyPath, "expected a list, found \(kind(node))") }
        return Array(seq)
    }

    /// A list of scalars (a single scalar counts as a one-element list only when `allowSingle`).
    func strings(_ node: Node, _ keyPath: String, allowSingle: Bool = false) throws -> [String] {
        if allowSingle, let s = node.scalar { return [s.string] }
        return try sequence(node, keyPath).enumerated().map { i, n in try scalar(n, "\(keyPath)[\(i)]") }
    }

    /// A mapping of scalars (key → value text), in document order.
    func stringMap(_ node: Node, _ keyPath: String) throws -> [(key: String, value: String, node: Node)] {
        try entries(node, keyPath).map { e in (e.key, try scalar(e.value, join(keyPath, e.key)), e.value) }
    }

    func join(_ keyPath: String, _ key: String) -> String { keyPath.isEmpty ? key : "\(keyPath).\(key)" }

    func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): "the value '\(s.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
