import Foundation

/// Runs the built `rectune` binary as a user would, for end-to-end tests.
public enum RectuneCLI {
    /// The `rectune` executable built beside the test executable (`RECTUNE_BIN` overrides).
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["RECTUNE_BIN"] { return URL(fileURLWithPath: path) }
        let testExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let products = testExecutable.deletingLastPathComponent()
        let candidates = [products, products.deletingLastPathComponent(), products.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("rectune") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// Fails (never skips) when the binary is missing: a broken build must not pass CI.
    public struct MissingBinary: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "no rectune binary at \(path): build it first (make test builds it)" }
    }

    /// The binary's URL, or `MissingBinary` (a test error, not a skip).
    public static func requireBinary() throws -> URL {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw MissingBinary(path: binary.path) }
        return binary
    }

    /// Runs `rectune args…` in `dir` and returns its exit status, stdout and stderr. Output goes
    /// through files, so a chatty stderr cannot block the child on a full pipe.
    @discardableResult
    public static func run(_ args: [String], in dir: URL, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = try requireBinary()
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, set in set } }
        p.currentDirectoryURL = dir
        let id = UUID().uuidString
        let outFile = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-\(id).out")
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("rectune-\(id).err")
        FileManager.default.createFile(atPath: outFile.path, contents: nil)
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outFile)
            try? FileManager.default.removeItem(at: errFile)
        }
        let outHandle = try FileHandle(forWritingTo: outFile), errHandle = try FileHandle(forWritingTo: errFile)
        p.standardOutput = outHandle
        p.standardError = errHandle
        try p.run()
        p.waitUntilExit()
        try outHandle.close(); try errHandle.close()
        return (p.terminationStatus, try String(contentsOf: outFile, encoding: .utf8), try String(contentsOf: errFile, encoding: .utf8))
    }

    /// Runs `rectune args…` in `dir`, sends it SIGINT (Ctrl-C) `delay` seconds after `marker`
    /// appears on its stderr, and returns its exit status, stdout and whole stderr.
    public static func runInterrupted(_ args: [String], in dir: URL, after marker: String,
                                      delay: TimeInterval) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = try requireBinary()
        p.arguments = args
        p.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        var seen = ""
        let handle = err.fileHandleForReading
        while !seen.contains(marker) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        Thread.sleep(forTimeInterval: delay)
        kill(p.processIdentifier, SIGINT)
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        seen += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, o, seen)
    }
}
