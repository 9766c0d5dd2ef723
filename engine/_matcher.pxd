# C declarations of csrc/matcher.h, and the cdef classes other Cython
# modules (signature verification) reach into.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "matcher.h" nogil:
    enum: AVG_MAX_GROUPS
    enum: AVG_ENOMEM

    ctypedef struct avg_entry:
        uint64_t key
        uint64_t check
        uint32_t pattern
        uint32_t offset
        uint32_t check_offset
        uint32_t length

    ctypedef struct avg_group:
        uint32_t q
        uint32_t step
        uint32_t filter_bits
        uint32_t bucket_bits
        uint32_t n_entries
        const uint32_t *filter
        const uint32_t *bucket_start
        const avg_entry *entries

    ctypedef struct avg_matcher:
        uint32_t n_patterns
        uint32_t max_len
        uint32_t n_groups
        const uint8_t *bytes
        const uint64_t *offsets
        avg_group groups[8]

    ctypedef struct avg_compile_options:
        uint32_t max_filter_bits
        uint32_t bits_per_entry
        uint32_t max_step

    ctypedef struct avg_compiled:
        avg_matcher m
        uint32_t *filters[8]
        uint32_t *bucket_starts[8]
        avg_entry *entries[8]

    void avg_default_options(avg_compile_options *opt)
    int avg_compile(const uint8_t *bytes, const uint64_t *offsets, uint32_t n,
                    const avg_compile_options *opt, avg_compiled *out)
    void avg_compiled_free(avg_compiled *c)

    ctypedef struct avg_match:
        uint64_t end
        uint32_t pattern

    ctypedef struct avg_match_buf:
        avg_match *items
        size_t len
        size_t cap

    void avg_match_buf_free(avg_match_buf *b)
    int avg_scan(const avg_matcher *m, const uint8_t *buf, size_t len, int first_only,
                 avg_match_buf *out)

    ctypedef struct avg_stream:
        const avg_matcher *m
        uint64_t consumed
        avg_match_buf matches

    avg_stream *avg_stream_new(const avg_matcher *m, int first_only)
    int avg_stream_feed(avg_stream *s, const uint8_t *chunk, size_t len)
    void avg_stream_reset(avg_stream *s)
    void avg_stream_free(avg_stream *s)

    const char *avg_kernel_name()
    int avg_set_kernel(const char *name)


cdef class Matcher:
    cdef avg_matcher _m
    cdef dict _arrays       # the numpy arrays (owned or memory-mapped) _m points into
    cdef object _mmap       # the mapped table file, when loaded from one
    cdef _attach(self, dict arrays, object mapped)


cdef class MatchStream:
    cdef avg_stream *_s
    cdef readonly Matcher matcher
    cdef readonly bint first_only
    cdef bint _busy
    cdef bint _finished
