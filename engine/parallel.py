"""Scan many files in worker processes.

Each worker builds its own Engine from the same database specification; the
compiled tables come from the database cache (memory-mapped, so the workers
share the pages and start without compiling). Results come back in the order
of the input, as plain ScanResult objects.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Optional

from .result import ScanResult

__all__ = ["scan_files_in_workers"]

_worker_engine: Any = None


def _init_worker(make_engine: Callable[[], Any]) -> None:
    global _worker_engine
    _worker_engine = make_engine()


def _scan_one(path: str) -> ScanResult:
    return _worker_engine.scan_file(path)


def scan_files_in_workers(
    make_engine: Callable[[], Any],
    files: Iterable[str],
    jobs: int,
    chunksize: int = 8,
) -> Iterator[ScanResult]:
    """Yield one ScanResult per file, in input order. `make_engine` must be
    picklable (a module-level function or a functools.partial of one)."""
    # fork where it exists: workers start in milliseconds and share the
    # parent's already-mapped tables; spawn elsewhere.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(make_engine,)) as pool:
        yield from pool.map(_scan_one, files, chunksize=chunksize)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_count(requested: Optional[int]) -> int:
    return max(1, requested if requested else default_jobs())
