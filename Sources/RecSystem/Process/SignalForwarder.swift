import Dispatch
import Glibc
import Synchronization

/// Catches SIGINT, SIGTERM and SIGHUP while a supervised child runs and remembers the latest one,
/// which `SupervisedChild.wait` forwards to the child's process group (escalating to SIGKILL after
/// the grace period); `restore()` puts the previous dispositions back. Used by `CountedProcess`.
final class SignalForwarder: Sendable {
    private static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    /// Dispatch sources and the saved dispositions; guarded by the mutex.
    private let state: Mutex<(sources: [any DispatchSourceSignal], saved: [Int32: sigaction])>
    /// The last signal received (0: none).
    private let last = Atomic<Int32>(0)

    init() {
        state = Mutex(([], [:]))
        state.withLock { s in
            for sig in Self.signals {
                var ignore = sigaction()
                ignore.__sigaction_handler.sa_handler = SIG_IGN
                var old = sigaction()
                sigaction(sig, &ignore, &old)
                s.saved[sig] = old
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                // Retains self until restore() cancels the source.
                source.setEventHandler { self.last.store(sig, ordering: .relaxed) }
                source.resume()
                s.sources.append(source)
            }
        }
    }

    /// The signal to forward, once one was received.
    var received: Int32? {
        let s = last.load(ordering: .relaxed)
        return s == 0 ? nil : s
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
