import ArgumentParser
import Foundation
import RecEngine

/// `rectune gen-data`: writes deterministic synthetic Criteo-format data with a learnable signal.
struct GenDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-data",
        abstract: "Write synthetic Criteo-format data with a learnable signal.",
        discussion: """
        Lines are `label<TAB>I1..I13<TAB>C1..C26` like the Kaggle Criteo files: integers may be empty, \
        categoricals are 8 lowercase hex digits or empty. Labels come from a hidden logistic model over \
        some integer features (after log1p) and per-id weights of some categorical columns; ids are \
        Zipf-distributed over 10 to 10^6 values per column; 5-20% of each column is missing; about 25% \
        of labels are 1. The same --seed always gives the same bytes. The hidden model's own AUC (the \
        best any model can reach on this data) is about 0.80: --oracle-auc measures it.
        """
    )

    @Option(help: "Rows to write (> 0).") var rows: Int
    @Option(help: "Random seed: the same seed gives the same file.") var seed: UInt64 = 1
    @Option(help: "Output file (created or truncated; its directory must exist).") var out: String
    @Flag(help: "Also report the hidden model's AUC on the first min(rows, 200000) rows.") var oracleAuc = false

    func validate() throws {
        guard rows > 0 else { throw ValidationError("--rows must be > 0, got \(rows)") }
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
}
