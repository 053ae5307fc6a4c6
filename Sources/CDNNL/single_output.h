#ifndef RECTUNE_CDNNL_SINGLE_OUTPUT_H
#define RECTUNE_CDNNL_SINGLE_OUTPUT_H
/* The engine's products for layers with one output (a model's logit layer): fp32 on AVX-512
   hosts (every model's logit layer; the Criteo and most contest models keep it fp32 under the bf16
   knob), and bf16 on AVX-512 BF16 hosts without AMX (the logit layers of MMoE's towers, which the
   contest script computes in bf16). Included by shim.h (`SingleOutputKernel` in the engine calls
   them). The bf16 ones first.

   Why: oneDNN 2.6.3 pads the one output to a block of 16 and runs its brgemm kernels over the
   padding; at 256→1 and 512 rows on one Zen 4 core its forward ran at 9.8 GFLOP/s, backward-data
   at 32.3 and backward-weights at 6.5 (`bench --dense --dense-shapes 256x1`, each call including
   the layer's conversion of an fp32 input to bf16). These are a dot product per row, an outer
   product and a column sum.

   The same instruction (`vdpbf16ps`) on the same pairs as oneDNN where the order of a sum is
   defined by them: backward-data is one exact product per element (bf16·bf16 fits fp32), rounded
   once; backward-weights sums each input's row pairs in order in one fp32 accumulator, as
   oneDNN's primitive does at 256 and 512 rows, and the bias likewise (the same bits, measured).
   Forward sums 16 input pairs per lane and then the lanes, an order of its own: the last bits of
   the output may differ from the primitive's; deterministic. */
#include <immintrin.h>
#include <stdint.h>
/* rt_wg_mask16. */
#include "bf16_weight_gradient.h"

/* Element offsets 0, block, 2·block, … 15·block: where 16 consecutive inputs' output 0 sit in one
   16-input block of the master `AB16b<block>a`. */
__attribute__((target("avx512f")))
static inline __m512i rt_so_block_lanes(long block) {
    return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32((int)block));
}

/* The layer's weights as `inputs` bf16 values (rounded to nearest even, as the bf16 copy holds
   them), zero up to `inputs` rounded up to 32, from the fp32 master `AB16b<block>a`: output 0 of
   input i sits at (i / 16) · inputStride + (i % 16) · block. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_so_weights(const float *master, long inputs, long inputStride, long block, uint16_t *w) {
    const __m512i lanes = rt_so_block_lanes(block);
    const long padded = (inputs + 31) / 32 * 32;
    for (long i0 = 0; i0 < padded; i0 += 16) {
        const __mmask16 m = rt_wg_mask16(i0, inputs);
        const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, lanes, master + (i0 / 16) * inputStride, 4);
        _mm256_storeu_si256((__m256i *)(w + i0), (__m256i)_mm512_cvtneps_pbh(v));
    }
}

/* Mask of the bf16 elements c ..< c+32 below `count`. */
static inline __mmask32 rt_so_mask32(long c, long count) {
    const long left = count - c;
    return left >= 32 ? (__mmask32)0xFFFFFFFFu : left <= 0 ? (__mmask32)0 : (__mmask32)((1u << left) - 1u);
}

/* y[n] = Σ_i x[n][i]·w[i] + bias (then max(·, 0) with `relu`), fp32, for `rows` bf16 rows of
   `inputs` values (plain row-major; `w` from rt_so_weights). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_so_forward(const uint16_t *x, long rows, long inputs, const uint16_t *w, float bias, int relu, float *y) {
    for (long n = 0; n < rows; n++) {
        const uint16_t *row = x + n * inputs;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        long c = 0;
        for (; c + 64 <= inputs; c += 64) {
            acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + c), (__m512bh)_mm512_loadu_si512(w + c));
            acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_loadu_si512(row + c + 32), (__m512bh)_mm512_loadu_si512(w + c + 32));
        }
        for (; c < inputs; c += 32) {
            const __m512i part = _mm512_maskz_loadu_epi16(rt_so_mask32(c, inputs), row + c);
            acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)part, (__m512bh)_mm512_loadu_si512(w + c));
        }
        const float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + bias;
        y[n] = relu && !(sum > 0) ? 0 : sum;
    }
}

/* dx[n][i] = dy[n]·w[i] for `rows` rows of `inputs` values, written as bf16 bits (`lowPrecision`)
   or fp32; `dy` is bf16, `w` from rt_so_weights. Each value is one exact product, rounded once. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_so_backward_data(const uint16_t *dy, long rows, long inputs, const uint16_t *w, void *dx, int lowPrecision) {
    for (long n = 0; n < rows; n++) {
        /* Pairs (dy[n], 0) and (w[i], 0): the high halves add 0·0 first, as oneDNN's padded pairs do. */
        const __m512bh d = (__m512bh)_mm512_set1_epi32((int)dy[n]);
        for (long c = 0; c < inputs; c += 16) {
            const __mmask16 m = rt_wg_mask16(c, inputs);
            const __m512i wPairs = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w + c)));
            const __m512 r = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)wPairs, d);
            if (lowPrecision) {
                _mm256_mask_storeu_epi16((uint16_t *)dx + n * inputs + c, m, (__m256i)_mm512_cvtneps_pbh(r));
            } else {
                _mm512_mask_storeu_ps((float *)dx + n * inputs + c, m, r);
            }
        }
    }
}

/* Columns c ..< c+16 of rows r0 and r1 (r1 NULL: zeros) as 16 pairs, r0's bf16 bits low: the
   pairs rt_wg_pairs16 builds, by zero-extension and a shift instead of its permute. Calling
   rt_wg_pairs16 here was tried and measured slower (`bench --dense --dense-shapes 256x1 --bf16
   --batch 256`: backward-data 28.0 against 39.1 GFLOP/s in two alternations; not explained). */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512i rt_so_pairs(const uint16_t *r0, const uint16_t *r1, long c, __mmask16 m) {
    const __m512i low = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, r0 + c));
    if (!r1) return low;
    return _mm512_or_si512(low, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, r1 + c)), 16));
}

/* dW (the fp32 master layout `AB16b<block>a`, `count` floats, every element written: output 0 of
   each input, zeros elsewhere) and the bias gradient `*bias` from bf16 `x` (`rows × inputs`) and
   bf16 `dy` (`rows`): each sums the row pairs (2k, 2k+1) in order in one fp32 accumulator, an odd
   last row paired with zeros. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_so_backward_weights(const uint16_t *x, const uint16_t *dy, long rows, long inputs, float *dw, long count,
                                          long inputStride, long block, float *bias) {
    const __m512i lanes = rt_so_block_lanes(block);
    for (long e = 0; e < count; e += 16) _mm512_storeu_ps(dw + e, _mm512_setzero_ps());
    const long pairs = (rows + 1) / 2;
    /* Four groups of 16 inputs at a time: four independent accumulator chains. */
    for (long c0 = 0; c0 < inputs; c0 += 64) {
        __mmask16 m[4];
        for (int q = 0; q < 4; q++) m[q] = rt_wg_mask16(c0 + 16 * q, inputs);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (long k = 0; k < pairs; k++) {
            const uint16_t *r0 = x + 2 * k * inputs, *r1 = 2 * k + 1 < rows ? r0 + inputs : 0;
            const uint32_t d = (uint32_t)dy[2 * k] | (r1 ? (uint32_t)dy[2 * k + 1] << 16 : 0u);
            const __m512bh dv = (__m512bh)_mm512_set1_epi32((int)d);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)rt_so_pairs(r0, r1, c0, m[0]), dv);
            if (m[1]) a1 = _mm512_dpbf16_ps(a1, (__m512bh)rt_so_pairs(r0, r1, c0 + 16, m[1]), dv);
            if (m[2]) a2 = _mm512_dpbf16_ps(a2, (__m512bh)rt_so_pairs(r0, r1, c0 + 32, m[2]), dv);
            if (m[3]) a3 = _mm512_dpbf16_ps(a3, (__m512bh)rt_so_pairs(r0, r1, c0 + 48, m[3]), dv);
        }
        const __m512 sums[4] = {a0, a1, a2, a3};
        for (int q = 0; q < 4; q++) {
            if (m[q]) _mm512_mask_i32scatter_ps(dw + ((c0 + 16 * q) / 16) * inputStride, m[q], lanes, sums[q], 4);
        }
    }
    /* The bias: each pair (dy[2k], dy[2k+1]) times (1, 1) added by the same instruction. */
    const __m512bh ones = (__m512bh)_mm512_set1_epi16((short)0x3F80);
    __m512 b = _mm512_setzero_ps();
    for (long k = 0; k < pairs; k++) {
        const uint32_t d = (uint32_t)dy[2 * k] | (2 * k + 1 < rows ? (uint32_t)dy[2 * k + 1] << 16 : 0u);
        b = _mm512_dpbf16_ps(b, (__m512bh)_mm512_set1_epi32((int)d), ones);
    }
    *bias = _mm512_cvtss_f32(b);
}

/* fp32 layers with one output (every model's logit layer): the weights are `inputs` contiguous
   floats (oneDNN's `ab` or `ba`, the same memory for one output). oneDNN 2.6.3 runs these as
   `x64:gemm:jit` with a dimension of 1: at 256→1 and 512 rows on one Zen 4 core 25.5 GFLOP/s
   forward, 32.5 backward-data, 37.5 backward-weights. */

/* y[n] = Σ_i x[n][i]·w[i] + bias (then max(·, 0) with `relu`): fused multiply-adds over 16 lanes
   in two chains, then the lanes. */
__attribute__((target("avx512f")))
static inline void rt_so32_forward(const float *x, long rows, long inputs, const float *w, float bias, int relu, float *y) {
    for (long n = 0; n < rows; n++) {
        const float *row = x + n * inputs;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        long c = 0;
        for (; c + 32 <= inputs; c += 32) {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + c), _mm512_loadu_ps(w + c), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + c + 16), _mm512_loadu_ps(w + c + 16), acc1);
        }
        for (; c < inputs; c += 16) {
            const __mmask16 m = rt_wg_mask16(c, inputs);
            acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + c), _mm512_maskz_loadu_ps(m, w + c), acc0);
        }
        const float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + bias;
        y[n] = relu && !(sum > 0) ? 0 : sum;
    }
}

/* dx[n][i] = dy[n]·w[i] + 0: one product per value, rounded once, plus a zero as oneDNN's GEMM adds
   its β·C (a product of −0 becomes +0): the primitive's bits. */
__attribute__((target("avx512f")))
static inline void rt_so32_backward_data(const float *dy, long rows, long inputs, const float *w, float *dx) {
    for (long n = 0; n < rows; n++) {
        const __m512 d = _mm512_set1_ps(dy[n]);
        float *out = dx + n * inputs;
        for (long c = 0; c < inputs; c += 16) {
            const __mmask16 m = rt_wg_mask16(c, inputs);
            _mm512_mask_storeu_ps(out + c, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + c), d, _mm512_setzero_ps()));
        }
    }
}

/* dw[i] = Σ_n dy[n]·x[n][i] (rows in order, a fused multiply-add each) and *bias = Σ_n dy[n]
   (rows in order), in chunks of 128 inputs held in eight named registers while the rows stream by
   (named: Swift's clang importer does not unroll loops, and an indexed accumulator array stays in
   memory). */
#define RT_SO32_FMA(q) a##q = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m##q, row + 16 * q), d, a##q);
#define RT_SO32_MASK(q) const __mmask16 m##q = rt_wg_mask16(c0 + 16 * q, inputs); __m512 a##q = _mm512_setzero_ps();
#define RT_SO32_STORE(q) _mm512_mask_storeu_ps(dw + c0 + 16 * q, m##q, a##q);
#define RT_SO32_EIGHT(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
__attribute__((target("avx512f")))
static inline void rt_so32_backward_weights(const float *x, const float *dy, long rows, long inputs, float *dw, float *bias) {
    for (long c0 = 0; c0 < inputs; c0 += 128) {
        RT_SO32_EIGHT(RT_SO32_MASK)
        for (long n = 0; n < rows; n++) {
            const __m512 d = _mm512_set1_ps(dy[n]);
            const float *row = x + n * inputs + c0;
            RT_SO32_EIGHT(RT_SO32_FMA)
        }
        RT_SO32_EIGHT(RT_SO32_STORE)
    }
    float b = 0;
    for (long n = 0; n < rows; n++) b += dy[n];
    *bias = b;
}

#endif
