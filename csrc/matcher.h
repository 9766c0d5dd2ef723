/* avgate native matcher: many byte-string patterns, one pass, streaming.
 *
 * Plain C, no Python. See DESIGN.md "Matcher" and engine/_matcher.pyx.
 * Modules: compile.c (patterns -> tables), scan.c (blocks, streams,
 * verification), probe.c + probe_x86.c (the filter's hot loop: portable
 * and AVX-512), byte_model.h (generated: how common bytes are).
 *
 * Patterns are split by length into at most three groups. A group looks at
 * windows of q bytes (q = 2, 4 or 8) at every step-th position of the text.
 * Each pattern of the group registers `step` consecutive windows of itself
 * (its rarest stretch), so whatever the alignment, an occurrence puts exactly
 * one of its registered windows on a sampled position. A sampled window is
 * hashed into a small, cache-resident filter (a blocked Bloom filter, two bits
 * in one 64-bit word); the rare hits look the window up in a bucket table of
 * (window, pattern, offset) entries and compare the whole pattern.
 */
#ifndef AVGATE_MATCHER_H
#define AVGATE_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AVG_MAX_GROUPS 8

/* One registered window: `key` holds the q window bytes (little endian),
 * found at byte `offset` of pattern `pattern`. `check` holds the pattern's
 * rarest 8 bytes, at `check_offset`: compared before the whole pattern, so a
 * key shared by many patterns costs one load per entry, not a memcmp.
 * (Patterns under 8 bytes have no check.) 32 bytes. */
typedef struct {
    uint64_t key;
    uint64_t check;
    uint32_t pattern;
    uint32_t offset;
    uint32_t check_offset;
    uint32_t length;
} avg_entry;

typedef struct {
    uint32_t q;            /* window width in bytes: 2, 4 or 8 */
    uint32_t step;         /* distance between sampled positions */
    uint32_t filter_bits;  /* log2 of the filter's size in bits (16 for q=2: exact) */
    uint32_t bucket_bits;  /* log2 of the number of buckets (16 for q=2: exact) */
    uint32_t n_entries;
    uint32_t _reserved;
    const uint32_t *filter;       /* 2^filter_bits / 32 words */
    const uint32_t *bucket_start; /* 2^bucket_bits + 1 */
    const avg_entry *entries;     /* n_entries, grouped by bucket */
} avg_group;

/* The compiled, immutable matcher. All arrays are borrowed: the owner
 * (Python: numpy arrays or a memory-mapped file) keeps them alive. */
typedef struct {
    uint32_t n_patterns;
    uint32_t max_len;
    uint32_t n_groups;
    uint32_t _reserved;
    const uint8_t *bytes;     /* all patterns, concatenated */
    const uint64_t *offsets;  /* n_patterns + 1 offsets into bytes */
    avg_group groups[AVG_MAX_GROUPS];
} avg_matcher;

/* ---- compiling ---------------------------------------------------------- */

typedef struct {
    uint32_t max_filter_bits;   /* cap on a group's filter size; 22 = 512 KiB */
    uint32_t bits_per_entry;    /* filter bits per registered window, before the cap */
    uint32_t max_step;          /* cap on the step of the 8-byte group */
} avg_compile_options;

void avg_default_options(avg_compile_options *opt);

/* A compiled matcher whose arrays are owned (malloc'ed) by this struct. */
typedef struct {
    avg_matcher m;
    uint32_t *filters[AVG_MAX_GROUPS];
    uint32_t *bucket_starts[AVG_MAX_GROUPS];
    avg_entry *entries[AVG_MAX_GROUPS];
} avg_compiled;

/* Compile n patterns given as concatenated bytes + n+1 offsets. Patterns
 * shorter than 2 bytes are rejected: returns -(index+1) of the first one.
 * Returns 0 on success, AVG_ENOMEM when out of memory. The compiled matcher
 * borrows `bytes` and `offsets`: keep them alive. */
#define AVG_ENOMEM (-0x7fffffff)
int avg_compile(const uint8_t *bytes, const uint64_t *offsets, uint32_t n,
                const avg_compile_options *opt, avg_compiled *out);
void avg_compiled_free(avg_compiled *c);

/* ---- matching ----------------------------------------------------------- */

/* An occurrence: pattern index, and end offset (one past its last byte) in
 * the stream's absolute coordinates. */
typedef struct {
    uint64_t end;
    uint32_t pattern;
    uint32_t _pad;
} avg_match;

typedef struct {
    avg_match *items;
    size_t len;
    size_t cap;
} avg_match_buf;

void avg_match_buf_free(avg_match_buf *b);

/* Scan one buffer. Appends every occurrence (or, with first_only, the first
 * occurrence of each pattern) to `out`, sorted by (end, pattern).
 * Returns 0, or AVG_ENOMEM. */
int avg_scan(const avg_matcher *m, const uint8_t *buf, size_t len, int first_only,
             avg_match_buf *out);

/* A stream: feed chunks; occurrences across chunk boundaries are found with
 * absolute offsets. One stream per thread; the matcher may be shared. */
typedef struct {
    const avg_matcher *m;
    uint64_t consumed;     /* absolute offset of the next byte */
    uint8_t *tail;         /* last min(consumed, max_len - 1) bytes */
    size_t tail_len;
    uint8_t *seam;         /* scratch: tail + head of the next chunk */
    uint64_t *found;       /* first_only: bitset of patterns already reported */
    avg_match_buf matches; /* all occurrences so far, sorted by (end, pattern) */
} avg_stream;

avg_stream *avg_stream_new(const avg_matcher *m, int first_only);
/* Returns 0, or AVG_ENOMEM (the stream is then unchanged). */
int avg_stream_feed(avg_stream *s, const uint8_t *chunk, size_t len);
void avg_stream_reset(avg_stream *s);
void avg_stream_free(avg_stream *s);

/* The probe kernel in use ("scalar", "avx512"): the best this CPU
 * runs, unless forced by avg_set_kernel (for tests and benchmarks; NULL or ""
 * restores the automatic choice). Returns -1 if this CPU cannot run it. */
const char *avg_kernel_name(void);
int avg_set_kernel(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* AVGATE_MATCHER_H */
