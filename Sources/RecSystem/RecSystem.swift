// RecSystem: the only Swift code that touches perf_event, libpfm4, libnuma, affinity and rusage.
