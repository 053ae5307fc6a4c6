import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawnp` in its own process group, so a timeout or Ctrl-C
/// can take down the whole run (the engine, its threads and any children it started) with one
/// `killpg`.
///
/// Why posix_spawn and not swift-subprocess: the runner needs exactly three things — a new
/// process group, stdout/stderr redirected to files (no pipes to drain, logs kept per run), and a
/// non-blocking "has it ended" check it can interleave with a deadline and a stop flag. Those are
/// a handful of libc calls here; with Subprocess the run's lifetime is bound to a closure and
/// teardown of the group on a timeout still needs platform options, so the plain calls are
/// simpler to reason about. `waitid(…, WNOWAIT)` lets the runner notice the exit while the
/// leader is still a zombie, so the group id cannot be reused before leftover members are killed.
struct ChildProcess {
    /// How the child ended.
    enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    let pid: pid_t

    /// Spawns `argv` (looked up in PATH) with `environment`, stdin from /dev/null and stdout/stderr
    /// to the given files, as the leader of a new process group with default signal dispositions.
    /// Throws `RunnerError.spawn` naming the command and errno.
    static func spawn(argv: [String], environment: [String: String], stdoutPath: String, stderrPath: String) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        var attrs = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attrs)
        defer { posix_spawn_file_actions_destroy(&actions); posix_spawnattr_destroy(&attrs) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, s) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attrs, &defaults)
        posix_spawnattr_setsigmask(&attrs, &emptyMask)
        posix_spawnattr_setpgroup(&attrs, 0)
        posix_spawnattr_setflags(&attrs, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgv.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attrs, cArgv, cEnv)
        guard rc == 0 else { throw RunnerError.spawn(command: argv[0], errno: rc) }
        return ChildProcess(pid: pid)
    }

    /// Non-blocking: nil while the child runs; once it has ended, kills what is left of its
    /// process group, reaps it and returns how it ended.
    func poll() -> Termination? {
        var info = siginfo_t()
        var rc: Int32
        repeat { rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) } while rc < 0 && errno == EINTR
        if rc < 0 { return reap() }                  // ECHILD: already reaped
        guard info.si_signo == SIGCHLD else { return nil }
        killpg(pid, SIGKILL)                         // leftover group members (the leader is a zombie, pgid still reserved)
        return reap()
    }

    /// Sends `signal` to the child's whole process group.
    func signalGroup(_ signal: Int32) {
        killpg(pid, signal)
    }

    private func reap() -> Termination {
        var status: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(pid, &status, 0) } while rc < 0 && errno == EINTR
        if rc < 0 { return .exited(-1) }
        // WIFEXITED / WTERMSIG are macros; decode the status word directly (Linux layout).
        let termSignal = status & 0x7f
        return termSignal == 0 ? .exited((status >> 8) & 0xff) : .signaled(termSignal)
    }
}

/// Why a child was stopped by the runner rather than ending on its own.
enum StopReason: Equatable {
    case timeout
    case interrupted
}

extension ChildProcess {
    /// Waits until the child ends, `deadline` passes (→ `.timeout`) or `shouldStop()` turns true
    /// (→ `.interrupted`). A stopped child's group gets SIGTERM, then SIGKILL after `grace` seconds.
    /// Polls with a sleep that grows from 1 ms to 20 ms (the harness overhead per run stays small).
    func wait(deadline: Date, grace: Double, shouldStop: @Sendable () -> Bool) async -> (Termination, StopReason?) {
        var pause: UInt64 = 1_000_000
        while true {
            if let t = poll() { return (t, nil) }
            let reason: StopReason? = shouldStop() ? .interrupted : Date() >= deadline ? .timeout : nil
            if let reason {
                signalGroup(SIGTERM)
                let killAt = Date().addingTimeInterval(grace)
                while Date() < killAt {
                    if let t = poll() { return (t, reason) }
                    try? await Task.sleep(nanoseconds: 10_000_000)
                }
                signalGroup(SIGKILL)
                while true {
                    if let t = poll() { return (t, reason) }
                    try? await Task.sleep(nanoseconds: 5_000_000)
                }
            }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
    }
}

/// Failures of the runner itself (not of a run: those are stored as failed runs).
public enum RunnerError: Error, CustomStringConvertible {
    /// posix_spawnp failed.
    case spawn(command: String, errno: Int32)
    /// The synthetic data cache could not be written.
    case data(String)
    /// Resume asked for, but nothing to resume.
    case nothingToResume(String)

    public var description: String {
        switch self {
        case .spawn(let command, let e): "cannot start '\(command)': \(String(cString: strerror(e)))"
        case .data(let message): message
        case .nothingToResume(let message): message
        }
    }
}
