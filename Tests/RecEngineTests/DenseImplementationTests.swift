import XCTest
@testable import RecEngine

/// oneDNN falls back to slow `ref:` kernels when a layout or data-type combination is not
/// supported by an optimized implementation. The layer forces one weights layout onto forward,
/// backward-data and backward-weights, so check that none of them falls back at the model shapes.
final class DenseImplementationTests: XCTestCase {
    static let modelShapes: [(String, [Int])] = [
        ("wdl", [429, 1024, 512, 256, 1]),
        ("dlrm-bottom", [13, 512, 256, 64, 16]),
        ("dlrm-top", [367, 512, 256, 1]),
        ("deepfm", [429, 400, 400, 400, 1]),
    ]

    func testNoReferenceImplementationsAtModelShapes() throws {
        let context = try DNNLContext(workers: 1)
        var profiles: [DenseLayerProfile] = []
        for precision in hostPrecisions {
            for (model, widths) in Self.modelShapes {
                for k in 0..<(widths.count - 1) {
                    let layer = try DenseLayer(name: "\(model).\(k)", inputs: widths[k], outputs: widths[k + 1],
                                               relu: k + 2 < widths.count, precision: precision, context: context, seed: 1)
                    for batch in [512, 256, 128] {
                        try layer.prepare(batch: batch)
                        let profile = try XCTUnwrap(layer.implementationNames(batch: batch))
                        XCTAssertFalse(profile.usesReferenceImplementation, "\(profile)")
                        XCTAssertEqual(profile.batch, batch)
                        profiles.append(profile)
                    }
                    XCTAssertEqual(layer.preparedBatches, [128, 256, 512])
                }
            }
        }
        XCTAssertEqual(profiles.count, hostPrecisions.count * 15 * 3)
        XCTAssertNil(try DenseLayer(name: "x", inputs: 4, outputs: 4, relu: false, precision: .fp32, context: context, seed: 1)
            .implementationNames(batch: 8), "unprepared batch has no profile")
        XCTAssertTrue(profiles.filter { $0.precision == .bf16 }.allSatisfy { $0.weightCopyLayout != nil })
        XCTAssertTrue(profiles.filter { $0.precision == .fp32 }.allSatisfy { $0.activationReorder == nil })
    }

    func testProfileFlagsReferenceNames() {
        let profile = DenseLayerProfile(layer: "l", batch: 1, inputs: 2, outputs: 3, precision: .fp32,
                                        forward: "brgemm:avx512_core", backwardData: "ref:any",
                                        backwardWeights: "brgemm_bwd_w:avx512_core", activationReorder: nil,
                                        weightsLayout: "AB16b64a", weightCopyLayout: nil)
        XCTAssertTrue(profile.usesReferenceImplementation)
        XCTAssertTrue(profile.description.contains("bwd-data ref:any"))
    }
}
