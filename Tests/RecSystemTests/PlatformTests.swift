import Foundation
import XCTest
@testable import RecSystem

final class PlatformTests: XCTestCase {
    /// Runs `body` on a fresh thread so per-thread state (NUMA policy, affinity) does not leak.
    private func onFreshThread(_ body: @escaping @Sendable () throws -> Void) {
        let done = DispatchSemaphore(value: 0)
        Thread {
            do { try body() } catch { XCTFail("thrown on the test thread: \(error)") }
            done.signal()
        }.start()
        done.wait()
    }

    func testNUMAApplyWorksWithTheNodesThisMachineHas() throws {
        guard NUMAControl.available else { throw XCTSkip("NUMA API unavailable (numa_available() < 0)") }
        XCTAssertGreaterThanOrEqual(NUMAControl.nodeCount, 1)
        onFreshThread {
            XCTAssertEqual(NUMAControl.currentPolicyDescription, "default/local")
            let said = NUMAControl.apply(.interleave)
            XCTAssertTrue(said.hasPrefix("numa interleave: numa_set_interleave_mask"), said)
            XCTAssertEqual(NUMAControl.currentPolicyDescription, "interleave", "the kernel reports the interleave policy")
            XCTAssertGreaterThan(Workload.touchFreshPages(64), 0, "allocation still works under the policy")
            let local = NUMAControl.apply(.local)
            XCTAssertTrue(local.hasPrefix("numa local: numa_set_localalloc()"), local)
            XCTAssertEqual(NUMAControl.currentPolicyDescription, "default/local")
            XCTAssertEqual(NUMAControl.apply(.off), "numa off: inherited memory policy left unchanged")
        }
    }

    func testUnknownNUMAPolicyNamesTheAllowedValues() {
        XCTAssertThrowsError(try NUMAControl.apply(policy: "spread")) { error in
            XCTAssertEqual("\(error)", "unknown NUMA policy 'spread'; allowed: off, local, interleave")
        }
    }

    func testPinningRestrictsTheThreadToOneCPU() {
        let allowed = CPUAffinity.allowedCPUs()
        XCTAssertFalse(allowed.isEmpty)
        XCTAssertEqual(allowed, allowed.sorted())
        let target = allowed.last!
        onFreshThread {
            XCTAssertNoThrow(try CPUAffinity.pinCurrentThread(toCPU: target))
            XCTAssertEqual(CPUAffinity.allowedCPUs(), [target])
            Workload.compute(iterations: 1_000_000)
            XCTAssertEqual(CPUAffinity.currentCPU, target)
            XCTAssertNoThrow(try CPUAffinity.setCurrentThread(toCPUs: allowed))
            XCTAssertEqual(CPUAffinity.allowedCPUs(), allowed)
        }
    }

    func testPinningToAnImpossibleCPUThrowsEINVAL() {
        onFreshThread {
            XCTAssertThrowsError(try CPUAffinity.pinCurrentThread(toCPU: -1)) { error in
                XCTAssertEqual((error as? SystemCallError)?.errno.symbolicName, "EINVAL", "\(error)")
            }
        }
    }

    func testThreadRusageSeesTouchedPages() {
        onFreshThread {
            let before = ResourceUsage.current(.thread)
            Workload.touchFreshPages(3000)
            let phase = ResourceUsage.current(.thread).delta(since: before)
            XCTAssertGreaterThanOrEqual(phase.minflt, 3000)
            XCTAssertGreaterThan(ResourceUsage.current(.process).maxrssKB, 0)
        }
    }

    func testHostInfoDescribesThisMachine() {
        let host = HostInfo.collect()
        XCTAssertEqual(host.logicalCores, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertGreaterThan(host.memoryBytes, 0)
        XCTAssertTrue(host.kernel.hasPrefix("Linux "), host.kernel)
        XCTAssertEqual(host.perfEventParanoid, HostInfo.readParanoid())
    }
}
