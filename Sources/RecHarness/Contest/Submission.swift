import Foundation
import RecContract
import Yams

/// A contest submission: per model, knob → value (README, "The contest"):
///
///     name: tuned-2026-11-30          # optional, default = file name without extension
///     description: free text          # optional
///     models:                         # wdl, deepfm, dlrm, din, dien, mmoe (any subset)
///       wdl:    {executor: costmodel, bf16: "on", micro_batch: 2}
///       dien:   {rnn: fused, stage: "on"}
///
/// Knob names and values are the registry's. A model missing from `models` runs with the baseline
/// settings; settings override the baseline knob by knob (`merged(over:)`).
///
/// A submission may instead name another engine, written as an experiment spec's external
/// `engine:` (command, args, env, result): each model is then that command, scored by the same
/// rules against the baseline (e.g. `Experiments/contest/tensorflow.yaml`, the contest's own
/// scripts under stock TensorFlow). Its `models:` settings are that engine's own knobs, passed
/// through its `args`/`env` templates unvalidated, and the baseline's rectune knobs do not apply.
public struct Submission: Sendable, Equatable {
    /// One knob setting as written, with where it was written.
    public struct Setting: Sendable, Equatable {
        public var value: String
        public var line: Int
        public var column: Int
    }

    public var name: String
    public var description: String
    /// The file it came from.
    public var path: String
    /// model → knob → setting (canonical values for models this build has).
    public var models: [String: [String: Setting]]
    /// The external engine that runs this submission's models; nil = rectune.
    public var engine: ExternalCommandSpec? = nil

    /// model → knob → value.
    public var settings: [String: [String: String]] { models.mapValues { $0.mapValues(\.value) } }

    /// The six contest models, in the scorer's order.
    public static let contestModels = ["dien", "din", "dlrm", "deepfm", "mmoe", "wdl"]

    /// This submission over `base`: each model's knobs from `base`, replaced knob by knob by this one's.
    public func merged(over base: Submission) -> [String: [String: String]] {
        var out = base.settings
        for (model, knobs) in settings { out[model, default: [:]].merge(knobs) { _, mine in mine } }
        return out
    }

    /// The settings `model` runs with: this submission's over `base`'s, or, for an external
    /// engine, this submission's own (the baseline's knobs are rectune's).
    public func runSettings(_ model: String, over base: Submission) -> [String: String] {
        engine == nil ? merged(over: base)[model] ?? [:] : settings[model] ?? [:]
    }

    /// The external engine as a spec's `engine:` value (JSON, which YAML reads as a flow mapping),
    /// keeping only the `args`/`env` templates of knobs in `knobs` (a template for a knob a model
    /// does not set would be an error in its spec). Nil for rectune.
    public func engineYAML(knobs: Set<String>) -> String? {
        guard let engine else { return nil }
        let result: Any
        switch engine.result {
        case .lastJSONLine: result = "last_json_line"
        case .jsonFile(let path): result = ["json_file": path]
        case .regex(let patterns): result = ["regex": patterns]
        case .linesFile(let path, let metrics): result = ["lines_file": ["path": path, "metrics": metrics]]
        }
        var object: [String: Any] = ["command": engine.argv, "result": result]
        let args = engine.args.filter { knobs.contains($0.key) }, env = engine.env.filter { knobs.contains($0.key) }
        if !args.isEmpty { object["args"] = args }
        if !env.isEmpty { object["env"] = env }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses a submission. `contest` gives each model's data set (for `appliesWhen`) and whether
    /// this build has it; a model this build lacks keeps its settings unvalidated (they are checked
    /// when the model exists). `base` (the baseline) supplies the other knobs' values when deciding
    /// whether a knob applies. Throws `SpecError` with file:line:column, the value and a did-you-mean.
    public static func parse(_ text: String, path: String, contest: ContestDefinition, base: Submission? = nil) throws -> Submission {
        let r = SpecReader(path: path)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw SpecError(path: path, line: 1, column: 1, keyPath: "", message: "the submission is empty") }
            root = node
        } catch let e as SpecError {
            throw e
        } catch let e as YamlError {
            throw SpecParser.yamlError(e, path: path, text: text)
        }
        let top = try r.entries(root, "", allowed: ["name", "description", "engine", "models"])
        let nodes = Dictionary(uniqueKeysWithValues: top.map { ($0.key, $0.value) })
        let defaultName = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        var submission = Submission(name: try nodes["name"].map { try r.scalar($0, "name") } ?? defaultName,
                                    description: try nodes["description"].map { try r.scalar($0, "description") } ?? "",
                                    path: path, models: [:])
        guard !submission.name.isEmpty else { throw r.error(nodes["name"], "name", "must not be empty") }
        if let engineNode = nodes["engine"], case .command(let command) = try SpecParser.parseEngine(["engine": engineNode], [:], r) {
            submission.engine = command
        }
        guard let modelsNode = nodes["models"] else { return submission }
        if case .scalar(let s) = modelsNode, s.string == "null" || s.string.isEmpty { return submission }
        let runtimeKnobs = KnobSpec.all.filter { $0.role == .runtime }.map(\.name)
        for m in try r.entries(modelsNode, "models", allowed: contestModels) {
            guard let entry = contest.entry(m.key) else {
                throw r.error(m.keyNode, "models.\(m.key)", "not a model of the contest file", value: m.key, allowed: contest.entries.map(\.model))
            }
            var knobs: [String: Setting] = [:]
            if case .scalar(let s) = m.value, s.string == "null" || s.string.isEmpty { submission.models[m.key] = [:]; continue }
            let written = try r.entries(m.value, "models.\(m.key)")
            for k in written {
                let keyPath = "models.\(m.key).\(k.key)"
                let raw = try r.scalar(k.value, keyPath)
                let mark = k.value.mark
                guard entry.isAvailable, submission.engine == nil else {
                    // Validated once this build has the model (its knobs may not exist yet either);
                    // an external engine's knobs are its own (its args/env templates use them).
                    knobs[k.key] = Setting(value: raw, line: mark?.line ?? 0, column: mark?.column ?? 0)
                    continue
                }
                guard let knob = Knob(name: k.key) else {
                    throw r.error(k.keyNode, keyPath, "unknown knob", value: k.key, allowed: runtimeKnobs)
                }
                guard knob.spec.role == .runtime else {
                    throw r.error(k.keyNode, keyPath, "is a model/data setting the contest fixes, not a submission knob", value: k.key, allowed: runtimeKnobs)
                }
                let canonical: String
                do { canonical = try knob.spec.canonical(raw) } catch {
                    throw r.error(k.value, keyPath, "value not allowed", value: raw, allowed: knob.spec.domain.words.isEmpty ? [knob.spec.domain.description] : knob.spec.domain.words)
                }
                knobs[k.key] = Setting(value: canonical, line: mark?.line ?? 0, column: mark?.column ?? 0)
            }
            // Applicability: with this model's data set, its other knobs (this entry over the base).
            if entry.isAvailable, submission.engine == nil {
                var values = base?.settings[m.key] ?? [:]
                for (k, s) in knobs { values[k] = s.value }
                values[Knob.dataset.name] = entry.dataset
                for (k, setting) in knobs.sorted(by: { $0.key < $1.key }) {
                    let spec = Knob(name: k)!.spec
                    let applies = spec.applies(model: entry.model) { values[$0.name] ?? $0.spec.defaultValue }
                    guard applies else {
                        let keyNode = written.first { $0.key == k }!.keyNode
                        throw r.error(keyNode, "models.\(m.key).\(k)",
                                      "does not apply to \(entry.model) here (applies when \(spec.appliesWhen!.description)); remove it or set its prerequisite",
                                      value: setting.value)
                    }
                }
            }
            submission.models[m.key] = knobs
        }
        return submission
    }

    /// Reads and parses the submission at `path`. Throws `SpecError`.
    public static func load(_ path: String, contest: ContestDefinition, base: Submission? = nil) throws -> Submission {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SpecError(path: path, line: 0, column: 0, keyPath: "", message: "cannot read the submission file (missing, a directory, or not UTF-8)")
        }
        return try parse(text, path: path, contest: contest, base: base)
    }

    /// The submission as YAML text in this format (what `load` reads back).
    public func yaml() -> String {
        var lines = ["# rectune contest submission", "name: \(Self.quote(name))"]
        if !description.isEmpty { lines.append("description: \(Self.quote(description))") }
        if let engine = engineYAML(knobs: Set(engine.map { Array($0.args.keys) + Array($0.env.keys) } ?? [])) { lines.append("engine: \(engine)") }
        lines.append("models:")
        for model in Self.contestModels where models[model] != nil {
            let knobs = models[model]!.sorted { $0.key < $1.key }.map { "\($0.key): \(Self.quote($0.value.value))" }
            lines.append("  \(model): {\(knobs.joined(separator: ", "))}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func quote(_ s: String) -> String {
        s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) && !["on", "off", "yes", "no", "true", "false", "null"].contains(s.lowercased())
            ? s : "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
