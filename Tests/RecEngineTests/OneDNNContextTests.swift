import Foundation
import XCTest
@testable import RecEngine
import CDNNL

final class OneDNNContextTests: XCTestCase {
    func testErrorsNameTheFailingCallAndStatus() {
        XCTAssertThrowsError(try DNNLMemoryDesc(dims: [-3, 4], type: dnnl_f32, tag: dnnl_ab)) { error in
            let e = error as? DNNLError
            XCTAssertNotNil(e)
            XCTAssertEqual(e?.statusName, "dnnl_invalid_arguments")
            XCTAssertTrue("\(error)".contains("dnnl_memory_desc_init_by_tag(dims [-3, 4])"), "\(error)")
        }
    }

    func testIntraOpThreadsApplyToTheCallingThread() throws {
        let context = try DNNLContext(workers: 1)
        context.setIntraOpThreads(1)
        XCTAssertEqual(DNNLContext.callingThreadIntraOpThreads, 1)
        context.setIntraOpThreads(2)
        XCTAssertEqual(DNNLContext.callingThreadIntraOpThreads, 2)
        let seen = SeenValue()
        let done = DispatchSemaphore(value: 0)
        let other = Thread {
            context.setIntraOpThreads(3)
            seen.value = DNNLContext.callingThreadIntraOpThreads
            done.signal()
        }
        other.start()
        done.wait()
        XCTAssertEqual(seen.value, 3, "the other thread sees its own setting")
        XCTAssertEqual(DNNLContext.callingThreadIntraOpThreads, 2, "and this thread keeps its own")
    }

    func testScratchpadCoversEveryPreparedPrimitive() throws {
        let context = try DNNLContext(workers: 2)
        // bf16 where the host has it (its layer prepares the most primitives: the conversions too).
        let layer = try DenseLayer(name: "s", inputs: 429, outputs: 1024, relu: true, precision: hostPrecisions.last!, context: context, seed: 1)
        try layer.prepare(batch: 256)
        let plan = layer.plan(256)
        let needs = [plan.forward, plan.backwardData, plan.backwardWeights].map(\.scratchpad.bytes)
        XCTAssertEqual(plan.scratchpadBytes, needs.max())
        XCTAssertGreaterThanOrEqual(context.scratchpadBytesPerWorker, plan.scratchpadBytes)
        XCTAssertEqual(plan.bindings.count, 2)
        XCTAssertTrue(OneDNNInfo.version.hasPrefix("2."), OneDNNInfo.version)
    }
}

/// `@unchecked Sendable`: written by one thread before `done.signal()`, read after `done.wait()`.
private final class SeenValue: @unchecked Sendable {
    var value = 0
}
