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
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar

from .result import ScanResult

__all__ = ["scan_files_in_workers"]

T = TypeVar("T")

_worker_engine: Any = None
_worker_summarize: Any = None


def _init_worker(make_engine: Callable[[], Any], summarize: Callable[[list[ScanResult]], Any]) -> None:
    global _worker_engine, _worker_summarize
    if _worker_engine is None:  # forked workers inherit the parent's engine
        _worker_engine = make_engine()
    _worker_summarize = summarize


def _scan_batch(paths: list[str]) -> Any:
    return _worker_summarize([_worker_engine.scan_file(path) for path in paths])


def batches(files: Iterable[str], max_bytes: int = 8 << 20, max_files: int = 64) -> Iterator[list[str]]:
    """Consecutive files grouped into tasks of similar work: small files
    travel together (one round trip each batch), a big file goes alone (two
    big neighbours in one batch would leave the other worker idle)."""
    batch: list[str] = []
    size = 0
    for path in files:
        try:
            n = os.path.getsize(path)
        except OSError:
            n = 0
        if batch and (size + n > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += n
    if batch:
        yield batch


def scan_files_in_workers(
    make_engine: Callable[[], Any],
    files: Iterable[str],
    jobs: int,
    summarize: Callable[[list[ScanResult]], T],
    engine: Any = None,
) -> Iterator[T]:
    """Scan files in `jobs` processes; yield `summarize(results)` for each
    batch of consecutive files, in input order. Summarising in the worker
    keeps the parent light: it shares the cores with the workers, so what
    crosses the pipe should be what the parent needs (text to print,
    counters), not every result object. `make_engine` and `summarize` must be
    picklable (module-level functions or functools.partial of them); with
    fork, workers use `engine` (the parent's, already loaded) instead."""
    global _worker_engine
    # fork where it exists: workers start in milliseconds and share the
    # parent's loaded database page by page; spawn elsewhere.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    _worker_engine = engine if method == "fork" else None
    try:
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(make_engine, summarize)) as pool:
            yield from pool.map(_scan_batch, batches(files))
    finally:
        _worker_engine = None


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_count(requested: Optional[int]) -> int:
    return max(1, requested if requested else default_jobs())
