/* Body-signature verification over anchor hits (see sigverify.h). */
#include "sigverify.h"
#include "tail.h"

#include <stdlib.h>
#include <string.h>

/* ---- small containers --------------------------------------------------- */

/* A growable list of positions. */
typedef struct {
    int64_t *v;
    size_t len, cap;
} pbuf;

static int pbuf_push(pbuf *b, int64_t x) {
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        int64_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) return AVG_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->len++] = x;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void pbuf_sort_unique(pbuf *b) {
    if (b->len < 2) return;
    qsort(b->v, b->len, sizeof *b->v, cmp_i64);
    size_t k = 1;
    for (size_t i = 1; i < b->len; i++)
        if (b->v[i] != b->v[k - 1]) b->v[k++] = b->v[i];
    b->len = k;
}

/* uint32 key -> int64 value, open addressing; key + 1 stored (0 = empty). */
typedef struct {
    uint32_t *keys;
    int64_t *vals;
    size_t cap, len;
} smap;

static size_t smap_slot(const smap *m, uint32_t key) {
    return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 32) & (m->cap - 1);
}

static int64_t *smap_find(const smap *m, uint32_t key) {
    if (!m->len) return NULL;
    for (size_t i = smap_slot(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key + 1) return &m->vals[i];
        if (m->keys[i] == 0) return NULL;
    }
}

static int smap_grow(smap *m) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    uint32_t *keys = calloc(cap, sizeof *keys);
    int64_t *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return AVG_ENOMEM;
    }
    smap old = *m;
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i]) continue;
        size_t j = smap_slot(m, old.keys[i] - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = old.keys[i];
        vals[j] = old.vals[i];
    }
    free(old.keys);
    free(old.vals);
    return 0;
}

/* The value slot for `key`, inserted with `init` when absent; NULL when out of memory. */
static int64_t *smap_get(smap *m, uint32_t key, int64_t init, int *created) {
    int64_t *found = smap_find(m, key);
    *created = 0;
    if (found) return found;
    if ((m->len + 1) * 2 > m->cap && smap_grow(m) != 0) return NULL;
    size_t i = smap_slot(m, key);
    while (m->keys[i]) i = (i + 1) & (m->cap - 1);
    m->keys[i] = key + 1;
    m->vals[i] = init;
    m->len++;
    *created = 1;
    return &m->vals[i];
}

static void smap_clear(smap *m) {
    if (m->len) memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->len = 0;
}

static void smap_free(smap *m) {
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = 0;
}

/* ---- the node ----------------------------------------------------------- */

/* A segment occurrence waiting for bytes: items from `item` on, starting at `pos`. */
typedef struct {
    uint32_t seg;
    uint32_t item;
    int64_t pos;
    int64_t last; /* largest completion already recorded */
} sv_thread;

struct sv_node {
    const sv_tables *t;
    const sv_engine *e;
    int mode;
    avg_stream *ms;    /* STREAM: the anchor matcher's stream */
    int64_t consumed;
    uint8_t *hist;     /* the last hist_len (<= hist_cap) bytes before `consumed` */
    size_t hist_len, hist_cap;
    sv_thread *threads;
    size_t n_threads, cap_threads;
    smap chains;       /* segment -> earliest end before it (unbounded gap) or vecs index */
    pbuf *vecs;        /* bounded gaps: recent ends of the segment before */
    size_t n_vecs, cap_vecs;
    smap reported;     /* sig -> generation << 32 | index in hits */
    int64_t generation;
    sv_hit *hits;
    size_t n_hits, cap_hits;
    pbuf sa, sb;       /* position sets, scratch */
    int status;
};

/* Where the bytes are: hist covers [hist_start, chunk_base), chunk covers
 * [chunk_base, end). `size` is the node's size once known, else -1. */
typedef struct {
    const uint8_t *hist;
    int64_t hist_start;
    const uint8_t *chunk;
    int64_t chunk_base;
    int64_t end;
    int64_t size;
} sv_view;

static inline uint8_t view_byte(const sv_view *v, int64_t pos) {
    return pos >= v->chunk_base ? v->chunk[pos - v->chunk_base] : v->hist[pos - v->hist_start];
}

/* Does run r match at pos? The caller checked hist_start <= pos and pos + len <= end. */
static int run_at(const sv_tables *t, const sv_view *v, const sv_run *r, int64_t pos) {
    const uint8_t *vals = t->vals + r->off, *masks = t->masks + r->off;
    if (pos >= v->chunk_base) {
        const uint8_t *p = v->chunk + (pos - v->chunk_base);
        for (uint32_t i = 0; i < r->len; i++)
            if ((p[i] & masks[i]) != vals[i]) return 0;
    } else {
        for (uint32_t i = 0; i < r->len; i++)
            if ((view_byte(v, pos + i) & masks[i]) != vals[i]) return 0;
    }
    for (uint32_t k = r->cls_start; k < r->cls_end; k++) {
        const sv_cell_class *cc = &t->cell_classes[k];
        uint8_t b = view_byte(v, pos + cc->pos);
        if (!(t->classes[(size_t)cc->cls * 4 + (b >> 6)] >> (b & 63) & 1)) return 0;
    }
    return 1;
}

static int alt_any_at(const sv_tables *t, const sv_view *v, const sv_item *it, int64_t pos) {
    for (uint32_t k = 0; k < it->b; k++)
        if (run_at(t, v, &t->runs[it->a + k], pos)) return 1;
    return 0;
}

/* Push the positions of the union of [lo_i, hi_i] for sorted p_i + [lo, hi]. */
static int push_intervals(pbuf *out, const pbuf *in, int64_t lo_add, int64_t hi_add, int64_t floor) {
    int64_t cur_lo = 0, cur_hi = -1;
    int open = 0;
    for (size_t i = 0; i <= in->len; i++) {
        int64_t lo = 0, hi = -1;
        if (i < in->len) {
            lo = in->v[i] + lo_add;
            hi = in->v[i] + hi_add;
            if (lo < floor) lo = floor;
            if (hi < lo) continue;
            if (open && lo <= cur_hi + 1) {
                if (hi > cur_hi) cur_hi = hi;
                continue;
            }
        }
        if (open)
            for (int64_t p = cur_lo; p <= cur_hi; p++)
                if (pbuf_push(out, p) != 0) return AVG_ENOMEM;
        cur_lo = lo;
        cur_hi = hi;
        open = i < in->len;
    }
    return 0;
}

/* Positions after item `it`, from positions before it (sorted). A position
 * whose bytes are not all there yet sets *blocked. */
static int step_right(const sv_tables *t, const sv_view *v, const sv_item *it, const pbuf *in, pbuf *out,
                      int *blocked) {
    out->len = 0;
    switch (it->kind) {
    case SV_RUN: {
        const sv_run *r = &t->runs[it->a];
        for (size_t i = 0; i < in->len; i++) {
            int64_t p = in->v[i];
            if (p + r->len > v->end) {
                *blocked = 1;
                break; /* sorted: the rest are past the end too */
            }
            if (run_at(t, v, r, p) && pbuf_push(out, p + r->len) != 0) return AVG_ENOMEM;
        }
        return 0;
    }
    case SV_GAP:
        return push_intervals(out, in, it->a, it->b, 0);
    case SV_ALT:
        for (size_t i = 0; i < in->len; i++) {
            for (uint32_t k = 0; k < it->b; k++) {
                const sv_run *r = &t->runs[it->a + k];
                int64_t p = in->v[i];
                if (p + r->len > v->end) {
                    *blocked = 1;
                    continue;
                }
                if (run_at(t, v, r, p) && pbuf_push(out, p + r->len) != 0) return AVG_ENOMEM;
            }
        }
        pbuf_sort_unique(out);
        return 0;
    case SV_NALT:
        for (size_t i = 0; i < in->len; i++) {
            int64_t p = in->v[i];
            if (p + it->c > v->end) {
                *blocked = 1;
                break;
            }
            if (!alt_any_at(t, v, it, p) && pbuf_push(out, p + it->c) != 0) return AVG_ENOMEM;
        }
        return 0;
    }
    return 0;
}

/* Positions before item `it`, from positions after it (sorted). Every byte
 * before the anchor is in the view (the history is long enough), except
 * before the node's start. */
static int step_left(const sv_tables *t, const sv_view *v, const sv_item *it, const pbuf *in, pbuf *out) {
    out->len = 0;
    switch (it->kind) {
    case SV_RUN: {
        const sv_run *r = &t->runs[it->a];
        for (size_t i = 0; i < in->len; i++) {
            int64_t s = in->v[i] - r->len;
            if (s >= v->hist_start && run_at(t, v, r, s) && pbuf_push(out, s) != 0) return AVG_ENOMEM;
        }
        return 0;
    }
    case SV_GAP:
        return push_intervals(out, in, -(int64_t)it->b, -(int64_t)it->a, v->hist_start);
    case SV_ALT:
        for (size_t i = 0; i < in->len; i++) {
            for (uint32_t k = 0; k < it->b; k++) {
                const sv_run *r = &t->runs[it->a + k];
                int64_t s = in->v[i] - r->len;
                if (s >= v->hist_start && run_at(t, v, r, s) && pbuf_push(out, s) != 0) return AVG_ENOMEM;
            }
        }
        pbuf_sort_unique(out);
        return 0;
    case SV_NALT:
        for (size_t i = 0; i < in->len; i++) {
            int64_t s = in->v[i] - it->c;
            if (s >= v->hist_start && !alt_any_at(t, v, it, s) && pbuf_push(out, s) != 0) return AVG_ENOMEM;
        }
        return 0;
    }
    return 0;
}

/* ---- reporting and chaining --------------------------------------------- */

static int reported_before(const sv_node *n, uint32_t sig) {
    const int64_t *val = smap_find(&n->reported, sig);
    return val && (*val >> 32) != n->generation;
}

/* The signature completed at `end`: keep the smallest end of this feed. */
static int report(sv_node *n, uint32_t sig, int64_t end) {
    int created;
    int64_t *val = smap_get(&n->reported, sig, (n->generation << 32) | (int64_t)n->n_hits, &created);
    if (!val) return AVG_ENOMEM;
    if (!created) {
        if ((*val >> 32) != n->generation) return 0;
        sv_hit *h = &n->hits[*val & 0xffffffff];
        if ((uint64_t)end < h->end) h->end = (uint64_t)end;
        return 0;
    }
    if (n->n_hits == n->cap_hits) {
        size_t cap = n->cap_hits ? n->cap_hits * 2 : 8;
        sv_hit *hits = realloc(n->hits, cap * sizeof *hits);
        if (!hits) return AVG_ENOMEM;
        n->hits = hits;
        n->cap_hits = cap;
    }
    sv_hit *h = &n->hits[n->n_hits++];
    h->end = (uint64_t)end;
    h->sig = sig;
    h->_pad = 0;
    return 0;
}

/* Segment `next` may start after `end` (plus its gap). */
static int record_chain(sv_node *n, const sv_view *v, uint32_t next, int64_t end) {
    const sv_segment *s = &n->t->segs[next];
    int created;
    if (s->gap_max == SV_UNBOUNDED) {
        int64_t *val = smap_get(&n->chains, next, end, &created);
        if (!val) return AVG_ENOMEM;
        if (end < *val) *val = end;
        return 0;
    }
    int64_t *val = smap_get(&n->chains, next, (int64_t)n->n_vecs, &created);
    if (!val) return AVG_ENOMEM;
    if (created) {
        if (n->n_vecs == n->cap_vecs) {
            size_t cap = n->cap_vecs ? n->cap_vecs * 2 : 4;
            pbuf *vecs = realloc(n->vecs, cap * sizeof *vecs);
            if (!vecs) return AVG_ENOMEM;
            memset(vecs + n->cap_vecs, 0, (cap - n->cap_vecs) * sizeof *vecs);
            n->vecs = vecs;
            n->cap_vecs = cap;
        }
        n->vecs[n->n_vecs++].len = 0;
    }
    pbuf *ends = &n->vecs[*val];
    if (ends->len >= 32) {
        /* Ends too old for any segment that can still start: every later
         * anchor ends in this chunk or after, so its segment starts at or
         * after chunk_base - history. */
        int64_t bound = v->chunk_base - (int64_t)n->e->history;
        size_t k = 0;
        for (size_t i = 0; i < ends->len; i++)
            if (ends->v[i] + (int64_t)s->gap_max >= bound) ends->v[k++] = ends->v[i];
        ends->len = k;
    }
    return pbuf_push(ends, end);
}

/* May segment `u` start at one of `starts` (sorted), given what came before? */
static int chain_allows(const sv_node *n, uint32_t u, const pbuf *starts) {
    const sv_segment *s = &n->t->segs[u];
    const int64_t *val = smap_find(&n->chains, u);
    if (!val || !starts->len) return 0;
    if (s->gap_max == SV_UNBOUNDED) return starts->v[starts->len - 1] >= *val + (int64_t)s->gap_min;
    const pbuf *ends = &n->vecs[*val];
    for (size_t i = 0; i < ends->len; i++) {
        int64_t lo = ends->v[i] + (int64_t)s->gap_min, hi = ends->v[i] + (int64_t)s->gap_max;
        size_t a = 0, b = starts->len; /* first start >= lo */
        while (a < b) {
            size_t mid = (a + b) / 2;
            if (starts->v[mid] < lo) a = mid + 1;
            else b = mid;
        }
        if (a < starts->len && starts->v[a] <= hi) return 1;
    }
    return 0;
}

/* May the signature start at one of `starts` (sorted)? */
static int offset_allows(const sv_sig *sig, const sv_view *v, const pbuf *starts) {
    int64_t lo, hi;
    switch (sig->off_kind) {
    case SV_OFF_ABS:
        lo = (int64_t)sig->off_a;
        hi = lo + (int64_t)sig->off_b;
        break;
    case SV_OFF_EOF:
        if (v->size < 0 || (uint64_t)v->size < sig->off_a) return 0;
        lo = v->size - (int64_t)sig->off_a;
        hi = lo + (int64_t)sig->off_b;
        break;
    default:
        return starts->len > 0;
    }
    for (size_t i = 0; i < starts->len; i++)
        if (starts->v[i] >= lo && starts->v[i] <= hi) return 1;
    return 0;
}

/* Carry a thread through the bytes in view; record what completes. *done
 * when nothing more can come of it. */
static int advance(sv_node *n, const sv_view *v, sv_thread *th, int *done) {
    const sv_tables *t = n->t;
    const sv_segment *s = &t->segs[th->seg];
    pbuf *cur = &n->sa, *nxt = &n->sb, *tmp;
    int blocked = 0, rc, found = 0;
    cur->len = 0;
    if ((rc = pbuf_push(cur, th->pos)) != 0) return rc;
    for (uint32_t i = th->item; i < s->item_end && cur->len; i++) {
        if ((rc = step_right(t, v, &t->items[i], cur, nxt, &blocked)) != 0) return rc;
        tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    const int last = (s->flags & SV_LAST) != 0;
    const int min_is_enough = last || t->segs[th->seg + 1].gap_max == SV_UNBOUNDED;
    for (size_t i = 0; i < cur->len; i++) {
        int64_t e = cur->v[i];
        if (e > v->end) { /* a trailing gap whose bytes have not come yet */
            blocked = 1;
            break;
        }
        if (e <= th->last) continue;
        found = 1;
        th->last = e;
        rc = last ? report(n, s->sig, e) : record_chain(n, v, th->seg + 1, e);
        if (rc != 0) return rc;
        if (min_is_enough) break;
    }
    *done = !blocked || (found && min_is_enough);
    return 0;
}

static int push_thread(sv_node *n, const sv_thread *th) {
    if (n->n_threads == n->cap_threads) {
        size_t cap = n->cap_threads ? n->cap_threads * 2 : 8;
        sv_thread *threads = realloc(n->threads, cap * sizeof *threads);
        if (!threads) return AVG_ENOMEM;
        n->threads = threads;
        n->cap_threads = cap;
    }
    n->threads[n->n_threads++] = *th;
    return 0;
}

/* Pending threads first: they complete before anything anchored later can
 * need their ends (see sigverify.h). */
static int run_threads(sv_node *n, const sv_view *v) {
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n->n_threads; i++) {
        sv_thread th = n->threads[i];
        int done = 1;
        if (rc == 0 && !reported_before(n, n->t->segs[th.seg].sig)) rc = advance(n, v, &th, &done);
        if (!done) n->threads[k++] = th;
    }
    n->n_threads = k;
    return rc;
}

/* An anchor ended at `aend`: check every segment that uses it. */
static int on_anchor(sv_node *n, const sv_view *v, uint32_t pattern, int64_t aend) {
    const sv_tables *t = n->t;
    for (uint32_t k = n->e->user_start[pattern]; k < n->e->user_start[pattern + 1]; k++) {
        uint32_t u = n->e->users[k];
        const sv_segment *s = &t->segs[u];
        if (reported_before(n, s->sig)) continue;
        const sv_run *r = &t->runs[t->items[s->anchor_item].a];
        int64_t t0 = aend - (int64_t)s->anchor_len - (int64_t)s->anchor_off;
        if (t0 < v->hist_start) continue;
        sv_thread th = {u, s->anchor_item, t0, -1};
        if (t0 + r->len <= v->end) { /* check the anchor's run first: the cheapest reject */
            if (!run_at(t, v, r, t0)) continue;
            th.item = s->anchor_item + 1;
            th.pos = t0 + r->len;
        }
        /* leftwards: the segment's possible starts */
        pbuf *cur = &n->sa, *nxt = &n->sb, *tmp;
        int rc;
        cur->len = 0;
        if ((rc = pbuf_push(cur, t0)) != 0) return rc;
        for (uint32_t i = s->anchor_item; i-- > s->item_start && cur->len;) {
            if ((rc = step_left(t, v, &t->items[i], cur, nxt)) != 0) return rc;
            tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
        if (s->flags & SV_FIRST) {
            if (!offset_allows(&t->sigs[s->sig], v, cur)) continue;
        } else if (!chain_allows(n, u, cur)) {
            continue;
        }
        int done;
        if ((rc = advance(n, v, &th, &done)) != 0) return rc;
        if (!done && (rc = push_thread(n, &th)) != 0) return rc;
    }
    return 0;
}

static int cmp_hit(const void *a, const void *b) {
    const sv_hit *x = a, *y = b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->sig > y->sig) - (x->sig < y->sig);
}

static void keep_history(sv_node *n, const uint8_t *chunk, size_t len) {
    if (n->hist_cap) avg_keep_tail(n->hist, &n->hist_len, n->hist_cap, chunk, len);
}

/* ---- the public face ---------------------------------------------------- */

sv_node *sv_node_new(const sv_tables *t, const sv_engine *e, int mode) {
    sv_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->t = t;
    n->e = e;
    n->mode = mode;
    n->hist_cap = (size_t)e->history;
    n->hist = malloc(n->hist_cap + 1);
    if (mode == SV_STREAM) n->ms = avg_stream_new(e->m, 0);
    if (!n->hist || (mode == SV_STREAM && !n->ms)) {
        sv_node_free(n);
        return NULL;
    }
    return n;
}

void sv_node_free(sv_node *n) {
    if (!n) return;
    if (n->ms) avg_stream_free(n->ms);
    free(n->hist);
    free(n->threads);
    smap_free(&n->chains);
    smap_free(&n->reported);
    for (size_t i = 0; i < n->cap_vecs; i++) free(n->vecs[i].v);
    free(n->vecs);
    free(n->hits);
    free(n->sa.v);
    free(n->sb.v);
    free(n);
}

void sv_node_reset(sv_node *n) {
    if (n->ms) avg_stream_reset(n->ms);
    n->consumed = 0;
    n->hist_len = 0;
    n->n_threads = 0;
    smap_clear(&n->chains);
    smap_clear(&n->reported);
    n->n_vecs = 0;
    n->n_hits = 0;
    n->generation = 0;
    n->status = 0;
}

int sv_node_feed(sv_node *n, const uint8_t *chunk, size_t len) {
    n->generation++;
    n->n_hits = 0;
    if (n->status) return n->status;
    if (n->mode == SV_STREAM) {
        sv_view v = {n->hist, n->consumed - (int64_t)n->hist_len, chunk, n->consumed,
                     n->consumed + (int64_t)len, -1};
        int rc = avg_stream_feed(n->ms, chunk, len);
        if (rc == 0) rc = run_threads(n, &v);
        for (size_t i = 0; rc == 0 && i < n->ms->matches.len; i++) {
            const avg_match *m = &n->ms->matches.items[i];
            rc = on_anchor(n, &v, m->pattern, (int64_t)m->end);
        }
        /* The stream keeps every match it reports; these are used up. */
        n->ms->matches.len = 0;
        if (rc != 0) return n->status = rc;
        qsort(n->hits, n->n_hits, sizeof *n->hits, cmp_hit);
    }
    keep_history(n, chunk, len);
    n->consumed += (int64_t)len;
    return 0;
}

int sv_node_finish(sv_node *n) {
    n->generation++;
    n->n_hits = 0;
    if (n->status) return n->status;
    int rc = 0;
    if (n->mode == SV_TAIL) {
        int64_t base = n->consumed - (int64_t)n->hist_len;
        sv_view v = {n->hist, base, n->hist, base, n->consumed, n->consumed};
        avg_match_buf found = {NULL, 0, 0};
        rc = avg_scan(n->e->m, n->hist, n->hist_len, 0, &found);
        for (size_t i = 0; rc == 0 && i < found.len; i++)
            rc = on_anchor(n, &v, found.items[i].pattern, base + (int64_t)found.items[i].end);
        avg_match_buf_free(&found);
        if (rc == 0) qsort(n->hits, n->n_hits, sizeof *n->hits, cmp_hit);
    }
    n->n_threads = 0; /* no more bytes: what waits for them cannot complete */
    if (rc != 0) n->status = rc;
    return rc;
}

const sv_hit *sv_node_hits(const sv_node *n, size_t *count) {
    *count = n->n_hits;
    return n->hits;
}

uint64_t sv_node_consumed(const sv_node *n) { return (uint64_t)n->consumed; }
