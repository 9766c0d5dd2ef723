"""Table files: named numpy arrays + a JSON header in one file, laid out so
that loading is an mmap and no copy.

Layout: b"AVGTBL1\\n", u64 little-endian header length, the JSON header
({"meta": ..., "arrays": {name: [dtype, shape, offset]}}), then each array's
raw bytes at a 64-byte-aligned offset. Used for compiled matchers and the
compiled signature database.
"""
from __future__ import annotations

import json
import mmap
import os
import struct
import tempfile
from typing import Any, Mapping

import numpy as np

__all__ = ["save_tables", "load_tables", "TableFormatError"]

MAGIC = b"AVGTBL1\n"
ALIGN = 64


class TableFormatError(ValueError):
    """The file is not a table file of this version, or it is damaged."""


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def save_tables(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], meta: Any = None) -> None:
    """Write atomically: a reader sees the old file or the whole new one."""
    layout: dict[str, list[Any]] = {}
    offset = 0
    prepared = {}
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        prepared[name] = arr
        layout[name] = [arr.dtype.descr if arr.dtype.names else arr.dtype.str, list(arr.shape), offset]
        offset = _align(offset + arr.nbytes)
    header = json.dumps({"meta": meta, "arrays": layout}, sort_keys=True).encode()
    data_start = _align(len(MAGIC) + 8 + len(header))
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tables-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + struct.pack("<Q", len(header)) + header)
            for name, arr in prepared.items():
                f.seek(data_start + layout[name][2])
                f.write(arr.tobytes(order="C") if arr.nbytes else b"")
            f.truncate(data_start + offset)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_tables(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], Any, mmap.mmap]:
    """Map the file read-only. Returns (arrays, meta, the mmap); the arrays
    are views into the mapping, which lives as long as they do."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < len(MAGIC) + 8:
            raise TableFormatError(f"{path}: too short to be a table file")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if mapped[: len(MAGIC)] != MAGIC:
        raise TableFormatError(f"{path}: not an avgate table file (bad magic)")
    (header_len,) = struct.unpack_from("<Q", mapped, len(MAGIC))
    header_end = len(MAGIC) + 8 + header_len
    if header_end > size:
        raise TableFormatError(f"{path}: header runs past the end of the file")
    try:
        header = json.loads(bytes(mapped[len(MAGIC) + 8 : header_end]))
    except ValueError as exc:
        raise TableFormatError(f"{path}: damaged header: {exc}") from None
    data_start = _align(header_end)
    arrays = {}
    for name, (descr, shape, offset) in header["arrays"].items():
        dtype = np.dtype([tuple(field) for field in descr] if isinstance(descr, list) else descr)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        start = data_start + offset
        if start + count * dtype.itemsize > size:
            raise TableFormatError(f"{path}: array {name!r} runs past the end of the file")
        arrays[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=start).reshape(shape)
    return arrays, header["meta"], mapped
