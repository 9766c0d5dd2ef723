/* Keeping the last bytes of a stream: shared by the matcher's streams and
 * the signature verifier's history. Plain C, header-only. */
#ifndef AVGATE_TAIL_H
#define AVGATE_TAIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* buf holds *len (<= cap) bytes; append `chunk` and keep only the last cap. */
static inline void avg_keep_tail(uint8_t *buf, size_t *len, size_t cap, const uint8_t *chunk, size_t n) {
    if (n >= cap) {
        if (cap) memcpy(buf, chunk + n - cap, cap);
        *len = cap;
        return;
    }
    size_t total = *len + n;
    size_t drop = total > cap ? total - cap : 0;
    memmove(buf, buf + drop, *len - drop);
    memcpy(buf + *len - drop, chunk, n);
    *len = total - drop;
}

#endif /* AVGATE_TAIL_H */
