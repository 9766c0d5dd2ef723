/* Compiling patterns into groups, filters and buckets (see matcher.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"

/* ---- compiling ---------------------------------------------------------- */

void avg_default_options(avg_compile_options *opt) {
    opt->max_filter_bits = 22;
    opt->bits_per_entry = 24;
    opt->max_step = 8;
}

#include "byte_model.h"

/* How often a window occurs in ordinary files, relative (2^-bits), by the
 * byte model: P(first byte) * P(each byte | the one before). */
static double window_weight(const uint8_t *w, uint32_t q) {
    unsigned cost = byte_cost[w[0]];
    for (uint32_t i = 1; i < q; i++) cost += pair_cost[w[i - 1] * 256u + w[i]];
    return ldexp(1.0, -(int)(cost / 4));
}

/* The offset of a pattern's 8-byte window least likely in ordinary data. */
static uint32_t rarest_window(const uint8_t *p, size_t plen) {
    uint32_t best_at = 0;
    double best = 2.0;
    for (size_t j = 0; j + 8 <= plen; j++) {
        double w = window_weight(p + j, 8);
        if (w < best) {
            best = w;
            best_at = (uint32_t)j;
        }
    }
    return best_at;
}

/* A key tagged with its width, for counting keys of all groups in one table. */
static uint64_t tagged_key(const uint8_t *p, uint32_t q) {
    uint64_t key = load_window(p, q);
    return q == 8 ? key : key | (uint64_t)q << 56;
}

/* Registered keys and how many registered windows share each: an open
 * addressing table, used while compiling only. */
typedef struct {
    uint64_t *keys;
    uint32_t *counts;
    size_t mask;
} key_counts;

static int key_counts_init(key_counts *kc, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    kc->keys = malloc(cap * sizeof *kc->keys);
    kc->counts = calloc(cap, sizeof *kc->counts);
    kc->mask = cap - 1;
    return kc->keys && kc->counts ? 0 : AVG_ENOMEM;
}

static void key_counts_free(key_counts *kc) {
    free(kc->keys);
    free(kc->counts);
}

static uint32_t *key_counts_slot(key_counts *kc, uint64_t key) {
    size_t i = (size_t)((key * AVG_K64) >> 17) & kc->mask;
    while (kc->counts[i] && kc->keys[i] != key) i = (i + 1) & kc->mask;
    kc->keys[i] = key;
    return &kc->counts[i];
}

/* The start of the stretch of `step` consecutive windows that costs least
 * to watch for: each window's expected hits in ordinary data times the
 * entries a hit must check (1 + other patterns registering the same key). */
static uint32_t cheapest_stretch(const uint8_t *p, size_t plen, uint32_t q, uint32_t step,
                                 key_counts *shared, double *checks) {
    size_t n_windows = plen - q + 1;
    double best = 0, sum = 0;
    uint32_t best_start = 0;
    double ring[64]; /* costs of the last `step` windows (step <= 64) */
    for (size_t j = 0; j < n_windows; j++) {
        double c = window_weight(p + j, q);
        if (shared) c *= 1.0 + *key_counts_slot(shared, tagged_key(p + j, q));
        sum += c;
        if (j >= step) sum -= ring[j % step];
        ring[j % step] = c;
        if (j + 1 >= step && (j + 1 == step || sum < best * (1 - 1e-9))) {
            best = sum;
            best_start = (uint32_t)(j + 1 - step);
        }
    }
    /* What watching the chosen stretch costs by itself: expected checks per
     * byte (each sampled position, one in `step`, meets one of its windows). */
    double own = 0;
    for (uint32_t j = 0; j < step; j++) own += window_weight(p + best_start + j, q);
    *checks = own / step;
    return best_start;
}

static uint32_t ceil_log2(uint64_t x) {
    uint32_t b = 0;
    while ((1ull << b) < x) b++;
    return b;
}

/* Patterns fall into classes by length: windows of 2 bytes below 4 bytes,
 * of 4 below 11, of 8 from 11. A class samples at its main step (as large as
 * its shortest pattern allows), but a pattern whose every stretch holds a
 * common window (mostly zeros, say) would be checked at a large share of
 * positions: it moves down a ladder of smaller steps, where it registers
 * fewer, rarer windows. Each (class, step) is one group: one pass. */
#define N_CLASSES 3
static const uint32_t class_q[N_CLASSES] = {2, 4, 8};

static int class_of_len(size_t plen) {
    if (plen < 4) return 0;
    if (plen < 11) return 1;
    return 2;
}

/* A pattern is demoted to the exact 2-byte group when watching it at its
 * class's step costs more than DEMOTE_ABOVE expected checks per byte of
 * ordinary data and its rarest 2 bytes cost DEMOTE_GAIN times less; the
 * demotions must together save PASS_COST checks per byte, about what a pass
 * over every byte costs, when that group needs a pass of its own. */
#define DEMOTE_ABOVE 6e-8
#define DEMOTE_GAIN 4.0
#define PASS_COST 0.25


void avg_compiled_free(avg_compiled *c) {
    for (int g = 0; g < AVG_MAX_GROUPS; g++) {
        free(c->filters[g]);
        free(c->bucket_starts[g]);
        free(c->entries[g]);
        c->filters[g] = NULL;
        c->bucket_starts[g] = NULL;
        c->entries[g] = NULL;
    }
}

/* Lay out one group's filter, buckets and entries. */
static int build_group(avg_compiled *out, int gi, const uint8_t *bytes, const uint64_t *offsets,
                       uint32_t n, const uint8_t *group_of, const uint32_t *stretch,
                       const avg_compile_options *opt) {
    avg_group *g = &out->m.groups[gi];
    const uint32_t q = g->q, step = g->step;
    size_t n_patterns = 0;
    for (uint32_t p = 0; p < n; p++) n_patterns += group_of[p] == gi;
    size_t n_entries = n_patterns * step;
    if (n_entries > UINT32_MAX) return AVG_ENOMEM;
    g->n_entries = (uint32_t)n_entries;
    uint32_t bb = ceil_log2(n_entries);
    g->bucket_bits = bb < 4 ? 4 : bb;
    if (q == 2) {
        g->filter_bits = 16; /* exact: one bit per 2-byte window */
    } else {
        uint32_t fb = ceil_log2(n_entries * (uint64_t)opt->bits_per_entry);
        g->filter_bits = fb > opt->max_filter_bits ? opt->max_filter_bits : fb < 12 ? 12 : fb;
    }
    size_t n_words = ((size_t)1 << g->filter_bits) / 32;
    size_t n_buckets = (size_t)1 << g->bucket_bits;
    uint32_t *filter = out->filters[gi] = calloc(n_words, sizeof *filter);
    uint32_t *bstart = out->bucket_starts[gi] = calloc(n_buckets + 1, sizeof *bstart);
    avg_entry *entries = out->entries[gi] = malloc((n_entries ? n_entries : 1) * sizeof *entries);
    uint64_t *slot_bucket = malloc((n_entries ? n_entries : 1) * sizeof *slot_bucket);
    uint32_t *fill = malloc(n_buckets * sizeof *fill);
    if (!filter || !bstart || !entries || !slot_bucket || !fill) {
        free(slot_bucket);
        free(fill);
        return AVG_ENOMEM;
    }
    g->filter = filter;
    g->bucket_start = bstart;
    g->entries = entries;

    /* Windows go in by descending offset so that, at one position, the
     * earlier-starting occurrence of a pattern is verified first. */
    size_t k = 0;
    for (uint32_t p = 0; p < n; p++) {
        if (group_of[p] != gi) continue;
        const uint8_t *pat = bytes + offsets[p];
        for (uint32_t j = step; j-- > 0;) {
            uint64_t key = load_window(pat + stretch[p] + j, q);
            avg_slot sl = slot_of(q, word_shift_of(g), key);
            filter[sl.word] |= sl.mask;
            slot_bucket[k] = bucket_of(g, key);
            bstart[slot_bucket[k++] + 1]++;
        }
    }
    for (size_t b = 0; b < n_buckets; b++) bstart[b + 1] += bstart[b];
    memcpy(fill, bstart, n_buckets * sizeof *fill);
    k = 0;
    for (uint32_t p = 0; p < n; p++) {
        if (group_of[p] != gi) continue;
        const uint8_t *pat = bytes + offsets[p];
        size_t plen = (size_t)(offsets[p + 1] - offsets[p]);
        uint32_t check_offset = plen >= 8 ? rarest_window(pat, plen) : 0;
        for (uint32_t j = step; j-- > 0;) {
            uint32_t off = stretch[p] + j;
            avg_entry *e = &entries[fill[slot_bucket[k++]]++];
            e->key = load_window(pat + off, q);
            e->check = plen >= 8 ? load_window(pat + check_offset, 8) : 0;
            e->pattern = p;
            e->offset = off;
            e->check_offset = check_offset;
            e->length = (uint32_t)plen;
        }
    }
    free(fill);
    free(slot_bucket);
    return 0;
}

int avg_compile(const uint8_t *bytes, const uint64_t *offsets, uint32_t n,
                const avg_compile_options *opt, avg_compiled *out) {
    avg_compile_options defaults;
    if (!opt) {
        avg_default_options(&defaults);
        opt = &defaults;
    }
    memset(out, 0, sizeof *out);
    avg_matcher *m = &out->m;
    m->n_patterns = n;
    m->bytes = bytes;
    m->offsets = offsets;

    size_t min_len[N_CLASSES] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (uint32_t p = 0; p < n; p++) {
        size_t plen = (size_t)(offsets[p + 1] - offsets[p]);
        if (plen < 2) return -(int)p - 1;
        if (plen > m->max_len) m->max_len = (uint32_t)plen;
        int c = class_of_len(plen);
        if (plen < min_len[c]) min_len[c] = plen;
    }

    /* One group per class, at the largest step its shortest pattern allows,
     * and the exact 2-byte group at step 1 for demoted patterns. */
    uint32_t max_step = opt->max_step < 1 ? 1 : opt->max_step > 64 ? 64 : opt->max_step;
    int main_group[N_CLASSES], low_group = -1;
    uint32_t n_groups = 0;
    for (int c = 0; c < N_CLASSES; c++) {
        main_group[c] = -1;
        if (min_len[c] == SIZE_MAX) continue;
        uint32_t step = (uint32_t)(min_len[c] - class_q[c] + 1);
        if (step > max_step) step = max_step;
        m->groups[n_groups].q = class_q[c];
        m->groups[n_groups].step = step;
        if (class_q[c] == 2 && step == 1) low_group = (int)n_groups;
        main_group[c] = (int)n_groups++;
    }
    int low_is_new = low_group < 0;
    if (low_is_new) {
        m->groups[n_groups].q = 2;
        m->groups[n_groups].step = 1;
        low_group = (int)n_groups;
    }

    uint32_t *stretch = malloc((n ? n : 1) * sizeof *stretch);
    uint8_t *group_of = malloc(n ? n : 1);
    key_counts shared = {0};
    int rc = AVG_ENOMEM;
    if (!stretch || !group_of || key_counts_init(&shared, (size_t)n * max_step) != 0) goto done;

    /* Choose each pattern's group and stretch by the byte model, then once
     * more knowing which keys other patterns register (a key shared by many
     * patterns makes each hit on it check them all). */
    double saved = 0; /* expected checks per byte saved by demotions */
    for (int round = 0; round < 2; round++) {
        saved = 0;
        for (uint32_t p = 0; p < n; p++) {
            const uint8_t *pat = bytes + offsets[p];
            size_t plen = (size_t)(offsets[p + 1] - offsets[p]);
            int gi = main_group[class_of_len(plen)];
            key_counts *counts = round > 0 ? &shared : NULL;
            if (round > 0) {
                const avg_group *g = &m->groups[group_of[p]];
                for (uint32_t j = 0; j < g->step; j++)
                    (*key_counts_slot(&shared, tagged_key(pat + stretch[p] + j, g->q)))--;
            }
            double cost, low_cost;
            const avg_group *g = &m->groups[gi];
            stretch[p] = cheapest_stretch(pat, plen, g->q, g->step, counts, &cost);
            if (gi != low_group && cost > DEMOTE_ABOVE) {
                uint32_t at = cheapest_stretch(pat, plen, 2, 1, counts, &low_cost);
                if (low_cost * DEMOTE_GAIN < cost) {
                    saved += cost - low_cost;
                    gi = low_group;
                    stretch[p] = at;
                }
            }
            group_of[p] = (uint8_t)gi;
            g = &m->groups[gi];
            for (uint32_t j = 0; j < g->step; j++)
                (*key_counts_slot(&shared, tagged_key(pat + stretch[p] + j, g->q)))++;
        }
    }
    if (low_is_new && saved < PASS_COST) {
        /* Not worth a pass of its own: demoted patterns go back. */
        for (uint32_t p = 0; p < n; p++) {
            if (group_of[p] != low_group) continue;
            size_t plen = (size_t)(offsets[p + 1] - offsets[p]);
            const avg_group *g = &m->groups[group_of[p] = (uint8_t)main_group[class_of_len(plen)]];
            double cost;
            stretch[p] = cheapest_stretch(bytes + offsets[p], plen, g->q, g->step, &shared, &cost);
        }
        low_is_new = 0;
    }
    m->n_groups = n_groups + (low_is_new ? 1 : 0);
    for (uint32_t gi = 0; gi < m->n_groups; gi++) {
        if ((rc = build_group(out, (int)gi, bytes, offsets, n, group_of, stretch, opt)) != 0) goto done;
    }
    rc = 0;
done:
    key_counts_free(&shared);
    free(stretch);
    free(group_of);
    if (rc != 0) avg_compiled_free(out);
    return rc;
}
