import XCTest
import Foundation
@testable import RecEngine

/// Prints the kernel timings when RECTUNE_KERNEL_BENCH=1 (a benchmark, not a test: it asserts
/// only that every kernel was measured). Run it in release:
/// `RECTUNE_KERNEL_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter KernelBenchmarkTests`
final class KernelBenchmarkTests: XCTestCase {
    func testPrintKernelTimings() throws {
        guard ProcessInfo.processInfo.environment["RECTUNE_KERNEL_BENCH"] == "1" else {
            throw XCTSkip("set RECTUNE_KERNEL_BENCH=1 to run the kernel benchmark")
        }
        let timings = KernelBenchmark.run()
        XCTAssertEqual(timings.count, 9)
        for t in timings {
            XCTAssertTrue(t.nsPerCall > 0 && t.nsPerCall.isFinite, t.name)
            print(t.name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%9.1f µs/batch %9.1f ns/sample", t.nsPerCall / 1000, t.nsPerSample))
        }
    }
}
