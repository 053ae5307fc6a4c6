#ifndef RECTUNE_CPFM_SHIM_H
#define RECTUNE_CPFM_SHIM_H
// Include pfmlib_perf_event.h only (it carries its own perf_event.h; <linux/perf_event.h> would clash).
#include <perfmon/pfmlib_perf_event.h>
#include <perfmon/pfmlib.h>
#endif
