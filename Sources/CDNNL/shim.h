#ifndef RECTUNE_CDNNL_SHIM_H
#define RECTUNE_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>

/* Debian's oneDNN 2.6 uses the GNU OpenMP runtime (libgomp). Its header lives in GCC's private
   include directory, which clang does not search, so the two calls we need are declared here
   (same prototypes as <omp.h>). */
extern void omp_set_num_threads(int num_threads);
extern int omp_get_max_threads(void);

/* libgomp's entry point for `#pragma omp parallel` (GCC's ABI). */
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

static inline void rectune_omp_empty_region(void *data) { (void)data; }

/// Runs one empty parallel region of `n` threads from the calling thread (creates its team).
static inline void rectune_omp_start_team(int n) { GOMP_parallel(rectune_omp_empty_region, 0, (unsigned)n, 0); }

/// Sets the OpenMP team size for parallel regions started by the calling thread.
static inline void rectune_omp_set_num_threads(int n) { omp_set_num_threads(n); }

/// The OpenMP team size the calling thread would use.
static inline int rectune_omp_get_max_threads(void) { return omp_get_max_threads(); }

/* oneDNN 2.6 exports dnnl_gemm_bf16bf16f32 (C := alpha·op(A)·op(B) + beta·C, row-major like
   dnnl_sgemm; A and B bf16, C and the accumulation f32) but declares it only in its internal
   src/cpu/gemm/gemm.hpp (with `const bfloat16_t *`, a struct holding the 16 raw bits). Declared
   here with the bits as uint16_t, the same ABI. */
extern dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t M, dnnl_dim_t N,
        dnnl_dim_t K, float alpha, const uint16_t *A, dnnl_dim_t lda, const uint16_t *B,
        dnnl_dim_t ldb, float beta, float *C, dnnl_dim_t ldc);

/// Hints that `p`'s cache line will soon be written (prefetchw / prefetcht0): lets a loop over
/// rows at random addresses (sparse optimizer updates) overlap their cache misses. Here because
/// this shim is the engine's one C module; it needs nothing from oneDNN.
static inline void rt_prefetch_for_write(const void *p) { __builtin_prefetch(p, 1, 3); }

#endif
