#ifndef RECTUNE_CNUMA_SHIM_H
#define RECTUNE_CNUMA_SHIM_H
#include <numa.h>
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

/// numa_set_interleave_mask(numa_all_nodes_ptr): interleave this thread's future allocations
/// over every node (numa_all_nodes_ptr is a C global Swift 6 cannot read safely).
static inline void rt_numa_interleave_all(void) { numa_set_interleave_mask(numa_all_nodes_ptr); }

/// Number of nodes in numa_all_nodes_ptr (nodes this process may allocate on).
static inline int rt_numa_allowed_node_count(void) {
    int n = 0;
    for (int i = 0; i <= numa_max_node(); i++) if (numa_bitmask_isbitset(numa_all_nodes_ptr, i)) n++;
    return n;
}

// Affinity through the raw syscalls with a plain bit mask: glibc's cpu_set_t and CPU_SET need
// _GNU_SOURCE, which would make this module's view of libc differ from Swift's Glibc module.
#define RT_CPU_MASK_WORDS 64  /* 4096 CPUs */
#define RT_WORD_BITS (8 * (int)sizeof(unsigned long))

/// sched_setaffinity(0, {cpu}): pins the calling thread to one CPU. Returns 0 or -1 with errno.
static inline int rt_pin_current_thread(int cpu) {
    if (cpu < 0 || cpu >= RT_CPU_MASK_WORDS * RT_WORD_BITS) { errno = EINVAL; return -1; }
    unsigned long mask[RT_CPU_MASK_WORDS] = {0};
    mask[cpu / RT_WORD_BITS] |= 1UL << (cpu % RT_WORD_BITS);
    return (int)syscall(SYS_sched_setaffinity, 0, sizeof mask, mask);
}

/// sched_getaffinity(0): writes the calling thread's allowed CPUs (ascending) into `out` (up to
/// `capacity`) and returns how many there are, or -1 with errno.
static inline int rt_allowed_cpus(int *out, int capacity) {
    unsigned long mask[RT_CPU_MASK_WORDS] = {0};
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    if (bytes < 0) return -1;
    int n = 0;
    for (int cpu = 0; cpu < (int)bytes * 8; cpu++) {
        if (mask[cpu / RT_WORD_BITS] & (1UL << (cpu % RT_WORD_BITS))) { if (n < capacity) out[n] = cpu; n++; }
    }
    return n;
}

/// sched_setaffinity(0, cpus): restricts the calling thread to the given CPUs. 0 or -1 with errno.
static inline int rt_set_current_thread_cpus(const int *cpus, int count) {
    unsigned long mask[RT_CPU_MASK_WORDS] = {0};
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= RT_CPU_MASK_WORDS * RT_WORD_BITS) { errno = EINVAL; return -1; }
        mask[cpus[i] / RT_WORD_BITS] |= 1UL << (cpus[i] % RT_WORD_BITS);
    }
    return (int)syscall(SYS_sched_setaffinity, 0, sizeof mask, mask);
}

/// getcpu(2) (raw syscall; glibc's sched_getcpu needs _GNU_SOURCE): the calling thread's CPU, or -1.
static inline int rt_current_cpu(void) {
    unsigned cpu = 0;
    return syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 ? (int)cpu : -1;
}
#include <malloc.h>

/// mallopt(M_MMAP_THRESHOLD, bytes): fixes glibc's mmap threshold (disabling its dynamic adjustment).
static inline int rt_set_malloc_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

#endif
