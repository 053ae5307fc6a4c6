import Foundation
import RecContract
import XCTest

final class ExactJSONTests: XCTestCase {
    /// Every double written by `JSONSerialization` or `JSONEncoder` reads back to the same bits, at
    /// any depth; `JSONSerialization`'s own reader does not on this toolchain (about one in five).
    func testNumbersWrittenByFoundationReadBackToTheSameBits() throws {
        // Seventeen significant digits, most not the shortest text of a neighbour: 0.4567901223456783
        // (k = 1) is one JSONSerialization reads as 0.4567901223456784; it misreads 2,061 of these 4,000.
        let values = (1...4000).map { k in
            let x = Double(k) * 0.123456789012345 + 1.0 / 3.0
            return k % 2 == 1 ? x : -x * 1e-5
        }
        let document: [String: Any] = ["top": values, "nested": ["a": ["b": values]]]
        let serialized = try JSONSerialization.data(withJSONObject: document)
        let encoded = try JSONEncoder().encode(["top": values])
        for (how, data) in [("JSONSerialization", serialized), ("JSONEncoder", encoded)] {
            let object = try XCTUnwrap(ExactJSON.object(with: data), how)
            let top = try XCTUnwrap(object["top"] as? [Any], how)
            XCTAssertEqual(top.count, values.count, how)
            for (read, wrote) in zip(top, values) where (read as? Double)?.bitPattern != wrote.bitPattern {
                XCTFail("\(how): wrote \(wrote), read \(read)")
                break
            }
        }
        let nested = try XCTUnwrap(ExactJSON.object(with: serialized)?["nested"] as? [String: Any])
        let deep = try XCTUnwrap((nested["a"] as? [String: Any])?["b"] as? [Any])
        XCTAssertTrue(zip(deep, values).allSatisfy { ($0 as? Double)?.bitPattern == $1.bitPattern })
    }

    func testValuesKeepJSONSerializationsTypes() throws {
        let text = #"{"t": true, "f": false, "i": 42, "neg": -7, "big": 1e300, "frac": 0.5, "s": "x\"y", "n": null, "a": [1, [2.5], {}], "o": {"k": "v"}}"#
        let o = try XCTUnwrap(ExactJSON.object(with: Data(text.utf8)))
        XCTAssertEqual(o["t"] as? Bool, true)
        XCTAssertEqual(o["f"] as? Bool, false)
        XCTAssertFalse(o["t"] is Int, "a boolean is not a number")
        XCTAssertEqual(o["i"] as? Int, 42)
        XCTAssertEqual(o["neg"] as? Int, -7)
        XCTAssertEqual(o["big"] as? Double, 1e300)
        XCTAssertEqual(o["frac"] as? Double, 0.5)
        XCTAssertEqual(o["s"] as? String, "x\"y")
        XCTAssertTrue(o["n"] is NSNull)
        let a = try XCTUnwrap(o["a"] as? [Any])
        XCTAssertEqual(a.count, 3)
        XCTAssertEqual(a[0] as? Int, 1)
        XCTAssertEqual((a[1] as? [Any])?.first as? Double, 2.5)
        XCTAssertEqual((a[2] as? [String: Any])?.count, 0)
        XCTAssertEqual((o["o"] as? [String: Any])?["k"] as? String, "v")
        XCTAssertEqual(try ExactJSON.value(with: Data("3.25".utf8)) as? Double, 3.25, "a fragment")
    }

    func testNonJSONAndNonObjectsAreRefused() {
        XCTAssertNil(ExactJSON.object(with: Data("[1]".utf8)))
        XCTAssertNil(ExactJSON.object(with: Data(#"{"a": "#.utf8)))
        XCTAssertNil(ExactJSON.object(with: Data("not json".utf8)))
        XCTAssertThrowsError(try ExactJSON.value(with: Data("{,}".utf8)))
    }
}
