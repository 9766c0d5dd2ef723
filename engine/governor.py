"""Resource governor: the limits one scan runs under, and the engine-wide
memory budget the concurrent scans share.

Each limit raises its typed error (errors.py); the content walk calls these
checks per chunk and per entry, so a scan stops close to where a limit is hit.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from .errors import ContentSize, DecompressLayer, EngineNotReady, OutOfResources, ScanTimeout, TooManyRequests

__all__ = ["ScanLimits", "MemoryBudget", "ScanBudget", "Governor", "MiB"]

MiB = 1 << 20


@dataclass(frozen=True)
class ScanLimits:
    """Per-scan limits. Layer 0 is the input itself; each container entry,
    decompressed stream or MIME part is one layer deeper than its parent. A
    node deeper than `decompress_layer_limit` is a decompress-layer error."""

    timeout: Optional[float] = 180.0  # seconds; None = no deadline
    content_size_limit: Optional[int] = None  # bytes of the input (layer 0); None = no limit
    scan_size_limit: Optional[int] = 400 * MiB  # decompressed bytes, all layers
    max_files: Optional[int] = 10_000  # nodes inside containers
    decompress_layer_limit: int = 4


class MemoryBudget:
    """Bytes of buffers, spools and decoder state that all concurrent scans
    may hold together. A reservation past the budget is refused at once."""

    def __init__(self, limit: Optional[int]) -> None:
        if limit is not None and limit < 0:
            raise ValueError("memory budget must not be negative")
        self.limit = limit
        self._used = 0
        self.peak = 0  # the most ever held at once
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def acquire(self, nbytes: int, what: str = "") -> None:
        if nbytes < 0:
            raise ValueError("cannot reserve a negative number of bytes")
        with self._lock:
            if self.limit is not None and self._used + nbytes > self.limit:
                raise OutOfResources(
                    f"memory reservation of {nbytes} bytes{' for ' + what if what else ''} refused: "
                    f"{self._used} of {self.limit} bytes in use"
                )
            self._used += nbytes
            self.peak = max(self.peak, self._used)

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._used -= nbytes


class ScanBudget:
    """The running account of one scan against its limits."""

    def __init__(
        self,
        limits: ScanLimits = ScanLimits(),
        memory: Optional[MemoryBudget] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.memory = memory
        self._clock = clock
        self.started = clock()
        self.deadline = None if limits.timeout is None else self.started + limits.timeout
        self.input_bytes = 0
        self.scanned_bytes = 0
        self.files = 0
        self.reserved = 0

    def elapsed(self) -> float:
        return self._clock() - self.started

    def remaining(self) -> Optional[float]:
        """Seconds until the deadline (negative once past), None without one."""
        return None if self.deadline is None else self.deadline - self._clock()

    def check_deadline(self, path: str = "") -> None:
        if self.deadline is not None and self._clock() > self.deadline:
            raise ScanTimeout(f"scan time limit of {self.limits.timeout:g} s exceeded", path)

    def count_input(self, nbytes: int, path: str = "") -> None:
        """Bytes of the input itself (layer 0)."""
        self.input_bytes += nbytes
        limit = self.limits.content_size_limit
        if limit is not None and self.input_bytes > limit:
            raise ContentSize(f"input larger than content-size-limit ({limit} bytes)", path)

    def count_scanned(self, nbytes: int, path: str = "") -> None:
        """Bytes fed to the matcher, any layer; also checks the deadline."""
        self.scanned_bytes += nbytes
        limit = self.limits.scan_size_limit
        if limit is not None and self.scanned_bytes > limit:
            raise ContentSize(f"scanned bytes over scan-size-limit ({limit} bytes)", path)
        self.check_deadline(path)

    def count_file(self, path: str = "") -> None:
        self.files += 1
        limit = self.limits.max_files
        if limit is not None and self.files > limit:
            raise ContentSize(f"more than max-files ({limit}) entries", path)

    def check_layer(self, layer: int, path: str = "") -> None:
        limit = self.limits.decompress_layer_limit
        if layer > limit:
            raise DecompressLayer(f"layer {layer} is deeper than decompress-layer-limit {limit}", path)

    @contextmanager
    def reserve(self, nbytes: int, what: str = "") -> Iterator[None]:
        """Hold `nbytes` of the engine's memory budget for the block."""
        self.acquire(nbytes, what)
        try:
            yield
        finally:
            self.release(nbytes)

    def acquire(self, nbytes: int, what: str = "") -> None:
        """Reserve memory that grows in steps (a spool being written); the
        engine releases whatever a scan still holds when it ends."""
        if self.memory is not None:
            self.memory.acquire(nbytes, what)
        self.reserved += nbytes

    def release(self, nbytes: int) -> None:
        nbytes = min(nbytes, self.reserved)
        self.reserved -= nbytes
        if self.memory is not None:
            self.memory.release(nbytes)

    def release_all(self) -> None:
        self.release(self.reserved)


class Governor:
    """Engine-wide admission: readiness, a concurrency limit that never
    queues, and the memory budget the admitted scans share."""

    def __init__(self, max_concurrent: Optional[int] = None, memory_budget: Optional[int] = None) -> None:
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self.memory = MemoryBudget(memory_budget)
        self._active = 0
        self._lock = threading.Lock()
        self._ready = True
        self._not_ready_detail = ""

    @property
    def active(self) -> int:
        return self._active

    @property
    def ready(self) -> bool:
        return self._ready

    def set_ready(self, ready: bool, detail: str = "") -> None:
        self._ready = ready
        self._not_ready_detail = detail

    def snapshot(self) -> dict[str, Any]:
        """Engine-wide facts for stats(): readiness, slots, memory."""
        return {
            "ready": self._ready,
            "active_scans": self._active,
            "max_concurrent": self.max_concurrent,
            "memory_used": self.memory.used,
            "memory_budget": self.memory.limit,
        }

    @contextmanager
    def admit(self, path: str = "") -> Iterator[None]:
        """Hold one of the engine's scan slots for the block, or fail at once."""
        with self._lock:
            if not self._ready:
                raise EngineNotReady(self._not_ready_detail or "signature database is still loading", path)
            if self.max_concurrent is not None and self._active >= self.max_concurrent:
                raise TooManyRequests(
                    f"{self._active} scans running, the engine admits {self.max_concurrent}", path
                )
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
