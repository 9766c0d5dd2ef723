"""Decoding a large stream one step ahead, on the other core.

Inflating a stream and scanning what it yields are both CPU work, and both
release the GIL in their inner loops (ISA-L, bz2, lzma; libarchive through
ctypes, the matcher, hashlib), so a decoder in a helper thread overlaps them.
The walk itself stays in one thread: the helper only runs the decoder. The
walk's thread pulls the compressed input (its tee feeds the compressed node's
sink, as always) and hands it over through a short queue; decoded blocks and
the decoder's reports come back through another. Both queues are bounded, so
a few blocks are held whatever the stream's size.

Used for streams of at least PREFETCH_MIN_SIZE compressed bytes (when the
size is known): for small ones a thread costs more than it saves.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional

from .blocks import CHUNK_SIZE, Block, BlockSource, LayerError
from .errors import ScanError

__all__ = ["Prefetched", "PREFETCH_MIN_SIZE"]

PREFETCH_MIN_SIZE = 8 << 20
_DEPTH = 4  # blocks in flight each way
_POLL = 0.05  # seconds between looks at the cancel flag while blocked

Report = Callable[[ScanError], None]
MakeDecoder = Callable[[BlockSource, Report], Any]  # -> a decoder: context manager and BlockSource


class _Cancelled(Exception):
    """The walk no longer wants the decoded stream."""


class _HandedInput:
    """The compressed input, as the helper thread sees it."""

    volatile = False

    def __init__(self, owner: "Prefetched") -> None:
        self.owner = owner

    def read(self) -> Block:
        owner = self.owner
        while not owner._cancel.is_set():
            try:
                return owner._inputs.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise _Cancelled


class Prefetched:
    """A decoder run in a helper thread, as a BlockSource for the walk.
    The inner decoder's LayerErrors come out with this object as origin."""

    volatile = False

    def __init__(self, source: BlockSource, make: MakeDecoder, report: Report, memory: int) -> None:
        self.source = source
        self.memory = memory + 2 * _DEPTH * CHUNK_SIZE
        self._make = make
        self._report = report
        self._inputs: "queue.Queue[bytes]" = queue.Queue(_DEPTH)
        self._outputs: "queue.Queue[tuple[str, Any]]" = queue.Queue(_DEPTH)
        self._cancel = threading.Event()
        self._source_done = False
        self._done = False
        self._thread: Optional[threading.Thread] = None
        self._inner: Any = None

    def __enter__(self) -> "Prefetched":
        self._thread = threading.Thread(target=self._run, name="avgate-decode", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cancel.set()
        thread, self._thread = self._thread, None
        while thread is not None and thread.is_alive():
            try:  # a helper blocked on a full queue sees the flag within _POLL
                self._outputs.get(timeout=_POLL)
            except queue.Empty:
                pass

    # -- the helper thread ---------------------------------------------------

    def _run(self) -> None:
        try:
            with self._make(_HandedInput(self), self._report_later) as decoder:
                self._inner = decoder
                while True:
                    block = decoder.read()
                    self._hand_back(("data", bytes(block) if decoder.volatile else block))
                    if not block:
                        return
        except _Cancelled:
            return
        except BaseException as exc:  # raised again in the walk's thread
            try:
                self._hand_back(("error", exc))
            except _Cancelled:
                return

    def _report_later(self, error: ScanError) -> None:
        self._hand_back(("problem", error))

    def _hand_back(self, item: tuple[str, Any]) -> None:
        while not self._cancel.is_set():
            try:
                self._outputs.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise _Cancelled

    # -- the walk's thread -----------------------------------------------------

    def read(self) -> Block:
        while not self._done:
            try:
                kind, value = self._outputs.get_nowait()
            except queue.Empty:
                if not self._source_done and not self._inputs.full():
                    self._hand_input()
                    continue
                kind, value = self._outputs.get()
            if kind == "data":
                self._done = not value
                return value
            if kind == "problem":
                self._report(value)
                continue
            self._done = True
            if isinstance(value, LayerError) and value.origin is self._inner:
                raise LayerError(value.error, self, value.fatal) from None
            raise value
        return b""

    def _hand_input(self) -> None:
        block = self.source.read()
        self._source_done = not block
        self._inputs.put(block if isinstance(block, bytes) else bytes(block))
