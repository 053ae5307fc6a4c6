import Dispatch

/// A reader's single-thread parse speed, for `rectune bench`.
enum ParseThroughput {
    /// Times `fill(k)` for batches k = 0..<`batches` of `batchSize` rows, after one untimed
    /// `fill(0)` (which sizes reused buffers). Returns rows/s and MB/s, the bytes taken as
    /// `bytesPerRow` (the file's mean line length) per row.
    static func measure(batches: Int, batchSize: Int, bytesPerRow: Double,
                        fill: (Int) throws -> Void) rethrows -> (rowsPerSec: Double, mbPerSec: Double) {
        try fill(0)
        let t0 = DispatchTime.now().uptimeNanoseconds
        for k in 0..<batches { try fill(k) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let rows = Double(batches * batchSize)
        return (rows / seconds, rows * bytesPerRow / seconds / 1e6)
    }
}
