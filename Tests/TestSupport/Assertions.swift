import XCTest

/// Asserts |a - e| <= atol + rtol * |e| element-wise, reporting the first offending index.
public func assertClose(_ actual: Double, _ expected: Double, rtol: Double = 1e-6, atol: Double = 0,
                        _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    let tol = atol + rtol * abs(expected)
    if !(abs(actual - expected) <= tol) {
        XCTFail("\(actual) is not within \(tol) of \(expected) \(message())", file: file, line: line)
    }
}

/// Element-wise `assertClose` over two sequences of equal length.
public func assertClose<A: Collection, B: Collection>(_ actual: A, _ expected: B, rtol: Double = 1e-6, atol: Double = 0,
                        _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line)
where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    XCTAssertEqual(actual.count, expected.count, "length mismatch \(message())", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let a = Double(a), e = Double(e)
        let tol = atol + rtol * abs(e)
        if !(abs(a - e) <= tol) {
            XCTFail("index \(i): \(a) is not within \(tol) of \(e) \(message())", file: file, line: line)
            return
        }
    }
}

/// A fresh temporary directory, removed by the caller's tearDown if wanted.
public func makeTemporaryDirectory(_ prefix: String = "rectune-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
