/* The portable probe kernel, and the choice of kernel for this CPU. */
#include "matcher_internal.h"

/* Four sampled positions per round: their loads and hashes overlap in the
 * pipeline, and one rarely taken branch tests all four. */
AVG_INLINE size_t probe_q(const avg_group *g, const uint8_t *buf, size_t len, size_t *pos,
                          size_t *hits, size_t cap, const uint32_t q) {
    size_t i = *pos, n = 0;
    if (len < q) return 0;
    const size_t last = len - q, s = g->step;
    const uint32_t *filter = g->filter;
    const uint32_t ws = word_shift_of(g);
#define AVG_PROBE(k) ({ avg_slot sl_ = slot_of(q, ws, (k)); (filter[sl_.word] & sl_.mask) == sl_.mask; })
    while (i + 3 * s <= last && n + 4 <= cap) {
        int h0 = AVG_PROBE(load_window(buf + i, q));
        int h1 = AVG_PROBE(load_window(buf + i + s, q));
        int h2 = AVG_PROBE(load_window(buf + i + 2 * s, q));
        int h3 = AVG_PROBE(load_window(buf + i + 3 * s, q));
        if (unlikely(h0 | h1 | h2 | h3)) {
            if (h0) hits[n++] = i;
            if (h1) hits[n++] = i + s;
            if (h2) hits[n++] = i + 2 * s;
            if (h3) hits[n++] = i + 3 * s;
        }
        i += 4 * s;
    }
    while (i <= last && n < cap) {
        if (unlikely(AVG_PROBE(load_window(buf + i, q)))) hits[n++] = i;
        i += s;
    }
#undef AVG_PROBE
    *pos = i;
    return n;
}

size_t avg_probe_scalar(const avg_group *g, const uint8_t *buf, size_t len, size_t *pos,
                        size_t *hits, size_t cap) {
    switch (g->q) {
    case 2: return probe_q(g, buf, len, pos, hits, cap, 2);
    case 4: return probe_q(g, buf, len, pos, hits, cap, 4);
    default: return probe_q(g, buf, len, pos, hits, cap, 8);
    }
}

static const char *const kernel_names[] = {"scalar", "avx512"};
#define N_KERNELS 2
static int forced_kernel = -1;

static int detected_kernel = -1;

static int best_kernel(void) {
    if (detected_kernel < 0) {
        int k = 0;
#ifdef AVG_HAVE_X86_KERNELS
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vbmi"))
            k = 1;
#endif
        detected_kernel = k; /* a benign race: every thread writes the same value */
    }
    return detected_kernel;
}

static int current_kernel(void) { return forced_kernel >= 0 ? forced_kernel : best_kernel(); }

avg_probe_fn avg_probe_kernel(void) {
    switch (current_kernel()) {
#ifdef AVG_HAVE_X86_KERNELS
    case 1: return avg_probe_avx512;
#endif
    default: return avg_probe_scalar;
    }
}

const char *avg_kernel_name(void) { return kernel_names[current_kernel()]; }

int avg_set_kernel(const char *name) {
    if (!name || !*name) {
        forced_kernel = -1;
        return 0;
    }
    for (int k = 0; k < N_KERNELS; k++) {
        if (strcmp(name, kernel_names[k]) == 0) {
            if (k > best_kernel()) return -1; /* this CPU cannot run it */
            forced_kernel = k;
            return 0;
        }
    }
    return -1;
}
