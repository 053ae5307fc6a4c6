import Foundation
import RecEngine

/// The contest's data directories: the user's real ones (`--data DIR` holding `eleme/`,
/// `amazon-books/`, `taobao/`) or generated ones, created once per (size, seed) and cached.
public enum ContestData {
    /// Generated-data writers per data set: (output directory, training rows, evaluation rows, seed).
    static let generators: [String: @Sendable (String, Int, Int, UInt64) throws -> Void] = [
        "eleme": { try SyntheticContest.write(format: .eleme, trainRows: $1, evalRows: $2, seed: $3, to: $0) },
        "taobao": { try SyntheticContest.write(format: .taobao, trainRows: $1, evalRows: $2, seed: $3, to: $0) },
        "amazon-books": { _ = try SyntheticAmazonBooks.write(trainRows: $1 / 2 * 2, evalRows: $2 / 2 * 2, seed: $3, to: $0) },
    ]

    /// The directory of `dataset`: `<realRoot>/<dataset>` when a real root is given (it must exist),
    /// else the cached generated directory under `cacheDirectory` (generated into a temporary
    /// directory and renamed, so an interrupted generation never leaves a partial cache).
    /// Returns the path and whether it was generated now. Throws `RunnerError.data`.
    public static func directory(dataset: String, realRoot: String?, cacheDirectory: String, sizes: (rows: Int, evalRows: Int)?,
                                 seed: UInt64) throws -> (path: String, generated: Bool) {
        if let realRoot {
            let path = (realRoot as NSString).appendingPathComponent(dataset)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw RunnerError.data("--data \(realRoot): no \(dataset)/ directory (expected \(path) in the contest's layout)")
            }
            return (path, false)
        }
        guard let sizes else { throw RunnerError.data("the contest file gives no generated size for \(dataset) (generated:)") }
        guard let write = generators[dataset] else {
            throw RunnerError.data("this build cannot generate \(dataset) data; pass --data DIR with \(dataset)/ in the real layout")
        }
        let path = (cacheDirectory as NSString).appendingPathComponent("contest-\(dataset)-\(sizes.rows)+\(sizes.evalRows)-seed\(seed)")
        if FileManager.default.fileExists(atPath: path) { return (path, false) }
        let temporary = path + ".partial-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            try write(temporary, sizes.rows, sizes.evalRows, seed)
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw RunnerError.data("cannot generate \(dataset) data into \(path): \(error)")
        }
        return (path, true)
    }
}
