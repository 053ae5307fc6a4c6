import Foundation
import Glibc
internal import CPFM
import SystemPackage

/// Runs an external command with perf counters attached before it execs, like `perf stat`.
///
/// The child is started by `SupervisedChild` (own process group, blocked before execve); the
/// parent opens the counters on the child's pid with `inherit` (so its threads and children count)
/// and `enable_on_exec`, then releases it and the child execs. After the child exits its group is
/// killed and it is reaped with `wait4`, which gives its rusage (including its reaped descendants).
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
    /// Time between SIGTERM (timeout or a forwarded signal) and SIGKILL.
    public var killGrace: Duration
    /// The child's parent-death signal (`PR_SET_PDEATHSIG`): SIGKILL by default.
    public var parentDeathSignal: Int32 = SIGKILL
    /// While waiting, forward SIGINT, SIGTERM and SIGHUP sent to this process to the child's group,
    /// escalating to SIGKILL after `killGrace` (for a CLI: the child is in its own group, so a
    /// terminal's Ctrl-C would not reach it).
    /// Changes process-wide signal dispositions during the wait; leave off in libraries.
    public var forwardSignals: Bool

    /// Seconds between SIGTERM and SIGKILL unless `killGrace` says otherwise (`rectune measure` uses it).
    public static let defaultKillGraceSeconds: Double = 2

    /// Describes a command to run; nothing starts until `run()`.
    public init(argv: [String], events: [String] = CounterSession.defaultEvents, environment: [String: String]? = nil,
                timeout: Duration? = nil, killGrace: Duration = .seconds(Int64(defaultKillGraceSeconds)), forwardSignals: Bool = false) {
        self.argv = argv; self.events = events; self.environment = environment
        self.timeout = timeout; self.killGrace = killGrace; self.forwardSignals = forwardSignals
    }

    /// Spawns the command through `SupervisedChild`, counts it, waits for it (timeout and forwarded
    /// signals escalate to SIGKILL after `killGrace`; the group is killed once the child exits) and
    /// returns what happened. Blocks the calling thread. Throws `CountedProcessError` when the
    /// command cannot be started.
    public func run() throws(CountedProcessError) -> CountedProcessResult {
        var request = SupervisedChild.Request(argv: argv, environment: environment)
        request.standardInput = standardInput.map { .descriptor($0) } ?? .inherit
        request.standardOutput = standardOutput.map { .descriptor($0) } ?? .inherit
        request.standardError = standardError.map { .descriptor($0) } ?? .inherit
        request.parentDeathSignal = parentDeathSignal
        let child = try SupervisedChild.spawn(request)
        // Counters on the blocked child: disabled until its execve (enable_on_exec), inherited by its threads.
        let session = CounterSession(events: events, targets: [child.pid], inherit: true, enableOnExec: true)
        let started = ContinuousClock.now
        try child.release()
        let forwarder = forwardSignals ? SignalForwarder() : nil
        let exit = child.wait(deadline: timeout.map { started + $0 }, grace: killGrace, shouldStop: { forwarder?.received })
        let wall = ContinuousClock.now - started
        forwarder?.restore()
        let counters = session.read().totals
        var exitStatus: Int32? = nil, signal: Int32? = nil
        switch exit.termination {
        case .exited(let s): exitStatus = s
        case .signaled(let s): signal = s
        }
        return CountedProcessResult(
            argv: argv, executablePath: child.executablePath, pid: child.pid,
            exitStatus: exitStatus, signal: signal, timedOut: exit.stopReason == .timeout,
            wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18,
            counters: counters, rusage: exit.rusage)
    }

    /// `run()` on a dedicated thread, so an async caller does not block a cooperative thread (and
    /// the parent-death signal, tied to the spawning thread, stays armed until the child is reaped).
    public func run() async throws -> CountedProcessResult {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<CountedProcessResult, any Error>) in
            let thread = Thread { cont.resume(with: Result { () throws(CountedProcessError) in try self.run() }) }
            thread.name = "rectune-counted-process"
            thread.start()
        }
    }

    /// See `SupervisedChild.resolve`.
    static func resolve(_ name: String, searchPath: String) throws(CountedProcessError) -> String {
        try SupervisedChild.resolve(name, searchPath: searchPath)
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
