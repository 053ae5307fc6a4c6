#ifndef RECTUNE_CDNNL_SHIM_H
#define RECTUNE_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>

/* Debian's oneDNN 2.6 uses the GNU OpenMP runtime (libgomp). Its header lives in GCC's private
   include directory, which clang does not search, so the two calls we need are declared here
   (same prototypes as <omp.h>). */
extern void omp_set_num_threads(int num_threads);
extern int omp_get_max_threads(void);

/// Sets the OpenMP team size for parallel regions started by the calling thread.
static inline void rectune_omp_set_num_threads(int n) { omp_set_num_threads(n); }

/// The OpenMP team size the calling thread would use.
static inline int rectune_omp_get_max_threads(void) { return omp_get_max_threads(); }

#endif
