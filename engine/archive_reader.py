"""One libarchive read handle over a BlockSource (or a seekable file), and
the data of its current entry as a BlockSource.

The reader pulls its input through a read callback, so a container nested
in an entry reads straight from the outer entry's blocks: nothing is
extracted, nothing is buffered beyond a block. Callbacks never let an
exception into C: they stash it, return ARCHIVE_FATAL, and the stashed
exception is raised again as soon as libarchive returns. Failures become
LayerErrors whose reason (classify) comes from libarchive's errno and message.
"""
from __future__ import annotations

import ctypes
import errno as errno_codes
from ctypes import byref, c_int64, c_size_t, c_void_p
from typing import IO, TYPE_CHECKING, Optional, Sequence

from . import archive_ffi as ffi
from .blocks import CHUNK_SIZE, Block, BlockSource, LayerError, address_of
from .errors import CorruptFile, OutOfResources, PasswordFile, ScanError
from .result import PATH_SEPARATOR

if TYPE_CHECKING:  # pragma: no cover
    from .content import Walker

__all__ = ["ArchiveReader", "EntrySource", "classify", "child_path"]

_ZEROS = bytes(CHUNK_SIZE)  # the holes of sparse entries
_PyBUF_WRITE = 0x200  # writable only so that address_of finds its address cheaply; never written
_view_of = ctypes.pythonapi.PyMemoryView_FromMemory
_view_of.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int)
_view_of.restype = ctypes.py_object
_UNRECOGNIZED = "Unrecognized archive format"


def classify(message: str, errno: int, path: str) -> ScanError:
    """The fallback reason of a libarchive failure (by errno and message;
    libarchive has no error codes of its own for these)."""
    low = message.lower()
    if "encrypt" in low or "passphrase" in low or "password" in low or "decryption" in low:
        return PasswordFile(message, path)
    if errno == errno_codes.ENOMEM or "allocate" in low:
        return OutOfResources(message, path)
    return CorruptFile(message, path)


def child_path(parent: str, name: str) -> str:
    """``parent//name``; separators inside the name are collapsed so the
    path splits back into its layers."""
    while PATH_SEPARATOR in name:
        name = name.replace(PATH_SEPARATOR, "/")
    return f"{parent}{PATH_SEPARATOR}{name}"


class ArchiveReader:
    """One libarchive read handle, from a BlockSource or a seekable file."""

    def __init__(
        self,
        formats: Sequence[str],
        filters: Sequence[str] = (),
        *,
        source: Optional[BlockSource] = None,
        file: Optional[IO[bytes]] = None,
        path: str = "",
    ) -> None:
        self.formats = formats
        self.filters = filters
        self.source = source
        self.file = file
        self.path = path
        self._a: Optional[int] = None
        self._entry: Optional[int] = None
        self.entries = 0  # headers read so far
        self._encryption_unsupported: Optional[bool] = None
        self._keep: object = None  # the block libarchive is reading from
        self._pending: Optional[BaseException] = None
        self._read_cb = ffi.READ_CALLBACK(self._read)
        self._seek_cb = ffi.SEEK_CALLBACK(self._seek)
        self._buf = c_void_p()
        self._size = c_size_t()
        self._offset = c_int64()
        self._out = (byref(self._buf), byref(self._size), byref(self._offset))

    # -- callbacks: never raise into C ------------------------------------

    def _read(self, _archive: int, _context: int, out: "ctypes._Pointer[c_void_p]") -> int:
        try:
            block: Block
            if self.file is not None:
                block = self.file.read(CHUNK_SIZE)
            else:
                assert self.source is not None
                block = self.source.read()
            self._keep = block
            out[0] = address_of(block) if block else None
            return len(block)
        except BaseException as exc:  # re-raised when libarchive returns
            self._pending = exc
            return ffi.FATAL

    def _seek(self, _archive: int, _context: int, offset: int, whence: int) -> int:
        try:
            assert self.file is not None
            self.file.seek(offset, whence)
            return self.file.tell()
        except BaseException as exc:
            self._pending = exc
            return ffi.FATAL

    def _raise_pending(self) -> None:
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc

    # -- the handle --------------------------------------------------------

    def __enter__(self) -> "ArchiveReader":
        a = ffi.lib.read_new()
        if not a:
            raise OutOfResources("libarchive could not allocate a reader", self.path)
        self._a = a
        try:
            for name in self.formats:
                ffi.support_format(a, name)
            for name in self.filters:
                if not ffi.support_filter(a, name):
                    raise LayerError(CorruptFile(f"{name} streams are not supported by this libarchive", self.path), self)
            if self.file is not None:
                ffi.lib.read_set_seek_callback(a, self._seek_cb)
            rc = ffi.lib.read_open(a, None, ffi.NO_OPEN, self._read_cb, ffi.NO_CLOSE)
            self._raise_pending()
            if ffi.failed(rc):
                raise self.failure(rc, self.path)
            self._entry = ffi.lib.entry_new()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._entry:
            ffi.lib.entry_free(self._entry)
            self._entry = None
        if self._a:
            ffi.lib.read_free(self._a)
            self._a = None
        self._keep = None

    def message(self) -> str:
        return ffi.error_message(self._a)

    def failure(self, rc: int, path: str) -> LayerError:
        """The LayerError for a failed call (FATAL ends the container)."""
        message = self.message()
        errno = ffi.lib.errno(self._a) if self._a else 0
        return LayerError(classify(message, errno, path), self, fatal=rc <= ffi.FATAL)

    def unrecognized(self, exc: LayerError) -> bool:
        """The failure says this is not the format at all (or it failed
        before its first entry, which for a weak magic means the same)."""
        return exc.origin is self and (exc.error.detail.startswith(_UNRECOGNIZED) or self.entries == 0)

    def next_header(self) -> int:
        rc = int(ffi.lib.read_next_header2(self._a, self._entry))
        if self._pending is not None:
            self._raise_pending()
        if rc in (ffi.OK, ffi.WARN):
            self.entries += 1
        return rc

    def read_block(self) -> tuple[int, Optional[memoryview], int]:
        """(status, block or None, offset of the block in the entry)."""
        rc = ffi.lib.read_data_block(self._a, *self._out)
        if self._pending is not None:
            self._raise_pending()
        size = self._size.value
        if rc != ffi.OK and (rc == ffi.EOF or ffi.failed(rc)) or not size or not self._buf.value:
            return rc, None, self._offset.value
        # a view straight onto libarchive's buffer (a ctypes array type per size
        # would be slower and cached forever)
        return rc, _view_of(self._buf.value, size, _PyBUF_WRITE), self._offset.value

    # -- the current entry -------------------------------------------------

    def entry_name(self) -> str:
        raw = ffi.lib.entry_pathname_utf8(self._entry) or ffi.lib.entry_pathname(self._entry)
        return raw.decode("utf-8", "replace") if raw else ""

    def entry_has_data(self) -> bool:
        """Regular files, and entries of no known type (an archive may lie
        about the type to hide data); not directories, links or devices,
        unless they claim a size."""
        if (ffi.lib.entry_filetype(self._entry) & ffi.AE_IFMT) not in ffi.NO_DATA_TYPES:
            return True
        return bool(ffi.lib.entry_size_is_set(self._entry)) and ffi.lib.entry_size(self._entry) > 0

    def entry_is_encrypted(self) -> bool:
        if self._encryption_unsupported is None:  # known once the first header is read
            self._encryption_unsupported = (
                ffi.lib.read_has_encrypted_entries(self._a) == ffi.ENCRYPTION_UNSUPPORTED)
        if self._encryption_unsupported:  # tar, cpio, ar...: not worth two calls per entry
            return False
        return bool(ffi.lib.entry_is_data_encrypted(self._entry) or ffi.lib.entry_is_metadata_encrypted(self._entry))

    def entry_size(self) -> Optional[int]:
        """The size the header declares (a hint: it may lie)."""
        if not ffi.lib.entry_size_is_set(self._entry):
            return None
        return int(ffi.lib.entry_size(self._entry))

    def format_name(self) -> str:
        raw = ffi.lib.format_name(self._a)
        return raw.decode("ascii", "replace") if raw else ""


class EntrySource:
    """The data of the reader's current entry, block by block (volatile:
    each block points into libarchive's buffer). Holes of sparse entries are
    read as zeros; a warning (zip CRC mismatch) is reported and the data kept."""

    volatile = True

    def __init__(self, reader: ArchiveReader, path: str, walker: "Walker") -> None:
        self.reader = reader
        self.path = path
        self.walker = walker
        self.position = 0
        self._declared = reader.entry_size()
        self._held: Optional[tuple[memoryview, int]] = None  # a block waiting behind a hole
        self._warned = False

    def read(self) -> Block:
        if self._held is not None:
            held, held_offset = self._held
            if held_offset > self.position:
                return self._zeros(held_offset - self.position)
            self._held = None
            self.position += len(held)
            return held
        for _ in range(4):  # a few empty (warning) blocks before the data or the end
            rc, block, offset = self.reader.read_block()
            if rc != ffi.OK:
                if rc == ffi.EOF:
                    return b""
                if ffi.failed(rc):
                    raise self.reader.failure(rc, self.path)
                if not self._warned:  # WARN: the block is data all the same
                    self._warned = True
                    self.walker.problem(CorruptFile(self.reader.message(), self.path))
            if block is None:
                continue
            if offset > self.position:
                self._held = (block, offset)
                return self._zeros(offset - self.position)
            self.position += len(block)
            return block
        return b""

    def size_hint(self) -> Optional[int]:
        """The size the entry's header declares."""
        return self._declared

    def _zeros(self, hole: int) -> Block:
        n = min(hole, CHUNK_SIZE)
        self.position += n
        return memoryview(_ZEROS)[:n]
