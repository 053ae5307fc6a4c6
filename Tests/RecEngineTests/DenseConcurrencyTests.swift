import Foundation
import XCTest
@testable import RecEngine

/// Two workers run the same layer's primitives at the same time on their own streams, scratchpads
/// and memory objects; each must get exactly the single-threaded result.
final class DenseConcurrencyTests: XCTestCase {
    func testTwoWorkersRunConcurrentlyWithIdenticalResults() throws {
        for precision in hostPrecisions {
            let context = try DNNLContext(workers: 2)
            let (inputs, outputs, batch) = (200, 300, 32)
            let layer = try DenseLayer(name: "conc", inputs: inputs, outputs: outputs, relu: true, precision: precision,
                                       context: context, seed: 51)
            try layer.prepare(batch: batch)
            let calls = DenseCalls(layer: layer, batch: batch)
            let inputsPerWorker = [DenseReference.random(batch * inputs, seed: 52), DenseReference.random(batch * inputs, seed: 53)]
            let dy = DenseReference.random(batch * outputs, seed: 54)
            let expected = inputsPerWorker.map { calls.forward($0, worker: 0) }
            let expectedGrad = inputsPerWorker.map { calls.backwardWeights($0, dy, worker: 0).raw }
            XCTAssertNotEqual(expected[0], expected[1])

            let mismatches = Mismatches()
            DispatchQueue.concurrentPerform(iterations: 2) { worker in
                context.setIntraOpThreads(1)
                for _ in 0..<40 {
                    if calls.forward(inputsPerWorker[worker], worker: worker) != expected[worker] { mismatches.add() }
                    if calls.backwardWeights(inputsPerWorker[worker], dy, worker: worker).raw != expectedGrad[worker] {
                        mismatches.add()
                    }
                }
            }
            XCTAssertEqual(mismatches.count, 0, "\(precision): concurrent results differ from the serial ones")
        }
    }
}

/// A thread-safe counter. `@unchecked Sendable`: `value` is protected by `lock`.
private final class Mismatches: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}
