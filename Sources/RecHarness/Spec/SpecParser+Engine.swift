import Foundation
import Yams

/// The engine part of a spec: `engine: rectune` (default), or an external command given as
/// `engine: {command: [...], args: ..., env: ..., result: ...}` or the shorthand top-level
/// `command:` (a list, or the same mapping).
///
/// ```yaml
/// engine:
///   command: [python3, train.py, --model, "{model}", --steps, "{steps}"]
///   args: {micro_batch: ["--micro-batch", "{value}"]}     # knob → extra arguments
///   env:  {executor: MY_EXECUTOR, bf16: {USE_BF16: "{value}"}}  # knob → env var(s)
///   result: last_json_line        # or {json_file: "{run_dir}/result.json"} or {regex: {samples_per_sec: "([0-9.]+) samples/s"}}
/// ```
extension SpecParser {
    static let engineNames = ["rectune"]
    static let commandKeys = ["command", "args", "env", "result"]
    static let resultRules = ["last_json_line", "json_file", "regex", "lines_file"]

    static func parseEngine(_ nodes: [String: Node], _ keyNodes: [String: Node], _ r: SpecReader) throws -> EngineSpec {
        if let command = nodes["command"] {
            if let engine = nodes["engine"] {
                throw r.error(engine, "engine", "give either engine or command, not both")
            }
            if command.scalar != nil || command.sequence != nil {
                return .command(ExternalCommandSpec(argv: try argv(command, "command", r)))
            }
            return .command(try parseCommand(command, "command", r, commandKey: "argv"))
        }
        guard let engine = nodes["engine"] else { return .rectune }
        if let s = engine.scalar {
            guard s.string == "rectune" else {
                throw r.error(engine, "engine", "unknown engine", value: s.string, allowed: engineNames + ["{command: [...]}"])
            }
            return .rectune
        }
        return .command(try parseCommand(engine, "engine", r, commandKey: "command"))
    }

    private static func parseCommand(_ node: Node, _ kp: String, _ r: SpecReader, commandKey: String) throws -> ExternalCommandSpec {
        let keys = [commandKey] + commandKeys.dropFirst()
        let entries = try r.entries(node, kp, allowed: keys)
        let map = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
        guard let argvNode = map[commandKey] else { throw r.error(node, "\(kp).\(commandKey)", "missing required key") }
        var spec = ExternalCommandSpec(argv: try argv(argvNode, "\(kp).\(commandKey)", r))
        if let args = map["args"] {
            for e in try r.entries(args, "\(kp).args") {
                spec.args[e.key] = try r.strings(e.value, "\(kp).args.\(e.key)", allowSingle: true)
            }
        }
        if let env = map["env"] {
            for e in try r.entries(env, "\(kp).env") {
                if let name = e.value.scalar?.string {
                    spec.env[e.key] = [name: "{value}"]
                } else {
                    spec.env[e.key] = Dictionary(uniqueKeysWithValues: try r.stringMap(e.value, "\(kp).env.\(e.key)").map { ($0.key, $0.value) })
                }
            }
        }
        if let result = map["result"] { spec.result = try parseResultRule(result, "\(kp).result", r) }
        return spec
    }

    private static func argv(_ node: Node, _ kp: String, _ r: SpecReader) throws -> [String] {
        let argv = node.scalar != nil
            ? try r.scalar(node, kp).split(separator: " ").map(String.init)
            : try r.strings(node, kp)
        guard let first = argv.first, !first.isEmpty else { throw r.error(node, kp, "the command must not be empty") }
        return argv
    }

    private static func parseResultRule(_ node: Node, _ kp: String, _ r: SpecReader) throws -> ResultRule {
        if let s = node.scalar {
            guard s.string == "last_json_line" else {
                throw r.error(node, kp, "unknown result rule", value: s.string, allowed: resultRules)
            }
            return .lastJSONLine
        }
        let entries = try r.entries(node, kp, allowed: resultRules)
        guard entries.count == 1, let e = entries.first else { throw r.error(node, kp, "give exactly one result rule", allowed: resultRules) }
        switch e.key {
        case "json_file":
            return .jsonFile(try r.scalar(e.value, "\(kp).json_file"))
        case "lines_file":
            let m = Dictionary(uniqueKeysWithValues: try r.entries(e.value, "\(kp).lines_file", allowed: ["path", "metrics"]).map { ($0.key, $0.value) })
            guard let path = m["path"], let metrics = m["metrics"] else {
                throw r.error(e.value, "\(kp).lines_file", "needs path and metrics (one metric name per line of the file)", allowed: ["path", "metrics"])
            }
            let names = try r.strings(metrics, "\(kp).lines_file.metrics")
            guard !names.isEmpty else { throw r.error(metrics, "\(kp).lines_file.metrics", "needs at least one metric name") }
            return .linesFile(path: try r.scalar(path, "\(kp).lines_file.path"), metrics: names)
        case "regex":
            var patterns: [String: String] = [:]
            for p in try r.stringMap(e.value, "\(kp).regex") {
                let regex: NSRegularExpression
                do { regex = try NSRegularExpression(pattern: p.value) } catch {
                    throw r.error(p.node, "\(kp).regex.\(p.key)", "invalid regular expression", value: p.value)
                }
                guard regex.numberOfCaptureGroups >= 1 else {
                    throw r.error(p.node, "\(kp).regex.\(p.key)", "needs one capture group holding the number", value: p.value)
                }
                patterns[p.key] = p.value
            }
            guard !patterns.isEmpty else { throw r.error(e.value, "\(kp).regex", "needs at least one metric pattern") }
            return .regex(patterns)
        default:
            return .lastJSONLine
        }
    }
}
