import XCTest
import Foundation
@testable import RecEngine
import TestSupport

/// AUC against a brute-force pairwise count, and logloss against hand-computed values.
final class MetricTests: XCTestCase {
    private func auc(_ s: [Float], _ y: [Float]) -> Double {
        s.withUnsafeBufferPointer { sp in y.withUnsafeBufferPointer { Metrics.auc(scores: sp, labels: $0) } }
    }

    private func logloss(_ p: [Float], _ y: [Float]) -> Double {
        p.withUnsafeBufferPointer { pp in y.withUnsafeBufferPointer { Metrics.logloss(probabilities: pp, labels: $0) } }
    }

    /// P(score_pos > score_neg) + ½·P(tie) over all positive/negative pairs.
    private func pairwiseAUC(_ s: [Float], _ y: [Float]) -> Double {
        var wins: Double = 0, pairs: Double = 0
        for p in 0..<s.count where y[p] > 0.5 {
            for n in 0..<s.count where y[n] <= 0.5 {
                pairs += 1
                if s[p] > s[n] { wins += 1 } else if s[p] == s[n] { wins += 0.5 }
            }
        }
        return wins / pairs
    }

    func testAUCEqualsPairwiseCountWithTies() {
        for seed in UInt64(1)...5 {
            var rng = KernelTestRNG(seed: seed)
            let n = 300
            // Scores quantized to 7 levels: many ties, within and across classes. Labels correlated with scores.
            let s = (0..<n).map { _ in Float(rng.int(7)) / 7 }
            let y = s.map { score in Float(rng.uniform(0, 1) < 0.2 + 0.6 * score ? 1 : 0) }
            let expected = pairwiseAUC(s, y)
            assertClose(auc(s, y), expected, rtol: 1e-12, "seed \(seed)")
            XCTAssertGreaterThan(expected, 0.6, "the data should carry signal")
        }
    }

    func testAUCEdgeCases() {
        XCTAssertEqual(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75)  // the sklearn doc example
        XCTAssertEqual(auc([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1]), 1.0)
        XCTAssertEqual(auc([0.9, 0.8, 0.3, 0.1], [0, 0, 1, 1]), 0.0)
        XCTAssertEqual(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5)
        XCTAssertTrue(auc([0.1, 0.2, 0.3], [1, 1, 1]).isNaN, "one class only")
        XCTAssertTrue(auc([0.1, 0.2, 0.3], [0, 0, 0]).isNaN, "one class only")
        XCTAssertTrue(auc([], []).isNaN)
    }

    func testAUCOfRandomScoresIsNearHalf() {
        var rng = KernelTestRNG(seed: 42)
        let n = 20_000
        let s = (0..<n).map { _ in rng.uniform(0, 1) }
        let y = (0..<n).map { _ in Float(rng.int(4) == 0 ? 1 : 0) }
        // Null sd ≈ √((n+1)/(12·P·N)) ≈ 0.0047 for P = 5000, N = 15000; ±0.02 is > 4 sd.
        XCTAssertEqual(auc(s, y), 0.5, accuracy: 0.02)
    }

    func testLoglossMatchesHandComputedValues() {
        let p: [Float] = [0.9, 0.2, 0, 1, 0.5]
        let y: [Float] = [1, 0, 1, 1, 0]
        // 0 is clipped to 1e-7, 1 to 1 − 1e-7.
        let expected = (-Foundation.log(0.9) - Foundation.log(0.8) - Foundation.log(1e-7) - Foundation.log(1 - 1e-7) - Foundation.log(0.5)) / 5
        assertClose(logloss(p, y), expected, rtol: 1e-6)
        // Perfect confident predictions cost only the clipping floor.
        XCTAssertLessThan(logloss([1, 0], [1, 0]), 1e-6)
        XCTAssertTrue(logloss([], []).isNaN)
    }
}
