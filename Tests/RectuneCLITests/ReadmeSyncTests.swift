import Foundation
import RecContract
import TestSupport
import XCTest

/// The README's knob, metric and result-contract tables are generated from the registry and the
/// catalog (`rectune knobs --markdown`, `rectune metrics --markdown`); this keeps them in sync.
final class ReadmeSyncTests: XCTestCase {
    static let readme: String = {
        let root = RepositoryRoot.url
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    /// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
    func section(_ name: String) throws -> String {
        let text = Self.readme
        let begin = try XCTUnwrap(text.range(of: "<!-- \(name):begin -->"), "README has no \(name) section")
        let end = try XCTUnwrap(text.range(of: "<!-- \(name):end -->"), "README has no end of \(name)")
        return text[begin.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testKnobTableIsTheRegistrys() throws {
        XCTAssertEqual(try section("knobs"), KnobSpec.markdownTable(), "regenerate with `rectune knobs --markdown`")
        let cli = try RectuneCLI.run(["knobs", "--markdown"], in: FileManager.default.temporaryDirectory)
        XCTAssertEqual(cli.out.trimmingCharacters(in: .whitespacesAndNewlines), KnobSpec.markdownTable())
    }

    func testMetricTableIsTheCatalogs() throws {
        XCTAssertEqual(try section("metrics"), MetricCatalog.markdownTable(), "regenerate with `rectune metrics --markdown`")
    }

    func testContractTableNamesExactlyTheContractKeys() throws {
        let table = try section("contract")
        var named = Set<String>()
        for line in table.split(separator: "\n").dropFirst(2) {
            let firstCell = line.split(separator: "|").first ?? ""
            for part in firstCell.split(separator: "`") where !part.contains(",") && !part.trimmingCharacters(in: .whitespaces).isEmpty {
                named.insert(part.trimmingCharacters(in: .whitespaces))
            }
        }
        XCTAssertEqual(named, Set(TrainResult.keys), "the README's result contract table and TrainResult disagree")
    }
}
