import Glibc
internal import CPFM
import SystemPackage

/// libpfm4 initialisation and event-name encoding; the only place that calls `pfm_*`.
enum PFMLibrary {
    /// `pfm_initialize()` status, computed once (Swift global initialisation is thread-safe).
    static let initStatus: Int32 = pfm_initialize()

    /// An event encoded for perf_event_open by `pfm_get_os_event_encoding(PFM_OS_PERF_EVENT_EXT)`.
    struct Encoded {
        var attr: perf_event_attr
        /// libpfm4's canonical string, e.g. `perf::PERF_COUNT_SW_PAGE_FAULTS_MIN:u=1:k=1`.
        var canonical: String
    }

    /// Encodes an event name (any libpfm4 name or perf alias such as `minor-faults`).
    static func encode(_ name: String) -> Result<Encoded, PFMError> {
        guard initStatus == PFM_SUCCESS else {
            return .failure(PFMError(status: initStatus, call: "pfm_initialize"))
        }
        var attr = perf_event_attr()
        var fstr: UnsafeMutablePointer<CChar>? = nil
        let status = rt_pfm_encode(name, &attr, &fstr)
        defer { free(fstr) }
        guard status == PFM_SUCCESS else {
            return .failure(PFMError(status: status, call: "pfm_get_os_event_encoding(\(name))"))
        }
        return .success(Encoded(attr: attr, canonical: fstr.map { String(cString: $0) } ?? name))
    }
}

/// Owns one perf_event file descriptor and closes it in `deinit`.
final class PerfEventDescriptor: Sendable {
    let fd: Int32

    /// Opens an encoded event (calls `perf_event_open` through `rt_perf_event_open`, EINTR retried).
    init(encoded: PFMLibrary.Encoded, name: String, pid: Int32, inherit: Bool, disabled: Bool,
         enableOnExec: Bool, excludeKernel: Bool) throws(PerfEventError) {
        var attr = encoded.attr
        rt_perf_attr_configure(&attr, inherit ? 1 : 0, disabled ? 1 : 0, enableOnExec ? 1 : 0, excludeKernel ? 1 : 0)
        switch retryingEINTR({ rt_perf_event_open(&attr, pid, -1, -1, 0) }) {
        case .success(let fd): self.fd = fd
        case .failure(let e): throw PerfEventError(e, call: "perf_event_open(\(name))")
        }
    }

    deinit { close(fd) }

    /// `ioctl(PERF_EVENT_IOC_ENABLE)`; applies to inherited child events too.
    func enable() -> Errno? { if case .failure(let e) = retryingEINTR({ rt_perf_enable(fd) }) { return e }; return nil }
    /// `ioctl(PERF_EVENT_IOC_DISABLE)`; applies to inherited child events too.
    func disable() -> Errno? { if case .failure(let e) = retryingEINTR({ rt_perf_disable(fd) }) { return e }; return nil }

    /// Reads (value, time_enabled, time_running); the kernel sums inherited children (live and exited).
    func read() -> Result<(UInt64, UInt64, UInt64), Errno> {
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let r = withUnsafeMutableBytes(of: &buf) { raw in
            retryingEINTR { rt_perf_read(fd, raw.baseAddress!.assumingMemoryBound(to: UInt64.self)) }
        }
        switch r {
        case .success(let n) where n == 24: return .success(buf)
        case .success(let n): return .failure(Errno(rawValue: n == 0 ? ENODATA : EIO))
        case .failure(let e): return .failure(e)
        }
    }
}

/// Why an event could not be opened, in words a performance engineer can act on.
enum UnavailableReason {
    static func text(for error: PerfEventError, eventType: UInt32, paranoid: Int) -> String {
        let hint: String
        let notThere = [ENOENT, EOPNOTSUPP, ENODEV].contains(error.rawValue)
        switch error.rawValue {
        case _ where notThere && eventType != 1 /* PERF_TYPE_SOFTWARE */:
            hint = "the kernel exposes no PMU for this event (hardware counters are not virtualised on this machine/VM)"
        case _ where notThere:
            hint = "this kernel does not support the event"
        case EACCES, EPERM:
            hint = "not permitted at perf_event_paranoid=\(paranoid) (needs CAP_PERFMON or a lower paranoid level)"
        case EMFILE, ENFILE:
            hint = "out of file descriptors"
        default:
            hint = "perf_event_open rejected the event"
        }
        return "\(error.description): \(hint)"
    }
}
