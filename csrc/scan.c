/* Scanning: blocks, streams, and the verification of probe hits. */
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"
#include "tail.h"

/* ---- match buffers ------------------------------------------------------ */

void avg_match_buf_free(avg_match_buf *b) {
    free(b->items);
    b->items = NULL;
    b->len = b->cap = 0;
}

static int match_buf_push(avg_match_buf *b, uint32_t pattern, uint64_t end) {
    if (unlikely(b->len == b->cap)) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        avg_match *items = realloc(b->items, cap * sizeof *items);
        if (!items) return AVG_ENOMEM;
        b->items = items;
        b->cap = cap;
    }
    avg_match *mt = &b->items[b->len++];
    mt->end = end;
    mt->pattern = pattern;
    mt->_pad = 0;
    return 0;
}

static int match_cmp(const void *a, const void *b) {
    const avg_match *x = a, *y = b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->pattern > y->pattern) - (x->pattern < y->pattern);
}

/* Occurrences come out of the groups in sampled-position order; put the
 * ones appended since `from` in (end, pattern) order. Usually already are. */
static void sort_matches(avg_match_buf *b, size_t from) {
    size_t n = b->len - from;
    avg_match *it = b->items + from;
    for (size_t i = 1; i < n; i++) {
        if (match_cmp(&it[i - 1], &it[i]) > 0) {
            qsort(it, n, sizeof *it, match_cmp);
            return;
        }
    }
}

/* ---- scanning one block ------------------------------------------------- */

/* What a block scan reports: occurrences lying wholly inside the block whose
 * end is > min_end and whose start is < max_start (block coordinates); the
 * seam between two chunks uses both to avoid reporting anything twice. */
typedef struct {
    const avg_matcher *m;
    const uint8_t *buf;
    size_t len;
    size_t min_end;
    size_t max_start;
    uint64_t base;   /* absolute offset of buf[0] */
    uint64_t *found; /* first_only bitset, or NULL */
    avg_match_buf *out;
    int status;
} avg_block;

static void verify_bucket(avg_block *blk, const avg_group *g, uint64_t key, size_t pos) {
    const avg_matcher *m = blk->m;
    uint64_t bucket = bucket_of(g, key);
    const avg_entry *e = g->entries + g->bucket_start[bucket];
    const avg_entry *stop = g->entries + g->bucket_start[bucket + 1];
    for (; e < stop; e++) {
        if (e->key != key || pos < e->offset) continue;
        size_t start = pos - e->offset;
        size_t end = start + e->length;
        if (end > blk->len || end <= blk->min_end || start >= blk->max_start) continue;
        if (e->length >= 8 && load_window(blk->buf + start + e->check_offset, 8) != e->check) continue;
        uint32_t p = e->pattern;
        if (blk->found && (blk->found[p >> 6] >> (p & 63) & 1)) continue;
        if (memcmp(blk->buf + start, m->bytes + m->offsets[p], e->length) != 0) continue;
        if (blk->found) blk->found[p >> 6] |= 1ull << (p & 63);
        if (match_buf_push(blk->out, p, blk->base + end) != 0) blk->status = AVG_ENOMEM;
    }
}

/* One group over one block: the probe kernel nominates sampled positions,
 * each nominee is verified against its bucket, in position order (the
 * first_only bitset relies on it). */
#define HITS_PER_ROUND 256

static void scan_group(avg_block *blk, const avg_group *g, avg_probe_fn probe) {
    if (g->n_entries == 0 || blk->len < g->q) return;
    size_t hits[HITS_PER_ROUND], pos = 0;
    const size_t last = blk->len - g->q;
    while (pos <= last) {
        size_t n = probe(g, blk->buf, blk->len, &pos, hits, HITS_PER_ROUND);
        for (size_t k = 0; k < n; k++)
            verify_bucket(blk, g, load_window(blk->buf + hits[k], g->q), hits[k]);
    }
}

static int scan_block(avg_block *blk) {
    avg_probe_fn probe = avg_probe_kernel();
    for (uint32_t gi = 0; gi < blk->m->n_groups; gi++) scan_group(blk, &blk->m->groups[gi], probe);
    return blk->status;
}

static uint64_t *found_bitset_new(const avg_matcher *m) {
    return calloc((m->n_patterns + 63) / 64 + 1, sizeof(uint64_t));
}

int avg_scan(const avg_matcher *m, const uint8_t *buf, size_t len, int first_only,
             avg_match_buf *out) {
    avg_block blk = {m, buf, len, 0, len, 0, NULL, out, 0};
    if (first_only && !(blk.found = found_bitset_new(m))) return AVG_ENOMEM;
    size_t from = out->len;
    int rc = scan_block(&blk);
    free(blk.found);
    sort_matches(out, from);
    return rc;
}

/* ---- streams ------------------------------------------------------------ */

avg_stream *avg_stream_new(const avg_matcher *m, int first_only) {
    avg_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->m = m;
    size_t keep = m->max_len ? m->max_len - 1 : 0;
    s->tail = malloc(keep + 1);
    s->seam = malloc(2 * keep + 1);
    if (first_only) s->found = found_bitset_new(m);
    if (!s->tail || !s->seam || (first_only && !s->found)) {
        avg_stream_free(s);
        return NULL;
    }
    return s;
}

void avg_stream_reset(avg_stream *s) {
    s->consumed = 0;
    s->tail_len = 0;
    s->matches.len = 0;
    if (s->found) memset(s->found, 0, ((s->m->n_patterns + 63) / 64 + 1) * sizeof(uint64_t));
}

void avg_stream_free(avg_stream *s) {
    if (!s) return;
    free(s->tail);
    free(s->seam);
    free(s->found);
    avg_match_buf_free(&s->matches);
    free(s);
}

int avg_stream_feed(avg_stream *s, const uint8_t *chunk, size_t len) {
    const avg_matcher *m = s->m;
    const size_t keep = m->max_len ? m->max_len - 1 : 0;
    const size_t from = s->matches.len;
    int rc = 0;

    /* Occurrences that start in the kept tail and end in this chunk: scan
     * tail + the chunk's first `keep` bytes. They end before any occurrence
     * of the same pattern lying wholly in the chunk, so the first_only
     * bitset stays correct when the seam goes first. */
    if (s->tail_len && len) {
        size_t head = len < keep ? len : keep;
        memcpy(s->seam, s->tail, s->tail_len);
        memcpy(s->seam + s->tail_len, chunk, head);
        avg_block seam = {m, s->seam, s->tail_len + head, s->tail_len, s->tail_len,
                          s->consumed - s->tail_len, s->found, &s->matches, 0};
        rc = scan_block(&seam);
    }
    if (rc == 0) {
        avg_block body = {m, chunk, len, 0, len, s->consumed, s->found, &s->matches, 0};
        rc = scan_block(&body);
    }

    avg_keep_tail(s->tail, &s->tail_len, keep, chunk, len);
    s->consumed += len;
    sort_matches(&s->matches, from);
    return rc;
}

