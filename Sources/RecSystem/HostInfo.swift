import Foundation

/// Facts about this machine for host fingerprints and `rectune doctor`.
public struct HostInfo: Sendable, Equatable, Codable {
    public var hostname: String
    public var cpuModel: String
    /// ISA-relevant CPU flags (avx2, avx512*, amx*, fma), space-separated, sorted.
    public var cpuFlags: String
    public var logicalCores: Int
    public var numaNodes: Int
    public var memoryBytes: Int64
    /// `uname -sr`.
    public var kernel: String
    /// /proc/sys/kernel/perf_event_paranoid, or 99 when unreadable.
    public var perfEventParanoid: Int

    /// The CPU's model name and its ISA-relevant flags (as `cpuModel` and `cpuFlags`), from
    /// /proc/cpuinfo alone (no host name lookup).
    public static func cpu() -> (model: String, flags: String) {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ key: String) -> String {
            for line in cpuinfo.split(separator: "\n") where line.hasPrefix(key) {
                if let colon = line.firstIndex(of: ":") {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return ""
        }
        let flags = field("flags").split(separator: " ")
            .filter { $0.hasPrefix("avx") || $0.hasPrefix("amx") || $0 == "fma" || $0 == "f16c" }
            .map(String.init).sorted()
        return (field("model name"), flags.joined(separator: " "))
    }

    /// Reads /proc and uname for the current machine.
    public static func collect() -> HostInfo {
        let cpu = cpu()
        var uts = utsname()
        uname(&uts)
        func text<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let paranoid = readParanoid()
        let nodes = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/devices/system/node"))?
            .filter { $0.hasPrefix("node") && Int($0.dropFirst(4)) != nil }.count ?? 1
        return HostInfo(
            hostname: ProcessInfo.processInfo.hostName,
            cpuModel: cpu.model,
            cpuFlags: cpu.flags,
            logicalCores: ProcessInfo.processInfo.activeProcessorCount,
            numaNodes: max(nodes, 1),
            memoryBytes: Int64(ProcessInfo.processInfo.physicalMemory),
            kernel: "\(text(uts.sysname)) \(text(uts.release))",
            perfEventParanoid: paranoid)
    }

    /// /proc/sys/kernel/perf_event_paranoid, or 99 when unreadable.
    public static func readParanoid() -> Int {
        (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 99
    }
}
