/// The `intra_boost` knob's mechanism: a dense node that runs while no other node is running or
/// runnable (so the rest of the step waits on it: it is on the critical path, and the other
/// workers are idle) gets a larger OpenMP team for its oneDNN product; every other node runs with
/// the usual `intra_threads`.
///
/// The scheduler decides per node, just before running it: the node's `flops` reach `minFLOPs`,
/// no item is queued (`pending == 0`) and this worker is the only one holding an item
/// (`busy == 1`; a worker counts itself busy before it takes a queued item off the count, so no
/// claim is missed). Nothing can become runnable while that node runs (only a running node
/// publishes work), so the other workers stay idle for its duration, and a token admits at most
/// one boosted node at a time: two enlarged teams never run together.
///
/// Results: a boosted product runs oneDNN's primitives created for the larger team, whose
/// reductions may round differently in the last bits; which nodes are boosted depends on timing,
/// so runs with boosting are close to, not bit-identical with, runs without.
public struct IntraOpBoost: Sendable {
    /// Nodes whose dense FLOPs are below this run unboosted (a fork/join costs more than it saves).
    public let minFLOPs: Double
    /// Called on the worker's own thread before a boosted node runs (e.g. `DNNLContext.beginBoost`).
    public let begin: @Sendable (_ worker: Int) -> Void
    /// Called on the worker's own thread after the boosted node ran.
    public let end: @Sendable (_ worker: Int) -> Void

    /// Products below 4 MFLOP (~25 µs on one core here) are not worth an OpenMP team.
    public static let defaultMinFLOPs = 4e6

    public init(minFLOPs: Double = Self.defaultMinFLOPs, begin: @escaping @Sendable (Int) -> Void,
                end: @escaping @Sendable (Int) -> Void) {
        self.minFLOPs = minFLOPs
        self.begin = begin
        self.end = end
    }
}
