"""The Engine: compile once, scan many, from threads or asyncio.

    engine = avgate.Engine()                       # the shipped database
    result = engine.scan_file("upload.zip")
    print(result.verdict, result.decision)

Every scan ends in a ScanResult with a Decision, even when it could not
finish: admission failures (too-many-requests, engine-not-ready) and errors
inside the scan become fallback reasons, never exceptions.
"""
from __future__ import annotations

import fnmatch
import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from . import content, scanner
from .content import Source
from .database import Database
from .errors import InternalError, ScanError
from .governor import Governor, MiB, ScanBudget
from .policy import decide
from .profile import Profile
from .result import Problem, ScanResult
from .stats import Stats

__all__ = ["Engine", "ScanStream"]

PathLike = Union[str, "os.PathLike[str]"]
DatabaseSpec = Union[None, Database, PathLike, Sequence[PathLike]]


class Engine:
    """A scan engine: a signature database, a profile, a governor.

    `database`: a Database, signature file(s) or directory(ies), or None for
    the shipped default. With ``background=True`` the database loads in a
    thread and scans admitted meanwhile end as engine-not-ready.
    `max_concurrent`: scans admitted at once (more fail at once as
    too-many-requests). `memory_budget`: bytes the running scans may reserve
    together (spools, buffers), else out-of-resources; each scan holds its
    working buffers (scan_working_set()) from it while it runs.
    `profile` may be replaced between scans; a scan keeps the one it began with.
    """

    def __init__(
        self,
        database: DatabaseSpec = None,
        profile: Optional[Profile] = None,
        *,
        max_concurrent: Optional[int] = None,
        memory_budget: Optional[int] = None,
        background: bool = False,
        all_matches: bool = False,
    ) -> None:
        self.profile = profile or Profile()
        self.governor = Governor(max_concurrent, memory_budget)
        self.all_matches = all_matches
        self._stats = Stats()
        self._db: Optional[Database] = None
        self._loader: Optional[threading.Thread] = None
        self._load_error: Optional[BaseException] = None
        self._swap_lock = threading.Lock()
        self.reload(database, background=background)

    # -- the database ------------------------------------------------------

    @property
    def database(self) -> Database:
        """The database scans use now (waits for a cold-start load)."""
        self.wait_ready()
        assert self._db is not None
        return self._db

    def reload(self, database: DatabaseSpec = None, *, background: bool = False) -> None:
        """Load a database and swap it in atomically. Until a first database
        is loaded, scans fail as engine-not-ready; afterwards the old one
        keeps serving until the new one is ready."""

        def load() -> None:
            try:
                db = database if isinstance(database, Database) else (
                    Database.default() if database is None else Database.load(database)
                )
            except BaseException as exc:  # reported by wait_ready / admission
                self._load_error = exc
                if self._db is None:
                    self.governor.set_ready(False, f"signature database failed to load: {exc}")
                return
            with self._swap_lock:
                self._db = db
                self._load_error = None
            self.governor.set_ready(True)

        if self._db is None:
            self.governor.set_ready(False, "signature database is still loading")
        if background:
            self._loader = threading.Thread(target=load, name="avgate-db-load", daemon=True)
            self._loader.start()
        else:
            load()
            if self._load_error is not None:
                raise self._load_error

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Wait for a background load; re-raises its error."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)
            if loader.is_alive():
                return False
        if self._load_error is not None and self._db is None:
            raise self._load_error
        return self._db is not None

    # -- scanning ----------------------------------------------------------

    def _new_budget(self, profile: Optional[Profile] = None) -> ScanBudget:
        return ScanBudget((profile or self.profile).limits(), self.governor.memory)

    def _scan(self, source: Source, name: str, budget: Optional[ScanBudget] = None) -> ScanResult:
        profile = self.profile  # one profile decides the whole scan, even if swapped meanwhile
        try:
            with self.governor.admit(name):
                db = self._db
                assert db is not None
                budget = budget or self._new_budget(profile)
                try:
                    # the scan's working buffers count against the shared budget
                    budget.acquire(scan_working_set(), "scan buffers")
                    result = scanner.scan_source(source, name, db, budget, self.all_matches)
                finally:
                    budget.release_all()
        except ScanError as exc:  # not admitted, or no memory for its buffers
            result = ScanResult(path=name, errors=[Problem(exc.reason, exc.path or name, exc.detail)])
        result.decision = decide(result, profile)
        self._stats.record(result)
        return result

    def scan_file(self, path: PathLike) -> ScanResult:
        return self._scan(os.fspath(path), os.fspath(path))

    def scan_bytes(self, data: Union[bytes, bytearray, memoryview], name: str = "bytes") -> ScanResult:
        return self._scan(data, name)

    def scan_fileobj(self, fileobj: Any, name: Optional[str] = None) -> ScanResult:
        return self._scan(fileobj, name or getattr(fileobj, "name", None) or "stream")

    def scan_path(
        self,
        path: PathLike,
        *,
        exclude: Iterable[str] = (),
        follow_symlinks: bool = False,
    ) -> Iterator[ScanResult]:
        """Scan a file, or every file under a directory (recursively). A
        directory that cannot be read yields a result of its own (reason
        `default`), so nothing is skipped silently."""
        unreadable: list[tuple[str, OSError]] = []
        files = iter_files(path, exclude=exclude, follow_symlinks=follow_symlinks,
                           onerror=lambda where, exc: unreadable.append((where, exc)))
        for file in files:
            while unreadable:
                yield self.unreadable(*unreadable.pop(0))
            yield self.scan_file(file)
        while unreadable:
            yield self.unreadable(*unreadable.pop(0))

    def unreadable(self, path: str, error: OSError) -> ScanResult:
        """The result for a directory a tree walk could not read."""
        detail = f"cannot read directory: {error.strerror or error}"
        result = ScanResult(path=path, errors=[Problem(InternalError.reason, path, detail)])
        result.decision = decide(result, self.profile)
        self._stats.record(result)
        return result

    def stream(self, name: str = "stream") -> "ScanStream":
        """Incremental scan for content that arrives in pieces."""
        return ScanStream(self, name)

    # -- asyncio -----------------------------------------------------------
    # (asyncio is imported where used: the caller's loop has loaded it already,
    # and a command-line scan should not pay for it at start-up)

    async def scan_file_async(self, path: PathLike) -> ScanResult:
        import asyncio

        return await asyncio.to_thread(self.scan_file, path)

    async def scan_bytes_async(self, data: Union[bytes, bytearray, memoryview], name: str = "bytes") -> ScanResult:
        import asyncio

        return await asyncio.to_thread(self.scan_bytes, data, name)

    async def scan_fileobj_async(self, fileobj: Any, name: Optional[str] = None) -> ScanResult:
        import asyncio

        return await asyncio.to_thread(self.scan_fileobj, fileobj, name)

    # -- facts -------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters (stats.Stats.snapshot) plus the governor's state under
        "engine" (ready, active_scans, max_concurrent, memory_used,
        memory_budget)."""
        return {**self._stats.snapshot(), "engine": self.governor.snapshot()}


def scan_working_set() -> int:
    """Bytes one scan reserves from the memory budget for its buffers (the
    content walk's chunk size); spools and decoders reserve their own."""
    return int(getattr(content, "CHUNK_SIZE", MiB))


def iter_files(
    path: PathLike,
    *,
    exclude: Iterable[str] = (),
    follow_symlinks: bool = False,
    onerror: Optional[Callable[[str, OSError], None]] = None,
) -> Iterator[str]:
    """Regular files under `path`, in a stable (sorted) order. `exclude` globs
    match a path or its last name; symbolic links are skipped unless
    followed (then each directory is walked once, so link loops end);
    sockets, FIFOs and devices are never opened. A directory that cannot be
    listed is passed to `onerror(path, exc)` (default: skipped)."""
    patterns = list(exclude)

    def excluded(p: str) -> bool:
        return bool(patterns) and any(
            fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(os.path.basename(p), pat) for pat in patterns
        )

    root = os.fspath(path)
    if excluded(root):
        return
    if not os.path.isdir(root) or (os.path.islink(root) and not follow_symlinks):
        yield root  # named explicitly: scanned whatever it is
        return
    seen: set[tuple[int, int]] = set()

    def walk(directory: str) -> Iterator[str]:
        info = os.stat(directory)
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            if onerror is not None:
                onerror(directory, exc)
            return
        # DirEntry answers from the directory listing itself: no stat per file
        for entry in entries:
            if excluded(entry.path) or (entry.is_symlink() and not follow_symlinks):
                continue
            try:
                if entry.is_dir(follow_symlinks=follow_symlinks):
                    yield from walk(entry.path)
                elif entry.is_file(follow_symlinks=follow_symlinks):
                    yield entry.path
            except OSError:
                continue

    yield from walk(root)


_END = object()


class ScanStream:
    """Push content as it arrives: ``with engine.stream(name) as s:
    s.feed(chunk) ...`` then ``s.result``. The walk runs in a helper thread
    that pulls the fed chunks, so containers are opened as they stream; the
    queue between them is short, which bounds memory."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.result: Optional[ScanResult] = None
        self._chunks: "queue.Queue[Any]" = queue.Queue(maxsize=4)
        self._worker: Optional[threading.Thread] = None
        self._done = threading.Event()
        self._budget: Optional[ScanBudget] = None

    def _pull(self) -> Iterator[bytes]:
        budget = self._budget
        assert budget is not None
        while True:
            # a client that stops sending must not hold the scan past its deadline
            wait = budget.remaining()
            try:
                chunk = self._chunks.get(timeout=None if wait is None else max(wait, 0.0))
            except queue.Empty:
                budget.check_deadline(self.name)
                continue
            if chunk is _END:
                return
            yield chunk

    def _run(self) -> None:
        try:
            self._budget = self.engine._new_budget()
            self.result = self.engine._scan(self._pull(), self.name, self._budget)
        finally:
            self._done.set()
            # drain what the walk did not read (it stopped early)
            while True:
                try:
                    if self._chunks.get_nowait() is _END:
                        break
                except queue.Empty:
                    break

    def __enter__(self) -> "ScanStream":
        self._worker = threading.Thread(target=self._run, name=f"avgate-stream-{self.name}", daemon=True)
        self._worker.start()
        return self

    def feed(self, chunk: Union[bytes, bytearray, memoryview]) -> None:
        if self._worker is None:
            raise RuntimeError("use the stream in a with block")
        data = bytes(chunk)
        while not self._done.is_set():
            try:
                self._chunks.put(data, timeout=0.05)
                return
            except queue.Full:
                continue
        # the scan already ended (a detection or an error): the rest is not needed

    def close(self) -> ScanResult:
        if self._worker is None:
            raise RuntimeError("use the stream in a with block")
        while not self._done.is_set():
            try:
                self._chunks.put(_END, timeout=0.05)
                break
            except queue.Full:
                continue
        self._worker.join()
        assert self.result is not None
        return self.result

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
