"""Signature names by id, stored as one UTF-8 blob + offsets (cheap to cache
and to map: a million names are two arrays, not a million objects)."""
from __future__ import annotations

import numpy as np

__all__ = ["NameTable"]


class NameTable:
    """Collects names while compiling; arrays() gives the stored form."""

    def __init__(self) -> None:
        self._blobs: list[bytes] = []
        self._lengths: list[np.ndarray] = []
        self._single: list[bytes] = []  # names added one by one, not yet in _blobs
        self.count = 0

    def _flush(self) -> None:
        if self._single:
            self._blobs.append(b"".join(self._single))
            self._lengths.append(np.fromiter(map(len, self._single), dtype=np.uint64, count=len(self._single)))
            self._single = []

    def add(self, name: str) -> int:
        self._single.append(name.encode("utf-8"))
        self.count += 1
        return self.count - 1

    def add_many(self, names: list[bytes]) -> np.ndarray:
        """Ids of `names` (UTF-8 bytes), consecutive."""
        self._flush()
        return self.add_blob(b"".join(names), np.fromiter(map(len, names), dtype=np.uint64, count=len(names)))

    def add_blob(self, blob: bytes, lengths: np.ndarray) -> np.ndarray:
        """Ids of the names laid end to end in `blob`, with these lengths."""
        self._flush()
        self._blobs.append(blob)
        self._lengths.append(lengths.astype(np.uint64))
        first = self.count
        self.count += len(lengths)
        return np.arange(first, self.count, dtype=np.uint32)

    def arrays(self) -> dict[str, np.ndarray]:
        self._flush()
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.uint64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.uint64)
        np.cumsum(lengths, out=offsets[1:])
        return {"names.blob": np.frombuffer(b"".join(self._blobs), dtype=np.uint8), "names.offsets": offsets}
