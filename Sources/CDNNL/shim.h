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

/* DLRM's dot interaction with 16-float AVX-512 vectors (InteractionKernels: the same algorithm, the
   same operations in the same order per lane as its 8-lane Swift form, so the same bits; the Swift
   build targets AVX2 and its SIMD8 kernels stay the portable path). Every product and sum is its
   own instruction: no fused multiply-add. Call only where the CPU has AVX-512F (the engine asks
   oneDNN's ISA detection). */
#define RT_MADD(acc, s, p) _mm512_add_ps((acc), _mm512_mul_ps(_mm512_set1_ps(s), _mm512_loadu_ps(p)))

/// Writes the transpose of the 16×16 block `rows[r][0..<16]` (r < 16) to `out[d * stride + r]`:
/// unpack, shuffle within 128-bit lanes, then two 128-bit-lane shuffles (64 register operations
/// instead of 256 scalar loads and stores).
__attribute__((target("avx512f")))
static inline void rt_transpose16x16(const __m512 *rows, float *out, long stride) {
    __m512 t[16], u[16];
    for (int k = 0; k < 8; k++) {
        t[2 * k] = _mm512_unpacklo_ps(rows[2 * k], rows[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(rows[2 * k], rows[2 * k + 1]);
    }
    /* u[4q + m]: rows 4q…4q+3 at dim 4·lane + m, for each 128-bit lane. */
    for (int q = 0; q < 4; q++) {
        u[4 * q] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
        u[4 * q + 1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
        u[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
        u[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        const __m512 a = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), b = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
        const __m512 c = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88), d = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
        _mm512_storeu_ps(out + (0 + m) * stride, _mm512_shuffle_f32x4(a, c, 0x88));
        _mm512_storeu_ps(out + (8 + m) * stride, _mm512_shuffle_f32x4(a, c, 0xDD));
        _mm512_storeu_ps(out + (4 + m) * stride, _mm512_shuffle_f32x4(b, d, 0x88));
        _mm512_storeu_ps(out + (12 + m) * stride, _mm512_shuffle_f32x4(b, d, 0xDD));
    }
}

/// Forward: `out[i*outStride ..]` = v_0, then dot(v_a, v_b) for a < b in row-major order.
/// `scratch` holds `lanes*dim` floats, zero, `lanes ≥ fields + 17` (the pairs' windows read up to
/// 16 lanes past the last vector); only its first `fields + 1` columns are written, and with `dim`
/// a multiple of 16, zeros up to the next multiple of 16 (the 16×16 transposes' padding rows).
__attribute__((target("avx512f")))
static inline void rt_interaction_forward_avx512(const float *bottom, const float *emb, long embStride, long embOffset,
                                                 long fields, long dim, long batch, float *out, long outStride,
                                                 float *scratch, long lanes) {
    #pragma clang fp contract(off)
    const long vectors = fields + 1, width = dim + vectors * fields / 2;
    for (long i = 0; i < batch; i++) {
        const float *v0 = bottom + i * dim, *e = emb + i * embStride + embOffset;
        float *o = out + i * outStride;
        for (long d = 0; d < dim; d++) o[d] = v0[d];
        if (dim % 16 == 0) {
            /* scratch[d][j] = v_j[d], 16 vectors × 16 dims at a time. */
            for (long c = 0; c < dim; c += 16) {
                for (long j0 = 0; j0 < vectors; j0 += 16) {
                    __m512 rows[16];
                    for (long r = 0; r < 16; r++) {
                        const long j = j0 + r;
                        rows[r] = j >= vectors ? _mm512_setzero_ps() : _mm512_loadu_ps((j == 0 ? v0 : e + (j - 1) * dim) + c);
                    }
                    rt_transpose16x16(rows, scratch + c * lanes + j0, lanes);
                }
            }
        } else {
            for (long d = 0; d < dim; d++) scratch[d * lanes] = v0[d];
            for (long j = 1; j < vectors; j++) {
                const float *v = e + (j - 1) * dim;
                for (long d = 0; d < dim; d++) scratch[d * lanes + j] = v[d];
            }
        }
        long k = dim;
        for (long a = 0; a < fields; a++) {
            const float *va = a == 0 ? v0 : e + (a - 1) * dim;
            for (long b = a + 1; b < vectors; b += 16) {
                __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
                long d = 0;
                for (; d + 4 <= dim; d += 4) {
                    const float *p = scratch + d * lanes + b;
                    acc0 = RT_MADD(acc0, va[d], p);
                    acc1 = RT_MADD(acc1, va[d + 1], p + lanes);
                    acc2 = RT_MADD(acc2, va[d + 2], p + 2 * lanes);
                    acc3 = RT_MADD(acc3, va[d + 3], p + 3 * lanes);
                }
                for (; d < dim; d++) acc0 = RT_MADD(acc0, va[d], scratch + d * lanes + b);
                __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
                const long valid = vectors - b < 16 ? vectors - b : 16;
                /* Lanes past `valid` land on this row's later pairs, written after. */
                if (k + 16 <= width) _mm512_storeu_ps(o + k, acc);
                else _mm512_mask_storeu_ps(o + k, (__mmask16)((1u << valid) - 1u), acc);
                k += valid;
            }
        }
    }
}

/// Backward (`dim` a multiple of 16): `grad v_a = Σ_{b≠a} g_ab v_b` (b in increasing order), plus
/// the passthrough for v_0, two rows at a time; OVERWRITES `gradBottom` and `gradEmb`'s rows.
/// `rowStart[a]`: the output column of pair (a, a+1).
__attribute__((target("avx512f")))
static inline void rt_interaction_backward_avx512(const float *bottom, const float *emb, long embStride, long embOffset,
                                                  long fields, long dim, long batch,
                                                  const float *gradOut, long gradOutStride, float *gradBottom,
                                                  float *gradEmb, long gradEmbStride, long gradEmbOffset,
                                                  const long *rowStart) {
    #pragma clang fp contract(off)
    for (long i = 0; i < batch; i++) {
        const float *v0 = bottom + i * dim, *e = emb + i * embStride + embOffset, *go = gradOut + i * gradOutStride;
        float *gb = gradBottom + i * dim, *ge = gradEmb + i * gradEmbStride + gradEmbOffset;
        for (long c = 0; c + 16 <= dim; c += 16) {
            __m512 acc = _mm512_loadu_ps(go + c);
            for (long b = 1; b <= fields; b++) acc = RT_MADD(acc, go[rowStart[0] - 1 + b], e + (b - 1) * dim + c);
            _mm512_storeu_ps(gb + c, acc);
            long a = 1;
            for (; a + 1 <= fields; a += 2) {
                const long a1 = a + 1;
                const __m512 w0 = _mm512_loadu_ps(v0 + c);
                __m512 acc0 = _mm512_mul_ps(_mm512_set1_ps(go[rowStart[0] + a - 1]), w0);
                __m512 acc1 = _mm512_mul_ps(_mm512_set1_ps(go[rowStart[0] + a1 - 1]), w0);
                long b = 1;
                for (; b < a; b++) {
                    const __m512 vb = _mm512_loadu_ps(e + (b - 1) * dim + c);
                    acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(_mm512_set1_ps(go[rowStart[b] + a - b - 1]), vb));
                    acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(_mm512_set1_ps(go[rowStart[b] + a1 - b - 1]), vb));
                }
                /* b = a: row a skips itself, row a+1 takes g(a, a+1)·v_a; b = a+1: the other way round. */
                const __m512 gPair = _mm512_set1_ps(go[rowStart[a]]);
                acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(gPair, _mm512_loadu_ps(e + (a - 1) * dim + c)));
                acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(gPair, _mm512_loadu_ps(e + a * dim + c)));
                const long base0 = rowStart[a] - a - 1, base1 = rowStart[a1] - a1 - 1;
                for (b = a + 2; b <= fields; b++) {
                    const __m512 vb = _mm512_loadu_ps(e + (b - 1) * dim + c);
                    acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(_mm512_set1_ps(go[base0 + b]), vb));
                    acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(_mm512_set1_ps(go[base1 + b]), vb));
                }
                _mm512_storeu_ps(ge + (a - 1) * dim + c, acc0);
                _mm512_storeu_ps(ge + a * dim + c, acc1);
            }
            for (; a <= fields; a++) {
                __m512 acc2 = _mm512_mul_ps(_mm512_set1_ps(go[rowStart[0] + a - 1]), _mm512_loadu_ps(v0 + c));
                for (long b = 1; b < a; b++) acc2 = RT_MADD(acc2, go[rowStart[b] + a - b - 1], e + (b - 1) * dim + c);
                const long base = rowStart[a] - a - 1;
                for (long b = a + 1; b <= fields; b++) acc2 = RT_MADD(acc2, go[base + b], e + (b - 1) * dim + c);
                _mm512_storeu_ps(ge + (a - 1) * dim + c, acc2);
            }
        }
    }
}
#undef RT_MADD

/// Adam over whole 16-float vectors from element 0: the same operations in the same order per lane
/// as `OptimizerMath.adamLanes` (products and sums separate, correctly rounded √ and ÷), so the same
/// bits. Returns how many elements it updated (n rounded down to 16); the caller does the rest.
/// `c1`, `c2`: 1 − β1 and 1 − β2 as the caller computed them in Float. With `g2` non-null the
/// gradient is `g + g2` (one add per element: two micro-batches' gradients summed in the same pass).
__attribute__((target("avx512f")))
static inline long rt_adam_avx512(float *theta, const float *g, const float *g2, float *m, float *v, long n, float stepSize,
                                  float beta1, float beta2, float c1, float c2, float epsilon) {
    #pragma clang fp contract(off)
    const __m512 b1 = _mm512_set1_ps(beta1), b2 = _mm512_set1_ps(beta2), k1 = _mm512_set1_ps(c1), k2 = _mm512_set1_ps(c2);
    const __m512 lr = _mm512_set1_ps(stepSize), eps = _mm512_set1_ps(epsilon);
    long k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 gk = _mm512_loadu_ps(g + k);
        if (g2) gk = _mm512_add_ps(gk, _mm512_loadu_ps(g2 + k));
        const __m512 mk = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + k)), _mm512_mul_ps(k1, gk));
        const __m512 vk = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + k)), _mm512_mul_ps(_mm512_mul_ps(k2, gk), gk));
        _mm512_storeu_ps(m + k, mk);
        _mm512_storeu_ps(v + k, vk);
        const __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, mk), _mm512_add_ps(_mm512_sqrt_ps(vk), eps));
        _mm512_storeu_ps(theta + k, _mm512_sub_ps(_mm512_loadu_ps(theta + k), step));
    }
    return k;
}

/* The engine's bf16 weight-gradient kernel (AVX-512 BF16 without AMX). */
#include "bf16_weight_gradient.h"
/* The engine's products for layers with one output (bf16: AVX-512 BF16 without AMX; fp32: AVX-512). */
#include "single_output.h"

#endif
