/// Training lines `part` of batch `k` (batches of `batchSize`, line `k·B + i` for row i) of a file of
/// `trainingRows` lines, as a range to take modulo `trainingRows`: what both data sets' `fill` (the
/// whole batch) and `parse(batch:…)` (one part of it) read. Real checks, not preconditions, since
/// RecEngine is built with -Ounchecked in release: throws `DataError.invalidParameter` for a batch size
/// below 1, a part outside the batch, or a negative index or one whose first line overflows `Int`.
func trainingLines(batch k: Int, batchSize: Int, part: Range<Int>, trainingRows: Int) throws -> Range<Int> {
    guard batchSize > 0 else { throw DataError.invalidParameter(name: "batch size", value: "\(batchSize)", allowed: "must be > 0") }
    guard part.lowerBound >= 0, part.upperBound <= batchSize else {
        throw DataError.invalidParameter(name: "batch part", value: "\(part) of \(batchSize)", allowed: "must lie in 0..<batch size")
    }
    let first = k.multipliedReportingOverflow(by: batchSize)
    guard k >= 0, !first.overflow else {
        throw DataError.invalidParameter(name: "batch index", value: "\(k)", allowed: "must be >= 0 and index × batch size must fit in Int")
    }
    let start = (first.partialValue % trainingRows + part.lowerBound) % trainingRows
    return start..<start + part.count
}
