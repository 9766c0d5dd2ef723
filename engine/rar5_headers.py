"""RAR5 file headers followed in the bytes libarchive reads, to learn which
entries are encrypted.

libarchive before 3.8 neither flags RAR5 per-file encryption nor fails on it:
a stored encrypted entry reads back as its ciphertext and would pass as clean
data. The encryption record sits in the file header's extra area (RAR 5.0
format, "File encryption record", type 0x01), so following the header chain
(CRC32, size, type, flags, extra area size, data size; data skipped) is
enough. File headers come in the order libarchive returns the entries.
"""
from __future__ import annotations

from typing import Optional

from .blocks import Block, BlockSource

__all__ = ["SIGNATURE", "Rar5Headers", "ObservedSource"]

SIGNATURE = b"Rar!\x1a\x07\x01\x00"
_FILE, _END = 2, 5
_HAS_EXTRA, _HAS_DATA = 0x01, 0x02
_ENCRYPTION_RECORD = 0x01
_MAX_HEADER = 2 << 20  # the format's own bound on a header


def _vint(data: bytes | bytearray, pos: int, end: int) -> Optional[tuple[int, int]]:
    """(value, position after it), or None when it runs past `end`."""
    value = shift = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            return None
    return None


class Rar5Headers:
    """Feed it the archive's bytes in order; `encrypted` lists, per file
    header seen so far, whether its data is encrypted."""

    def __init__(self) -> None:
        self.encrypted: list[bool] = []
        self.done = False  # past the end header, or lost (then nothing more is claimed)
        self._skip = len(SIGNATURE)
        self._head = bytearray()

    def feed(self, block: Block) -> None:
        if self.done:
            return
        view = memoryview(block)
        if self._skip >= len(view):
            self._skip -= len(view)
            return
        self._head += view[self._skip :]
        self._skip = 0
        while not self.done and self._next_header():
            pass

    def _next_header(self) -> bool:
        """Parse one header from the buffer; False when more bytes are needed."""
        head = self._head
        size_field = _vint(head, 4, len(head))
        if size_field is None:
            if len(head) > 16:
                self.done = True
            return False
        size, start = size_field
        end = start + size
        if size > _MAX_HEADER:
            self.done = True
            return False
        if len(head) < end:
            return False
        fields = self._fields(head, start, end)
        if fields is None:
            self.done = True
            return False
        kind, data_size, encrypted = fields
        if kind == _FILE:
            self.encrypted.append(encrypted)
        elif kind == _END:
            self.done = True
        rest = len(head) - end
        if data_size <= rest:
            del head[: end + data_size]
        else:
            self._skip = data_size - rest
            head.clear()
        return bool(head)

    @staticmethod
    def _fields(head: bytearray, start: int, end: int) -> Optional[tuple[int, int, bool]]:
        parsed = _vint(head, start, end)
        if parsed is None:
            return None
        kind, pos = parsed
        parsed = _vint(head, pos, end)
        if parsed is None:
            return None
        flags, pos = parsed
        extra = data = 0
        if flags & _HAS_EXTRA:
            parsed = _vint(head, pos, end)
            if parsed is None:
                return None
            extra, pos = parsed
        if flags & _HAS_DATA:
            parsed = _vint(head, pos, end)
            if parsed is None:
                return None
            data, pos = parsed
        encrypted = False
        record = end - extra
        while kind == _FILE and extra and start <= record < end:
            parsed = _vint(head, record, end)
            if parsed is None:
                break
            record_size, after_size = parsed
            parsed = _vint(head, after_size, end)
            if parsed is None:
                break
            if parsed[0] == _ENCRYPTION_RECORD:
                encrypted = True
                break
            record = after_size + record_size
        return kind, data, encrypted


class ObservedSource:
    """A BlockSource that shows every block to a Rar5Headers on the way."""

    def __init__(self, source: BlockSource, headers: Rar5Headers) -> None:
        self.source = source
        self.headers = headers
        self.volatile = source.volatile

    def read(self) -> Block:
        block = self.source.read()
        if block:
            self.headers.feed(block)
        return block
