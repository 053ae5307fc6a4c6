import ArgumentParser
import Foundation
import RecEngine

/// `rectune gen-data`: writes deterministic synthetic data (Criteo TSV, or the contest's Ele.me and
/// Taobao directories) with a learnable signal.
struct GenDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-data",
        abstract: "Write synthetic Criteo, Ele.me, Taobao or Amazon Books data with a learnable signal.",
        discussion: """
        Lines are `label<TAB>I1..I13<TAB>C1..C26` like the Kaggle Criteo files: integers may be empty, \
        categoricals are 8 lowercase hex digits or empty. Labels come from a hidden logistic model over \
        some integer features (after log1p) and per-id weights of some categorical columns; ids are \
        Zipf-distributed over 10 to 10^6 values per column; 5-20% of each column is missing; about 25% \
        of labels are 1. The same --seed always gives the same bytes. The hidden model's own AUC (the \
        best any model can reach on this data) is about 0.80: --oracle-auc measures it.

        --format eleme|taobao writes the contest's directory layout into --out (a directory, created \
        if missing): train.csv and eval.csv (39 columns, `;` lists), or taobao_train_data and \
        taobao_test_data (20 columns, `|` tag lists, NULL brands, empty profile fields), with \
        --rows training and --eval-rows evaluation rows. The hidden model's AUC on the evaluation \
        file (per label, and pooled over clk and buy for Taobao) is printed: the oracle AUC.

        --format amazon-books writes the seven files of DIN/DIEN's directory: local_train_splitByUser, \
        local_test_splitByUser (TAB-separated label, uid, item, category, \\x02 history lists; one \
        (negative, positive) pair per user, so --rows and --eval-rows must be even), their line-aligned \
        _neg files, and uid_voc.txt, mid_voc.txt, cat_voc.txt (default_mid / default_cat first). The \
        click depends on the candidate's relation to particular history items, recent ones weighted \
        more; printed: the oracle AUC, the order-blind score's AUC and a sum-pooled-history baseline's AUC.
        """
    )

    @Option(help: "Layout: criteo (one TSV file), eleme, taobao or amazon-books (a directory of the contest's files).") var format: DatasetKind = .criteo
    @Option(help: "Rows to write (> 0; training rows for eleme/taobao/amazon-books, even for amazon-books).") var rows: Int
    @Option(help: "Evaluation-file rows for eleme/taobao/amazon-books (> 0; even for amazon-books).") var evalRows = 10_000
    @Option(help: "Random seed: the same seed gives the same file.") var seed: UInt64 = 1
    @Option(help: "Output file for criteo (created or truncated; its directory must exist); output directory for eleme/taobao.") var out: String
    @Flag(help: "Also report the hidden model's AUC on the first min(rows, 200000) rows.") var oracleAuc = false

    func validate() throws {
        guard rows > 0 else { throw ValidationError("--rows must be > 0, got \(rows)") }
        if format != .criteo {
            guard evalRows > 0 else { throw ValidationError("--eval-rows must be > 0, got \(evalRows)") }
            if format == .amazonBooks && (rows % 2 != 0 || evalRows % 2 != 0) {
                throw ValidationError("--format amazon-books writes (negative, positive) pairs: --rows and --eval-rows must be even, got \(rows), \(evalRows)")
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ValidationError("--out \(out) is a file; --format \(format.rawValue) writes a directory")
            }
            return
        }
        let url = URL(fileURLWithPath: out)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("--out \(out) is a directory; give a file path")
        }
        let parent = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--out \(out): directory \(parent) does not exist")
        }
    }

    func run() async throws {
        if let contest = format.contestFormat { return try writeContest(contest) }
        let start = Date()
        let summary: SyntheticCriteo.Summary
        do {
            summary = try SyntheticCriteo.write(rows: rows, seed: seed, to: out)
        } catch let error as DataError {
            FileHandle.standardError.write(Data("rectune gen-data: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let seconds = Date().timeIntervalSince(start)
        let rate = Double(summary.rows) / max(seconds, 1e-9)
        print("wrote \(summary.rows) rows to \(out)")
        print(String(format: "  positive rate %.4f (%d of %d)", summary.positiveRate, summary.positives, summary.rows))
        print(String(format: "  %d bytes (%.1f MB, %.1f bytes/row)", summary.bytes, Double(summary.bytes) / 1e6,
                     Double(summary.bytes) / Double(summary.rows)))
        print(String(format: "  %.3f s (%.0f rows/s), seed %llu", seconds, rate, seed))
        if oracleAuc {
            let n = min(rows, 200_000)
            print(String(format: "  hidden-model AUC %.4f on %d rows (the ceiling for a trained model)",
                         SyntheticCriteo.oracleAUC(rows: n, seed: seed), n))
        }
    }

    private func writeAmazonBooks() throws {
        let start = Date()
        let summary: SyntheticAmazonBooks.Summary
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            summary = try SyntheticAmazonBooks.write(trainRows: rows, evalRows: evalRows, seed: seed, to: out)
        } catch let error as DataError {
            FileHandle.standardError.write(Data("rectune gen-data: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let seconds = Date().timeIntervalSince(start)
        print("wrote \(summary.trainRows) + \(summary.evalRows) rows ((negative, positive) pairs) to \(out)/\(AmazonBooks.trainFile), "
              + "\(out)/\(AmazonBooks.evalFile), their _neg files and \(AmazonBooks.uidVocabulary), \(AmazonBooks.midVocabulary), \(AmazonBooks.catVocabulary)")
        print(String(format: "  history length mean %.2f, max %d (%d rows over 50, read truncated)", summary.meanHistory, summary.maxHistory, summary.rowsOver50))
        print("  vocabularies: \(summary.vocabularySizes[0]) uids, \(summary.vocabularySizes[1]) mids, \(summary.vocabularySizes[2]) cats")
        print(String(format: "  clk: oracle AUC on eval %.4f, order-blind score %.4f, sum-pooled history baseline %.4f",
                     summary.oracleAUC, summary.orderBlindAUC, summary.sumPooledAUC))
        print(String(format: "  %.1f MB, %.3f s, seed %llu", Double(summary.bytes) / 1e6, seconds, seed))
    }

    private func writeContest(_ contest: ContestFormat) throws {
        if contest == .amazonBooks { return try writeAmazonBooks() }
        let start = Date()
        let summary: SyntheticContest.Summary
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            summary = try SyntheticContest.write(format: contest, trainRows: rows, evalRows: evalRows, seed: seed, to: out)
        } catch let error as DataError {
            FileHandle.standardError.write(Data("rectune gen-data: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let seconds = Date().timeIntervalSince(start)
        let schema = contest.schema
        print("wrote \(summary.trainRows) + \(summary.evalRows) rows to \(out)/\(schema.trainFile), \(out)/\(schema.evalFile)")
        for (t, name) in schema.labels.enumerated() {
            print(String(format: "  %@: train positive rate %.4f, oracle AUC on eval %.4f", name,
                         Double(summary.positives[t]) / Double(summary.trainRows), summary.oracleAUC[t]))
        }
        if schema.labels.count > 1 { print(String(format: "  oracle AUC pooled over labels %.4f", summary.oraclePooledAUC)) }
        print(String(format: "  %.1f MB, %.3f s, seed %llu", Double(summary.trainBytes + summary.evalBytes) / 1e6, seconds, seed))
    }
}
