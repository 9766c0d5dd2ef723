"""Hash signatures (.hdb/.hsb) and allow lists (.fp/.sfp) as sorted digest tables.

One table per digest kind (md5, sha1, sha256): digests sorted as rows of
bytes, sizes (-1 = any size) and, for detections, name ids. A lookup is a
binary search, so a million entries cost nothing
per file beyond the hashing (avgate._sigs.DigestIndex); the tables are
plain arrays, cached and memory-mapped like the rest of the compiled
database.

A file is parsed whole with numpy (line and field boundaries, hex digits and
sizes in bulk: no per-line Python objects); a file with any irregular line
goes through the line-by-line parser instead, which names the line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ._sigs import DigestIndex
from .nametable import NameTable
from .sigparse import HASH_KINDS, MAX_NUMBER, IgnoreList, SignatureError, Unsupported, parse_hash_line

__all__ = ["HashTable", "HashCollector", "KINDS", "WIDTHS"]

KINDS = ("md5", "sha1", "sha256")
WIDTHS = {"md5": 16, "sha1": 20, "sha256": 32}
_BATCH = 1 << 16  # lines per step when gathering hex digits (bounds the index arrays)

_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX_VALUE[_c] = 10 + _i

# kind -> (digests (n, width) uint8, sizes int64, name ids uint32)
Groups = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class HashTable:
    """Digests of one kind, sorted; sizes (-1 = any) and name ids by row."""

    kind: str
    digests: np.ndarray  # (n, width) uint8
    sizes: np.ndarray  # int64
    names: np.ndarray  # uint32 (all zero for allow lists)

    def __post_init__(self) -> None:
        self._index = DigestIndex(self.digests, self.sizes)

    def __len__(self) -> int:
        return int(self.digests.shape[0])

    @property
    def max_size(self) -> Optional[int]:
        """The largest size any entry can match; None when some entry takes any size."""
        if not len(self):
            return 0
        if bool(np.any(self.sizes < 0)):
            return None
        return int(self.sizes.max())

    def lookup(self, digest: bytes, size: int) -> list[int]:
        """Rows whose digest is `digest` and whose size is `size` or any."""
        return self._index.rows(digest, size)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.digests": self.digests, f"{prefix}.sizes": self.sizes, f"{prefix}.names": self.names}

    @classmethod
    def from_arrays(cls, kind: str, prefix: str, arrays: dict[str, np.ndarray]) -> "HashTable":
        digests, sizes, names = arrays[f"{prefix}.digests"], arrays[f"{prefix}.sizes"], arrays[f"{prefix}.names"]
        n = digests.shape[0]
        if (digests.ndim != 2 or digests.shape[1] != WIDTHS[kind] or sizes.shape != (n,) or names.shape != (n,)
                or digests.dtype != np.uint8 or sizes.dtype != np.int64):
            raise ValueError(f"compiled {prefix} table is inconsistent")
        return cls(kind, digests, sizes, names)


def _sorted_rows(digests: np.ndarray) -> np.ndarray:
    """The order that sorts rows of bytes lexicographically."""
    n, width = digests.shape
    pad = (-width) % 8
    if pad:
        digests = np.concatenate([digests, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    columns = np.ascontiguousarray(digests).view(">u8")  # big-endian: byte order = number order
    order = np.argsort(columns[:, 0], kind="stable")
    lead = columns[order, 0]
    if n > 1 and bool(np.any(lead[1:] == lead[:-1])):  # equal first 8 bytes (duplicates): full sort
        order = np.lexsort(columns.T[::-1])
    return order


class HashCollector:
    """Collects hash lines of one role (detect or allow) from many files."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self._parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {k: [] for k in KINDS}
        self.counts: dict[str, int] = {k: 0 for k in KINDS}
        self.ignored = 0  # entries dropped by the ignore list

    def add_file(
        self,
        data: bytes,
        lengths: tuple[int, ...],
        names: NameTable,
        ignore: Optional[IgnoreList],
        problem: Callable[[int, str], None],
        unsupported: Callable[[str], None],
    ) -> int:
        """Parse one file; returns how many entries were added. Names go to
        `names` (not for allow lists); `ignore` is the .ign2 list (or None);
        `problem(line number, message)` is called for a bad line (and may
        raise); `unsupported(kind)` counts what is left out."""
        table = None if self.allow else names
        found = _parse_bulk(data, lengths, table, ignore)
        if found is None:
            found = _parse_lines(data, lengths, table, ignore, problem, unsupported)
        groups, ignored = found
        self.ignored += ignored
        added = 0
        for kind, part in groups.items():
            self._parts[kind].append(part)
            self.counts[kind] += len(part[0])
            added += len(part[0])
        return added

    def build(self) -> dict[str, HashTable]:
        """Sorted tables, by kind (kinds without entries left out)."""
        tables = {}
        for kind in KINDS:
            parts = self._parts[kind]
            if not parts:
                continue
            digests = np.concatenate([p[0] for p in parts])
            sizes = np.concatenate([p[1] for p in parts])
            ids = np.concatenate([p[2] for p in parts])
            order = _sorted_rows(digests)
            tables[kind] = HashTable(kind, np.ascontiguousarray(digests[order]), sizes[order], ids[order])
        return tables


def _digests(buf: np.ndarray, starts: np.ndarray, width: int) -> Optional[np.ndarray]:
    """Hex digits at buf[start : start + 2 * width] for each start -> (n, width) bytes; None if any is not hex."""
    out = np.empty((len(starts), width), dtype=np.uint8)
    span = np.arange(2 * width)
    for lo in range(0, len(starts), _BATCH):
        nibbles = _HEX_VALUE[buf[starts[lo : lo + _BATCH, None] + span]]
        if bool(np.any(nibbles == 255)):
            return None
        out[lo : lo + _BATCH] = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return out


def _parse_bulk(data: bytes, lengths: tuple[int, ...], names: Optional[NameTable],
                ignore: Optional[IgnoreList]) -> Optional[tuple[Groups, int]]:
    """Every line ``hex:size:name``: parsed in bulk. None if any line is not so."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.zeros_like(ends)
    starts[1:] = ends[:-1] + 1
    keep = (ends > starts) & (buf[starts] != ord("#"))
    starts, ends = starts[keep], ends[keep]
    n = len(starts)
    if n == 0:
        return {}, 0
    colons = np.flatnonzero(buf == ord(":"))
    line = np.searchsorted(starts, colons, side="right") - 1
    inside = (line >= 0) & (colons < ends[np.maximum(line, 0)])
    colons, line = colons[inside], line[inside]
    every = np.arange(n)
    if len(colons) != 2 * n or not np.array_equal(line[0::2], every) or not np.array_equal(line[1::2], every):
        return None
    c1, c2 = colons[0::2], colons[1::2]
    hex_len, size_len, name_len = c1 - starts, c2 - c1 - 1, ends - c2 - 1
    if int(size_len.min()) <= 0 or int(name_len.min()) <= 0 or not set(np.unique(hex_len).tolist()) <= set(lengths):
        return None
    # sizes: digits, or a lone '*'
    star = (size_len == 1) & (buf[c1 + 1] == ord("*"))
    numeric = ~star
    longest = int(size_len[numeric].max()) if bool(numeric.any()) else 0
    if longest > 18:
        return None
    sizes = np.zeros(n, dtype=np.int64)
    for k in range(longest):
        active = numeric & (k < size_len)
        digit = buf[np.where(active, c1 + 1 + k, 0)].astype(np.int64) - ord("0")
        if bool(np.any(active & ((digit < 0) | (digit > 9)))):
            return None
        sizes = np.where(active, sizes * 10 + digit, sizes)
    if bool(np.any(sizes > MAX_NUMBER)):
        return None
    sizes[star] = -1
    # names: the bytes from after the second colon to the line's end
    mark = np.zeros(len(buf) + 1, dtype=np.int8)
    mark[c2 + 1] = 1
    mark[ends] = -1
    blob = buf[np.cumsum(mark[:-1], dtype=np.int8).astype(bool)].tobytes()
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError:
        return None
    digests: dict[int, np.ndarray] = {}
    for length in set(np.unique(hex_len).tolist()):
        found = _digests(buf, starts[hex_len == length], length // 2)
        if found is None:
            return None
        digests[length] = found
    # .ign2: only when one of its names occurs at all
    kept = np.ones(n, dtype=bool)
    if ignore is not None and len(ignore) and any(name.encode("utf-8") in blob for name in ignore.names):
        offsets = np.concatenate([[0], np.cumsum(name_len)])
        for i in range(n):
            name = blob[offsets[i] : offsets[i + 1]].decode("utf-8")
            if ignore.drops(name, data[starts[i] : ends[i]]):
                kept[i] = False
    ignored = n - int(kept.sum())
    if names is None:
        ids = np.zeros(n, dtype=np.uint32)
    elif ignored:
        offsets = np.concatenate([[0], np.cumsum(name_len)])
        ids = np.zeros(n, dtype=np.uint32)
        ids[kept] = names.add_many([blob[offsets[i] : offsets[i + 1]] for i in np.flatnonzero(kept)])
    else:
        ids = names.add_blob(blob, name_len)
    groups: Groups = {}
    for length, found in digests.items():
        rows = hex_len == length
        sel = kept[rows]
        groups[HASH_KINDS[length]] = (found[sel], sizes[rows][sel], ids[rows][sel])
    return groups, ignored


def _parse_lines(data: bytes, lengths: tuple[int, ...], names: Optional[NameTable], ignore: Optional[IgnoreList],
                 problem: Callable[[int, str], None], unsupported: Callable[[str], None]) -> tuple[Groups, int]:
    """Line by line: every fault named with its line number."""
    found: dict[str, tuple[list[bytes], list[int], list[bytes]]] = {}
    ignored = 0
    for number, raw in enumerate(data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip() or raw.startswith(b"#"):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problem(number, "not UTF-8 text")
            continue
        try:
            kind, digest, size, name = parse_hash_line(text, lengths)
        except SignatureError as exc:
            problem(number, str(exc))
            continue
        except Unsupported as exc:
            unsupported(exc.kind)
            continue
        if ignore is not None and ignore.drops(name, raw):
            ignored += 1
            continue
        digests, sizes, name_list = found.setdefault(kind, ([], [], []))
        digests.append(digest)
        sizes.append(size)
        name_list.append(name.encode("utf-8"))
    groups: Groups = {}
    for kind, (digests, sizes, name_list) in found.items():
        ids = names.add_many(name_list) if names is not None else np.zeros(len(name_list), dtype=np.uint32)
        table = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, WIDTHS[kind])
        groups[kind] = (table, np.array(sizes, dtype=np.int64), ids)
    return groups, ignored
