import RecContract
/// The Hodges–Lehmann estimator of the shift between two samples.
public enum HodgesLehmann {
    /// Median of all n_x·n_y pairwise differences x_i - y_j (the location shift of x relative to y that the
    /// Mann–Whitney test is about). NaN if either sample is empty.
    public static func shift(_ x: [Double], _ y: [Double]) -> Double {
        guard !x.isEmpty, !y.isEmpty else { return .nan }
        var d = [Double]()
        d.reserveCapacity(x.count * y.count)
        for a in x { for b in y { d.append(a - b) } }
        return Descriptive.medianBySelection(&d)
    }
}
