import Foundation
import RecContract
import RecEngine
import Yams

/// One model of the contest: the scorer's name, its step count, data set, floor and fixed settings.
public struct ContestEntry: Sendable, Equatable {
    /// The engine's model name (`dien`, `wdl`).
    public var model: String
    /// The scorer's spelling (`DIEN`, `DeepFM`).
    public var label: String
    /// The scorer's step count.
    public var steps: Int
    /// The engine's data set (`eleme`, `taobao`, `amazon-books`).
    public var dataset: String
    /// The contest's AUC floor on its real data (0 = none).
    public var realFloor: Double
    /// The floor on generated data; nil when not derived yet.
    public var generatedFloor: Double?
    /// Model settings the contest fixes (hash buckets), knob → value.
    public var settings: [String: String]

    /// Whether this engine build has the model and its data set (registry `dataset` domain and `ModelKind`).
    public var isAvailable: Bool {
        ModelKind(rawValue: model) != nil && KnobSpec.of(.dataset).domain.words.contains(dataset) && DatasetKind(rawValue: dataset) != nil
    }

    /// Why the model cannot run in this build, or nil.
    public var unavailableReason: String? {
        isAvailable ? nil : "model \(model) is not available in this engine build (needs model '\(model)' and data set '\(dataset)'; see issue 10)"
    }
}

/// The contest's rules as numbers (`Experiments/contest/contest.yaml`): batch, seed, the failed
/// score, the models in the scorer's order with steps and floors, and generated-data sizes.
public struct ContestDefinition: Sendable, Equatable {
    public var batch: Int
    public var seed: Int
    public var failedScore: Double
    public var entries: [ContestEntry]
    /// Generated-data sizes per data set: (training rows, evaluation rows).
    public var generatedSizes: [String: (rows: Int, evalRows: Int)]
    public var floorDerivation: String

    public static func == (a: ContestDefinition, b: ContestDefinition) -> Bool {
        a.batch == b.batch && a.seed == b.seed && a.failedScore == b.failedScore && a.entries == b.entries
            && a.generatedSizes.mapValues { [$0.rows, $0.evalRows] } == b.generatedSizes.mapValues { [$0.rows, $0.evalRows] }
    }

    /// The entry of `model` (engine name, case-insensitive, or the scorer's label).
    public func entry(_ model: String) -> ContestEntry? {
        entries.first { $0.model == model.lowercased() || $0.label == model }
    }

    /// Parses the contest file. Throws `SpecError` naming file, line and column.
    public static func parse(_ text: String, path: String) throws -> ContestDefinition {
        let r = SpecReader(path: path)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw SpecError(path: path, line: 1, column: 1, keyPath: "", message: "the file is empty") }
            root = node
        } catch let e as YamlError { throw SpecParser.yamlError(e, path: path, text: text) }
        let top = Dictionary(uniqueKeysWithValues: try r.entries(root, "", allowed: ["batch", "seed", "failed_score", "models", "generated"])
            .map { ($0.key, $0.value) })
        func need(_ key: String) throws -> Node {
            guard let n = top[key] else { throw r.error(root, key, "missing required key") }
            return n
        }
        var def = ContestDefinition(batch: try r.int(try need("batch"), "batch", min: 1), seed: try r.int(try need("seed"), "seed", min: 0),
                                    failedScore: try r.double(try need("failed_score"), "failed_score", minExclusive: 0),
                                    entries: [], generatedSizes: [:], floorDerivation: "")
        var floors: [String: Double?] = [:]
        if let g = top["generated"] {
            for e in try r.entries(g, "generated") {
                switch e.key {
                case "floors":
                    for f in try r.entries(e.value, "generated.floors") {
                        if case .scalar(let s) = f.value, s.string == "null" || s.string == "~" || s.string.isEmpty {
                            floors[f.key] = .some(nil)
                        } else {
                            let v = try r.double(f.value, "generated.floors.\(f.key)", minExclusive: -1)
                            guard v >= 0, v <= 1 else { throw r.error(f.value, "generated.floors.\(f.key)", "an AUC floor must be in 0…1, got", value: String(v)) }
                            floors[f.key] = .some(v)
                        }
                    }
                case "derivation":
                    def.floorDerivation = try r.scalar(e.value, "generated.derivation")
                default:
                    let m = Dictionary(uniqueKeysWithValues: try r.entries(e.value, "generated.\(e.key)", allowed: ["rows", "eval_rows"]).map { ($0.key, $0.value) })
                    guard let rows = m["rows"], let evalRows = m["eval_rows"] else { throw r.error(e.value, "generated.\(e.key)", "needs rows and eval_rows") }
                    def.generatedSizes[e.key] = (try r.int(rows, "generated.\(e.key).rows", min: 1), try r.int(evalRows, "generated.\(e.key).eval_rows", min: 1))
                }
            }
        }
        for (i, node) in try r.sequence(try need("models"), "models").enumerated() {
            let path = "models[\(i)]"
            let m = Dictionary(uniqueKeysWithValues: try r.entries(node, path, allowed: ["model", "label", "steps", "dataset", "floor", "settings"])
                .map { ($0.key, $0.value) })
            func field(_ k: String) throws -> Node {
                guard let n = m[k] else { throw r.error(node, "\(path).\(k)", "missing required key") }
                return n
            }
            let model = try r.scalar(try field("model"), "\(path).model")
            let floor = try r.double(try field("floor"), "\(path).floor", minExclusive: -1)
            var settings: [String: String] = [:]
            if let s = m["settings"] { for e in try r.stringMap(s, "\(path).settings") { settings[e.key] = e.value } }
            def.entries.append(ContestEntry(model: model, label: try r.scalar(try field("label"), "\(path).label"),
                                            steps: try r.int(try field("steps"), "\(path).steps", min: 1),
                                            dataset: try r.scalar(try field("dataset"), "\(path).dataset"), realFloor: floor,
                                            generatedFloor: floors[model] ?? nil, settings: settings))
        }
        return def
    }

    /// Reads and parses the contest file at `path`. Throws `SpecError`.
    public static func load(_ path: String) throws -> ContestDefinition {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SpecError(path: path, line: 0, column: 0, keyPath: "", message: "cannot read the contest file")
        }
        return try parse(text, path: path)
    }
}
