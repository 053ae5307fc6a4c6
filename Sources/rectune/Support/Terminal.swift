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

extension Terminal {
    /// The sweep runner's progress lines: a status line on a terminal, final lines on stderr otherwise.
    static let sweepProgress: @Sendable (String, Bool) -> Void = { line, final in
        if final { if Terminal.isTTY { Terminal.status(line); Terminal.endStatus() } else { Terminal.err(line) } }
        else if Terminal.isTTY { Terminal.status(line) }
    }
}

/// SIGINT and SIGTERM handled on a dispatch queue instead of killing the process: `onStop` runs on
/// each signal (after `message`, when given, is printed). Keep the value alive while it should
/// listen; `cancel()` restores nothing (the signals stay ignored), as the commands end right after.
final class StopSignals {
    private let sources: [DispatchSourceSignal]

    init(message: String? = nil, onStop: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if let message { Terminal.err("\n\(sig == SIGINT ? "SIGINT" : "SIGTERM"): \(message)") }
                onStop()
            }
            source.resume()
            return source
        }
    }

    func cancel() { sources.forEach { $0.cancel() } }
}
