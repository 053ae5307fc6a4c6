import Glibc
internal import CPFM
import SystemPackage

/// A failed perf_event call (`perf_event_open`, `ioctl`, `read`) with its errno.
public struct PerfEventError: Error, Sendable, Equatable, RawRepresentable, CustomStringConvertible {
    /// The errno the call failed with.
    public var rawValue: Int32
    /// The failing call, e.g. `perf_event_open(cycles)`.
    public var call: String

    /// Wraps an errno value; `call` defaults to `perf_event`.
    public init(rawValue: Int32) { self.rawValue = rawValue; self.call = "perf_event" }
    /// Wraps an errno value together with the name of the call that failed.
    public init(_ errno: Errno, call: String) { self.rawValue = errno.rawValue; self.call = call }

    /// The errno as swift-system's `Errno`.
    public var errno: Errno { Errno(rawValue: rawValue) }

    /// e.g. `perf_event_open(cycles): ENOENT (No such file or directory)`.
    public var description: String { "\(call): \(errno.symbolicDescription)" }
}

/// A failed libpfm4 call, with the pfm status code (`PFM_ERR_*`) and `pfm_strerror` text.
public struct PFMError: Error, Sendable, Equatable, RawRepresentable, CustomStringConvertible {
    /// The pfm status (negative `PFM_ERR_*`).
    public var rawValue: Int32
    /// The failing call, e.g. `pfm_get_os_event_encoding(bogus)`.
    public var call: String

    /// Wraps a pfm status; `call` defaults to `libpfm4`.
    public init(rawValue: Int32) { self.rawValue = rawValue; self.call = "libpfm4" }
    /// Wraps a pfm status together with the name of the call that failed.
    public init(status: Int32, call: String) { self.rawValue = status; self.call = call }

    /// The `PFM_ERR_*` constant name.
    public var name: String {
        switch rawValue {
        case PFM_SUCCESS: "PFM_SUCCESS"
        case PFM_ERR_NOTSUPP: "PFM_ERR_NOTSUPP"
        case PFM_ERR_INVAL: "PFM_ERR_INVAL"
        case PFM_ERR_NOINIT: "PFM_ERR_NOINIT"
        case PFM_ERR_NOTFOUND: "PFM_ERR_NOTFOUND"
        case PFM_ERR_FEATCOMB: "PFM_ERR_FEATCOMB"
        case PFM_ERR_UMASK: "PFM_ERR_UMASK"
        case PFM_ERR_NOMEM: "PFM_ERR_NOMEM"
        case PFM_ERR_ATTR: "PFM_ERR_ATTR"
        case PFM_ERR_ATTR_VAL: "PFM_ERR_ATTR_VAL"
        case PFM_ERR_ATTR_SET: "PFM_ERR_ATTR_SET"
        case PFM_ERR_TOOMANY: "PFM_ERR_TOOMANY"
        case PFM_ERR_TOOSMALL: "PFM_ERR_TOOSMALL"
        default: "PFM_ERR(\(rawValue))"
        }
    }

    /// libpfm4's own message (calls `pfm_strerror`).
    public var message: String { pfm_strerror(rawValue).map { String(cString: $0) } ?? "unknown libpfm4 error" }

    /// e.g. `pfm_get_os_event_encoding(bogus): PFM_ERR_NOTFOUND (event not found)`.
    public var description: String { "\(call): \(name) (\(message))" }
}

/// A failed system call outside perf_event (fork, wait4, sched_setaffinity, ...).
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno of the failure.
    public var errno: Errno
    /// The failing call's name, with context.
    public var call: String
    /// Wraps an errno with the failing call's name.
    public init(_ errno: Errno, call: String) { self.errno = errno; self.call = call }
    /// e.g. `wait4(1234): ECHILD (No child processes)`.
    public var description: String { "\(call): \(errno.symbolicDescription)" }
}

extension Errno {
    /// The errno of the calling thread (`errno`).
    static var currentValue: Errno { Errno(rawValue: Glibc.errno) }

    /// The C constant name for the errnos a counter or spawn can meet, e.g. `ENOENT`.
    public var symbolicName: String {
        switch rawValue {
        case Glibc.EPERM: "EPERM"
        case Glibc.ENOENT: "ENOENT"
        case Glibc.ESRCH: "ESRCH"
        case Glibc.EINTR: "EINTR"
        case Glibc.E2BIG: "E2BIG"
        case Glibc.ENOEXEC: "ENOEXEC"
        case Glibc.EBADF: "EBADF"
        case Glibc.ECHILD: "ECHILD"
        case Glibc.EAGAIN: "EAGAIN"
        case Glibc.ENOMEM: "ENOMEM"
        case Glibc.EACCES: "EACCES"
        case Glibc.EFAULT: "EFAULT"
        case Glibc.EBUSY: "EBUSY"
        case Glibc.ENODEV: "ENODEV"
        case Glibc.ENOTDIR: "ENOTDIR"
        case Glibc.EISDIR: "EISDIR"
        case Glibc.EINVAL: "EINVAL"
        case Glibc.EMFILE: "EMFILE"
        case Glibc.ENFILE: "ENFILE"
        case Glibc.ENOSPC: "ENOSPC"
        case Glibc.ENOSYS: "ENOSYS"
        case Glibc.EOPNOTSUPP: "EOPNOTSUPP"
        case Glibc.EOVERFLOW: "EOVERFLOW"
        default: "errno \(rawValue)"
        }
    }

    /// `NAME (strerror text)`, e.g. `ENOENT (No such file or directory)`.
    public var symbolicDescription: String { "\(symbolicName) (\(description))" }
}

/// Calls a C function that returns -1 and sets errno on failure, retrying while it fails with
/// EINTR; returns its result or the errno as `Errno` (the swift-system `valueOrErrno` pattern).
@inline(__always)
func retryingEINTR<I: FixedWidthInteger>(_ body: () -> I) -> Result<I, Errno> {
    while true {
        let r = body()
        if r != -1 { return .success(r) }
        let e = Errno.currentValue
        if e != .interrupted { return .failure(e) }
    }
}

/// `retryingEINTR` that throws `SystemCallError` naming `call`.
@inline(__always)
func syscallRetrying<I: FixedWidthInteger>(_ call: @autoclosure () -> String, _ body: () -> I) throws(SystemCallError) -> I {
    switch retryingEINTR(body) {
    case .success(let v): return v
    case .failure(let e): throw SystemCallError(e, call: call())
    }
}
