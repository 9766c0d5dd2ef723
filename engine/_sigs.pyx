# cython: language_level=3
"""Cython face of the body-signature verifier (csrc/sigs/sigverify.c).

``BodyTables(arrays, stream_matcher, tail_matcher, stream_history,
tail_history)`` points the C tables into numpy arrays built by
avgate.sigcompile (or memory-mapped from the compiled-database cache);
``tables.node()`` gives a BodyNode, one per node: ``feed(chunk)`` returns the
(signature index, end offset) detections completed in that chunk,
``finish()`` the ones only known at the node's end (EOF-anchored).
"""
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp

from avgate._matcher cimport AVG_ENOMEM, Matcher, avg_matcher

__all__ = ["BodyTables", "BodyNode", "DigestIndex", "stretch_bits", "RECORD_SIZES"]


cdef extern from "sigverify.h" nogil:
    ctypedef struct sv_run:
        pass
    ctypedef struct sv_item:
        pass
    ctypedef struct sv_cell_class:
        pass
    ctypedef struct sv_segment:
        pass
    ctypedef struct sv_sig:
        pass

    ctypedef struct sv_tables:
        const uint8_t *vals
        const uint8_t *masks
        const sv_run *runs
        const sv_item *items
        const sv_cell_class *cell_classes
        const uint64_t *classes
        const sv_segment *segs
        const sv_sig *sigs
        uint32_t n_sigs
        uint32_t n_segs

    ctypedef struct sv_engine:
        const avg_matcher *m
        const uint32_t *user_start
        const uint32_t *users
        uint64_t history

    ctypedef struct sv_hit:
        uint64_t end
        uint32_t sig

    ctypedef struct sv_node:
        pass

    enum: SV_STREAM
    enum: SV_TAIL

    sv_node *sv_node_new(const sv_tables *t, const sv_engine *e, int mode)
    void sv_node_free(sv_node *n)
    void sv_node_reset(sv_node *n)
    int sv_node_feed(sv_node *n, const uint8_t *chunk, size_t length)
    int sv_node_finish(sv_node *n)
    const sv_hit *sv_node_hits(const sv_node *n, size_t *count)
    double sv_stretch_bits(const uint8_t *p, size_t n)


# Record sizes the numpy dtypes of avgate.sigcompile must have.
RECORD_SIZES = {
    "runs": sizeof(sv_run),
    "items": sizeof(sv_item),
    "cell_classes": sizeof(sv_cell_class),
    "segs": sizeof(sv_segment),
    "sigs": sizeof(sv_sig),
}


cdef const uint8_t *_ptr8(object arr) except? NULL:
    cdef const uint8_t[::1] view = arr.reshape(-1).view("u1")
    return &view[0] if view.shape[0] else NULL


cdef const uint8_t[::1] _byte_view(object data):
    try:
        return data
    except (ValueError, TypeError):
        return memoryview(data).cast("B")


cdef class BodyTables:
    """The compiled body signatures: C tables over numpy arrays (kept alive here)."""

    cdef sv_tables _t
    cdef sv_engine _engines[2]
    cdef bint _has[2]
    cdef dict _arrays
    cdef object _matchers

    def __init__(self, dict arrays, stream_matcher, tail_matcher, stream_history, tail_history):
        for name, size in RECORD_SIZES.items():
            if arrays[name].dtype.itemsize != size:
                raise ValueError(f"table {name!r}: records of {arrays[name].dtype.itemsize} bytes, want {size}")
        self._arrays = arrays
        self._matchers = (stream_matcher, tail_matcher)
        self._t.vals = _ptr8(arrays["vals"])
        self._t.masks = _ptr8(arrays["masks"])
        self._t.runs = <const sv_run *>_ptr8(arrays["runs"])
        self._t.items = <const sv_item *>_ptr8(arrays["items"])
        self._t.cell_classes = <const sv_cell_class *>_ptr8(arrays["cell_classes"])
        self._t.classes = <const uint64_t *>_ptr8(arrays["classes"])
        self._t.segs = <const sv_segment *>_ptr8(arrays["segs"])
        self._t.sigs = <const sv_sig *>_ptr8(arrays["sigs"])
        self._t.n_sigs = <uint32_t>arrays["sigs"].shape[0]
        self._t.n_segs = <uint32_t>arrays["segs"].shape[0]
        cdef int i
        cdef Matcher m
        for i, (matcher, history, prefix) in enumerate(
                ((stream_matcher, stream_history, "stream"), (tail_matcher, tail_history, "tail"))):
            self._has[i] = matcher is not None and len(matcher) > 0
            if not self._has[i]:
                continue
            m = matcher
            starts = arrays[f"{prefix}.user_start"]
            if starts.shape[0] != len(matcher) + 1:
                raise ValueError(f"{prefix} anchors: {len(matcher)} patterns but {starts.shape[0] - 1} user lists")
            self._engines[i].m = &m._m
            self._engines[i].user_start = <const uint32_t *>_ptr8(starts)
            self._engines[i].users = <const uint32_t *>_ptr8(arrays[f"{prefix}.users"])
            self._engines[i].history = <uint64_t>history

    @property
    def has_stream(self):
        return bool(self._has[0])

    @property
    def has_tail(self):
        return bool(self._has[1])

    def node(self):
        """A fresh BodyNode for one node's bytes."""
        return BodyNode(self)


cdef list _hits(sv_node *n):
    cdef size_t count, i
    cdef const sv_hit *hits = sv_node_hits(n, &count)
    return [(hits[i].sig, hits[i].end) for i in range(count)]


cdef class BodyNode:
    """Body-signature matching for one node. Not for two threads at once."""

    cdef sv_node *_stream
    cdef sv_node *_tail
    cdef readonly BodyTables tables
    cdef bint _finished

    def __cinit__(self, BodyTables tables not None):
        self.tables = tables
        if tables._has[0]:
            self._stream = sv_node_new(&tables._t, &tables._engines[0], SV_STREAM)
            if self._stream is NULL:
                raise MemoryError("out of memory creating a signature node")
        if tables._has[1]:
            self._tail = sv_node_new(&tables._t, &tables._engines[1], SV_TAIL)
            if self._tail is NULL:
                raise MemoryError("out of memory creating a signature node")

    def __dealloc__(self):
        sv_node_free(self._stream)
        sv_node_free(self._tail)

    def feed(self, chunk):
        """(signature index, end offset) of the signatures this chunk completes."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        cdef const uint8_t[::1] view = _byte_view(chunk)
        cdef size_t n = view.shape[0]
        cdef const uint8_t *ptr = &view[0] if n else NULL
        cdef int rc = 0
        with nogil:
            if self._tail is not NULL:
                rc = sv_node_feed(self._tail, ptr, n)
            if rc == 0 and self._stream is not NULL:
                rc = sv_node_feed(self._stream, ptr, n)
        if rc != 0:
            raise MemoryError("out of memory while matching signatures")
        if self._stream is NULL:
            return []
        return _hits(self._stream)

    def finish(self):
        """(signature index, end offset) of what only the node's end decides."""
        if self._finished:
            return []
        self._finished = True
        cdef int rc = 0
        with nogil:
            if self._stream is not NULL:
                rc = sv_node_finish(self._stream)
            if rc == 0 and self._tail is not NULL:
                rc = sv_node_finish(self._tail)
        if rc != 0:
            raise MemoryError("out of memory while matching signatures")
        if self._tail is NULL:
            return []
        return _hits(self._tail)

    def reset(self):
        """Start over for another node (keeps the buffers)."""
        if self._stream is not NULL:
            sv_node_reset(self._stream)
        if self._tail is not NULL:
            sv_node_reset(self._tail)
        self._finished = False


cdef class DigestIndex:
    """Sorted digests (one per row) and their sizes: which rows match a file.
    Holds the views, so a lookup costs a binary search, not a buffer request."""

    cdef const uint8_t[:, ::1] _digests
    cdef const int64_t[::1] _sizes
    cdef readonly object digests, sizes
    cdef Py_ssize_t _width

    def __init__(self, digests, sizes):
        self.digests, self.sizes = digests, sizes
        self._digests = digests
        self._sizes = sizes
        if self._sizes.shape[0] != self._digests.shape[0]:
            raise ValueError("one size per digest")
        self._width = self._digests.shape[1]

    def __len__(self):
        return self._digests.shape[0]

    def rows(self, bytes digest not None, long long size):
        """Rows holding `digest` whose size is `size` or any (-1)."""
        if len(digest) != self._width:
            raise ValueError(f"digest of {len(digest)} bytes, table holds {self._width}")
        cdef Py_ssize_t n = self._digests.shape[0], lo = 0, hi = n, mid
        cdef const uint8_t *k = digest
        if n == 0:
            return []
        while lo < hi:
            mid = (lo + hi) // 2
            if memcmp(&self._digests[mid, 0], k, self._width) < 0:
                lo = mid + 1
            else:
                hi = mid
        cdef list out = []
        while lo < n and memcmp(&self._digests[lo, 0], k, self._width) == 0:
            if self._sizes[lo] < 0 or self._sizes[lo] == size:
                out.append(lo)
            lo += 1
        return out


def stretch_bits(const uint8_t[::1] data):
    """-log2 of the chance of `data` at a given place in ordinary files (the
    matcher's byte model): how rare an anchor is."""
    return sv_stretch_bits(&data[0] if data.shape[0] else NULL, data.shape[0])
