import Foundation
import Glibc
internal import CPFM
import SystemPackage
import Synchronization

/// The one process supervisor of rectune: spawns a command as the leader of its own process group,
/// tied to this process by a parent-death signal, waits for it with a deadline and a stop request,
/// escalates SIGTERM to SIGKILL after a grace period, kills whatever is left of its group once it
/// has exited, and reaps it (status and rusage). `CountedProcess` (`rectune measure`) and the
/// harness's sweep runner both use it.
///
/// The child is forked by `rt_spawn_blocked` and waits on a pipe before it execs, so a caller can
/// attach perf counters to its pid first (`release(beforeExec:)`).
public final class SupervisedChild {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable, Equatable {
        /// This process's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// A file, created or truncated (opened by the supervisor, closed after the spawn).
        case file(String)
        /// A descriptor the caller owns (it stays open).
        case descriptor(Int32)
    }

    /// What to run and how.
    public struct Request: Sendable {
        /// The command: `argv[0]` is looked up in the environment's `PATH` unless it has a slash.
        public var argv: [String]
        /// The child's environment; nil inherits this process's environment.
        public var environment: [String: String]?
        /// The child's stdin, stdout and stderr.
        public var standardInput: Stream = .inherit
        /// See `standardInput`.
        public var standardOutput: Stream = .inherit
        /// See `standardInput`.
        public var standardError: Stream = .inherit
        /// The signal the child gets when the thread that spawned it dies (`PR_SET_PDEATHSIG`);
        /// SIGKILL by default. `rectune measure` as a child gets SIGTERM, so it can take its own
        /// command's process group down before it exits. 0 disables it.
        public var parentDeathSignal: Int32 = SIGKILL

        /// A request for `argv`; nothing starts until `SupervisedChild.spawn`.
        public init(argv: [String], environment: [String: String]? = nil) {
            self.argv = argv; self.environment = environment
        }
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable {
        /// Exited with this status.
        case exited(Int32)
        /// Killed by this signal.
        case signaled(Int32)

        /// The status a shell would report: the exit status, or 128 + signal.
        public var shellStatus: Int32 {
            switch self {
            case .exited(let s): s
            case .signaled(let s): 128 + s
            }
        }
    }

    /// Why the supervisor stopped the child rather than the child ending on its own.
    public enum StopReason: Sendable, Equatable {
        /// The deadline passed.
        case timeout
        /// `shouldStop` returned this signal (forwarded first, SIGKILL after the grace period).
        case stopped(signal: Int32)
    }

    /// What `wait` observed.
    public struct Exit: Sendable {
        /// How the child ended.
        public var termination: Termination
        /// Set when the supervisor stopped it.
        public var stopReason: StopReason?
        /// The child's rusage from wait4 (it includes the descendants it waited for).
        public var rusage: ResourceUsage
        /// True when the stop escalated to SIGKILL (the child outlived SIGTERM by the grace period).
        public var escalated: Bool
    }

    /// The child's pid, also its process group id.
    public let pid: Int32
    /// The resolved executable path.
    public let executablePath: String
    private var goFD: Int32
    private var errFD: Int32
    private var pidFD: Int32 = -1
    private var reaped = false

    private init(pid: Int32, executablePath: String, goFD: Int32, errFD: Int32) {
        self.pid = pid; self.executablePath = executablePath; self.goFD = goFD; self.errFD = errFD
    }

    deinit {
        if goFD >= 0 { close(goFD) }
        if errFD >= 0 { close(errFD) }
        if pidFD >= 0 { close(pidFD) }
        if !reaped {
            // Never leave a child behind: kill its group and reap it.
            kill(-pid, SIGKILL)
            _ = Self.reap(pid)
        }
    }

    /// Forks the child (calls `rt_spawn_blocked`); it waits before execve until `release`.
    /// Throws `CountedProcessError` when the command cannot be found or the fork fails.
    public static func spawn(_ request: Request) throws(CountedProcessError) -> SupervisedChild {
        guard let name = request.argv.first, !name.isEmpty else { throw .emptyCommand }
        let env = request.environment ?? ProcessInfo.processInfo.environment
        let path = try resolve(name, searchPath: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        func descriptor(_ stream: Stream, write: Bool) throws(CountedProcessError) -> Int32 {
            let target: String
            switch stream {
            case .inherit: return -1
            case .descriptor(let fd): return fd
            case .null: target = "/dev/null"
            case .file(let p): target = p
            }
            let flags = write ? (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC)
            switch retryingEINTR({ open(target, flags, 0o644) }) {
            case .success(let fd): opened.append(fd); return fd
            case .failure(let e): throw .spawn(SystemCallError(e, call: "open(\(target))"))
            }
        }
        let inFD = try descriptor(request.standardInput, write: false)
        let outFD = try descriptor(request.standardOutput, write: true)
        let errOutFD = try descriptor(request.standardError, write: true)
        var go: Int32 = -1, err: Int32 = -1
        let pid: Int32 = withCStrings(request.argv) { cArgv in
            withCStrings(env.map { "\($0.key)=\($0.value)" }.sorted()) { cEnv in
                rt_spawn_blocked(path, cArgv, cEnv, inFD, outFD, errOutFD, request.parentDeathSignal, &go, &err)
            }
        }
        guard pid > 0 else { throw .spawn(SystemCallError(.currentValue, call: "fork(\(name))")) }
        return SupervisedChild(pid: pid, executablePath: path, goFD: go, errFD: err)
    }

    /// Lets the blocked child exec, after `beforeExec` ran (e.g. counters attached to `pid`).
    /// Throws `CountedProcessError.exec` (the child is reaped) when execve failed.
    public func release() throws(CountedProcessError) {
        var one: UInt8 = 1
        _ = retryingEINTR { Glibc.write(goFD, &one, 1) }
        close(goFD); goFD = -1
        var childErrno: Int32 = 0
        let n = retryingEINTR { Glibc.read(errFD, &childErrno, MemoryLayout<Int32>.size) }
        close(errFD); errFD = -1
        if case .success(let bytes) = n, bytes == MemoryLayout<Int32>.size {
            _ = Self.reap(pid)
            reaped = true
            throw .exec(path: executablePath, errno: Errno(rawValue: childErrno))
        }
        pidFD = rt_pidfd_open(pid)
    }

    /// Sends `signal` to the child's whole process group (`kill(-pid, signal)`).
    public func signalGroup(_ signal: Int32) {
        guard !reaped else { return }
        kill(-pid, signal)
    }

    /// Blocks until the child exits. When `deadline` passes or `shouldStop` returns a signal, the
    /// group gets that signal (SIGTERM on timeout), then SIGKILL after `grace`. Once the leader has
    /// exited (still a zombie, so its group id cannot be reused) the rest of its group is killed,
    /// then the leader is reaped. `shouldStop` is polled every few milliseconds.
    public func wait(deadline: ContinuousClock.Instant? = nil, grace: Duration = .seconds(2),
                     shouldStop: () -> Int32? = { nil }) -> Exit {
        var stop: StopReason? = nil
        var escalated = false
        var killAt: ContinuousClock.Instant? = nil
        var pause = 1
        while !exited(withinMilliseconds: pause) {
            pause = min(pause * 2, 20)
            let now = ContinuousClock.now
            if stop == nil {
                if let sig = shouldStop() { stop = .stopped(signal: sig) }
                else if let deadline, now >= deadline { stop = .timeout }
                if let stop {
                    if case .stopped(let sig) = stop { signalGroup(sig) } else { signalGroup(SIGTERM) }
                    killAt = now + grace
                }
            } else if let k = killAt, now >= k, !escalated {
                signalGroup(SIGKILL)
                escalated = true
            }
        }
        signalGroup(SIGKILL)  // leftover members of the group: the leader is a zombie, the pgid still reserved
        let (status, usage) = Self.reap(pid)
        reaped = true
        let termination: Termination = rt_wifsignaled(status) != 0 ? .signaled(rt_wtermsig(status)) : .exited(rt_wexitstatus(status))
        return Exit(termination: termination, stopReason: stop, rusage: usage, escalated: escalated)
    }

    /// Whether the leader has exited (without reaping it), waiting up to `ms` milliseconds.
    private func exited(withinMilliseconds ms: Int) -> Bool {
        if pidFD >= 0 {
            let r = rt_poll_readable(pidFD, Int32(ms))
            if r > 0 { return true }
            if r == 0 || Glibc.errno == EINTR { return false }
        }
        var info = siginfo_t()
        // WNOWAIT: look without reaping, so the group can be killed first and wait4 still gets the rusage.
        if case .success = retryingEINTR({ waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) }),
           info._sifields._sigchld.si_pid == pid { return true }
        if pidFD < 0 { usleep(useconds_t(ms * 1000)) }
        return false
    }

    /// `wait4(pid)` with EINTR retried: the raw status and the child's rusage.
    static func reap(_ pid: Int32) -> (Int32, ResourceUsage) {
        var status: Int32 = 0
        var ru = rusage()
        _ = retryingEINTR { wait4(pid, &status, 0, &ru) }
        return (status, ResourceUsage(ru))
    }

    /// The executable `name` stands for: as given when it has a slash, else the first executable
    /// regular file of that name in `searchPath`. Throws `.commandNotFound`.
    public static func resolve(_ name: String, searchPath: String) throws(CountedProcessError) -> String {
        func executable(_ p: String) -> Bool {
            var st = stat()
            return access(p, X_OK) == 0 && stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
        if name.contains("/") {
            guard access(name, F_OK) == 0 else { throw .commandNotFound(name) }
            return name
        }
        for dir in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
            if executable(candidate) { return candidate }
        }
        throw .commandNotFound(name)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

@available(*, unavailable)
extension SupervisedChild: Sendable {}

extension SupervisedChild {
    /// Spawns, releases and waits for `request` on a dedicated thread (the parent-death signal is
    /// tied to the spawning thread, which therefore lives until the child is reaped), so an async
    /// caller does not block a cooperative thread. `shouldStop` is polled from that thread.
    /// Throws `CountedProcessError` when the command cannot be started.
    public static func run(_ request: Request, deadline: ContinuousClock.Instant?, grace: Duration,
                           shouldStop: @escaping @Sendable () -> Int32?) async throws -> (pid: Int32, exit: Exit) {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<(pid: Int32, exit: Exit), any Error>) in
            let thread = Thread {
                cont.resume(with: Result { () throws(CountedProcessError) -> (pid: Int32, exit: Exit) in
                    let child = try SupervisedChild.spawn(request)
                    try child.release()
                    return (child.pid, child.wait(deadline: deadline, grace: grace, shouldStop: shouldStop))
                })
            }
            thread.name = "rectune-supervisor"
            thread.start()
        }
    }

    /// Pids of the processes in process group `pgid` that are still alive (not zombies), from /proc.
    /// Tests and the fault suite use it to prove nothing was left running.
    public static func livingMembers(ofGroup pgid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap(Int32.init).filter { pid in
            guard let s = ProcessStat(pid: pid) else { return false }
            return s.processGroup == pgid && s.state != "Z" && s.state != "X"
        }
    }

    /// Whether `pid` runs (exists and is not a zombie); with `startTicks`, also that it is the same
    /// process (its start time in clock ticks since boot matches, so a reused pid does not count).
    public static func isAlive(_ pid: Int32, startTicks: UInt64? = nil) -> Bool {
        guard pid > 0, let s = ProcessStat(pid: pid), s.state != "Z", s.state != "X" else { return false }
        if let startTicks { return s.startTicks == startTicks }
        return true
    }
}

/// The fields of `/proc/<pid>/stat` the supervisor needs.
public struct ProcessStat: Sendable, Equatable {
    /// One-letter state (R, S, D, Z, T, X, …).
    public var state: Character
    /// Parent pid.
    public var parent: Int32
    /// Process group id.
    public var processGroup: Int32
    /// Start time in clock ticks after boot (field 22): with the pid, it names one process.
    public var startTicks: UInt64

    /// Reads `/proc/<pid>/stat`; nil when the process does not exist.
    public init?(pid: Int32) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] = state (field 3), [1] = ppid, [2] = pgrp, … [19] = starttime (field 22)
        guard fields.count > 19, let first = fields[0].first, let ppid = Int32(fields[1]), let pgrp = Int32(fields[2]),
              let start = UInt64(fields[19]) else { return nil }
        state = first; parent = ppid; processGroup = pgrp; startTicks = start
    }

    /// This process's own stat.
    public static var current: ProcessStat? { ProcessStat(pid: getpid()) }
}
