import Glibc

/// Puts one worker thread to sleep until another thread hands it a permit: a pthread mutex and
/// condition variable guarding one Boolean (no futex calls of our own). A permit given while
/// the worker is awake is kept, so the next `park()` returns at once; wake-ups are never lost.
///
/// `@unchecked Sendable`: `permit` is read and written only with `mutex` held; the pthread
/// objects live at stable heap addresses for the parker's lifetime.
final class Parker: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var permit = false

    init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        cond.initialize(to: pthread_cond_t())
        // Not inside `precondition(...)`: under -Ounchecked its argument is not evaluated.
        let mutexStatus = pthread_mutex_init(mutex, nil)
        let condStatus = pthread_cond_init(cond, nil)
        if mutexStatus != 0 || condStatus != 0 { fatalError("pthread_mutex_init/pthread_cond_init failed: \(mutexStatus), \(condStatus)") }
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Blocks (pthread_cond_wait) until a permit is available, then consumes it.
    func park() {
        pthread_mutex_lock(mutex)
        while !permit { pthread_cond_wait(cond, mutex) }
        permit = false
        pthread_mutex_unlock(mutex)
    }

    /// Grants the permit and wakes the parked thread, if any (pthread_cond_signal).
    func unpark() {
        pthread_mutex_lock(mutex)
        permit = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }
}
