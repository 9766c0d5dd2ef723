# cython: language_level=3
"""Cython face of the native matcher (csrc/matcher.c).

Compile once, scan many: a Matcher is immutable and may be shared by threads;
each thread scans with its own MatchStream. Scanning runs with the GIL
released. Offsets are end offsets: one past the last byte of the occurrence,
so ``data[end - len(pattern):end] == pattern``.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

import os

import numpy as np

from .tables import load_tables, save_tables

cimport numpy as cnp

cnp.import_array()

__all__ = ["Matcher", "MatchStream", "kernel", "set_kernel"]

_ENTRY_DTYPE = np.dtype([("key", "<u8"), ("check", "<u8"), ("pattern", "<u4"), ("offset", "<u4"),
                         ("check_offset", "<u4"), ("length", "<u4")])
_FORMAT = "avgate-matcher-1"


cdef const uint8_t[::1] _byte_view(object data):
    """A contiguous byte view of any buffer: bytes, bytearray, memoryview, mmap, array."""
    try:
        return data
    except (ValueError, TypeError):
        return memoryview(data).cast("B")


cdef list _to_list(const avg_match_buf *buf, size_t start):
    cdef size_t i
    cdef list out = []
    for i in range(start, buf.len):
        out.append((buf.items[i].pattern, buf.items[i].end))
    return out


cdef class Matcher:
    """Many byte-string patterns, compiled once.

    ``Matcher(patterns)`` takes any iterable of bytes-like objects of at least
    two bytes (NUL bytes and duplicates allowed); a shorter one is a ValueError
    naming its index. Pattern indices in results are positions in that list.
    """

    def __init__(self, patterns=None, *, max_filter_bits=None, bits_per_entry=None, max_step=None):
        if patterns is None:
            raise TypeError("Matcher() needs a list of patterns; use Matcher.load(path) for saved tables")
        views = []
        for i, p in enumerate(patterns):
            try:
                b = bytes(memoryview(p).cast("B"))
            except TypeError:
                raise TypeError(f"pattern {i} is {type(p).__name__}, not a bytes-like object") from None
            if len(b) < 2:
                raise ValueError(f"pattern {i} is {len(b)} byte(s) long; patterns need at least 2 bytes")
            views.append(b)
        if len(views) >= 2**32 - 1:
            raise ValueError("too many patterns")
        lengths = np.fromiter((len(b) for b in views), dtype=np.uint64, count=len(views))
        offsets = np.zeros(len(views) + 1, dtype=np.uint64)
        np.cumsum(lengths, out=offsets[1:])
        blob = np.frombuffer(b"".join(views), dtype=np.uint8) if views else np.zeros(0, np.uint8)

        cdef avg_compile_options opt
        avg_default_options(&opt)
        if max_filter_bits is not None:
            opt.max_filter_bits = max(12, min(30, int(max_filter_bits)))
        if bits_per_entry is not None:
            opt.bits_per_entry = max(1, int(bits_per_entry))
        if max_step is not None:
            opt.max_step = max(1, int(max_step))

        cdef const uint8_t[::1] blob_view = blob
        cdef const uint64_t[::1] off_view = offsets
        cdef avg_compiled c
        cdef avg_group *grp
        cdef int rc
        cdef const uint8_t *blob_ptr = &blob_view[0] if blob.size else NULL
        cdef uint32_t n = <uint32_t>len(views)
        with nogil:
            rc = avg_compile(blob_ptr, &off_view[0], n, &opt, &c)
        if rc == AVG_ENOMEM:
            raise MemoryError("out of memory compiling the matcher")
        if rc < 0:
            raise ValueError(f"pattern {-rc - 1} is shorter than 2 bytes")
        try:
            arrays = {"bytes": blob, "offsets": offsets}
            groups = np.zeros((c.m.n_groups, 5), dtype=np.uint32)
            for g in range(c.m.n_groups):
                grp = &c.m.groups[g]
                groups[g] = (grp.q, grp.step, grp.filter_bits, grp.bucket_bits, grp.n_entries)
                arrays[f"filter{g}"] = _copy_out(grp.filter, ((1 << grp.filter_bits) // 32) * 4, np.uint32)
                arrays[f"buckets{g}"] = _copy_out(grp.bucket_start, ((1 << grp.bucket_bits) + 1) * 4, np.uint32)
                arrays[f"entries{g}"] = _copy_out(grp.entries, grp.n_entries * sizeof(avg_entry), _ENTRY_DTYPE)
            arrays["groups"] = groups
        finally:
            avg_compiled_free(&c)
        self._attach(arrays, None)

    cdef _attach(self, dict arrays, object mapped):
        """Point the C struct into the arrays; check they fit together."""
        for name, arr in arrays.items():
            arr.flags.writeable = False
        cdef const uint8_t[::1] blob = arrays["bytes"]
        cdef const uint64_t[::1] offsets = arrays["offsets"]
        groups = arrays["groups"]
        n = offsets.shape[0] - 1
        if (n < 0 or groups.ndim != 2 or groups.shape[0] > AVG_MAX_GROUPS or groups.shape[1] != 5
                or (n and offsets[n] != blob.shape[0])):
            raise ValueError("inconsistent matcher tables")
        self._m.n_patterns = <uint32_t>n
        self._m.bytes = &blob[0] if blob.shape[0] else NULL
        self._m.offsets = &offsets[0]
        lengths = np.diff(arrays["offsets"])
        self._m.max_len = <uint32_t>(int(lengths.max()) if n else 0)
        self._m.n_groups = groups.shape[0]
        cdef const uint32_t[::1] filt
        cdef const uint32_t[::1] buckets
        cdef const uint8_t[::1] entries
        for g in range(self._m.n_groups):
            q, step, fbits, bbits, n_entries = (int(x) for x in groups[g])
            filt = arrays[f"filter{g}"]
            buckets = arrays[f"buckets{g}"]
            entries = arrays[f"entries{g}"].view(np.uint8).reshape(-1)
            if (q not in (2, 4, 8) or step < 1 or filt.shape[0] != (1 << fbits) // 32
                    or buckets.shape[0] != (1 << bbits) + 1 or entries.shape[0] != n_entries * sizeof(avg_entry)
                    or (n_entries and buckets[buckets.shape[0] - 1] != n_entries)):
                raise ValueError(f"inconsistent matcher tables (group {g})")
            self._m.groups[g].q = q
            self._m.groups[g].step = step
            self._m.groups[g].filter_bits = fbits
            self._m.groups[g].bucket_bits = bbits
            self._m.groups[g].n_entries = n_entries
            self._m.groups[g].filter = &filt[0]
            self._m.groups[g].bucket_start = &buckets[0]
            self._m.groups[g].entries = <const avg_entry *>&entries[0] if n_entries else NULL
        self._arrays = arrays
        self._mmap = mapped

    # -- persistence -------------------------------------------------------

    def save(self, path):
        """Write the compiled tables to `path` (see avgate.tables)."""
        save_tables(path, self._arrays, {"format": _FORMAT})

    @classmethod
    def load(cls, path):
        """Map tables saved by save(): no recompiling, no copy."""
        arrays, meta, mapped = load_tables(path)
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise ValueError(f"{os.fspath(path)}: not a saved avgate matcher")
        cdef Matcher self = cls.__new__(cls)
        self._attach(arrays, mapped)
        return self

    @property
    def arrays(self):
        """The tables as read-only numpy arrays (for embedding in other table files)."""
        return dict(self._arrays)

    @classmethod
    def from_arrays(cls, arrays):
        """A Matcher over tables taken from `arrays` (as given by .arrays)."""
        cdef Matcher self = cls.__new__(cls)
        self._attach(dict(arrays), None)
        return self

    # -- facts -------------------------------------------------------------

    def __len__(self):
        return self._m.n_patterns

    @property
    def max_len(self):
        return self._m.max_len

    def pattern(self, Py_ssize_t index):
        """The bytes of pattern `index`."""
        if not 0 <= index < self._m.n_patterns:
            raise IndexError(index)
        start, end = int(self._arrays["offsets"][index]), int(self._arrays["offsets"][index + 1])
        return self._arrays["bytes"][start:end].tobytes()

    @property
    def nbytes(self):
        """Size of all tables in bytes."""
        return sum(a.nbytes for a in self._arrays.values())

    def info(self):
        """The groups the patterns were split into: window width, step, sizes."""
        cdef const avg_group *grp
        out = []
        for g in range(self._m.n_groups):
            grp = &self._m.groups[g]
            if grp.n_entries:
                out.append({"window": grp.q, "step": grp.step, "entries": grp.n_entries,
                            "filter_bytes": (1 << grp.filter_bits) // 8,
                            "buckets": 1 << grp.bucket_bits})
        return out

    def __repr__(self):
        return f"<avgate.Matcher {self._m.n_patterns} patterns, {self.nbytes / 1e6:.1f} MB tables>"

    # -- scanning ----------------------------------------------------------

    def scan(self, data, *, bint first_only=False):
        """Every (pattern index, end offset) occurrence in `data`, in order of
        end offset (ties by pattern index). With first_only, only the first
        occurrence of each pattern."""
        cdef const uint8_t[::1] view = _byte_view(data)
        cdef avg_match_buf out
        out.items = NULL
        out.len = out.cap = 0
        cdef size_t n = view.shape[0]
        cdef const uint8_t *ptr = &view[0] if n else NULL
        cdef int rc
        with nogil:
            rc = avg_scan(&self._m, ptr, n, first_only, &out)
        try:
            if rc != 0:
                raise MemoryError("out of memory while scanning")
            return _to_list(&out, 0)
        finally:
            avg_match_buf_free(&out)

    def stream(self, *, bint first_only=False):
        """A MatchStream: feed chunks, get occurrences across chunk boundaries."""
        return MatchStream(self, first_only=first_only)


cdef object _copy_out(const void *src, size_t nbytes, dtype):
    arr = np.empty(nbytes // np.dtype(dtype).itemsize, dtype=dtype)
    cdef cnp.ndarray a = arr
    if nbytes:
        memcpy(cnp.PyArray_DATA(a), src, nbytes)
    return arr


cdef class MatchStream:
    """Occurrences in a stream of chunks, with absolute end offsets.

    ``feed(chunk)`` returns the occurrences that end inside that chunk;
    ``matches`` holds all found so far; ``finish()`` returns them and closes
    the stream. One stream belongs to one thread at a time.
    """

    def __cinit__(self, Matcher matcher not None, *, bint first_only=False):
        self.matcher = matcher
        self.first_only = first_only
        self._s = avg_stream_new(&matcher._m, first_only)
        if self._s is NULL:
            raise MemoryError("out of memory creating a match stream")

    def __dealloc__(self):
        avg_stream_free(self._s)

    def feed(self, chunk):
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if self._busy:
            raise RuntimeError("MatchStream fed from two threads at once")
        cdef const uint8_t[::1] view = _byte_view(chunk)
        cdef size_t n = view.shape[0]
        cdef const uint8_t *ptr = &view[0] if n else NULL
        cdef size_t before = self._s.matches.len
        cdef int rc
        self._busy = True
        try:
            with nogil:
                rc = avg_stream_feed(self._s, ptr, n)
        finally:
            self._busy = False
        if rc != 0:
            self._finished = True
            raise MemoryError("out of memory while scanning a stream")
        if self._s.matches.len == before:
            return []
        return _to_list(&self._s.matches, before)

    @property
    def matches(self):
        """All occurrences so far: (pattern index, end offset), by end offset."""
        return _to_list(&self._s.matches, 0)

    @property
    def match_count(self):
        return self._s.matches.len

    @property
    def offset(self):
        """Bytes fed so far."""
        return self._s.consumed

    def finish(self):
        """End the stream; returns all occurrences."""
        self._finished = True
        return self.matches

    def reset(self):
        """Start over as a fresh stream (reuses the buffers)."""
        if self._busy:
            raise RuntimeError("reset() while feeding")
        avg_stream_reset(self._s)
        self._finished = False


def kernel():
    """The probe kernel scans use: "avx512" where the CPU has it, else "scalar"."""
    return avg_kernel_name().decode()


def set_kernel(name=None):
    """Force a probe kernel ("scalar", "avx512"), or None for the automatic
    choice. For tests and benchmarks; affects every scan in the process."""
    encoded = (name or "").encode()
    if avg_set_kernel(encoded) != 0:
        raise ValueError(f"probe kernel {name!r} is unknown or unsupported on this CPU")
