import Foundation

/// Writes status text to stderr: a line rewritten in place on a terminal, plain lines otherwise.
enum Terminal {
    static let isTTY = isatty(STDERR_FILENO) != 0

    static func status(_ line: String) {
        if isTTY {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
        } else {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    static func endStatus() {
        if isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Writes `data` to `path`, or stdout for `-`.
    static func output(_ data: Data, to path: String) throws {
        if path == "-" {
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        }
    }
}
