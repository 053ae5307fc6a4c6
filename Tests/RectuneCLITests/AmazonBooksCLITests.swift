import Foundation
import TestSupport
import XCTest

/// `rectune gen-data --format amazon-books` as a user runs it: the seven files of the layout, the
/// printed AUCs, and odd row counts refused.
final class AmazonBooksCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory("rectune-amazon-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testGenDataWritesTheAmazonBooksLayout() throws {
        let out = dir.appendingPathComponent("books").path
        let gen = try RectuneCLI.run(["gen-data", "--format", "amazon-books", "--rows", "2000", "--eval-rows", "400", "--seed", "2", "--out", out], in: dir)
        XCTAssertEqual(gen.status, 0, gen.err)
        for needle in ["oracle AUC", "sum-pooled", "order-blind", "history length mean"] { XCTAssertTrue(gen.out.contains(needle), gen.out) }
        for (file, lines) in [("local_train_splitByUser", 2000), ("local_test_splitByUser", 400), ("local_train_splitByUser_neg", 2000),
                              ("local_test_splitByUser_neg", 400)] {
            let text = try String(contentsOfFile: out + "/" + file, encoding: .utf8)
            XCTAssertEqual(text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }.count, lines, file)
        }
        XCTAssertTrue(try String(contentsOfFile: out + "/mid_voc.txt", encoding: .utf8).hasPrefix("default_mid\n"))
        XCTAssertTrue(try String(contentsOfFile: out + "/cat_voc.txt", encoding: .utf8).hasPrefix("default_cat\n"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/uid_voc.txt"))
        let odd = try RectuneCLI.run(["gen-data", "--format", "amazon-books", "--rows", "2001", "--out", out], in: dir)
        XCTAssertNotEqual(odd.status, 0)
        XCTAssertTrue(odd.err.contains("must be even"), odd.err)
    }
}
