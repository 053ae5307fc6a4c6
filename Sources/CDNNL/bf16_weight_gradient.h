#ifndef RECTUNE_CDNNL_BF16_WEIGHT_GRADIENT_H
#define RECTUNE_CDNNL_BF16_WEIGHT_GRADIENT_H
/* The engine's bf16 weight gradient for AVX-512 BF16 hosts without AMX (Zen 4, Cooper Lake):
   dW = dYᵀ·X over `rows` rows, bf16 operands, fp32 accumulation, written into oneDNN's fp32
   `AB16b<X>a` diff-weights layout (the master layout of bf16 layers), and the bias gradient
   db = Σ_rows dY. Included by shim.h (`PackedWeightGradient` in the engine calls it).

   Why: oneDNN 2.6.3's `brgemm_bwd_w:avx512_core_bf16` transposes both operands on every call
   and ran WDL's weight-gradient products at 176–207 GFLOP/s on one Zen 4 core, against 212–226
   for forward. Here both operands are packed once per call into the pair-interleaved order
   `vdpbf16ps` reads (rows 2k and 2k+1 side by side), and a 6×X register tile accumulates over
   all row pairs: per row pair, X/16 vector loads of dY, 6 broadcasts of the input and 6·X/16 dot
   products.

   Same arithmetic as oneDNN's kernel at 256 and 512 rows: each output one fp32 accumulator over
   the row pairs in order, the bias too (bit-identical weight and bias gradients, measured with
   operands spread over 24 binary orders of magnitude, where any other order of the sums shows).
   oneDNN splits longer sums and treats an odd last row its own way, so there the last bits may
   differ. Deterministic either way. */
#include <immintrin.h>
#include <stdint.h>

/* Mask of the 16 elements c ..< c+16 below `count` (also used by single_output.h). */
static inline __mmask16 rt_wg_mask16(long c, long count) {
    const long left = count - c;
    return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
}

/* Columns c ..< c+16 of rows r0 and r1 (r1 NULL: a row of zeros), zero past `cols`, as 16 pairs
   (r0's bf16 bits low, r1's high): both rows' 16 values side by side in one vector, then pair j
   takes lanes j and 16+j. `*mask` gets the columns below `cols`. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512i rt_wg_pairs16(const uint16_t *r0, const uint16_t *r1, long c, long cols, __mmask16 *mask) {
    static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __mmask16 m = rt_wg_mask16(c, cols);
    const __m256i a = _mm256_maskz_loadu_epi16(m, r0 + c);
    const __m256i b = r1 ? _mm256_maskz_loadu_epi16(m, r1 + c) : _mm256_setzero_si256();
    *mask = m;
    return _mm512_permutexvar_epi16(_mm512_loadu_si512(order), _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1));
}

/* Row pairs interleaved: out[k·stride + c] = x[2k][c] | x[2k+1][c] << 16 for c < cols (bf16
   bits), zero for cols ≤ c < padded rounded up to 16 (`stride` must leave room); an odd last row
   pairs with zeros. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline void rt_wg_pack_rows(const uint16_t *x, long rows, long cols, long padded, long stride, uint32_t *out) {
    for (long k = 0; k < (rows + 1) / 2; k++) {
        const uint16_t *r0 = x + 2 * k * cols, *r1 = 2 * k + 1 < rows ? r0 + cols : 0;
        for (long c = 0; c < padded; c += 16) {
            __mmask16 m;
            _mm512_storeu_si512(out + k * stride + c, rt_wg_pairs16(r0, r1, c, cols, &m));
        }
    }
}

/* The output gradient packed in panels of `block` columns: out[(p·pairs + k)·block + j] holds
   the pair of rows 2k, 2k+1 at column p·block + j (zero past `cols`, and not written past `cols`
   rounded up to 16); `bias[c]` = the sum of
   column c, pair after pair, each pair added by `vdpbf16ps` against 1.0 (row 2k+1, then row 2k,
   denormals flushed): how oneDNN's primitive sums the bias gradient, so the same bits (with a
   plain row-by-row fp32 sum, 391 of a 1024-output layer's 1024 bias values differed in the
   last bits). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline void rt_wg_pack_panels(const uint16_t *g, long rows, long cols, long block, long panels, uint32_t *out,
                                     float *bias) {
    const __m512bh ones = (__m512bh)_mm512_set1_epi16((short)0x3F80);
    /* Only columns below `cols` rounded up to 16: the tiles read no further (`rt_wg_live_columns`). */
    const long pairs = (rows + 1) / 2, padded = (cols + 15) / 16 * 16 < panels * block ? (cols + 15) / 16 * 16 : panels * block;
    for (long c = 0; c < cols; c++) bias[c] = 0;
    for (long k = 0; k < pairs; k++) {
        const uint16_t *r0 = g + 2 * k * cols, *r1 = 2 * k + 1 < rows ? r0 + cols : 0;
        for (long c = 0; c < padded; c += 16) {
            __mmask16 m;
            const __m512i pair = rt_wg_pairs16(r0, r1, c, cols, &m);
            _mm512_storeu_si512(out + ((c / block) * pairs + k) * block + (c % block), pair);
            if (m) {
                /* The pair's two values times 1.0 added by the same instruction as the weights' sums. */
                const __m512 sum = _mm512_dpbf16_ps(_mm512_maskz_loadu_ps(m, bias + c), (__m512bh)pair, ones);
                _mm512_mask_storeu_ps(bias + c, m, sum);
            }
        }
    }
}

#define RT_WG_ROWS 6
#ifndef RT_WG_CHUNK
#define RT_WG_CHUNK 128
#endif

/* One 6 × (16·Q) tile: inputs i0 ..< i0+6 of one output panel, summed over `pairs` row pairs;
   rows at or past `paddedInputs` are not stored. Written out with named accumulators (one
   function per Q, from these macros) rather than arrays and loops: Swift's clang importer
   compiles this header without unrolling loops, and an accumulator array indexed in a loop
   stayed in memory (72 GFLOP/s instead of ~220). */
/* An accumulator starts at zero, or (`carry`: a later chunk of row pairs) at what the chunks
   before it stored, so the sum runs pair after pair in order as in one pass. */
#define RT_WG_INIT(r, q) (carry && i0 + r < paddedInputs ? _mm512_loadu_ps(rt_wg_row(out, i0 + r, inputStride, block) + q * 16) \
                                                          : _mm512_setzero_ps())
#define RT_WG_DECL1(r) __m512 c##r##0 = RT_WG_INIT(r, 0);
#define RT_WG_DECL2(r) __m512 c##r##0 = RT_WG_INIT(r, 0), c##r##1 = RT_WG_INIT(r, 1);
#define RT_WG_DECL3(r) __m512 c##r##0 = RT_WG_INIT(r, 0), c##r##1 = RT_WG_INIT(r, 1), c##r##2 = RT_WG_INIT(r, 2);
#define RT_WG_DECL4(r) __m512 c##r##0 = RT_WG_INIT(r, 0), c##r##1 = RT_WG_INIT(r, 1), c##r##2 = RT_WG_INIT(r, 2), \
                              c##r##3 = RT_WG_INIT(r, 3);
#define RT_WG_LOAD(q) const __m512bh v##q = (__m512bh)_mm512_loadu_si512(b + q * 16);
#define RT_WG_LOADS1 RT_WG_LOAD(0)
#define RT_WG_LOADS2 RT_WG_LOAD(0) RT_WG_LOAD(1)
#define RT_WG_LOADS3 RT_WG_LOAD(0) RT_WG_LOAD(1) RT_WG_LOAD(2)
#define RT_WG_LOADS4 RT_WG_LOAD(0) RT_WG_LOAD(1) RT_WG_LOAD(2) RT_WG_LOAD(3)
#define RT_WG_X(r) const __m512bh x##r = (__m512bh)_mm512_set1_epi32((int)ak[r]);
#define RT_WG_DOT(r, q) c##r##q = _mm512_dpbf16_ps(c##r##q, x##r, v##q);
#define RT_WG_DOTS1(r) { RT_WG_X(r) RT_WG_DOT(r, 0) }
#define RT_WG_DOTS2(r) { RT_WG_X(r) RT_WG_DOT(r, 0) RT_WG_DOT(r, 1) }
#define RT_WG_DOTS3(r) { RT_WG_X(r) RT_WG_DOT(r, 0) RT_WG_DOT(r, 1) RT_WG_DOT(r, 2) }
#define RT_WG_DOTS4(r) { RT_WG_X(r) RT_WG_DOT(r, 0) RT_WG_DOT(r, 1) RT_WG_DOT(r, 2) RT_WG_DOT(r, 3) }
#define RT_WG_ST(r, q) _mm512_storeu_ps(d + q * 16, c##r##q);
#define RT_WG_STORE1(r) if (i0 + r < paddedInputs) { float *d = rt_wg_row(out, i0 + r, inputStride, block); RT_WG_ST(r, 0) }
#define RT_WG_STORE2(r) if (i0 + r < paddedInputs) { float *d = rt_wg_row(out, i0 + r, inputStride, block); RT_WG_ST(r, 0) RT_WG_ST(r, 1) }
#define RT_WG_STORE3(r) if (i0 + r < paddedInputs) { float *d = rt_wg_row(out, i0 + r, inputStride, block); RT_WG_ST(r, 0) RT_WG_ST(r, 1) RT_WG_ST(r, 2) }
#define RT_WG_STORE4(r) if (i0 + r < paddedInputs) { float *d = rt_wg_row(out, i0 + r, inputStride, block); RT_WG_ST(r, 0) RT_WG_ST(r, 1) RT_WG_ST(r, 2) RT_WG_ST(r, 3) }
#define RT_WG_ROWS6(M) M(0) M(1) M(2) M(3) M(4) M(5)

/* Where input i's `block` outputs start in an output panel of the master layout. */
static inline float *rt_wg_row(float *out, long i, long inputStride, long block) {
    return out + (i / 16) * inputStride + (i % 16) * block;
}

#define RT_WG_DEFINE_TILE(Q) \
__attribute__((target("avx512f,avx512bw,avx512bf16"))) \
static inline void rt_wg_tile##Q(const uint32_t *a, long strideA, const uint32_t *b, long pairs, long i0, long paddedInputs, \
                                 float *out, long inputStride, long block, int carry) { \
    RT_WG_ROWS6(RT_WG_DECL##Q) \
    const uint32_t *ak = a + i0; \
    for (long k = 0; k < pairs; k++) { \
        RT_WG_LOADS##Q \
        RT_WG_ROWS6(RT_WG_DOTS##Q) \
        b += block; \
        ak += strideA; \
    } \
    RT_WG_ROWS6(RT_WG_STORE##Q) \
}
RT_WG_DEFINE_TILE(1)
RT_WG_DEFINE_TILE(2)
RT_WG_DEFINE_TILE(3)
RT_WG_DEFINE_TILE(4)

/* Requests for writing the output lines of the tile after (panel p, inputs i0 ..< i0+6): the
   diff-weights buffer is cold in a training step (written once per step, then read by the
   update; everything the step touches since has evicted it), and without the hint each tile's
   stores wait for their lines to be read in. In a C program writing 24 buffers in turn (and
   reading 24 pairs of operands), the products ran at 213–215 GFLOP/s without the hint and
   224–226 with it at 429→1024 and 256 rows (208–216 and 224–227 at 1024→512), as fast as into
   one warm buffer. A build for Haswell (the Makefile's) emits prefetcht0 rather than prefetchw:
   measured the same. In WDL's bf16 step the weight-gradient nodes' time against the forward
   nodes' went from 1.076 to 1.044 (medians of six alternations). */
static inline void rt_wg_prefetch_next_tile(float *out, long p, long panels, long i0, long paddedInputs, long outputStride,
                                            long inputStride, long block) {
    long next = i0 + RT_WG_ROWS;
    if (next >= paddedInputs) {
        if (p + 1 >= panels) return;
        out += outputStride;
        next = 0;
    }
    for (long r = next; r < next + RT_WG_ROWS && r < paddedInputs; r++) {
        const char *line = (const char *)rt_wg_row(out, r, inputStride, block);
        for (long offset = 0; offset < block * 4; offset += 64) __builtin_prefetch(line + offset, 1, 3);
    }
}

/* Columns of panel p the tiles compute: the layer's outputs in it rounded up to 16 (at least 16).
   The rest of the panel is padding, written as zeros without a product: DeepFM's 400 outputs fill
   6 panels of 64 and 16 columns of a seventh, so computing whole panels did 12% more work, and the
   kernel ran its 429→400 and 400→400 products at 191 GFLOP/s against oneDNN's 205. */
static inline long rt_wg_live_columns(long p, long block, long cols) {
    const long left = (cols - p * block + 15) / 16 * 16;
    return left >= block ? block : left < 16 ? 16 : left;
}

/* dW in `AB16b<block>a` (fp32; every element, padding as zeros) from `a` (rt_wg_pack_rows of the
   input: `pairs` row pairs, `strideA` ≥ paddedInputs rounded up to 6) and `b` (rt_wg_pack_panels
   of the output gradient; `cols` real outputs). `block` is 16, 32, 48 or 64; `outputStride` and
   `inputStride` are the layout's outer strides in floats. Returns 0, or −1 for another block. */
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static inline int rt_wg_weight_gradient(const uint32_t *a, long strideA, const uint32_t *b, long pairs, long paddedInputs,
                                        long panels, long block, long cols, float *dw, long outputStride, long inputStride) {
    if (block != 16 && block != 32 && block != 48 && block != 64) return -1;
    for (long p = 0; p < panels; p++) {
        float *out = dw + p * outputStride;
        const long live = rt_wg_live_columns(p, block, cols);
        if (live < block) {
            for (long i = 0; i < paddedInputs; i++) {
                float *row = rt_wg_row(out, i, inputStride, block);
                for (long j = live; j < block; j += 16) _mm512_storeu_ps(row + j, _mm512_setzero_ps());
            }
        }
        /* Row pairs in chunks of RT_WG_CHUNK: a chunk of the panel (block × 4 bytes per pair)
           stays in L1 while every tile of inputs reads it. */
        for (long k0 = 0; k0 < pairs; k0 += RT_WG_CHUNK) {
            const long n = pairs - k0 < RT_WG_CHUNK ? pairs - k0 : RT_WG_CHUNK;
            const uint32_t *ak = a + k0 * strideA, *bp = b + (p * pairs + k0) * block;
            const int carry = k0 > 0;
            for (long i0 = 0; i0 < paddedInputs; i0 += RT_WG_ROWS) {
                if (!carry) rt_wg_prefetch_next_tile(out, p, panels, i0, paddedInputs, outputStride, inputStride, block);
                switch (live) {
                case 64: rt_wg_tile4(ak, strideA, bp, n, i0, paddedInputs, out, inputStride, block, carry); break;
                case 48: rt_wg_tile3(ak, strideA, bp, n, i0, paddedInputs, out, inputStride, block, carry); break;
                case 32: rt_wg_tile2(ak, strideA, bp, n, i0, paddedInputs, out, inputStride, block, carry); break;
                default: rt_wg_tile1(ak, strideA, bp, n, i0, paddedInputs, out, inputStride, block, carry); break;
                }
            }
        }
    }
    return 0;
}

#endif
