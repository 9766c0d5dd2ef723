"""Single compressed streams, decoded as they stream, with their integrity
checks.

gzip goes through gzip_stream (zlib inflate, the member trailer checked:
libarchive's gzip filter checks neither CRC nor length); bzip2, xz and lzma
through the standard library's decompressors, which check bzip2's block and
stream CRCs and xz's integrity check. zstd, lz4, .Z, lzip and uuencode go through libarchive's filter of the
same name over the 'raw' format. Each call returns at most CHUNK_SIZE bytes,
so a bomb is decoded one bounded block at a time and the budget sees it.

Concatenated members (``cat a.gz b.gz``) are one stream, as gzip(1) reads
them; data after the last member that is not another member is left to the
raw node's scan.
"""
from __future__ import annotations

import bz2
import lzma
from typing import Any, Callable, Optional, Union

from .blocks import CHUNK_SIZE, Block, BlockSource, LayerError
from .archive_reader import ArchiveReader
from . import archive_ffi as ffi
from .errors import CorruptFile, OutOfResources, ScanError
from .gzip_stream import GzipDecoder
from .sniff import Kind

__all__ = ["Decoder", "open_decoder", "decoded_name", "LZMA_MEMLIMIT", "THREADABLE"]

# Decoders whose inner loop releases the GIL: worth running ahead in a thread
# (prefetch.py). libarchive's filters are not among them.
THREADABLE = frozenset(("gzip", "bzip2", "xz", "lzma"))

# Largest decoder state an xz/lzma stream may ask for (xz -9e needs 65 MiB).
LZMA_MEMLIMIT = 80 << 20
_BZIP2_MEMORY = 4 << 20

_SUFFIXES = {
    ".gz": "", ".z": "", ".tgz": ".tar", ".taz": ".tar", ".bz2": "", ".bz": "", ".tbz": ".tar",
    ".tbz2": ".tar", ".xz": "", ".txz": ".tar", ".lzma": "", ".tlz": ".tar", ".zst": "",
    ".tzst": ".tar", ".lz4": "", ".lz": "", ".uu": "", ".uue": "",
}


def decoded_name(path: str, kind: Kind) -> str:
    """The name of a stream's decoded content: the last name in `path` with
    its compression suffix taken off (``docs.tar.gz`` -> ``docs.tar``), or
    with ``.<kind>-decoded`` appended when it has none."""
    base = path.rsplit("//", 1)[-1].rsplit("/", 1)[-1] or "stream"
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and ("." + suffix.lower()) in _SUFFIXES:
        return stem + _SUFFIXES["." + suffix.lower()]
    return f"{base}.{kind.name}-decoded"


class _StdlibDecoder:
    """bz2 / lzma decompressor objects behind one loop."""

    volatile = False

    def __init__(
        self,
        source: BlockSource,
        path: str,
        name: str,
        new: Callable[[], Any],
        member_magic: Optional[bytes],
        memory: int,
    ) -> None:
        self.source = source
        self.path = path
        self.name = name
        self.memory = memory
        self._new = new
        self._magic = member_magic
        self._d = new()
        self._input: Block = b""
        self._finished = False

    def __enter__(self) -> "_StdlibDecoder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._d = None

    def read(self) -> Block:
        try:
            return self._read()
        except (OSError, EOFError, ValueError) as exc:
            raise LayerError(CorruptFile(f"{self.name}: {exc}", self.path), self) from None
        except lzma.LZMAError as exc:
            error: ScanError
            if "memory" in str(exc).lower():
                error = OutOfResources(f"{self.name}: {exc} ({LZMA_MEMLIMIT} bytes)", self.path)
            else:
                error = CorruptFile(f"{self.name}: {exc}", self.path)
            raise LayerError(error, self) from None

    def _pull(self) -> Block:
        block = self.source.read()
        if not block:
            raise LayerError(CorruptFile(f"truncated {self.name} stream", self.path), self)
        return block

    def _read(self) -> Block:
        while not self._finished:
            d = self._d
            if d.eof:
                self._next_member()
                continue
            if d.needs_input:
                data, self._input = (self._input or self._pull()), b""
            else:
                data = b""
            out = d.decompress(data, CHUNK_SIZE)
            if out:
                return out
        return b""

    def _next_member(self) -> None:
        """After a member's end: another member follows, or the stream is over."""
        if self._magic is None:  # a format with a single member
            self._finished = True
            return
        rest = bytes(self._d.unused_data) + bytes(self._input)
        self._input = b""
        while len(rest) < len(self._magic):
            block = self.source.read()
            if not block:
                break
            rest += bytes(block)
        if rest.startswith(self._magic):
            self._d = self._new()
            self._input = rest
        else:
            self._finished = True  # padding or trailing data: scanned with the raw node


class _LibarchiveDecoder:
    """A filter libarchive has and the standard library lacks, over 'raw'."""

    volatile = True
    memory = 1 << 20

    def __init__(self, source: BlockSource, path: str, kind: Kind, filter_name: str) -> None:
        self.path = path
        self.name = kind.name
        self.reader = ArchiveReader(("raw",), (filter_name,), source=source, path=path)
        self._ended = False

    def __enter__(self) -> "_LibarchiveDecoder":
        try:
            self.reader.__enter__()
            rc = self.reader.next_header()
            if rc == ffi.EOF:
                self._ended = True
            elif ffi.failed(rc):
                raise self.reader.failure(rc, self.path)
        except LayerError as exc:
            self.reader.close()
            raise LayerError(exc.error, self, exc.fatal) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.reader.close()

    def read(self) -> Block:
        while not self._ended:
            try:
                rc, block, _offset = self.reader.read_block()
            except LayerError as exc:
                if exc.origin is not self.reader:
                    raise
                raise LayerError(exc.error, self, exc.fatal) from None
            if rc == ffi.EOF:
                self._ended = True
            elif ffi.failed(rc):
                raise LayerError(self.reader.failure(rc, self.path).error, self)
            elif rc == ffi.WARN:
                raise LayerError(CorruptFile(f"{self.name}: {self.reader.message()}", self.path), self)
            elif block is not None:
                return block
        return b""


Decoder = Union[GzipDecoder, _StdlibDecoder, _LibarchiveDecoder]

_LIBARCHIVE_FILTERS = {"zstd": "zstd", "lz4": "lz4", "compress": "compress", "lzip": "lzip", "uu": "uu"}


def open_decoder(kind: Kind, source: BlockSource, path: str, report: Callable[[ScanError], None]) -> Optional[Decoder]:
    """The decoder for a compressed kind (a context manager and a
    BlockSource), or None when this system cannot decode it. Damage that
    leaves the content whole (a gzip trailer mismatch) goes to `report`."""
    if kind.name == "gzip":
        return GzipDecoder(source, path, report)
    if kind.name == "bzip2":
        return _StdlibDecoder(source, path, "bzip2", bz2.BZ2Decompressor, b"BZh", _BZIP2_MEMORY)
    if kind.name == "xz":
        return _StdlibDecoder(source, path, "xz", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ, LZMA_MEMLIMIT),
                              b"\xfd7zXZ\x00", LZMA_MEMLIMIT)
    if kind.name == "lzma":
        return _StdlibDecoder(source, path, "lzma", lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE, LZMA_MEMLIMIT),
                              None, LZMA_MEMLIMIT)
    filter_name = _LIBARCHIVE_FILTERS.get(kind.name)
    if filter_name is None:
        return None
    return _LibarchiveDecoder(source, path, kind, filter_name)
