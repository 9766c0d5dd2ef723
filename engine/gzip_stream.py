"""gzip, decoded as it streams, with its trailer checked.

libarchive's gzip filter never checks a member's CRC-32 and ISIZE trailer,
and zlib's own gzip mode raises on a mismatch in the same call that returns
the last bytes, so those bytes would go unscanned. Here the header is parsed
(RFC 1952), the deflate data inflated raw, and the trailer compared with a
running CRC-32 after every decoded byte has been handed on. A mismatch is
reported (corrupt-file) and the content still ends normally: the bytes are
all there, they just do not match what the writer said.

Concatenated members are one stream (as gzip(1) reads them); anything after
the last member that is not another member is left to the raw node's scan.

Inflate is ISA-L's (the `isal` package: the same deflate at about twice
zlib's speed, with the GIL released) when it is installed, else zlib's.
"""
from __future__ import annotations

import importlib
import zlib
from types import ModuleType
from typing import Any, Callable, Optional

from .blocks import CHUNK_SIZE, Block, BlockSource, LayerError
from .errors import CorruptFile, ScanError

__all__ = ["GzipDecoder", "MAGIC", "INFLATE"]


def _optional(module: str) -> Optional[ModuleType]:
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the installation
        return None


_igzip = _optional("isal.igzip_lib")
INFLATE = "isal" if _igzip is not None else "zlib"
_ERRORS: tuple[type[BaseException], ...] = (zlib.error,) + ((_igzip.IsalError,) if _igzip is not None else ())


class _ZlibMember:
    """One member's deflate data through zlib, with ISA-L's interface:
    input kept inside, `needs_input`, a running `crc`."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        self._tail = b""
        self.crc = 0

    @property
    def needs_input(self) -> bool:
        return not self._tail

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: Any, max_length: int) -> bytes:
        out = self._d.decompress(self._tail or data, max_length)
        self._tail = self._d.unconsumed_tail
        self.crc = zlib.crc32(out, self.crc)
        return out


def _new_member() -> Any:
    """An inflater for one member's deflate data that also keeps its CRC-32."""
    if _igzip is not None:
        return _igzip.IgzipDecompressor(flag=_igzip.DECOMP_GZIP_NO_HDR)
    return _ZlibMember()


MAGIC = b"\x1f\x8b"
_FTEXT, _FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 1, 2, 4, 8, 16
_MAX_HEADER = 1 << 16  # a longer name or comment is not a header we accept


class GzipDecoder:
    volatile = False
    memory = 256 << 10  # inflate state and window, the pending input

    def __init__(self, source: BlockSource, path: str, report: Callable[[ScanError], None]) -> None:
        self.source = source
        self.path = path
        self.report = report
        self._input = b""  # bytes not yet handed to zlib
        self._inflate: Any = None  # the member's raw inflater, inside its deflate data
        self._size = 0
        self._members = 0
        self._finished = False
        self._source_ended = False

    def __enter__(self) -> "GzipDecoder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._inflate = None

    def read(self) -> Block:
        try:
            while not self._finished:
                if self._inflate is None:
                    self._start_member()
                    continue
                out = self._inflate_some()
                if out:
                    return out
            return b""
        except _ERRORS as exc:
            raise LayerError(CorruptFile(f"gzip: {exc}", self.path), self) from None

    # -- input ---------------------------------------------------------------

    def _more(self) -> bool:
        if self._source_ended:
            return False
        block = self.source.read()
        if not block:
            self._source_ended = True
            return False
        self._input += bytes(block)
        return True

    def _need(self, n: int) -> bool:
        while len(self._input) < n:
            if not self._more():
                return False
        return True

    def _truncated(self) -> LayerError:
        return LayerError(CorruptFile("truncated gzip stream", self.path), self)

    # -- members ---------------------------------------------------------------

    def _start_member(self) -> None:
        if self._members and (not self._need(2) or not self._input.startswith(MAGIC)):
            self._finished = True  # padding or trailing data after the last member
            return
        header_end = self._header_length()
        self._input = self._input[header_end:]
        self._inflate = _new_member()
        self._size = 0
        self._members += 1

    def _header_length(self) -> int:
        """Length of the member header at the start of the input (RFC 1952, 2.3)."""
        if not self._need(10):
            raise self._truncated()
        data = self._input
        if data[:2] != MAGIC or data[2] != 8:
            raise LayerError(CorruptFile("gzip: not a deflate member header", self.path), self)
        flags = data[3]
        pos = 10
        if flags & _FEXTRA:
            if not self._need(pos + 2):
                raise self._truncated()
            pos += 2 + int.from_bytes(self._input[pos : pos + 2], "little")
        for flag in (_FNAME, _FCOMMENT):
            if flags & flag:
                while True:
                    end = self._input.find(b"\x00", pos)
                    if end >= 0:
                        pos = end + 1
                        break
                    if len(self._input) > _MAX_HEADER:
                        raise LayerError(CorruptFile("gzip: header name or comment too long", self.path), self)
                    if not self._more():
                        raise self._truncated()
        if flags & _FHCRC:
            pos += 2
        if not self._need(pos):
            raise self._truncated()
        return pos

    def _inflate_some(self) -> bytes:
        inflate = self._inflate
        if inflate.eof:
            self._end_member(inflate)
            return b""
        data: Any = b""
        if inflate.needs_input:
            if not self._input and not self._more():
                raise self._truncated()
            data, self._input = self._input, b""
        out: bytes = inflate.decompress(data, CHUNK_SIZE)
        if inflate.eof:
            self._input = inflate.unused_data + self._input
        self._size += len(out)
        return out

    def _end_member(self, inflate: Any) -> None:
        """The trailer: CRC-32 and length (mod 2**32) of the member's data."""
        if not self._need(8):
            raise self._truncated()
        crc = int.from_bytes(self._input[0:4], "little")
        size = int.from_bytes(self._input[4:8], "little")
        self._input = self._input[8:]
        self._inflate = None
        if crc != inflate.crc:
            self.report(CorruptFile(
                f"gzip: CRC-32 mismatch: trailer says {crc:08x}, data gives {inflate.crc:08x}", self.path))
        elif size != self._size & 0xFFFFFFFF:
            self.report(CorruptFile(
                f"gzip: length mismatch: trailer says {size}, data has {self._size & 0xFFFFFFFF} (mod 2**32)",
                self.path))
