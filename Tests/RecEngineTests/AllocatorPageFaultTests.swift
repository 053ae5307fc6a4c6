import RecSystem
import XCTest
@testable import RecEngine

/// Minor page faults per steady-state step, system vs adaptive, on a graph of large tensors
/// (the effect the adaptive allocator exists for). Prints the figures; asserts only what the
/// mechanism guarantees: after the plan, steps allocate nothing new, so they fault (almost) never.
final class AllocatorPageFaultTests: XCTestCase {
    func testAdaptiveSteadyStateStepsTakeAlmostNoPageFaults() throws {
        // 1 MiB tensors: 4 parallel producers, 4 consumers, one sink — 9 live at the peak.
        var spec = [SyntheticNode(name: "in", kind: .input, deps: [], work: 10, floats: 1 << 18)]
        for i in 0..<4 { spec.append(SyntheticNode(name: "a\(i)", kind: .forward, deps: [0], work: 10, floats: 1 << 18)) }
        for i in 0..<4 { spec.append(SyntheticNode(name: "b\(i)", kind: .backward, deps: [1 + i], work: 10, floats: 1 << 18)) }
        spec.append(SyntheticNode(name: "sink", kind: .update, deps: [5, 6, 7, 8], work: 10, floats: 16))
        var perStep: [String: Double] = [:]
        for alloc in [SystemAllocator(), AdaptiveAllocator(warmupStart: 1, warmupSteps: 3)] as [any TensorAllocator] {
            let model = try SyntheticModel(spec)
            runSteps(model, InlineExecutor(), allocator: alloc, steps: 0..<6)
            let before = ResourceUsage.current(.process)
            runSteps(model, InlineExecutor(), allocator: alloc, steps: 6..<16)
            let faults = ResourceUsage.current(.process).delta(since: before).minflt
            perStep[alloc.name] = Double(faults) / 10
            XCTAssertEqual(model.patternErrors.load(ordering: .relaxed), 0)
        }
        print("minor faults per steady-state step (9 × 1 MiB tensors): system \(perStep["system"]!), adaptive \(perStep["adaptive"]!)")
        XCTAssertLessThan(perStep["adaptive"]!, 16, "a planned, pre-touched pool must not fault per step (a 1 MiB tensor is 256 pages)")
    }
}
