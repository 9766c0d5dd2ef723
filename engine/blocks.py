"""Byte streams as the walk sees them: sources of blocks, pulled one at a time.

Every node of the content tree is a ``BlockSource``: ``read()`` returns the
next block (bytes or a memoryview), an empty block at the end. A source
marked ``volatile`` reuses its memory: a block is valid only until the next
``read()`` (libarchive's data blocks point into its own buffers).

A source that fails raises ``LayerError``; its ``origin`` names the object
(an archive reader, a decoder) whose owner reports the error and decides
whether the rest of the container can still be read. ``Stopped`` unwinds the
walk once the verdict cannot change any more.
"""
from __future__ import annotations

import ctypes
import os
from typing import IO, Any, Iterable, Iterator, Optional, Protocol, Union

import numpy as np

from .errors import ScanError

__all__ = [
    "CHUNK_SIZE", "Block", "BlockSource", "Sink", "LayerError", "Stopped",
    "address_of", "open_source", "InputSource", "Tee",
]

CHUNK_SIZE = 1 << 20  # bytes per block read from the input; bounds the work between checks
MIN_BLOCK = 64 << 10  # small pieces of a chunk stream are gathered up to this

Block = Union[bytes, memoryview]


class Sink(Protocol):
    def feed(self, chunk: Block) -> None: ...
    def end(self) -> None: ...


class BlockSource(Protocol):
    volatile: bool

    def read(self) -> Block: ...


class LayerError(Exception):
    """A source could not deliver its bytes. `error` is the fallback reason to
    report; `fatal` says the container it belongs to cannot go on."""

    def __init__(self, error: ScanError, origin: object, fatal: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.origin = origin
        self.fatal = fatal


class Stopped(Exception):
    """The visitor needs nothing more (a detection ended the scan)."""


def address_of(block: Block) -> int:
    """The address of a non-empty block's first byte (the block must stay alive)."""
    if isinstance(block, bytes):
        return ctypes.cast(ctypes.c_char_p(block), ctypes.c_void_p).value or 0
    if not block.readonly:
        return ctypes.addressof(ctypes.c_char.from_buffer(block))
    return int(np.frombuffer(block, np.uint8).ctypes.data)


class _FileSource:
    volatile = False

    def __init__(self, f: IO[bytes], close: bool, path: Optional[str] = None) -> None:
        self.f = f
        self._close = close
        self.path = path  # a real file the walk may reopen for seeking (7z)

    def read(self) -> Block:
        block = self.f.read(CHUNK_SIZE)
        if not block:
            self.close()
            return b""
        if not isinstance(block, (bytes, bytearray, memoryview)):
            raise TypeError(f"file object returned {type(block).__name__}, not bytes")
        return block if isinstance(block, bytes) else bytes(block)

    def close(self) -> None:
        if self._close:
            self.f.close()

    def size_hint(self) -> Optional[int]:
        """The file's size, when it is a real file or a seekable object."""
        try:
            if self.path is not None:
                return os.fstat(self.f.fileno()).st_size
            if not self.f.seekable():
                return None
            here = self.f.tell()
            try:
                return self.f.seek(0, os.SEEK_END)
            finally:
                self.f.seek(here)
        except (OSError, AttributeError, ValueError):
            return None


class _BufferSource:
    volatile = False
    path = None

    def __init__(self, data: Any) -> None:
        self.view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        self.pos = 0

    def read(self) -> Block:
        start = self.pos
        self.pos = min(start + CHUNK_SIZE, len(self.view))
        return self.view[start : self.pos]

    def size_hint(self) -> Optional[int]:
        return len(self.view)


class _IterSource:
    """Chunks as a producer hands them over (a socket, the stream API):
    small ones are gathered into blocks of at least MIN_BLOCK bytes, big ones
    cut to CHUNK_SIZE, so the per-block work does not depend on how the
    producer happened to slice the data."""

    volatile = False
    path = None

    def __init__(self, chunks: Iterable[Any]) -> None:
        self._it: Iterator[Any] = iter(chunks)
        self._rest = memoryview(b"")

    def read(self) -> Block:
        if len(self._rest) >= MIN_BLOCK:
            block, self._rest = self._rest[:CHUNK_SIZE], self._rest[CHUNK_SIZE:]
            return block
        gathered = bytearray(self._rest)
        while len(gathered) < MIN_BLOCK:
            chunk = next(self._it, None)
            if chunk is None:
                break
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"chunk iterable yielded {type(chunk).__name__}, not bytes")
            gathered += chunk  # a copy: a producer may refill its buffer
        data = memoryview(bytes(gathered))
        block, self._rest = data[:CHUNK_SIZE], data[CHUNK_SIZE:]
        return block


class InputSource:
    """The input itself (layer 0): charges content-size-limit as it reads."""

    volatile = False

    def __init__(self, inner: Any, budget: Any, name: str) -> None:
        self.inner = inner
        self.budget = budget
        self.name = name
        self.path: Optional[str] = getattr(inner, "path", None)

    def read(self) -> Block:
        block = self.inner.read()
        if block:
            self.budget.count_input(len(block), self.name)
        return block

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def size_hint(self) -> Optional[int]:
        """The input's size, when it is known before reading it (a file, a buffer)."""
        hint = getattr(self.inner, "size_hint", None)
        return hint() if hint is not None else None


def open_source(source: Any, name: str, budget: Any) -> InputSource:
    """A path, bytes-like object, binary file object or iterable of chunks
    as the input's BlockSource."""
    inner: Any
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        inner = _FileSource(open(path, "rb"), close=True, path=path)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        inner = _BufferSource(source)
    elif hasattr(source, "read"):
        inner = _FileSource(source, close=False)
    else:
        inner = _IterSource(source)
    return InputSource(inner, budget, name)


class Tee:
    """A node's bytes on their way through the walk: every block read
    through the tee is fed to the node's sink first (when the node has one),
    and ``peek`` looks at the head without losing a byte. Each block is also
    a checkpoint: the walk stops once the visitor is done, and times out
    (the sink's feed checks the deadline; a tee without one checks it here)."""

    volatile: bool

    def __init__(self, src: BlockSource, visitor: Any, budget: Any, path: str) -> None:
        self.src = src
        self.volatile = src.volatile
        self.sink: Optional[Sink] = None
        self.path = path
        self._visitor = visitor
        self._budget = budget
        self._pending: list[Block] = []
        self._ended = False
        self.consumed = 0  # bytes handed on so far

    def peek(self, size: int) -> bytes:
        """The first `size` bytes (fewer when the stream is shorter); they
        are still handed on by read()."""
        pending = self._pending
        have = sum(map(len, pending))
        while have < size and not self._ended:
            if self.volatile and pending:
                # the next read would invalidate what we hold: keep copies
                pending[:] = [bytes(b) for b in pending]
            block = self.src.read()
            if not block:
                self._ended = True
                break
            pending.append(block)
            have += len(block)
        if len(pending) == 1:
            return bytes(pending[0][:size])
        return b"".join(pending)[:size]

    def read(self) -> Block:
        if self._visitor.stopped:
            raise Stopped
        if self._pending:
            block = self._pending.pop(0)
        elif self._ended:
            return b""
        else:
            block = self.src.read()
            if not block:
                self._ended = True
                return b""
        self.consumed += len(block)
        if self.sink is not None:
            self.sink.feed(block)
        else:
            self._budget.check_deadline(self.path)
        return block

    def size_hint(self) -> Optional[int]:
        """The stream's size, when its container says (a hint: it may lie)."""
        hint = getattr(self.src, "size_hint", None)
        return hint() if hint is not None else None

    def drain(self) -> None:
        """Read (and so feed) whatever is left."""
        while self.read():
            pass
