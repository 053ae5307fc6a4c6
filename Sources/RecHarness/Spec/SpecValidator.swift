import Foundation
import RecContract
import RecEngine
import Yams

/// Semantic checks of a parsed spec against what the engine accepts: knob names and values
/// (the `RecContract.Knob` registry) for `engine: rectune`, template placeholders for external
/// commands, claims against factors, and design preconditions. Errors point at the YAML node.
struct SpecValidator {
    let reader: SpecReader
    /// Top-level value nodes by key, for error positions.
    let nodes: [String: Node]

    /// Placeholders every external command may use besides knob names.
    static let builtinPlaceholders = ["model", "batch", "steps", "warmup_steps", "data", "run_dir", "repeat", "seed", "value"]

    func validate(_ spec: ExperimentSpec) throws {
        let factorNames = spec.factors.map(\.name)
        if case .rectune = spec.engine { try validateRectune(spec) } else { try validateCommand(spec) }
        if let fixed = nodes["fixed"] {
            for e in try reader.entries(fixed, "fixed") where factorNames.contains(e.key) {
                throw reader.error(e.keyNode, "fixed.\(e.key)", "is also a factor; a knob is either fixed or varied")
            }
        }
        try validateClaims(spec)
        try validateDesign(spec)
    }

    private func validateRectune(_ spec: ExperimentSpec) throws {
        let models = ModelKind.allCases.map(\.rawValue)
        if !models.contains(spec.model) {
            throw reader.error(nodes["model"], "model", "unknown model", value: spec.model, allowed: models)
        }
        let knobNames = Knob.allCases.map(\.name)
        for section in ["factors", "baseline", "fixed"] {
            guard let node = nodes[section] else { continue }
            for e in try reader.entries(node, section) {
                guard let knob = Knob(name: e.key) else {
                    throw reader.error(e.keyNode, "\(section).\(e.key)", "unknown knob", value: e.key, allowed: knobNames)
                }
                if section == "factors" {
                    for (i, level) in try reader.sequence(e.value, "factors.\(e.key)").enumerated() {
                        try check(level, knob, "factors.\(e.key)[\(i)]")
                    }
                } else {
                    try check(e.value, knob, "\(section).\(e.key)")
                }
            }
        }
    }

    /// A knob value must be in the registry's domain for that knob.
    private func check(_ node: Node, _ knob: Knob, _ keyPath: String) throws {
        let value = try reader.scalar(node, keyPath)
        do { _ = try knob.spec.canonical(value) } catch {
            throw reader.error(node, keyPath, "not an allowed value", value: value,
                               allowed: knob.spec.domain.words.isEmpty ? [knob.spec.domain.description] : knob.spec.domain.words)
        }
    }

    private func validateCommand(_ spec: ExperimentSpec) throws {
        guard case .command(let command) = spec.engine else { return }
        let engineNode = nodes["engine"] ?? nodes["command"]
        let knobNames = Set(spec.factors.map(\.name)).union(spec.baseline.keys).union(spec.fixed.keys)
        let allowed = Self.builtinPlaceholders + knobNames.sorted()
        var templates = command.argv
        templates += command.args.values.flatMap { $0 }
        templates += command.env.values.flatMap { $0.values }
        if case .jsonFile(let p) = command.result { templates.append(p) }
        if case .linesFile(let p, _) = command.result { templates.append(p) }
        for template in templates {
            for name in Template.placeholders(in: template) where !allowed.contains(name) {
                throw reader.error(engineNode, "engine", "unknown placeholder {\(name)} in '\(template)'", value: name, allowed: allowed)
            }
        }
        for knob in Array(command.args.keys) + Array(command.env.keys) where !knobNames.contains(knob) {
            throw reader.error(engineNode, "engine", "template for a knob that is neither a factor, baseline nor fixed",
                               value: knob, allowed: knobNames.sorted())
        }
    }

    private func validateClaims(_ spec: ExperimentSpec) throws {
        guard let claimsNode = nodes["claims"] else { return }
        let claimNodes = try reader.sequence(claimsNode, "claims")
        for (i, claim) in spec.claims.enumerated() {
            for (knob, value) in claim.when {
                let levels = (spec.factors.first { $0.name == knob }?.levels ?? []) + [spec.baseline[knob]].compactMap { $0 }
                if levels.isEmpty {
                    throw reader.error(claimNodes[i], "claims[\(i)].when.\(knob)", "is not a factor", value: knob,
                                       allowed: spec.factors.map(\.name))
                }
                if !levels.contains(value) {
                    throw reader.error(claimNodes[i], "claims[\(i)].when.\(knob)", "no configuration has this value", value: value,
                                       allowed: Array(Set(levels)).sorted())
                }
            }
        }
    }

    private func validateDesign(_ spec: ExperimentSpec) throws {
        let node = nodes["design"]
        switch spec.design {
        case .fractional:
            if let f = spec.factors.first(where: { $0.levels.count != 2 }) {
                throw reader.error(node, "design", "a fractional design needs exactly 2 levels per factor; '\(f.name)' has",
                                   value: String(f.levels.count))
            }
            if spec.factors.count > FractionalDesign.maxFactors {
                throw reader.error(node, "design", "fractional designs support up to \(FractionalDesign.maxFactors) factors, got",
                                   value: String(spec.factors.count))
            }
        case .random(let count, _):
            let total = spec.factors.reduce(1) { $0 * $1.levels.count }
            if count > total {
                throw reader.error(node, "design", "asks for more random configurations than the \(total) that exist:",
                                   value: String(count))
            }
        case .full, .ablation, .leaveOneOut:
            break
        }
    }
}

/// `{name}` placeholders in command templates. Only identifier names (`[A-Za-z_][A-Za-z0-9_]*`)
/// are placeholders, so JSON or shell braces in a command (`'{"a": 1}'`, `${HOME}`) pass through.
public enum Template {
    /// Names of the `{name}` placeholders in `text`, in order.
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}") {
                let name = after[..<close]
                let isIdentifier = name.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
                    && name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
                let isShellVariable = open > rest.startIndex && rest[rest.index(before: open)] == "$"
                if isIdentifier && !isShellVariable { names.append(String(name)) }
            }
            rest = after
        }
        return names
    }

    /// `text` with each `{name}` replaced by `values[name]`; unknown placeholders are left as written.
    /// One pass over `text`: a substituted value is never scanned again, so a knob value that
    /// itself contains `{steps}` reaches the command literally.
    public static func fill(_ text: String, _ values: [String: String]) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            let name = String(after[..<close])
            let isShellVariable = open > rest.startIndex && rest[rest.index(before: open)] == "$"
            if !isShellVariable, placeholders(in: "{\(name)}") == [name], let v = values[name] {
                out += rest[..<open] + v
                rest = after[after.index(after: close)...]
            } else {
                out += rest[...open]
                rest = after
            }
        }
        return out + rest
    }
}
