/* The AVX-512 probe kernel, compiled for its instruction set by function
 * attributes and chosen at run time (probe.c), so one build runs on every
 * x86-64. It computes exactly the scalar kernel's hash and leaves the tail
 * of the buffer, and steps too wide for its registers, to the scalar kernel.
 * (An AVX2 version built on gathers was slower than scalar code on AMD Zen 4,
 * where gathers of 8 lanes are microcoded; it was dropped.) */
#include "matcher_internal.h"

#ifdef AVG_HAVE_X86_KERNELS
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi")))

/* 16 sampled positions per round. Two 64-byte loads cover the 16 windows
 * (15 * step + 8 <= 128 bytes); vpermt2b gathers each window's low and high
 * four bytes into 32-bit lanes; the filter words come from one gather. */
AVX512 static inline size_t probe512_q(const avg_group *g, const uint8_t *buf, size_t len,
                                       size_t *pos, size_t *hits, size_t cap, const uint32_t q) {
    const size_t s = g->step;
    size_t i = *pos, n = 0;
    if (s > 8 || len < 128) return 0;
    uint8_t lo_idx[64], hi_idx[64];
    for (int lane = 0; lane < 16; lane++)
        for (int b = 0; b < 4; b++) {
            lo_idx[lane * 4 + b] = (uint8_t)(lane * s + b);
            hi_idx[lane * 4 + b] = (uint8_t)(lane * s + 4 + b);
        }
    const __m512i ilo = _mm512_loadu_si512(lo_idx), ihi = _mm512_loadu_si512(hi_idx);
    const __mmask64 two_bytes = 0x3333333333333333ull;
    const __m512i ka = _mm512_set1_epi32((int)AVG_KA), kb = _mm512_set1_epi32((int)AVG_KB);
    const __m512i kc = _mm512_set1_epi32((int)AVG_KC), one = _mm512_set1_epi32(1);
    const __m512i low5 = _mm512_set1_epi32(31);
    const __m128i ws = _mm_cvtsi32_si128((int)word_shift_of(g));
    const int *filter = (const int *)g->filter;
    while (i + 128 <= len && n + 16 <= cap) {
        __m512i a = _mm512_loadu_si512(buf + i), b = _mm512_loadu_si512(buf + i + 64);
        __m512i word, mask;
        if (q == 2) {
            __m512i key = _mm512_maskz_permutex2var_epi8(two_bytes, a, ilo, b);
            word = _mm512_srli_epi32(key, 5);
            mask = _mm512_sllv_epi32(one, _mm512_and_si512(key, low5));
        } else {
            __m512i h = _mm512_mullo_epi32(_mm512_permutex2var_epi8(a, ilo, b), ka);
            if (q == 8) h = _mm512_xor_si512(h, _mm512_mullo_epi32(_mm512_permutex2var_epi8(a, ihi, b), kb));
            __m512i m = _mm512_mullo_epi32(h, kc);
            word = _mm512_srl_epi32(h, ws);
            mask = _mm512_or_si512(_mm512_sllv_epi32(one, _mm512_srli_epi32(m, 27)),
                                   _mm512_sllv_epi32(one, _mm512_and_si512(_mm512_srli_epi32(m, 22), low5)));
        }
        __m512i w = _mm512_i32gather_epi32(word, filter, 4);
        __mmask16 hit = _mm512_cmpeq_epi32_mask(_mm512_and_si512(w, mask), mask);
        while (unlikely(hit)) {
            hits[n++] = i + (size_t)__builtin_ctz(hit) * s;
            hit &= hit - 1;
        }
        i += 16 * s;
    }
    *pos = i;
    return n;
}

AVX512 size_t avg_probe_avx512(const avg_group *g, const uint8_t *buf, size_t len, size_t *pos,
                               size_t *hits, size_t cap) {
    size_t n;
    switch (g->q) {
    case 2: n = probe512_q(g, buf, len, pos, hits, cap, 2); break;
    case 4: n = probe512_q(g, buf, len, pos, hits, cap, 4); break;
    default: n = probe512_q(g, buf, len, pos, hits, cap, 8); break;
    }
    if (n + 16 > cap) return n; /* the caller verifies, then comes back */
    return n + avg_probe_scalar(g, buf, len, pos, hits + n, cap - n);
}

#endif /* AVG_HAVE_X86_KERNELS */
