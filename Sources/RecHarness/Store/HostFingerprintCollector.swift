import Foundation
import RecEngine
import RecSystem

/// Builds the `HostFingerprint` of this machine and this build: `HostInfo` (CPU, flags, cores,
/// NUMA, memory, kernel, perf_event_paranoid), oneDNN version and ISA, the Swift toolchain the
/// binary was compiled with, the rectune version and the git commit of the source tree.
public enum HostFingerprintCollector {
    /// The fingerprint of the current host and build.
    public static func current() -> HostFingerprint {
        let info = HostInfo.collect()
        return HostFingerprint(
            hostname: info.hostname, cpuModel: info.cpuModel, cpuFlags: info.cpuFlags,
            logicalCores: info.logicalCores, numaNodes: info.numaNodes, memoryBytes: info.memoryBytes,
            kernel: info.kernel, perfEventParanoid: info.perfEventParanoid,
            onednnVersion: OneDNNInfo.version, onednnISA: OneDNNInfo.isa,
            toolchain: toolchain, rectuneVersion: RectuneVersion.string, gitCommit: gitCommit() ?? "unknown")
    }

    /// The compiler the binary was built with (compile-time check; no subprocess).
    public static var toolchain: String {
        #if compiler(>=6.4)
        "swift 6.4+"
        #elseif compiler(>=6.3)
        "swift 6.3"
        #elseif compiler(>=6.2)
        "swift 6.2"
        #else
        "swift <6.2"
        #endif
    }

    /// The commit checked out in the git work tree containing the executable (a `swift build` in
    /// the checkout), or nil for an executable outside any work tree (installed, or built with a
    /// `--build-path` elsewhere): reads `.git/HEAD` and the ref it names, without running git.
    /// Not the current directory's repository: that says nothing about the code that runs, and it
    /// made the host differ between a sweep and its `--resume` started in another directory
    /// ("nothing to resume: no stored experiment … on this host").
    public static func gitCommit() -> String? {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return gitCommit(executable: exe)
    }

    /// `gitCommit()` for the executable at `executable`.
    static func gitCommit(executable: String) -> String? {
        guard !executable.isEmpty else { return nil }
        var dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0..<12 {
            if let commit = commit(inGitDir: dir.appendingPathComponent(".git")) { return commit }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        return nil
    }

    private static func commit(inGitDir git: URL) -> String? {
        guard let head = try? String(contentsOf: git.appendingPathComponent("HEAD"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        guard head.hasPrefix("ref: ") else { return head.count == 40 ? head : nil }
        let ref = String(head.dropFirst(5))
        if let direct = try? String(contentsOf: git.appendingPathComponent(ref), encoding: .utf8) {
            return direct.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let packed = (try? String(contentsOf: git.appendingPathComponent("packed-refs"), encoding: .utf8)) ?? ""
        for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
            return String(line.prefix(40))
        }
        return nil
    }
}
