internal import CNUMA

/// Memory placement through libnuma (`--numa off|local|interleave`).
public enum NUMAControl {
    /// A NUMA memory policy for the calling thread and the threads it creates afterwards.
    public enum Policy: String, Sendable, CaseIterable {
        /// Leave the inherited policy alone.
        case off
        /// Allocate on the node of the CPU that touches the memory (`numa_set_localalloc`).
        case local
        /// Spread pages round-robin over all allowed nodes (`numa_set_interleave_mask(numa_all_nodes_ptr)`).
        case interleave
    }

    /// True when the kernel supports the NUMA API (calls `numa_available`).
    public static var available: Bool { numa_available() >= 0 }

    /// Configured NUMA nodes (calls `numa_num_configured_nodes`); 1 when the NUMA API is unavailable.
    public static var nodeCount: Int { available ? max(Int(numa_num_configured_nodes()), 1) : 1 }

    /// Parses and applies a policy name; throws `NUMAError.unknownPolicy` naming the allowed values.
    public static func apply(policy name: String) throws(NUMAError) -> String {
        guard let policy = Policy(rawValue: name) else { throw .unknownPolicy(name) }
        return apply(policy)
    }

    /// Applies `policy` to the calling thread (threads it starts later inherit it: call this before
    /// starting worker threads) and returns a sentence saying what was done.
    public static func apply(_ policy: Policy) -> String {
        switch policy {
        case .off:
            return "numa off: inherited memory policy left unchanged"
        case _ where !available:
            return "numa \(policy.rawValue): not applied, the NUMA API is unavailable here (numa_available() < 0)"
        case .local:
            numa_set_localalloc()
            return "numa local: numa_set_localalloc() on \(nodeCount) node\(nodeCount == 1 ? "" : "s")"
                + (nodeCount == 1 ? " (one node: same placement as the default)" : "")
        case .interleave:
            rt_numa_interleave_all()
            let allowed = Int(rt_numa_allowed_node_count())
            return "numa interleave: numa_set_interleave_mask(all nodes) over \(allowed) node\(allowed == 1 ? "" : "s")"
                + (allowed == 1 ? " (one node: same placement as the default)" : "")
        }
    }

    /// The calling thread's current policy as the kernel reports it (`get_mempolicy` through
    /// `numa_get_interleave_mask`): `interleave` when an interleave mask is set, else `default/local`.
    public static var currentPolicyDescription: String {
        guard available, let mask = numa_get_interleave_mask() else { return "unknown" }
        defer { numa_bitmask_free(mask) }
        return numa_bitmask_weight(mask) > 0 ? "interleave" : "default/local"
    }
}

/// A NUMA request that cannot be carried out.
public enum NUMAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The policy name is not one of `off`, `local`, `interleave`.
    case unknownPolicy(String)

    /// Names the bad value and the allowed ones.
    public var description: String {
        switch self {
        case .unknownPolicy(let v):
            "unknown NUMA policy '\(v)'; allowed: \(NUMAControl.Policy.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}
