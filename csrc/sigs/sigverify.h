/* avgate body-signature verification: ClamAV .ndb signatures over the
 * anchor matcher (csrc/matcher.h). Plain C, no Python; engine/_sigs.pyx is
 * its face and engine/sigcompile.py builds the tables.
 *
 * A signature is a list of segments joined by gaps that may be long or
 * unbounded (`*`, `{n-}`, `{n-m}` with a large m). A segment is a list of
 * items: runs of byte cells (exact byte, nibble, `??`, single-byte
 * alternatives as a 256-bit class), short gaps, and multi-byte (possibly
 * negated, possibly variable-length) alternatives. Each segment has one
 * anchor: a static run of at least two bytes inside one of its runs, which
 * is a pattern of the anchor matcher.
 *
 * On an anchor hit the segment is verified around it: leftwards through the
 * bytes already seen (a bounded history), rightwards as bytes arrive (a
 * pending "thread" re-checked on the next chunk). Sets of feasible positions
 * are carried through the items, so gaps and variable-length alternatives
 * are exact. Segments chain through per-node state: for an unbounded gap the
 * earliest end of the previous segment, for a bounded one the list of recent
 * ends. A signature is reported once per node, at the smallest end offset of
 * any occurrence that satisfies its offset (start at n[,shift], or at
 * EOF-n[,shift], checked on the node's tail at its end).
 */
#ifndef AVGATE_SIGVERIFY_H
#define AVGATE_SIGVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "matcher.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SV_RUN = 0, SV_GAP = 1, SV_ALT = 2, SV_NALT = 3 };
enum { SV_FIRST = 1, SV_LAST = 2 };
enum { SV_OFF_ANY = 0, SV_OFF_ABS = 1, SV_OFF_EOF = 2 };
enum { SV_STREAM = 0, SV_TAIL = 1 };
#define SV_UNBOUNDED UINT64_MAX

/* A run of byte cells: byte i matches when (b & masks[off+i]) == vals[off+i]
 * and, for the cells listed in cell_classes[cls_start:cls_end], b is in the
 * class. 24 bytes. */
typedef struct {
    uint64_t off;
    uint32_t len;
    uint32_t cls_start;
    uint32_t cls_end;
    uint32_t _pad;
} sv_run;

/* RUN: a = run. GAP: a..b bytes. ALT: runs a..a+b-1, any one of them.
 * NALT: runs a..a+b-1 (all c bytes long); c bytes that match none. */
typedef struct {
    uint32_t kind;
    uint32_t a;
    uint32_t b;
    uint32_t c;
} sv_item;

typedef struct {
    uint32_t pos; /* cell index in its run */
    uint32_t cls; /* class: 4 words of classes[] */
} sv_cell_class;

typedef struct {
    uint32_t item_start, item_end; /* items of this segment */
    uint32_t anchor_item;          /* the RUN item holding the anchor */
    uint32_t anchor_off;           /* where the anchor starts in that run */
    uint32_t anchor_len;
    uint32_t sig;
    uint32_t flags;      /* SV_FIRST, SV_LAST */
    uint32_t left_span;  /* most bytes from the segment start to the anchor item */
    uint32_t right_span; /* most bytes from the anchor item's end to the segment end */
    uint32_t _pad;
    uint64_t gap_min;    /* the gap before this segment (not for the first) */
    uint64_t gap_max;    /* SV_UNBOUNDED for `*` and {n-} */
} sv_segment;

typedef struct {
    uint32_t name;
    uint32_t target;   /* ClamAV target type; checked by the caller */
    uint32_t first_seg;
    uint32_t n_segs;
    uint32_t off_kind; /* SV_OFF_* */
    uint32_t _pad;
    uint64_t off_a;    /* ABS: start >= a; EOF: start >= size - a */
    uint64_t off_b;    /* ... and at most b bytes later (the shift) */
} sv_sig;

typedef struct {
    const uint8_t *vals;
    const uint8_t *masks;
    const sv_run *runs;
    const sv_item *items;
    const sv_cell_class *cell_classes;
    const uint64_t *classes;
    const sv_segment *segs;
    const sv_sig *sigs;
    uint32_t n_sigs;
    uint32_t n_segs;
} sv_tables;

/* One set of anchors: the stream engine (offsets *, n) or the tail engine
 * (EOF-n, verified on the node's last `history` bytes at its end). */
typedef struct {
    const avg_matcher *m;
    const uint32_t *user_start; /* per anchor pattern: users[user_start[p]:user_start[p+1]] */
    const uint32_t *users;      /* segment indices */
    uint64_t history;           /* STREAM: longest segment span; TAIL: largest EOF distance */
} sv_engine;

typedef struct {
    uint64_t end;
    uint32_t sig;
    uint32_t _pad;
} sv_hit;

typedef struct sv_node sv_node;

/* A node's matching state; mode SV_STREAM or SV_TAIL. NULL when out of memory. */
sv_node *sv_node_new(const sv_tables *t, const sv_engine *e, int mode);
void sv_node_free(sv_node *n);
void sv_node_reset(sv_node *n);
/* Feed the node's next bytes. Returns 0 or AVG_ENOMEM (the node is then
 * unusable until reset). Detections completed by this chunk: sv_node_hits. */
int sv_node_feed(sv_node *n, const uint8_t *chunk, size_t len);
/* The node ended: STREAM drops what can no longer complete; TAIL verifies
 * the kept tail. Detections: sv_node_hits. */
int sv_node_finish(sv_node *n);
/* Detections of the last feed/finish, sorted by (end, sig). */
const sv_hit *sv_node_hits(const sv_node *n, size_t *count);
uint64_t sv_node_consumed(const sv_node *n);

/* -log2 of how likely the n bytes at p are at a given place in ordinary
 * files (anchor_model.c). */
double sv_stretch_bits(const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* AVGATE_SIGVERIFY_H */
