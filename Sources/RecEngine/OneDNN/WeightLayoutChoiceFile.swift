import Foundation
import RecSystem

/// A file of `weight_layout: timed` choices shared between processes (JSON), named by the
/// environment variable `RECTUNE_LAYOUT_CHOICES`; the sweep runner sets it to
/// `<store folder>/runs/weight-layout-choices.json` for every run of the rectune engine unless it
/// is already set (to a path, or empty for none).
///
/// Why: a choice is timed while the model is built, so on a noisy host two processes can choose
/// differently for the same shape, and their runs then differ in layout (speed) and in the last
/// bits of their parameters; and each process pays the timing (~0.7 s for WDL). With the file,
/// the first process on a machine times a shape and records the choice, and every later process
/// with the same key reads it: the runs of a sweep (or of both sides of an A/B check) train on the
/// same layouts, as the runs of one process always did.
///
/// An entry is valid only on the machine it was timed on: its `host` is `host` (CPU model and ISA
/// flags, oneDNN's version and ISA, the kernels' build target and the chooser's candidate set), and
/// entries of other hosts are kept but not used, so one file can serve a cluster's different nodes.
/// The key within a host is the shape, ReLU, rows and OpenMP team size (`WeightLayoutChooser.Key`).
/// Writers take an exclusive `flock` on the file's folder and rewrite the file durably (temporary
/// file, fsync, rename), so concurrent runs never tear it; when two processes time the same key at
/// once, the first recorded choice is the one both use.
public struct WeightLayoutChoiceFile: Sendable, Equatable {
    /// The environment variable naming the file (unset or empty: choices are not shared).
    public static let environmentVariable = "RECTUNE_LAYOUT_CHOICES"
    /// The file name the sweep runner uses in its runs folder.
    public static let defaultFileName = "weight-layout-choices.json"
    /// The value of the file's `format` field this code reads and writes.
    static let format = 1

    public let path: String

    public init(path: String) { self.path = path }

    /// The file `environment` names, nil when the variable is unset or empty.
    public static func named(by environment: [String: String] = ProcessInfo.processInfo.environment) -> WeightLayoutChoiceFile? {
        guard let path = environment[environmentVariable], !path.isEmpty else { return nil }
        return WeightLayoutChoiceFile(path: path)
    }

    /// What a timing is valid for: this machine's CPU model and ISA flags, oneDNN's version and the
    /// ISA it dispatches to, the instruction set the engine's kernels were built for, and the
    /// candidates the chooser times (so a build that adds a candidate times again).
    public static let host: String = {
        let cpu = HostInfo.cpu()
        let candidates = WeightLayout.allCases.map(\.rawValue) + WeightGradientMethod.allCases.map(\.rawValue)
            + ForwardWeights.allCases.map(\.rawValue)
        return "\(cpu.model); \(cpu.flags); oneDNN \(OneDNNInfo.version) \(OneDNNInfo.isa); kernels built for "
            + "\(RectuneVersion.buildTarget); candidates \(candidates.joined(separator: " "))"
    }()

    /// One recorded choice.
    struct Entry: Codable, Equatable {
        var host: String
        var inputs: Int, outputs: Int, relu: Bool, rows: Int, threads: Int
        /// `WeightArrangement.description` of the choice.
        var choice: String
        /// Each timed candidate's fastest round, in seconds, by `WeightArrangement.description`.
        var roundSeconds: [String: Double]
        /// oneDNN's tag of each timed layout, by `WeightLayout` raw value.
        var tags: [String: String]
        /// When it was timed (ISO 8601), for a reader of the file.
        var timed: String

        enum CodingKeys: String, CodingKey {
            case host, inputs, outputs, relu, rows, threads, choice, tags, timed
            case roundSeconds = "round_seconds"
        }

        func matches(_ key: WeightLayoutChooser.Key) -> Bool {
            host == WeightLayoutChoiceFile.host && inputs == key.inputs && outputs == key.outputs && relu == key.relu
                && rows == key.rows && threads == key.threads
        }
    }

    struct Contents: Codable {
        var format: Int
        var entries: [Entry]
    }

    /// The recorded choice for `key` on this host, nil when the file or the entry does not exist.
    /// - Throws: `WeightLayoutChoiceFileError` when the file cannot be read or is not a choice file,
    ///   or this host's entry for the key names an arrangement this build does not know.
    func choice(for key: WeightLayoutChooser.Key) throws -> WeightLayoutChooser.Choice? {
        guard let contents = try read() else { return nil }
        return try find(key, in: contents)
    }

    /// Records `choice` for `key` unless another process recorded the key first; returns the
    /// recorded choice (the other process's, if so). Creates the file's folder if needed.
    /// - Throws: `WeightLayoutChoiceFileError` when the file cannot be read, locked or written.
    func record(_ choice: WeightLayoutChooser.Choice, for key: WeightLayoutChooser.Key) throws -> WeightLayoutChooser.Choice {
        let folder = (path as NSString).deletingLastPathComponent
        let directory = folder.isEmpty ? "." : folder
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WeightLayoutChoiceFileError(path: path, problem: "its folder cannot be created: \(error.localizedDescription)",
                                             contents: false)
        }
        do {
            return try FileLock.withExclusiveLock(onDirectory: directory) {
                var contents = try read() ?? Contents(format: Self.format, entries: [])
                if let first = try find(key, in: contents) { return first }
                contents.entries.append(Entry(
                    host: Self.host, inputs: key.inputs, outputs: key.outputs, relu: key.relu, rows: key.rows, threads: key.threads,
                    choice: choice.arrangement.description,
                    roundSeconds: Dictionary(uniqueKeysWithValues: choice.roundSeconds.map { ($0.key.description, $0.value) }),
                    tags: Dictionary(uniqueKeysWithValues: choice.tags.map { ($0.key.rawValue, $0.value) }),
                    timed: ISO8601DateFormatter().string(from: Date())))
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try DurableFile.write(try encoder.encode(contents), to: path)
                return choice
            }
        } catch let error as WeightLayoutChoiceFileError {
            throw error
        } catch {
            throw WeightLayoutChoiceFileError(path: path, problem: "a choice cannot be recorded: \(error)", contents: false)
        }
    }

    /// The error for a recorded choice a layer of this shape cannot take (an entry written by hand).
    func unusable(_ arrangement: WeightArrangement, inputs: Int, outputs: Int, because reason: String) -> WeightLayoutChoiceFileError {
        WeightLayoutChoiceFileError(path: path, problem: "its choice '\(arrangement)' for \(inputs)→\(outputs) cannot be used: \(reason)")
    }

    /// The file's contents, nil when it does not exist.
    func read() throws -> Contents? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WeightLayoutChoiceFileError(path: path, problem: "cannot be read")
        }
        let contents: Contents
        do {
            contents = try JSONDecoder().decode(Contents.self, from: data)
        } catch let error as DecodingError {
            let problem = Self.syntaxError(in: data) ?? Self.describe(error)
            throw WeightLayoutChoiceFileError(path: path, problem: "not a file of layout choices: \(problem)")
        } catch {
            throw WeightLayoutChoiceFileError(path: path, problem: "not a file of layout choices: \(error)")
        }
        guard contents.format == Self.format else {
            throw WeightLayoutChoiceFileError(path: path, problem: "format \(contents.format), but this rectune reads format \(Self.format)")
        }
        return contents
    }

    /// This host's entry for `key` in `contents`, as a choice.
    private func find(_ key: WeightLayoutChooser.Key, in contents: Contents) throws -> WeightLayoutChooser.Choice? {
        guard let index = contents.entries.firstIndex(where: { $0.matches(key) }) else { return nil }
        let entry = contents.entries[index]
        func invalid(_ what: String, _ value: String, kind: String = "an arrangement") -> WeightLayoutChoiceFileError {
            WeightLayoutChoiceFileError(path: path, problem: "entries[\(index)] (\(entry.inputs)→\(entry.outputs), \(entry.rows) rows, "
                                        + "\(entry.threads) threads): \(what) '\(value)' is not \(kind) this rectune knows")
        }
        guard let arrangement = WeightArrangement(name: entry.choice) else { throw invalid("choice", entry.choice) }
        var seconds: [WeightArrangement: Double] = [:]
        for (name, value) in entry.roundSeconds {
            guard let candidate = WeightArrangement(name: name) else { throw invalid("round_seconds key", name) }
            seconds[candidate] = value
        }
        var tags: [WeightLayout: String] = [:]
        for (name, tag) in entry.tags {
            guard let layout = WeightLayout(rawValue: name) else { throw invalid("tags key", name, kind: "a layout") }
            tags[layout] = tag
        }
        return WeightLayoutChooser.Choice(arrangement: arrangement, roundSeconds: seconds, tags: tags, source: .file)
    }

    /// Where `data` stops being JSON, as "not JSON at line 3, column 9 (Invalid value around
    /// character 36.)"; nil when it is JSON.
    private static func syntaxError(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            guard let range = detail.range(of: "character "),
                  let offset = Int(detail[range.upperBound...].prefix { $0.isNumber }), offset <= data.count
            else { return "not JSON (\(detail))" }
            let before = data.prefix(offset)
            let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
            return "not JSON at line \(line), column \(column) (\(detail))"
        }
    }

    /// A decoding error as "at entries[2].rows: expected Int" (JSONDecoder's own wording).
    private static func describe(_ error: DecodingError) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "" : "at " + path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: ".")) + ": "
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            let underlying = c.underlyingError.map { " (\($0))" } ?? ""
            return at(c.codingPath) + c.debugDescription + underlying
        case .keyNotFound(let key, let c):
            return at(c.codingPath) + "no '\(key.stringValue)'"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A layout choice file that cannot be used: its path and what is wrong, with what to do.
public struct WeightLayoutChoiceFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    /// Whether the file's contents are the problem (then deleting it helps), not writing it.
    public var contents = true

    public var description: String {
        let variable = WeightLayoutChoiceFile.environmentVariable
        let sentence = problem.hasSuffix(".") ? problem : problem + "."
        return "\(path) (the weight layout choices \(variable) names): \(sentence) "
            + (contents ? "Delete it to time the layouts again, or set \(variable) to another file (empty: none)"
                        : "Set \(variable) to a writable file (empty: none)")
    }
}

extension WeightArrangement {
    /// The arrangement `description` names (`transposed+forward_copy`), nil for any other text.
    init?(name: String) {
        let parts = name.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
        guard let layout = WeightLayout(rawValue: parts[0]) else { return nil }
        var gradient = WeightGradientMethod.innerProduct
        var forward = ForwardWeights.master
        for part in parts.dropFirst() {
            if let g = WeightGradientMethod(rawValue: part) { gradient = g }
            else if let f = ForwardWeights(rawValue: part) { forward = f }
            else { return nil }
        }
        self.init(layout, gradient, forward: forward)
        guard description == name else { return nil }
    }
}
