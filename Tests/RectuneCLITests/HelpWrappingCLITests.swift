import Foundation
import TestSupport
import XCTest

/// `--help` paragraphs are wrapped by argument-parser at the terminal width, not in the source:
/// a `discussion:` literal hard-wrapped at ~100 columns prints ragged at 80 (and at 120) columns,
/// "…percentiles from\npre-parsed in-memory\nbatches, and…". Paragraph lines in the source end
/// in `\` (a line continuation); only intended breaks (items, examples, tables) stay newlines.
///
/// The `rectune` executable module cannot be imported by this target, so the help is rendered by
/// the binary itself: argument-parser's `helpMessage(columns:)` width is `COLUMNS` there.
final class HelpWrappingCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-help-wrapping") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let widths = [80, 120]

    /// Every command's help, the root's and every subcommand's (recursively), at 80 and 120 columns:
    /// no paragraph line ends before the next line's first word would have fitted on it.
    func testHelpParagraphsAreNotBrokenEarly() throws {
        let commands = try Self.commandPaths(in: dir)
        XCTAssertTrue(commands.contains(["bench"]) && commands.contains(["contest", "run"]),
                      "the command tree from --experimental-dump-help: \(commands)")
        for command in commands {
            let name = (["rectune"] + command).joined(separator: " ")
            for columns in Self.widths {
                let r = try RectuneCLI.run(command + ["--help"], in: dir, environment: ["COLUMNS": String(columns)])
                XCTAssertEqual(r.status, 0, "\(name) --help at \(columns) columns: \(r.err)")
                let widest = r.out.split(separator: "\n").map(\.count).max() ?? 0
                if columns > 80, command == ["bench"] {
                    XCTAssertGreaterThan(widest, 80, "\(name) --help ignores COLUMNS=\(columns)")
                }
                for (first, second) in Self.earlyBreaks(in: r.out, columns: columns) {
                    let word = Self.firstWord(second)
                    XCTFail("""
                        `\(name) --help` at \(columns) columns breaks a paragraph early: "\(word)" fits on the \
                        line before it (\(first.count) + 1 + \(word.count) < \(columns)); join the source lines with `\\`:
                        | \(first)
                        | \(second)
                        """)
                }
            }
        }
    }

    /// Lines laid out by hand in a command's overview (indented: examples) are not wrapped by
    /// argument-parser, which would continue them at column 0 in the middle of a command line: each
    /// must fit an 80-column terminal (long examples continue on an indented line after a shell `\`).
    func testHandLaidOutOverviewLinesFitEightyColumns() throws {
        for command in try Self.commandPaths(in: dir) {
            let r = try RectuneCLI.run(command + ["--help"], in: dir, environment: ["COLUMNS": "400"])
            XCTAssertEqual(r.status, 0, r.err)
            let overview = r.out.components(separatedBy: "\n").prefix { !$0.hasPrefix("USAGE:") }
            for line in overview where Self.indentation(line) > 0 && line.count >= 80 {
                XCTFail("`\((["rectune"] + command).joined(separator: " ")) --help`: a hand-laid-out line of \(line.count) characters wraps at 80 columns:\n| \(line)")
            }
        }
    }

    /// The root overview groups the subcommands ("Engine:   train, bench, …"): every subcommand
    /// `--help` lists (but `help`) is in one group, and every name in a group is a subcommand.
    func testRootOverviewGroupsEverySubcommand() throws {
        let r = try RectuneCLI.run(["--help"], in: dir, environment: ["COLUMNS": "400"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.components(separatedBy: "\n")
        let listed = Set(lines.drop { $0 != "SUBCOMMANDS:" }.dropFirst().compactMap { line -> String? in
            // "  train   Train a model…" (not the closing "  See 'rectune help <subcommand>'…").
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first,
                  name.first?.isLowercase == true else { return nil }
            return String(name)
        }).subtracting(["help"])
        XCTAssertTrue(listed.contains("contest") && listed.contains("train"), "subcommands: \(listed.sorted())")
        let overview = lines.prefix { !$0.hasPrefix("USAGE:") }
        let grouped = Set(overview.compactMap { line -> [String]? in
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" "), !line.hasPrefix("Exit") else { return nil }
            // "Engine:   train, …" (a capitalized word; not "OVERVIEW:").
            let group = line[..<colon]
            guard group.first?.isUppercase == true, group.dropFirst().allSatisfy(\.isLowercase) else { return nil }
            return line[line.index(after: colon)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }.joined())
        XCTAssertEqual(listed.subtracting(grouped).sorted(), [], "subcommands missing from the overview's groups:\n\(r.out)")
        XCTAssertEqual(grouped.subtracting(listed).sorted(), [], "names in the overview's groups that are no subcommand")
    }

    /// The detector itself, on text wrapped the way argument-parser wraps it.
    func testEarlyBreakDetector() {
        let ragged = """
            OVERVIEW: Benchmark.

            For each model: steady-state samples/s and step-time percentiles from
            pre-parsed in-memory
            batches, and end-to-end.

            USAGE: rectune bench [--json <path>]
            """
        XCTAssertEqual(Self.earlyBreaks(in: ragged, columns: 80).map(\.second), ["batches, and end-to-end."])
        XCTAssertEqual(Self.earlyBreaks(in: ragged, columns: 120).map(\.second), ["pre-parsed in-memory", "batches, and end-to-end."])

        let intended = """
            OVERVIEW: Harness.

            Engine:   train, bench
            Counters: measure, doctor
            --rounds N adds rounds.
            --profile adds a profile.
            1. first
            2) second
            - item
            * item
            • item
            Exit: 0 ok.
            Examples:
              rectune train --model wdl
              rectune train --model dlrm

            USAGE: rectune <subcommand>

            OPTIONS:
              --db <path>             The result store (SQLite file).
              -h, --help              Show help information.

            SUBCOMMANDS:
              train                   Train a model.
              bench                   Benchmark the engine.
            """
        XCTAssertEqual(Self.earlyBreaks(in: intended, columns: 80).map(\.second), [])

        // An option's help with a hard newline continues at the help column, early.
        let optionHelp = """
            USAGE: rectune x

            OPTIONS:
              --db <path>             The result store
                                      (SQLite file).
            """
        XCTAssertEqual(Self.earlyBreaks(in: optionHelp, columns: 80).map { $0.second.trimmingCharacters(in: .whitespaces) },
                       ["(SQLite file)."])
        // Greedy wrapping is fine: argument-parser needs the space after a word within the width,
        // so a line is at most columns - 1 long and a word that would end at the last column moves down.
        let greedy = String(repeating: "x", count: 74) + "\nabcde fghij"
        XCTAssertEqual(Self.earlyBreaks(in: greedy, columns: 80).map(\.second), [])
        XCTAssertEqual(Self.earlyBreaks(in: greedy, columns: 81).map(\.second), ["abcde fghij"])
    }

    // MARK: - Detector

    /// Consecutive non-blank lines `(first, second)` of one paragraph where `second`'s first word
    /// would have fitted on `first`. argument-parser breaks a line at the last space within the first
    /// `columns` characters, so a word fits when `first + " " + word` is shorter than `columns`.
    ///
    /// Not paragraph continuations (exempt):
    /// - a line that starts an item: "-", "*", "•", "1." or "1)", a first word ending in ":" ("Exit:"),
    ///   or a table row (a label, two or more spaces, text: the subcommand list, "Engine:   train, …");
    /// - a line indented differently from the line before (for an option's help, the line before's
    ///   help column counts as its indentation);
    /// - an indented line in the overview (abstract and discussion, before "USAGE:"): argument-parser
    ///   wraps the overview without indentation, so indented lines there are laid out by hand (examples).
    static func earlyBreaks(in help: String, columns: Int) -> [(first: String, second: String)] {
        let lines = help.components(separatedBy: "\n").map { String($0.reversed().drop { $0 == " " }.reversed()) }
        let usageLine = lines.firstIndex { $0.hasPrefix("USAGE:") } ?? 0
        var found: [(first: String, second: String)] = []
        for i in lines.indices.dropFirst() {
            let first = lines[i - 1], second = lines[i]
            guard !first.isEmpty, !second.isEmpty else { continue }
            let indent = indentation(second)
            if i < usageLine && indent > 0 { continue }
            if startsItem(second) { continue }
            guard indent == indentation(first) || indent == textColumn(first) else { continue }
            if first.count + 1 + firstWord(second).count < columns { found.append((first, second)) }
        }
        return found
    }

    static func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }

    static func firstWord(_ line: String) -> String {
        String(line.drop { $0 == " " }.prefix { $0 != " " })
    }

    /// Where a table row's text starts (after its label and a gap of two or more spaces), else its indentation.
    static func textColumn(_ line: String) -> Int {
        guard let gap = tableGap(line) else { return indentation(line) }
        return line.distance(from: line.startIndex, to: gap.upperBound)
    }

    /// The first run of two or more spaces after a row's label, if text follows it.
    static func tableGap(_ line: String) -> Range<String.Index>? {
        let text = line.drop { $0 == " " }
        guard let gap = text.range(of: " {2,}", options: .regularExpression), gap.upperBound < text.endIndex else { return nil }
        return gap
    }

    static func startsItem(_ line: String) -> Bool {
        let text = line.drop { $0 == " " }
        if text.hasPrefix("-") || text.hasPrefix("*") || text.hasPrefix("•") { return true }
        if text.range(of: #"^[0-9]+[.)]"#, options: .regularExpression) != nil { return true }
        if firstWord(line).hasSuffix(":") { return true }
        return tableGap(line) != nil
    }

    // MARK: - Command tree

    /// The path of every command, `[]` for the root, from `rectune --experimental-dump-help`
    /// (argument-parser's `configuration.subcommands`, recursively).
    static func commandPaths(in dir: URL) throws -> [[String]] {
        let r = try RectuneCLI.run(["--experimental-dump-help"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        let tool = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let root = try XCTUnwrap(tool["command"] as? [String: Any], "no command in \(r.out.prefix(200))")
        func paths(_ command: [String: Any], _ prefix: [String]) -> [[String]] {
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            return [prefix] + subcommands.flatMap { sub -> [[String]] in
                guard let name = sub["commandName"] as? String else { return [] }
                return paths(sub, prefix + [name])
            }
        }
        return paths(root, [])
    }
}
