import Synchronization

/// The distinct malformed lines a reader has skipped in one file (`--bad-rows skip`): one bit per
/// line, allocated at the first skip, so a line that every epoch passes over is counted once.
/// Thread-safe; the lock is taken only when a line is skipped.
final class SkippedLines: Sendable {
    /// Lines of the file (the bits' range).
    let lineCount: Int
    private let state = Mutex<(bits: [UInt64], count: Int)>(([], 0))

    init(lineCount: Int) {
        self.lineCount = lineCount
    }

    /// Records that line `line` (0-based, in `0..<lineCount`) was skipped.
    func record(_ line: Int) {
        precondition(line >= 0 && line < lineCount, "SkippedLines: line \(line) is outside 0..<\(lineCount)")
        state.withLock { s in
            if s.bits.isEmpty { s.bits = [UInt64](repeating: 0, count: (lineCount + 63) / 64) }
            let word = line >> 6, mask = UInt64(1) << UInt64(line & 63)
            if s.bits[word] & mask == 0 {
                s.bits[word] |= mask
                s.count += 1
            }
        }
    }

    /// Distinct lines recorded so far.
    var count: Int { state.withLock { $0.count } }
}
