import Glibc

/// getrusage(2) / wait4(2) figures: the second source for page faults and context switches.
public struct ResourceUsage: Sendable, Equatable, Codable {
    /// Whose usage `current(_:)` reads.
    public enum Who: Sendable {
        /// The whole process, all threads (RUSAGE_SELF).
        case process
        /// Waited-for children and their waited-for descendants (RUSAGE_CHILDREN).
        case children
        /// The calling thread only (RUSAGE_THREAD).
        case thread
    }

    /// Minor (reclaim-free) page faults, `ru_minflt`.
    public var minflt: Int
    /// Major page faults (needed I/O), `ru_majflt`.
    public var majflt: Int
    /// Voluntary context switches, `ru_nvcsw`.
    public var nvcsw: Int
    /// Involuntary context switches, `ru_nivcsw`.
    public var nivcsw: Int
    /// Peak resident set size in KiB, `ru_maxrss` (a high-water mark, not additive).
    public var maxrssKB: Int
    /// User CPU seconds, `ru_utime`.
    public var userSeconds: Double
    /// System CPU seconds, `ru_stime`.
    public var systemSeconds: Double

    /// Creates a usage record from its fields.
    public init(minflt: Int, majflt: Int, nvcsw: Int, nivcsw: Int, maxrssKB: Int, userSeconds: Double, systemSeconds: Double) {
        self.minflt = minflt; self.majflt = majflt; self.nvcsw = nvcsw; self.nivcsw = nivcsw
        self.maxrssKB = maxrssKB; self.userSeconds = userSeconds; self.systemSeconds = systemSeconds
    }

    init(_ ru: rusage) {
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        self.init(minflt: Int(ru.ru_minflt), majflt: Int(ru.ru_majflt), nvcsw: Int(ru.ru_nvcsw), nivcsw: Int(ru.ru_nivcsw),
                  maxrssKB: Int(ru.ru_maxrss), userSeconds: seconds(ru.ru_utime), systemSeconds: seconds(ru.ru_stime))
    }

    /// Reads the usage of the process, its reaped children, or the calling thread (calls `getrusage`).
    public static func current(_ who: Who = .process) -> ResourceUsage {
        var ru = rusage()
        let target: Int32 = switch who {
        case .process: RUSAGE_SELF.rawValue
        case .children: RUSAGE_CHILDREN.rawValue
        case .thread: 1 /* RUSAGE_THREAD */
        }
        // getrusage can only fail with EFAULT/EINVAL, impossible with these arguments.
        _ = getrusage(__rusage_who_t(target), &ru)
        return ResourceUsage(ru)
    }

    /// The phase between `earlier` and `self`: differences of the counts and times; `maxrssKB`
    /// stays the later high-water mark (it cannot be differenced).
    public func delta(since earlier: ResourceUsage) -> ResourceUsage {
        ResourceUsage(minflt: minflt - earlier.minflt, majflt: majflt - earlier.majflt, nvcsw: nvcsw - earlier.nvcsw,
                      nivcsw: nivcsw - earlier.nivcsw, maxrssKB: maxrssKB, userSeconds: userSeconds - earlier.userSeconds,
                      systemSeconds: systemSeconds - earlier.systemSeconds)
    }

    /// The fields as readings with source `rusage` (minflt, majflt, nvcsw, nivcsw, maxrss_kb, user_s, sys_s).
    public var readings: [CounterReading] {
        let fields: [(String, Double, String)] = [
            ("minflt", Double(minflt), ""), ("majflt", Double(majflt), ""), ("nvcsw", Double(nvcsw), ""),
            ("nivcsw", Double(nivcsw), ""), ("maxrss_kb", Double(maxrssKB), "KiB"),
            ("user_s", userSeconds, "s"), ("sys_s", systemSeconds, "s"),
        ]
        return fields.map { CounterReading(name: $0.0, value: $0.1, unit: $0.2, source: "rusage", scope: "") }
    }

    enum CodingKeys: String, CodingKey {
        case minflt, majflt, nvcsw, nivcsw
        case maxrssKB = "maxrss_kb", userSeconds = "user_s", systemSeconds = "sys_s"
    }
}
