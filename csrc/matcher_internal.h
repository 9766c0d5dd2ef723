/* Pieces shared by the matcher's C modules: window loads, the filter hash
 * (one definition for the compiler and every probe kernel), kernels. */
#ifndef AVGATE_MATCHER_INTERNAL_H
#define AVGATE_MATCHER_INTERNAL_H

#include <string.h>

#include "matcher.h"

#if defined(__GNUC__)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define AVG_INLINE static inline __attribute__((always_inline))
#else
#define likely(x) (x)
#define unlikely(x) (x)
#define AVG_INLINE static inline
#endif

/* Odd multipliers. The filter hash works on 32-bit halves so that SIMD
 * kernels (16 x 32-bit lanes) compute exactly what the scalar code does. */
#define AVG_KA 0x9E3779B1u
#define AVG_KB 0x85EBCA77u
#define AVG_KC 0xC2B2AE3Du
#define AVG_K64 0x9E3779B97F4A7C15ull

AVG_INLINE uint64_t load_window(const uint8_t *p, uint32_t q) {
    /* memcpy compiles to one unaligned load */
    if (q == 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    } else if (q == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    } else {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
}

/* A window's place in its group's filter: 32-bit word `word`, bits `mask`.
 * q = 2: exact, one bit per possible window. Otherwise a blocked Bloom
 * filter: the hash's top bits pick the word, a second multiply two bits. */
typedef struct {
    uint32_t word;
    uint32_t mask;
} avg_slot;

AVG_INLINE uint32_t window_hash(uint64_t key) {
    return (uint32_t)key * AVG_KA ^ (uint32_t)(key >> 32) * AVG_KB;
}

AVG_INLINE uint32_t word_shift_of(const avg_group *g) { return 32 - (g->filter_bits - 5); }

AVG_INLINE avg_slot slot_of(uint32_t q, uint32_t word_shift, uint64_t key) {
    avg_slot s;
    if (q == 2) {
        s.word = (uint32_t)key >> 5;
        s.mask = 1u << (key & 31);
    } else {
        uint32_t h = window_hash(key), m = h * AVG_KC;
        s.word = h >> word_shift;
        s.mask = (1u << (m >> 27)) | (1u << ((m >> 22) & 31));
    }
    return s;
}

AVG_INLINE uint64_t bucket_of(const avg_group *g, uint64_t key) {
    return (key * AVG_K64) >> (64 - g->bucket_bits);
}

/* ---- probe kernels -------------------------------------------------------
 * Test the sampled positions *pos, *pos + step, ... (each with a whole
 * window inside buf[0:len]) against the group's filter. Positions that pass
 * go to hits[] (at most cap); returns their count and leaves *pos at the
 * first position not yet tested (> len - q when done). */
typedef size_t (*avg_probe_fn)(const avg_group *g, const uint8_t *buf, size_t len, size_t *pos,
                               size_t *hits, size_t cap);

size_t avg_probe_scalar(const avg_group *g, const uint8_t *buf, size_t len, size_t *pos,
                        size_t *hits, size_t cap);
#if defined(__x86_64__) && defined(__GNUC__)
#define AVG_HAVE_X86_KERNELS 1
size_t avg_probe_avx512(const avg_group *g, const uint8_t *buf, size_t len, size_t *pos,
                        size_t *hits, size_t cap);
#endif

/* The kernel for this CPU (or the one forced by avg_set_kernel). */
avg_probe_fn avg_probe_kernel(void);

#endif /* AVGATE_MATCHER_INTERNAL_H */
