import Dispatch
import Glibc
import Synchronization

/// Forwards SIGINT, SIGTERM and SIGHUP received by this process to a child's process group while
/// it runs, then restores the previous dispositions. Used by `CountedProcess` with `forwardSignals`.
final class SignalForwarder: Sendable {
    private static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    /// Dispatch sources and the saved dispositions; guarded by the mutex.
    private let state: Mutex<(sources: [any DispatchSourceSignal], saved: [Int32: sigaction])>

    init(processGroup: pid_t) {
        var sources: [any DispatchSourceSignal] = []
        var saved: [Int32: sigaction] = [:]
        for sig in Self.signals {
            var ignore = sigaction()
            ignore.__sigaction_handler.sa_handler = SIG_IGN
            var old = sigaction()
            sigaction(sig, &ignore, &old)
            saved[sig] = old
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { kill(-processGroup, sig) }
            source.resume()
            sources.append(source)
        }
        state = Mutex((sources, saved))
    }

    /// Cancels forwarding and puts the previous signal dispositions back.
    func restore() {
        state.withLock { s in
            for source in s.sources { source.cancel() }
            for (sig, var old) in s.saved { sigaction(sig, &old, nil) }
            s.sources = []
            s.saved = [:]
        }
    }
}
