#ifndef RECTUNE_CDNNL_SHIM_H
#define RECTUNE_CDNNL_SHIM_H
#include <stdint.h>
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

/// Hints that `p`'s cache line will soon be read (prefetcht0): the embedding gathers read table
/// rows at random addresses.
static inline void rt_prefetch_for_read(const void *p) { __builtin_prefetch(p, 0, 3); }

/* fp32 → bf16 with the rounding of `vcvtneps2bf16` (the instruction oneDNN's reorders use on
   AVX-512 BF16 and AMX hosts): round to nearest even; zeros and denormals to a signed zero; NaNs
   kept and made quiet. Written with clang's vector extensions, 16 lanes at a time: the functions
   of this header are compiled by Swift's clang importer, whose loops are not auto-vectorized. */
typedef uint32_t rt_u32x16 __attribute__((vector_size(64)));
typedef uint16_t rt_u16x16 __attribute__((vector_size(32)));

static inline rt_u32x16 rt_bf16_bits16(rt_u32x16 u) {
    rt_u32x16 exponent = u & 0x7F800000u;
    rt_u32x16 high = u >> 16;
    rt_u32x16 rounded = (u + 0x7FFFu + (high & 1u)) >> 16;
    /* Comparisons give all-ones lanes where true: select with masks. */
    rt_u32x16 isNaN = (rt_u32x16)((exponent == 0x7F800000u) & ((u & 0x7FFFFFu) != 0));
    rt_u32x16 isTiny = (rt_u32x16)(exponent == 0u);
    rounded = (rounded & ~isNaN) | ((high | 0x40u) & isNaN);
    return (rounded & ~isTiny) | ((high & 0x8000u) & isTiny);
}

static inline uint32_t rt_bf16_bits(uint32_t u) {
    uint32_t exponent = u & 0x7F800000u;
    if (exponent == 0) return (u >> 16) & 0x8000u;
    if (exponent == 0x7F800000u && (u & 0x7FFFFFu) != 0) return (u >> 16) | 0x40u;
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

/// `out[k] = bf16(source[k])` for `k < count`.
static inline void rt_bf16_convert(const float *source, uint16_t *out, long count) {
    long k = 0;
    for (; k + 16 <= count; k += 16) {
        rt_u32x16 u;
        __builtin_memcpy(&u, source + k, 64);
        rt_u16x16 r = __builtin_convertvector(rt_bf16_bits16(u), rt_u16x16);
        __builtin_memcpy(out + k, &r, 32);
    }
    for (; k < count; k++) {
        uint32_t u;
        __builtin_memcpy(&u, source + k, 4);
        out[k] = (uint16_t)rt_bf16_bits(u);
    }
}

/// `out[k] = bf16(row0[k]) | bf16(row1[k]) << 16` for `k < count`: two rows converted and
/// interleaved pair by pair (the innermost `2b` block of oneDNN's bf16 weight layouts).
static inline void rt_bf16_interleave_pairs(const float *row0, const float *row1, uint32_t *out, long count) {
    long k = 0;
    for (; k + 16 <= count; k += 16) {
        rt_u32x16 a, b;
        __builtin_memcpy(&a, row0 + k, 64);
        __builtin_memcpy(&b, row1 + k, 64);
        rt_u32x16 r = rt_bf16_bits16(a) | (rt_bf16_bits16(b) << 16);
        __builtin_memcpy(out + k, &r, 64);
    }
    for (; k < count; k++) {
        uint32_t a, b;
        __builtin_memcpy(&a, row0 + k, 4);
        __builtin_memcpy(&b, row1 + k, 4);
        out[k] = rt_bf16_bits(a) | (rt_bf16_bits(b) << 16);
    }
}

typedef int16_t rt_i16x32 __attribute__((vector_size(64)));

/// ReLU backward on bf16 bits in place: `gradient[k] = output[k] > 0 ? gradient[k] : 0` (a bf16
/// is > 0 when its sign bit is clear and it is neither zero nor NaN: 0 < bits ≤ 0x7F80 as int16).
static inline void rt_bf16_relu_mask(const uint16_t *output, uint16_t *gradient, long count) {
    long k = 0;
    for (; k + 32 <= count; k += 32) {
        rt_i16x32 o, g;
        __builtin_memcpy(&o, output + k, 64);
        __builtin_memcpy(&g, gradient + k, 64);
        g &= (rt_i16x32)((o > 0) & (o <= 0x7F80));
        __builtin_memcpy(gradient + k, &g, 64);
    }
    for (; k < count; k++) {
        int16_t o = (int16_t)output[k];
        if (!(o > 0 && o <= 0x7F80)) gradient[k] = 0;
    }
}

/* The same two loops with the instruction itself (AVX-512 BF16: Cooper Lake, Sapphire Rapids and
   later, Zen 4), 16 floats per `vcvtneps2bf16`. Call only where the CPU has it: the engine asks
   oneDNN's ISA detection (`rt_bf16_convert` gives the same bits everywhere). */
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_bf16_convert_avx512(const float *source, uint16_t *out, long count) {
    long k = 0;
    for (; k + 16 <= count; k += 16) {
        __m256bh r = _mm512_cvtneps_pbh(_mm512_loadu_ps(source + k));
        _mm256_storeu_si256((__m256i *)(out + k), (__m256i)r);
    }
    if (k < count) {
        __mmask16 tail = (__mmask16)((1u << (count - k)) - 1u);
        __m256bh r = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(tail, source + k));
        _mm256_mask_storeu_epi16(out + k, tail, (__m256i)r);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_bf16_interleave_pairs_avx512(const float *row0, const float *row1, uint32_t *out, long count) {
    long k = 0;
    for (; k + 16 <= count; k += 16) {
        __m512i a = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(row0 + k)));
        __m512i b = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(row1 + k)));
        _mm512_storeu_si512(out + k, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
    }
    for (; k < count; k++) {
        uint32_t a, b;
        __builtin_memcpy(&a, row0 + k, 4);
        __builtin_memcpy(&b, row1 + k, 4);
        out[k] = rt_bf16_bits(a) | (rt_bf16_bits(b) << 16);
    }
}

#endif
