import Foundation
import RecEngine

/// The synthetic-data cache: one Criteo-format file per (rows, seed), generated once and reused
/// by every run of every sweep that asks for it (`<dir>/criteo-synth-<rows>-<seed>.tsv`).
public enum SyntheticDataCache {
    /// The path of the cached file for `rows` and `seed` under `directory`, generating it (into a
    /// temporary file, then renamed, so a killed generation never leaves a truncated cache) when it
    /// is missing or does not hold exactly `rows` lines. Throws `RunnerError.data`.
    public static func ensure(rows: Int, seed: UInt64, directory: String) throws -> (path: String, generated: Bool) {
        let path = (directory as NSString).appendingPathComponent("criteo-synth-\(rows)-\(seed).tsv")
        if lineCount(path) == rows { return (path, false) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temporary = path + ".partial-\(getpid())"
            try SyntheticCriteo.write(rows: rows, seed: seed, to: temporary)
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw RunnerError.data("cannot generate synthetic data \(path): \(error)")
        }
        return (path, true)
    }

    /// Number of newline characters in the file, or -1 when it cannot be read.
    static func lineCount(_ path: String) -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { return -1 }
        defer { try? handle.close() }
        var count = 0
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            count += chunk.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        return count
    }
}
