/* How rare a byte string is in ordinary files, by the matcher's byte model
 * (csrc/byte_model.h, trained on real binaries and text): used to choose
 * each signature segment's anchor. */
#include <stddef.h>
#include <stdint.h>

#include "byte_model.h"
#include "sigverify.h"

double sv_stretch_bits(const uint8_t *p, size_t n) {
    if (!n) return 0.0;
    unsigned long cost = byte_cost[p[0]];
    for (size_t i = 1; i < n; i++) cost += pair_cost[p[i - 1] * 256u + p[i]];
    return cost / 4.0; /* the tables hold quarter-bits */
}
