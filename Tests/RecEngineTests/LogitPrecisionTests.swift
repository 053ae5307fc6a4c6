import XCTest
@testable import RecEngine

/// With the bf16 knob on, a model's hidden MLP layers run in bf16 and its one-output logit layer
/// stays fp32: DESIGN.md ("embeddings, interaction, logits and loss stay fp32") and the contest
/// scripts (WDL, DLRM, DeepFM cast the hidden layers' output back to float32 before
/// `tf.layers.dense(units=1)`). MMoE's towers follow their script, which computes the tower
/// output in bf16 and casts after it.
final class LogitPrecisionTests: XCTestCase {
    /// Each stack's layer precisions, and whether each layer hands bf16 bits to the next.
    private func layout(_ stack: MLPStack) -> [String] {
        stack.layers.map { "\($0.precision.rawValue)\($0.lowPrecisionOutput ? ">bf16" : "")" }
    }

    func testCriteoModelsKeepTheLogitLayerInFP32UnderBF16() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        for kind in ModelKind.criteoModels {
            var c = TrainConfig()
            c.model = kind
            c.batch = 64
            c.hashBuckets = 100
            c.bf16 = true
            let model = try makeModel(config: c, context: context, feed: StepFeed(capacity: 64))
            let stack: MLPStack
            switch model {
            case let m as WDLModel: stack = m.dnn
            case let m as DLRMModel: stack = m.top
            case let m as DeepFMModel: stack = m.dnn
            default: return XCTFail("\(kind): unexpected model type \(type(of: model))")
            }
            let n = stack.layers.count
            XCTAssertEqual(stack.layers.last!.outputs, 1, "\(kind)")
            // bf16 layers chained to each other; the last hidden one writes fp32 for the fp32 logit.
            XCTAssertEqual(layout(stack), Array(repeating: "bf16>bf16", count: n - 2) + ["bf16", "fp32"], "\(kind)")
            XCTAssertFalse(stack.layers.last!.lowPrecisionInput, "\(kind)")

            c.bf16 = false
            let fp32 = try makeModel(config: c, context: context, feed: StepFeed(capacity: 64))
            XCTAssertEqual(fp32.parameters.map { $0.snapshot() }, model.parameters.map { $0.snapshot() },
                           "\(kind): bf16 changed the initial parameters")
        }
    }

    func testContestModelsFollowTheirScripts() throws {
        try requireBF16()
        let context = try DNNLContext(workers: 1)
        var c = TrainConfig()
        c.batch = 64
        c.bf16 = true
        c.dataset = .eleme
        c.hashBuckets = 100
        let feed = ContestFeed(schema: ContestSchema.eleme, capacity: 64, buckets: ContestSchema.elemeBuckets(hashBuckets: 100))
        c.model = .wdl
        let wdl = try XCTUnwrap(try makeContestModel(config: c, context: context, feed: feed) as? ContestWDL)
        XCTAssertEqual(layout(wdl.dnn).suffix(2), ["bf16", "fp32"])
        c.model = .dlrm
        let dlrm = try XCTUnwrap(try makeContestModel(config: c, context: context, feed: feed) as? ContestDLRM)
        XCTAssertEqual(layout(dlrm.top).suffix(2), ["bf16", "fp32"])
        c.model = .deepfm
        let deepfm = try XCTUnwrap(try makeContestModel(config: c, context: context, feed: feed) as? ContestDeepFM)
        XCTAssertEqual(layout(deepfm.logits), ["fp32"])

        c.dataset = .taobao
        c.model = .mmoe
        let taobao = ContestFeed(schema: ContestSchema.taobao, capacity: 64, buckets: ContestSchema.taobaoBuckets)
        let mmoe = try XCTUnwrap(try makeContestModel(config: c, context: context, feed: taobao) as? ContestMMoE)
        for tower in mmoe.towers {
            XCTAssertEqual(tower.layers.last!.outputs, 1)
            XCTAssertTrue(tower.layers.allSatisfy { $0.precision == .bf16 }, "\(layout(tower))")
        }
    }
}
