import XCTest
@testable import RecEngine

/// DIN and DIEN on the generated Amazon Books data (`SyntheticAmazonBooks`, the real file layout read
/// by the real reader): both learn the history-dependent click, and DIN's attention beats the same
/// network with a sum-pooled history. The generator's own figures on this data (oracle, order-blind
/// and sum-pooled formulas) bound what a model can reach; thresholds sit below measured runs.
final class SequenceBooksLearningTests: XCTestCase {
    struct Outcome { var auc: Double; var firstLoss: Double; var lastLoss: Double }

    static let dataset: (ContestDataset, SyntheticAmazonBooks.Summary) = {
        let (files, summary) = try! SyntheticAmazonBooks.generate(trainRows: 100_000, evalRows: 10_000, seed: 3)
        let d = try! ContestDataset(amazonBooks: files, negatives: .required, badRows: .fail, name: "generated books")
        return (d, summary)
    }()

    /// Trains `c.model` (inline executor) on the generated training file in file order and evaluates
    /// AUC over the whole evaluation file through the trainer's evaluation pass.
    static func train(_ c: TrainConfig, steps: Int, pooling: ContestSequenceModel.Pooling = .attention) throws -> Outcome {
        let data = dataset.0
        let context = try DNNLContext(workers: 1)
        context.setIntraOpThreads(1)
        let feed = ContestFeed(schema: data.schema, capacity: c.batch, buckets: data.buckets)
        let model = try ContestSequenceModel(config: c, context: context, feed: feed, buckets: data.buckets, pooling: pooling)
        let graph = try model.trainingGraph(microBatches: MicroBatch.split(batch: c.batch, count: 1))
        let memory = StepMemory(graph: graph, allocator: SystemAllocator())
        let executor = InlineExecutor()
        var batch = ContestBatch(schema: data.schema, capacity: c.batch)
        var losses: [Double] = []
        for step in 0..<steps {
            try data.fill(&batch, index: step, batchSize: c.batch)
            feed.stage(batch)
            executor.run(graph, memory: memory, step: step)
            losses.append(model.head.lastStepLoss(microBatches: 1))
        }
        let eval = try ContestTrainer.evaluate(model: model, dataset: data, feed: feed, batch: c.batch)
        func mean(_ xs: ArraySlice<Double>) -> Double { xs.reduce(0, +) / Double(max(xs.count, 1)) }
        return Outcome(auc: eval.pooledAUC, firstLoss: mean(losses.prefix(20)), lastLoss: mean(losses.suffix(20)))
    }

    static func config(_ model: ModelKind) -> TrainConfig {
        var c = TrainConfig()
        c.model = model
        c.dataset = .amazonBooks
        c.batch = 512
        c.seed = 2021
        c.executor = .inline
        c.rnn = .fused
        return c
    }

    /// Measured (this data, 600 steps at batch 512, inline, deterministic): DIN 0.6357, the same
    /// network with a sum-pooled history 0.6336; at 300,000 rows and 2,500 steps 0.6235 vs 0.6176.
    /// The generator's formulas bound the gap: order-blind selection 0.725 vs a sum-pooled score
    /// 0.688 at convergence. With the scripts' Adam 0.001 neither model is near convergence in a
    /// test's budget, so the assertion is only "above", not a margin; the in-memory attention task of
    /// `SequenceModelTests` shows the clear gap (0.9996 vs 0.978).
    func testDINLearnsGeneratedBooksAndBeatsSumPooling() throws {
        let s = Self.dataset.1
        let n = 600
        let din = try Self.train(Self.config(.din), steps: n)
        let pooled = try Self.train(Self.config(.din), steps: n, pooling: .sum)
        print(String(format: "books-learning: din %.4f, sum-pooled %.4f (generator: oracle %.4f, order-blind %.4f, sum-pooled formula %.4f)",
                     din.auc, pooled.auc, s.oracleAUC, s.orderBlindAUC, s.sumPooledAUC))
        XCTAssertLessThan(din.lastLoss, din.firstLoss)
        XCTAssertGreaterThan(din.auc, 0.58)
        XCTAssertLessThan(din.auc, s.oracleAUC + 0.01, "no model beats the generator's exact probability")
        XCTAssertGreaterThan(din.auc, pooled.auc, "attention must beat the sum-pooled history")
    }

    /// Measured: 0.6539 after 300 steps (its auxiliary loss teaches the item embeddings which item
    /// follows which, the generator's series structure).
    func testDIENLearnsGeneratedBooks() throws {
        let s = Self.dataset.1
        let dien = try Self.train(Self.config(.dien), steps: 300)
        print(String(format: "books-learning: dien %.4f (loss %.3f -> %.3f; oracle %.4f)", dien.auc, dien.firstLoss, dien.lastLoss, s.oracleAUC))
        XCTAssertLessThan(dien.lastLoss, dien.firstLoss)
        XCTAssertGreaterThan(dien.auc, 0.62)
        XCTAssertLessThan(dien.auc, s.oracleAUC + 0.01)
    }
}
