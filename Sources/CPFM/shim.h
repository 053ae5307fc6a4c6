#ifndef RECTUNE_CPFM_SHIM_H
#define RECTUNE_CPFM_SHIM_H
// Include pfmlib_perf_event.h only (it carries its own perf_event.h; <linux/perf_event.h> would clash).
#include <perfmon/pfmlib_perf_event.h>
#include <perfmon/pfmlib.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// ---- perf_event ------------------------------------------------------------------------------

/// Encodes a libpfm4 event name into `attr` (PFM_OS_PERF_EVENT_EXT, user+kernel privilege levels).
/// `*fstr` receives the canonical event string (malloc'd, caller frees). Returns a PFM_ERR_* code.
static inline int rt_pfm_encode(const char *name, struct perf_event_attr *attr, char **fstr) {
    pfm_perf_encode_arg_t arg;
    memset(&arg, 0, sizeof arg);
    memset(attr, 0, sizeof *attr);
    arg.attr = attr;
    arg.size = sizeof arg;
    arg.fstr = fstr;
    int ret = pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
    attr->size = sizeof *attr;
    return ret;
}

/// Sets the flags rectune uses on an encoded attr: TOTAL_TIME_ENABLED|RUNNING read format, no group.
static inline void rt_perf_attr_configure(struct perf_event_attr *attr, int inherit, int disabled,
                                          int enable_on_exec, int exclude_kernel) {
    attr->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    attr->inherit = inherit ? 1 : 0;
    attr->disabled = disabled ? 1 : 0;
    attr->enable_on_exec = enable_on_exec ? 1 : 0;
    if (exclude_kernel) { attr->exclude_kernel = 1; attr->exclude_hv = 1; }
}

/// gettid(2) (raw syscall; glibc declares gettid only under _GNU_SOURCE): the calling thread's id.
static inline pid_t rt_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/// perf_event_open(2) (the raw syscall: glibc has no wrapper). Returns the fd or -1 with errno.
static inline int rt_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                                     unsigned long flags) {
    return (int)syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC);
}

/// ioctl(fd, PERF_EVENT_IOC_ENABLE / DISABLE / RESET) on one event and its inherited children.
static inline int rt_perf_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); }
static inline int rt_perf_disable(int fd) { return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }
static inline int rt_perf_reset(int fd) { return ioctl(fd, PERF_EVENT_IOC_RESET, 0); }

/// Reads {value, time_enabled, time_running} (read_format without GROUP/ID). Returns bytes or -1.
static inline ssize_t rt_perf_read(int fd, unsigned long long out[3]) {
    return read(fd, out, 3 * sizeof(unsigned long long));
}

// ---- counted spawn ---------------------------------------------------------------------------

/// Forks a child that waits on a pipe before it execs `path`, so counters can be attached first.
/// The child: gets its own process group, `pdeath_sig` (when > 0) as its parent-death signal
/// (`prctl(PR_SET_PDEATHSIG)`; it raises it at once if the parent is already gone), an empty signal
/// mask and default dispositions for SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, stdin/stdout/
/// stderr from `in_fd`/`out_fd`/`err_fd` when >= 0 (inherited otherwise), every other fd close-on-
/// exec; it then blocks reading one byte from the "go" pipe (exits 127 on EOF) and calls execve.
/// If execve fails, the child writes its errno into the error pipe and exits 127.
/// The parent gets the pid, `*go_fd` (write one byte to release the child; close it) and
/// `*err_fd_out` (EOF = exec succeeded; 4 bytes = the child's errno). Only async-signal-safe
/// calls run in the child. Returns -1 with errno if pipe2/fork fail.
static inline pid_t rt_spawn_blocked(const char *path, char *const argv[], char *const envp[],
                                     int in_fd, int out_fd, int err_fd, int pdeath_sig,
                                     int *go_fd, int *err_fd_out) {
    int go[2], ep[2];
    pid_t parent = getpid();
    // pipe2 through syscall(2): glibc declares pipe2 only under _GNU_SOURCE.
    if (syscall(SYS_pipe2, go, O_CLOEXEC) != 0) return -1;
    if (syscall(SYS_pipe2, ep, O_CLOEXEC) != 0) { int e = errno; close(go[0]); close(go[1]); errno = e; return -1; }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(go[0]); close(go[1]); close(ep[0]); close(ep[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int defaults[6] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD};
        for (int i = 0; i < 6; i++) signal(defaults[i], SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (pdeath_sig > 0) {
            prctl(PR_SET_PDEATHSIG, (unsigned long)pdeath_sig, 0UL, 0UL, 0UL);
            if (getppid() != parent) raise(pdeath_sig);  // the parent died before prctl
        }
        int fds[3] = {in_fd, out_fd, err_fd};
        for (int target = 0; target < 3; target++) {
            int src = fds[target];
            if (src < 0) continue;
            if (src == target) { fcntl(target, F_SETFD, 0); continue; }
            if (dup2(src, target) < 0) { int e = errno; (void)!write(ep[1], &e, sizeof e); _exit(127); }
        }
#ifdef SYS_close_range
        syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
        close(go[1]);
        char byte;
        ssize_t n;
        do { n = read(go[0], &byte, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(127);
        execve(path, argv, envp);
        int e = errno;
        (void)!write(ep[1], &e, sizeof e);
        _exit(127);
    }
    setpgid(pid, pid);  // also in the parent: no race with a kill(-pid) before the child ran
    close(go[0]);
    close(ep[1]);
    *go_fd = go[1];
    *err_fd_out = ep[0];
    return pid;
}

/// pidfd_open(2) (raw syscall). Returns a pollable fd that becomes readable when `pid` exits, or -1.
static inline int rt_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// Waits up to `timeout_ms` (-1 = forever) for `fd` to become readable: 1 ready, 0 timeout, -1 error.
static inline int rt_poll_readable(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, timeout_ms);
}

/// The status macros of wait(2), which Swift cannot call.
static inline int rt_wifexited(int status) { return WIFEXITED(status); }
static inline int rt_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int rt_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int rt_wtermsig(int status) { return WTERMSIG(status); }

#endif
