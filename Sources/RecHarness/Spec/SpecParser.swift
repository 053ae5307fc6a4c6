import Foundation
import RecEngine
import Yams

/// Parses the YAML experiment format (DESIGN.md "Experiment spec") into an `ExperimentSpec` and
/// validates it: for `engine: rectune` every knob and fixed setting must be one `rectune train`
/// knows, with an allowed value; external commands accept any knob names. Every error is a
/// `SpecError` with file, line, column, key path, bad value and allowed values.
public enum SpecParser {
    /// Top-level keys of a spec.
    public static let topLevelKeys = ["name", "engine", "command", "model", "data", "batch", "steps", "warmup_steps",
                                      "repeats", "order", "seed", "timeout", "baseline", "factors", "fixed", "design",
                                      "resolution", "count", "metrics", "claims", "thresholds", "repeat_seed",
                                      "checkpoint", "tune"]

    /// What one spec may ask for: beyond these a typo (an extra zero) would plan for minutes and
    /// hold gigabytes before the first run. `RunPlan` also caps the planned runs (`maxRuns`).
    public static let limits = (repeats: 10_000, levels: 10_000, maxRuns: 100_000, minTimeout: 1.0)

    /// Parses and validates `text`; `path` is used in error messages. Throws `SpecError`.
    public static func parse(_ text: String, path: String) throws -> LoadedSpec {
        let r = SpecReader(path: path)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecError(path: path, line: 1, column: 1, keyPath: "", message: "the spec is empty")
            }
            root = node
        } catch let e as SpecError {
            throw e
        } catch let e as YamlError {
            throw yamlError(e, path: path, text: text)
        }
        let entries = try r.entries(root, "", allowed: topLevelKeys)
        var nodes: [String: Node] = [:]
        var keyNodes: [String: Node] = [:]
        for e in entries { nodes[e.key] = e.value; keyNodes[e.key] = e.keyNode }

        guard let nameNode = nodes["name"] else { throw r.error(root, "name", "missing required key") }
        var spec = ExperimentSpec(name: try r.scalar(nameNode, "name"))
        guard !spec.name.isEmpty else { throw r.error(nameNode, "name", "must not be empty") }

        spec.engine = try parseEngine(nodes, keyNodes, r)
        if let n = nodes["model"] { spec.model = try r.scalar(n, "model") }
        if let n = nodes["data"] { spec.data = try parseData(n, r) }
        if let n = nodes["batch"] { spec.batch = try r.int(n, "batch", min: 1) }
        if let n = nodes["steps"] { spec.steps = try r.int(n, "steps", min: 1) }
        if let n = nodes["warmup_steps"] { spec.warmupSteps = try r.int(n, "warmup_steps", min: 0) }
        if let n = nodes["repeats"] {
            spec.repeats = try r.int(n, "repeats", min: 1)
            guard spec.repeats <= limits.repeats else { throw r.error(n, "repeats", "must be at most \(limits.repeats), got", value: String(spec.repeats)) }
        }
        if let n = nodes["timeout"] {
            spec.timeoutSeconds = try r.double(n, "timeout", minExclusive: 0)
            guard spec.timeoutSeconds >= limits.minTimeout else {
                throw r.error(n, "timeout", "must be at least \(Int(limits.minTimeout)) second (no run starts faster), got", value: String(spec.timeoutSeconds))
            }
        }
        let seed = try nodes["seed"].map { UInt64(try r.int($0, "seed", min: 0)) } ?? 1
        spec.order = try parseOrder(nodes["order"], seed: seed, r)
        spec.factors = try parseFactors(nodes["factors"], r)
        spec.fixed = try nodes["fixed"].map { Dictionary(uniqueKeysWithValues: try r.stringMap($0, "fixed").map { ($0.key, $0.value) }) } ?? [:]
        spec.design = try parseDesign(nodes, seed: seed, r)
        if let n = nodes["metrics"] {
            spec.metrics = try r.strings(n, "metrics")
            if spec.metrics.isEmpty { throw r.error(n, "metrics", "must list at least one metric") }
        }
        try parseStatistics(nodes, into: &spec, r)
        spec.baseline = try parseBaseline(nodes["baseline"], factors: spec.factors, r)
        spec.claims = try parseClaims(nodes["claims"], r)
        if let n = nodes["checkpoint"] {
            let v = try r.scalar(n, "checkpoint")
            guard let on = ["on": true, "off": false, "true": true, "false": false][v.lowercased()] else {
                throw r.error(n, "checkpoint", "expected on or off", value: v, allowed: ["on", "off"])
            }
            if on, case .command = spec.engine { throw r.error(n, "checkpoint", "applies to engine: rectune runs only") }
            spec.checkpoint = on
        }

        try SpecValidator(reader: r, nodes: nodes).validate(spec)
        spec.tune = try parseTune(nodes["tune"], spec: spec, r)
        return LoadedSpec(spec: spec, text: text, path: path)
    }

    private static func parseData(_ node: Node, _ r: SpecReader) throws -> DataSpec {
        let e = try r.entries(node, "data", allowed: ["synthetic_rows", "seed", "path"])
        let map = Dictionary(uniqueKeysWithValues: e.map { ($0.key, $0.value) })
        if let p = map["path"] {
            if map["synthetic_rows"] != nil { throw r.error(node, "data", "give either path or synthetic_rows, not both") }
            return .file(path: try r.scalar(p, "data.path"))
        }
        guard let rows = map["synthetic_rows"] else {
            throw r.error(node, "data", "needs path or synthetic_rows", allowed: ["synthetic_rows", "path"])
        }
        let seed = try map["seed"].map { UInt64(try r.int($0, "data.seed", min: 0)) } ?? 1
        return .synthetic(rows: try r.int(rows, "data.synthetic_rows", min: 1), seed: seed)
    }

    private static func parseOrder(_ node: Node?, seed: UInt64, _ r: SpecReader) throws -> RunOrder {
        guard let node else { return .interleaved(seed: seed) }
        switch try r.scalar(node, "order") {
        case "interleaved": return .interleaved(seed: seed)
        case "random": return .random(seed: seed)
        case "sequential": return .sequential
        case let other: throw r.error(node, "order", "unknown order", value: other, allowed: ["interleaved", "random", "sequential"])
        }
    }

    private static func parseFactors(_ node: Node?, _ r: SpecReader) throws -> [Factor] {
        guard let node else { return [] }
        return try r.entries(node, "factors").map { e in
            let levels = try r.strings(e.value, "factors.\(e.key)")
            guard !levels.isEmpty else { throw r.error(e.value, "factors.\(e.key)", "needs at least one level") }
            guard levels.count <= limits.levels else {
                throw r.error(e.value, "factors.\(e.key)", "has \(levels.count) levels, more than the \(limits.levels) a factor may have")
            }
            if let dup = Dictionary(grouping: levels, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw r.error(e.value, "factors.\(e.key)", "level listed twice", value: dup)
            }
            return Factor(name: e.key, levels: levels)
        }
    }

    /// The effective baseline: the given values, and each factor's first level where none is given.
    private static func parseBaseline(_ node: Node?, factors: [Factor], _ r: SpecReader) throws -> [String: String] {
        var baseline: [String: String] = [:]
        if let node { for e in try r.stringMap(node, "baseline") { baseline[e.key] = e.value } }
        for f in factors where baseline[f.name] == nil { baseline[f.name] = f.levels[0] }
        return baseline
    }

    static let designNames = ["full", "ablation", "leave-one-out", "fractional", "random"]

    private static func parseDesign(_ nodes: [String: Node], seed: UInt64, _ r: SpecReader) throws -> DesignKind {
        guard let node = nodes["design"] else { return .ablation }
        var text = try r.scalar(node, "design").trimmingCharacters(in: .whitespaces)
        var argument: Int? = nil
        if let open = text.firstIndex(of: "("), text.hasSuffix(")") {
            let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
            guard let v = Int(inner.trimmingCharacters(in: .whitespaces)) else {
                throw r.error(node, "design", "expected an integer in parentheses", value: text)
            }
            argument = v
            text = String(text[..<open]).trimmingCharacters(in: .whitespaces)
        }
        switch text {
        case "full", "ablation", "leave-one-out":
            if argument != nil { throw r.error(node, "design", "takes no argument", value: text) }
            return text == "full" ? .full : text == "ablation" ? .ablation : .leaveOneOut
        case "fractional":
            var resolution = argument ?? 4
            if let n = nodes["resolution"] {
                let raw = try r.scalar(n, "resolution")
                guard let v = ["III": 3, "IV": 4, "V": 5, "3": 3, "4": 4, "5": 5][raw.uppercased()] else {
                    throw r.error(n, "resolution", "unsupported resolution", value: raw, allowed: ["III", "IV", "V"])
                }
                resolution = v
            }
            guard (3...5).contains(resolution) else {
                throw r.error(node, "design", "unsupported resolution", value: String(resolution), allowed: ["3", "4", "5"])
            }
            return .fractional(resolution: resolution)
        case "random":
            guard let count = try argument ?? nodes["count"].map({ try r.int($0, "count", min: 1) }) else {
                throw r.error(node, "design", "random needs a count: `random(8)` or `count: 8`")
            }
            guard count >= 1 else { throw r.error(node, "design", "count must be at least 1", value: String(count)) }
            return .random(count: count, seed: seed)
        default:
            throw r.error(node, "design", "unknown design", value: text, allowed: designNames)
        }
    }

    private static func parseClaims(_ node: Node?, _ r: SpecReader) throws -> [Claim] {
        guard let node else { return [] }
        return try r.sequence(node, "claims").enumerated().map { i, n in
            let kp = "claims[\(i)]"
            let e = try r.entries(n, kp, allowed: ["when", "metric", "expect", "source"])
            let map = Dictionary(uniqueKeysWithValues: e.map { ($0.key, $0.value) })
            guard let metric = map["metric"] else { throw r.error(n, "\(kp).metric", "missing required key") }
            guard let expect = map["expect"] else { throw r.error(n, "\(kp).expect", "missing required key") }
            let expectText = try r.scalar(expect, "\(kp).expect")
            do { _ = try ClaimExpectation.parse(expectText) } catch {
                throw r.error(expect, "\(kp).expect", "\(error); e.g. \">= 1.3x baseline\" or \"<= 0.5\", got", value: expectText)
            }
            let when = try map["when"].map { try r.stringMap($0, "\(kp).when") } ?? []
            return Claim(when: Dictionary(uniqueKeysWithValues: when.map { ($0.key, $0.value) }),
                         metric: try r.scalar(metric, "\(kp).metric"), expect: try r.scalar(expect, "\(kp).expect"),
                         source: try map["source"].map { try r.scalar($0, "\(kp).source") } ?? "")
        }
    }

    static func yamlError(_ e: YamlError, path: String, text: String) -> SpecError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return SpecError(path: path, line: mark.line, column: mark.column, keyPath: "", message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Point at the second occurrence of the first duplicated key (the mapping's mark as a fallback).
            let key = duplicates.sorted().first ?? ""
            var seen = 0
            for (i, line) in text.components(separatedBy: "\n").enumerated() {
                let trimmed = line.drop { $0 == " " || $0 == "-" }
                guard trimmed.hasPrefix(key), trimmed.dropFirst(key.count).drop(while: { $0 == " " }).hasPrefix(":") else { continue }
                seen += 1
                if seen == 2 {
                    return SpecError(path: path, line: i + 1, column: line.count - trimmed.count + 1, keyPath: key,
                                     message: "key listed twice in the same mapping")
                }
            }
            return SpecError(path: path, line: context.mark.line, column: context.mark.column, keyPath: key,
                             message: "key listed twice in the same mapping")
        default:
            return SpecError(path: path, line: 1, column: 1, keyPath: "", message: "invalid YAML: \(e)")
        }
    }
}
