import Foundation
import Glibc
internal import CPFM
import SystemPackage

/// Runs an external command with perf counters attached before it execs, like `perf stat`.
///
/// The child is forked in C (`rt_spawn_blocked`), puts itself in its own process group and blocks
/// on a pipe; the parent opens the counters on the child's pid with `inherit` (so its threads and
/// children count) and `enable_on_exec`, then releases it and the child execs. After the child
/// exits it is reaped with `wait4`, which gives its rusage (including its reaped descendants).
public struct CountedProcess: Sendable {
    /// The command: `argv[0]` is looked up in `PATH` unless it contains a slash.
    public var argv: [String]
    /// Events to count (libpfm4 names); unavailable ones are reported with a reason.
    public var events: [String]
    /// The child's environment; nil inherits this process's environment.
    public var environment: [String: String]?
    /// File descriptors for the child's stdin, stdout and stderr; nil inherits ours.
    public var standardInput: Int32?
    /// See `standardInput`.
    public var standardOutput: Int32?
    /// See `standardInput`.
    public var standardError: Int32?
    /// After this long the child's process group gets SIGTERM, then SIGKILL after `killGrace`.
    public var timeout: Duration?
    /// Time between SIGTERM and SIGKILL on timeout.
    public var killGrace: Duration
    /// While waiting, forward SIGINT, SIGTERM and SIGHUP sent to this process to the child's group
    /// (for a CLI: the child is in its own group, so a terminal's Ctrl-C would not reach it).
    /// Changes process-wide signal dispositions during the wait; leave off in libraries.
    public var forwardSignals: Bool

    /// Describes a command to run; nothing starts until `run()`.
    public init(argv: [String], events: [String] = CounterSession.defaultEvents, environment: [String: String]? = nil,
                timeout: Duration? = nil, killGrace: Duration = .seconds(2), forwardSignals: Bool = false) {
        self.argv = argv; self.events = events; self.environment = environment
        self.timeout = timeout; self.killGrace = killGrace; self.forwardSignals = forwardSignals
    }

    /// Spawns the command, counts it, waits for it (and the timeout), and returns what happened.
    /// Blocks the calling thread. Throws `CountedProcessError` when the command cannot be started.
    public func run() throws(CountedProcessError) -> CountedProcessResult {
        guard let name = argv.first, !name.isEmpty else { throw .emptyCommand }
        let env = environment ?? ProcessInfo.processInfo.environment
        let path = try Self.resolve(name, searchPath: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")

        var goFD: Int32 = -1, errFD: Int32 = -1
        let pid: pid_t = Self.withCStrings(argv) { cArgv in
            Self.withCStrings(env.map { "\($0.key)=\($0.value)" }.sorted()) { cEnv in
                rt_spawn_blocked(path, cArgv, cEnv, standardInput ?? -1, standardOutput ?? -1, standardError ?? -1, &goFD, &errFD)
            }
        }
        guard pid > 0 else { throw .spawn(SystemCallError(.currentValue, call: "fork(\(name))")) }

        // Counters on the blocked child: disabled until its execve (enable_on_exec), inherited by its threads.
        let session = CounterSession(events: events, targets: [pid], inherit: true, enableOnExec: true)
        let started = ContinuousClock.now
        var one: UInt8 = 1
        _ = retryingEINTR { Glibc.write(goFD, &one, 1) }
        close(goFD)
        var childErrno: Int32 = 0
        let n = retryingEINTR { Glibc.read(errFD, &childErrno, MemoryLayout<Int32>.size) }
        close(errFD)
        if case .success(let bytes) = n, bytes == MemoryLayout<Int32>.size {
            _ = Self.reap(pid)
            throw .exec(path: path, errno: Errno(rawValue: childErrno))
        }

        let forwarder = forwardSignals ? SignalForwarder(processGroup: pid) : nil
        let timedOut = Self.waitForExit(pid, timeout: timeout, killGrace: killGrace)
        let (status, usage) = Self.reap(pid)
        let wall = ContinuousClock.now - started
        forwarder?.restore()
        if timedOut { kill(-pid, SIGKILL) }  // stragglers left in the group

        let counters = session.read().totals
        return CountedProcessResult(
            argv: argv, executablePath: path, pid: pid,
            exitStatus: rt_wifexited(status) != 0 ? rt_wexitstatus(status) : nil,
            signal: rt_wifsignaled(status) != 0 ? rt_wtermsig(status) : nil,
            timedOut: timedOut,
            wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18,
            counters: counters, rusage: usage)
    }

    /// `run()` on a dedicated thread, so an async caller does not block a cooperative thread.
    public func run() async throws -> CountedProcessResult {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<CountedProcessResult, any Error>) in
            let thread = Thread { cont.resume(with: Result { () throws(CountedProcessError) in try self.run() }) }
            thread.name = "rectune-counted-process"
            thread.start()
        }
    }

    // MARK: - helpers

    static func resolve(_ name: String, searchPath: String) throws(CountedProcessError) -> String {
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

    /// Waits until `pid` exits or the timeout passes; on timeout SIGTERM, then SIGKILL after the
    /// grace period, to the whole process group. Returns whether the timeout fired. Does not reap.
    static func waitForExit(_ pid: pid_t, timeout: Duration?, killGrace: Duration) -> Bool {
        guard let timeout else { return false }
        let pidfd = rt_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        func exited(within limit: Duration) -> Bool {
            let deadline = ContinuousClock.now + limit
            while true {
                let left = deadline - ContinuousClock.now
                let ms = max(0, Int32(clamping: Int64(left.components.seconds) * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                if pidfd >= 0 {
                    let r = rt_poll_readable(pidfd, ms)
                    if r > 0 { return true }
                    if r == 0 { return false }
                    if Glibc.errno != EINTR { return false }
                } else {
                    var info = siginfo_t()
                    // WNOWAIT: look without reaping, so wait4 below still gets the rusage.
                    if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid { return true }
                    if ms == 0 { return false }
                    usleep(5_000)
                }
            }
        }
        if exited(within: timeout) { return false }
        kill(-pid, SIGTERM)
        if !exited(within: killGrace) { kill(-pid, SIGKILL) }
        return true
    }

    /// `wait4(pid)` with EINTR retried: the raw status and the child's rusage.
    static func reap(_ pid: pid_t) -> (Int32, ResourceUsage) {
        var status: Int32 = 0
        var ru = rusage()
        _ = retryingEINTR { wait4(pid, &status, 0, &ru) }
        return (status, ResourceUsage(ru))
    }
}

/// What a counted command did: how it ended, how long it took, its counters and its rusage.
public struct CountedProcessResult: Sendable {
    /// The command as given.
    public var argv: [String]
    /// The resolved executable path.
    public var executablePath: String
    /// The child's pid (also its process group id).
    public var pid: Int32
    /// The exit status when the child exited normally, else nil.
    public var exitStatus: Int32?
    /// The signal that killed the child, else nil.
    public var signal: Int32?
    /// True when the timeout fired and the group was sent SIGTERM (and SIGKILL after the grace period).
    public var timedOut: Bool
    /// Wall time from the child's release (just before execve) to its reaping.
    public var wallSeconds: Double
    /// Counter totals over the child and its inherited threads/children, from execve on.
    public var counters: [CounterReading]
    /// The child's rusage from wait4 (it includes the descendants it waited for).
    public var rusage: ResourceUsage

    /// The status a shell would report: the exit status, or 128 + signal.
    public var shellStatus: Int32 { exitStatus ?? (128 + (signal ?? 0)) }
}

/// Why a counted command could not be started.
public enum CountedProcessError: Error, Sendable, CustomStringConvertible {
    /// No command was given.
    case emptyCommand
    /// `argv[0]` is not an executable in `PATH` (or the given path does not exist).
    case commandNotFound(String)
    /// pipe2 or fork failed.
    case spawn(SystemCallError)
    /// The child could not exec the command (errno from execve).
    case exec(path: String, errno: Errno)

    /// The failure in words, naming the command.
    public var description: String {
        switch self {
        case .emptyCommand: "no command given"
        case .commandNotFound(let n): "command not found: \(n)"
        case .spawn(let e): e.description
        case .exec(let path, let errno): "execve(\(path)): \(errno.symbolicDescription)"
        }
    }

    /// The status a shell would use: 127 not found, 126 cannot execute.
    public var shellStatus: Int32 {
        switch self {
        case .commandNotFound, .emptyCommand: 127
        case .exec(_, let e) where e.rawValue == ENOENT: 127
        default: 126
        }
    }
}
