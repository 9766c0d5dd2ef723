"""Signature database: ClamAV files -> compiled tables -> per-node matching.

    db = Database.load(paths)          # files and/or directories; or Database.default()
    node = db.node_scanner()           # one per node (file, archive entry, MIME part)
    hits = node.feed(chunk) ...        # body signatures completed in this chunk
    hits = node.finish()               # the rest: EOF-anchored bodies, hashes
    each hit is (signature name as written, end offset | None for hashes)

Sources: .ndb bodies, .hdb/.hsb hashes, .fp/.sfp allow lists, .ign2 ignore
lists, and .cvd/.cld packed databases holding any of them (read in memory).
Other ClamAV kinds (.ldb, .mdb, .cbc, ...) and signatures asking for what is
not supported yet are counted by kind (Database.unsupported), never dropped
silently. A bad line is a DatabaseError naming file, line and fault (the
default, as in ClamAV); loading with strict=False skips it, counts it
(bad_lines, problems) and logs it.

The compiled tables are cached on disk, keyed by the sources' content
(dbcache.py), and memory-mapped on the next start.

Allow lists: a node whose hash is listed is clean whatever matched. While a
node can still turn out to be listed (its size is within the largest listed
size, or some entry takes any size), its body detections are held back and
come out of finish(); past that size they are reported as they complete.
Hashes are computed only while the node is no larger than the largest size
any hash entry of that kind names.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import cvd, dbcache
from ._sigs import BodyTables
from .hashdb import KINDS, HashCollector, HashTable
from .nametable import NameTable
from .sigcompile import BodyCompiler, CompiledBody, check_tables
from .sigparse import (
    HEAD_SIZE,
    IgnoreList,
    Run,
    SignatureError,
    Unsupported,
    parse_ign2_line,
    parse_ndb_line,
    type_matches,
)
from .tables import TableFormatError, load_tables, save_tables

__all__ = ["Database", "DatabaseError", "NodeScanner", "default_database_dir", "SIGNATURE_KINDS",
           "UNSUPPORTED_KINDS"]

log = logging.getLogger("avgate.database")

PathLike = Union[str, "os.PathLike[str]"]
Hit = tuple[str, Optional[int]]

# File kinds avgate reads, by extension.
SIGNATURE_KINDS = {
    ".ndb": "body signatures",
    ".hdb": "MD5 hashes",
    ".hsb": "SHA-1/SHA-256 hashes",
    ".fp": "MD5 allow list",
    ".sfp": "SHA-1/SHA-256 allow list",
    ".ign2": "ignore list",
}
PACKED = {".cvd", ".cld"}
# ClamAV kinds avgate does not match yet: counted, with what they are.
UNSUPPORTED_KINDS = {
    ".ldb": "logical signatures",
    ".ldu": "logical signatures (PUA)",
    ".ndu": "body signatures (PUA)",
    ".hdu": "MD5 hashes (PUA)",
    ".hsu": "SHA hashes (PUA)",
    ".mdb": "PE section hashes",
    ".mdu": "PE section hashes (PUA)",
    ".msb": "PE section SHA hashes",
    ".msu": "PE section SHA hashes (PUA)",
    ".imp": "PE import table hashes",
    ".cbc": "bytecode",
    ".cdb": "container metadata",
    ".crb": "certificate rules",
    ".idb": "icon signatures",
    ".ftm": "file type magic",
    ".pdb": "phishing domains",
    ".gdb": "phishing domains",
    ".wdb": "phishing URL allow list",
    ".pwdb": "archive passwords",
    ".ign": "old-style ignore list",
    ".yar": "YARA rules",
    ".yara": "YARA rules",
}
AUTO_CACHE_BYTES = 64 * 1024  # below this much source, compiling beats hashing + mapping
MAX_PROBLEMS = 50  # bad-line messages kept (all are counted)
HASH_LENGTHS = {".hdb": (32,), ".fp": (32,), ".hsb": (40, 64), ".sfp": (40, 64)}
_HASHERS: dict[str, Callable[[], Any]] = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


class DatabaseError(ValueError):
    """A signature file could not be read; names the file (and line)."""


def default_database_dir() -> Path:
    """The database shipped with the package (signatures/)."""
    return Path(str(resources.files("avgate.signatures")))


# ---- sources --------------------------------------------------------------------


@dataclass
class _Source:
    path: str  # as shown in messages; "daily.cvd//daily.ndb" inside a packed database
    data: bytes

    @property
    def ext(self) -> str:
        return os.path.splitext(self.path)[1].lower()


def _known(ext: str) -> bool:
    return ext in SIGNATURE_KINDS or ext in PACKED or ext in UNSUPPORTED_KINDS


def _collect(paths: Sequence[PathLike]) -> list[_Source]:
    """Files in load order: each directory's signature files by name (not
    recursing), then the next path. Unknown files in a directory are passed
    over; an unknown file named explicitly is an error."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.is_file() and _known(f.suffix.lower())))
        elif p.exists():
            if not _known(p.suffix.lower()):
                raise DatabaseError(f"{p}: not a signature file (unknown extension {p.suffix or '(none)'!r})")
            files.append(p)
        else:
            raise DatabaseError(f"{p}: no such signature file or directory")
    sources = []
    for f in files:
        try:
            sources.append(_Source(str(f), f.read_bytes()))
        except OSError as exc:
            raise DatabaseError(f"{f}: cannot read: {exc.strerror or exc}") from None
    return sources


# ---- compiling ------------------------------------------------------------------


@dataclass
class _Report:
    """What loading found, besides signatures: kept in the cache's metadata."""

    strict: bool
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, int] = field(default_factory=dict)
    unsupported: dict[str, int] = field(default_factory=dict)
    ignored: int = 0
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, where: str, message: str) -> None:
        text = f"{where}: {message}"
        if self.strict:
            raise DatabaseError(text)
        self.bad_lines += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def to_meta(self) -> dict[str, Any]:
        return {"counts": self.counts, "details": self.details, "unsupported": self.unsupported,
                "ignored": self.ignored, "bad_lines": self.bad_lines, "problems": self.problems,
                "versions": self.versions}


def _bump(table: dict[str, int], kind: str, n: int = 1) -> None:
    table[kind] = table.get(kind, 0) + n


def _lines(source: _Source, report: _Report) -> Iterable[tuple[int, str, bytes]]:
    """(line number, text, raw bytes) of the lines that are not empty or comments."""
    for number, raw in enumerate(source.data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip() or raw.startswith(b"#"):
            continue
        try:
            yield number, raw.decode("utf-8"), raw
        except UnicodeDecodeError:
            report.problem(f"{source.path}:{number}", "not UTF-8 text")


def _count_entries(source: _Source) -> int:
    """Signatures in a file of a kind avgate does not read: lines, YARA rules, or 1 for bytecode."""
    if source.ext == ".cbc":
        return 1
    if source.ext in (".yar", ".yara"):
        return len([ln for ln in source.data.split(b"\n") if ln.lstrip().startswith((b"rule ", b"private rule ",
                                                                                       b"global rule "))])
    return sum(1 for ln in source.data.split(b"\n") if ln.strip() and not ln.startswith(b"#"))


def _expand(sources: list[_Source], report: _Report) -> list[_Source]:
    """Packed databases opened into their member files (in memory)."""
    out = []
    for source in sources:
        if source.ext not in PACKED:
            out.append(source)
            continue
        try:
            header = cvd.read_header(source.data, source.path)
            for name, data in cvd.members(source.data, header, check_md5=source.ext == ".cvd"):
                member = _Source(f"{source.path}//{name}", data)
                if _known(member.ext) and member.ext not in PACKED:
                    out.append(member)
        except cvd.CvdError as exc:
            raise DatabaseError(str(exc)) from None
        report.versions.append(header.to_dict())
    return out


def _compile(sources: list[_Source], strict: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Source files -> (arrays, metadata) of a compiled database."""
    report = _Report(strict)
    files = _expand(sources, report)
    ignore = IgnoreList()
    for source in files:
        if source.ext == ".ign2":
            for number, text, _ in _lines(source, report):
                try:
                    ignore.add(*parse_ign2_line(text))
                except SignatureError as exc:
                    report.problem(f"{source.path}:{number}", str(exc))
                    continue
                _bump(report.counts, "ign2")
    names = NameTable()
    body = BodyCompiler()
    detect, allow = HashCollector(allow=False), HashCollector(allow=True)
    for source in files:
        ext = source.ext
        if ext in UNSUPPORTED_KINDS:
            _bump(report.unsupported, f"{ext[1:]} ({UNSUPPORTED_KINDS[ext]})", _count_entries(source))
        elif ext == ".ndb":
            _compile_ndb(source, body, names, ignore, report)
        elif ext in HASH_LENGTHS:
            collector = allow if ext in (".fp", ".sfp") else detect
            added = collector.add_file(
                source.data, HASH_LENGTHS[ext], names, ignore or None,
                lambda number, message: report.problem(f"{source.path}:{number}", message),
                lambda kind: _bump(report.unsupported, kind),
            )
            _bump(report.counts, ext[1:], added)
    report.ignored += detect.ignored + allow.ignored
    arrays: dict[str, np.ndarray] = {}
    compiled = body.build()
    arrays.update(compiled.arrays)
    for role, collector in (("hash", detect), ("allow", allow)):
        for kind, table in collector.build().items():
            arrays.update(table.arrays(f"{role}.{kind}"))
    arrays.update(names.arrays())
    meta = {"format": dbcache.FORMAT, "history": compiled.history, **report.to_meta()}
    return arrays, meta


def _compile_ndb(source: _Source, body: BodyCompiler, names: NameTable, ignore: IgnoreList, report: _Report) -> None:
    added = 0
    for number, text, raw in _lines(source, report):
        try:
            sig = parse_ndb_line(text)
            if ignore and ignore.drops(sig.name, raw):
                report.ignored += 1
                continue
            body.add(sig, names.count)
        except SignatureError as exc:
            report.problem(f"{source.path}:{number}", str(exc))
            continue
        except Unsupported as exc:
            _bump(report.unsupported, exc.kind)
            continue
        names.add(sig.name)
        added += 1
        first = sig.items[0]
        plain = len(sig.items) == 1 and isinstance(first, Run) and first.exact
        _bump(report.details, "ndb: plain hex" if plain else "ndb: wildcards, gaps or alternatives")
        if sig.offset.kind != "any":
            _bump(report.details, "ndb: EOF-anchored" if sig.offset.kind == "eof" else "ndb: at a fixed offset")
        if sig.target not in (0, 7):
            _bump(report.details, "ndb: for one file type (checked by magic)")
    _bump(report.counts, "ndb", added)


# ---- the database ---------------------------------------------------------------


class Database:
    """Compiled signatures, immutable and shareable between threads."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], *, sources: Sequence[str] = (),
                 mapped: Any = None) -> None:
        self.meta = meta
        self.sources = list(sources)
        self.cache_status = "not cached"
        self.cache_path: Optional[Path] = None
        self.load_seconds = 0.0
        self._arrays = arrays
        self._mapped = mapped  # the cache file's mapping, alive as long as the arrays
        history = {k: int(v) for k, v in meta.get("history", {}).items()}
        compiled = CompiledBody({k: v for k, v in arrays.items() if not k.startswith(("hash.", "allow.", "names."))},
                                history)
        check_tables(compiled)
        self._n_body = compiled.sig_count
        self._body: Optional[BodyTables] = compiled.tables() if self._n_body else None
        sigs = arrays["sigs"]
        self._sig_name = sigs["name"].tolist() if self._n_body else []
        self._sig_target = sigs["target"].tolist() if self._n_body else []
        self._typed = any(t not in (0, 7) for t in self._sig_target)
        self._names_blob = arrays["names.blob"]
        self._names_offsets = arrays["names.offsets"]
        self._name_cache: dict[int, str] = {}
        self._detect = {k: HashTable.from_arrays(k, f"hash.{k}", arrays)
                        for k in KINDS if f"hash.{k}.digests" in arrays}
        self._allow = {k: HashTable.from_arrays(k, f"allow.{k}", arrays)
                       for k in KINDS if f"allow.{k}.digests" in arrays}
        n_names = self._names_offsets.shape[0] - 1
        for table in self._detect.values():
            if len(table) and int(table.names.max()) >= n_names:
                raise ValueError("compiled hash table names out of range")
        if self._n_body and max(self._sig_name) >= n_names:
            raise ValueError("compiled signature names out of range")
        # how far into a node each hash is worth computing (None = to the end)
        limits: dict[str, Optional[int]] = {}
        for table in list(self._detect.values()) + list(self._allow.values()):
            old, new = limits.get(table.kind, 0), table.max_size
            limits[table.kind] = None if old is None or new is None else max(old, new)
        self._hash_limits = tuple(limits.items())
        # the size past which some hasher stops (None: none ever does)
        bounded = [limit for limit in limits.values() if limit is not None]
        self._first_hash_limit: Optional[int] = min(bounded) if bounded else None
        # how far into a node an allow list can still apply: -1 never, None to the end
        self._allow_limit: Optional[int] = -1
        for table in self._allow.values():
            size = table.max_size
            self._allow_limit = None if self._allow_limit is None or size is None else max(self._allow_limit, size)

    # -- loading -----------------------------------------------------------

    @classmethod
    def default(cls, **options: Any) -> "Database":
        """The database shipped with the package."""
        return cls.load(default_database_dir(), **options)

    @classmethod
    def load(
        cls,
        paths: Union[PathLike, Sequence[PathLike]],
        *,
        strict: bool = True,
        cache: Optional[bool] = None,
        cache_dir: Optional[PathLike] = None,
    ) -> "Database":
        """Load signature files and directories.

        `strict` (the default, as in ClamAV): a bad line raises
        DatabaseError naming file, line and fault; with strict=False it is
        skipped, counted (bad_lines, problems) and logged.
        `cache`: use the compiled-database cache in `cache_dir` (default
        dbcache.default_cache_dir()); None = only when the sources are big
        enough for it to pay (AUTO_CACHE_BYTES)."""
        started = time.perf_counter()
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        sources = _collect(paths)
        use_cache = cache if cache is not None else sum(len(s.data) for s in sources) >= AUTO_CACHE_BYTES
        db: Optional[Database] = None
        status = "not cached"
        path: Optional[Path] = None
        if use_cache:
            path = dbcache.cache_path(dbcache.cache_key((s.path, s.data) for s in sources), cache_dir)
            db, status = cls._from_cache(path, [s.path for s in sources])
        if db is None:
            arrays, meta = _compile(sources, strict)
            db = cls(arrays, meta, sources=[s.path for s in sources])
            if use_cache and path is not None:
                status = cls._write_cache(path, arrays, meta, status)
        elif strict and db.bad_lines:
            raise DatabaseError(db.problems[0] if db.problems else f"{db.bad_lines} bad lines")
        db.cache_status, db.cache_path = status, path
        db.load_seconds = time.perf_counter() - started
        if db.bad_lines:
            log.warning("signature database: skipped %d bad line(s); first: %s", db.bad_lines,
                        db.problems[0] if db.problems else "?")
        return db

    @classmethod
    def _from_cache(cls, path: Path, sources: list[str]) -> tuple[Optional["Database"], str]:
        if not path.exists():
            return None, "compiled now (no cached copy)"
        try:
            arrays, meta, mapped = load_tables(path)
            if not isinstance(meta, dict) or meta.get("format") != dbcache.FORMAT:
                raise ValueError("written by another version")
            return cls(arrays, meta, sources=sources, mapped=mapped), "loaded from cache"
        except (OSError, TableFormatError, ValueError, KeyError, TypeError) as exc:
            log.warning("compiled database %s is unusable (%s); recompiling", path, exc)
            return None, f"compiled now (cached copy unusable: {exc})"

    @staticmethod
    def _write_cache(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any], status: str) -> str:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_tables(path, arrays, meta)
        except OSError as exc:
            log.warning("cannot write the compiled database to %s: %s", path, exc)
            return f"{status}; not cached ({exc.strerror or exc})"
        return f"{status}; cached"

    @classmethod
    def from_files(cls, files: Mapping[str, Union[bytes, str]], *, strict: bool = True) -> "Database":
        """A database from in-memory files: {file name: content}, the name's
        extension telling the kind ("local.ndb", "daily.cvd", ...). Not cached."""
        started = time.perf_counter()
        sources = []
        for name, content in files.items():
            source = _Source(name, content.encode("utf-8") if isinstance(content, str) else bytes(content))
            if not _known(source.ext):
                raise DatabaseError(f"{name}: not a signature file (unknown extension {source.ext or '(none)'!r})")
            sources.append(source)
        arrays, meta = _compile(sources, strict)
        db = cls(arrays, meta, sources=list(files))
        db.load_seconds = time.perf_counter() - started
        return db

    @classmethod
    def compile(cls, paths: Union[PathLike, Sequence[PathLike]], *, strict: bool = True,
                cache_dir: Optional[PathLike] = None) -> "Database":
        """Compile the sources and (re)write the cache entry, whatever is there."""
        started = time.perf_counter()
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        sources = _collect(paths)
        arrays, meta = _compile(sources, strict)
        db = cls(arrays, meta, sources=[s.path for s in sources])
        path = dbcache.cache_path(dbcache.cache_key((s.path, s.data) for s in sources), cache_dir)
        db.cache_status, db.cache_path = cls._write_cache(path, arrays, meta, "compiled"), path
        db.load_seconds = time.perf_counter() - started
        return db

    # -- facts -------------------------------------------------------------

    @property
    def signature_count(self) -> int:
        """Signatures that can detect: bodies and hashes (allow lists not counted)."""
        return self._n_body + sum(len(t) for t in self._detect.values())

    @property
    def counts(self) -> dict[str, int]:
        """Entries loaded, by file kind (ndb, hdb, hsb, fp, sfp, ign2)."""
        return dict(self.meta.get("counts", {}))

    @property
    def unsupported(self) -> dict[str, int]:
        """Signatures left out because avgate does not match them yet, by kind."""
        return dict(self.meta.get("unsupported", {}))

    @property
    def bad_lines(self) -> int:
        return int(self.meta.get("bad_lines", 0))

    @property
    def problems(self) -> list[str]:
        """The first bad lines' messages (file:line: what is wrong)."""
        return list(self.meta.get("problems", []))

    @property
    def ignored(self) -> int:
        """Signatures dropped by .ign2 entries."""
        return int(self.meta.get("ignored", 0))

    @property
    def versions(self) -> list[dict[str, Any]]:
        """Headers of the packed databases (.cvd/.cld) loaded."""
        return list(self.meta.get("versions", []))

    def info(self) -> dict[str, Any]:
        hashes = {k: len(t) for k, t in self._detect.items()}
        allows = {k: len(t) for k, t in self._allow.items()}
        return {
            "signatures": self.signature_count,
            "counts": self.counts,
            "details": dict(self.meta.get("details", {})),
            "hashes": hashes,
            "allow": allows,
            "unsupported": self.unsupported,
            "ignored": self.ignored,
            "bad_lines": self.bad_lines,
            "problems": self.problems,
            "versions": self.versions,
            "sources": self.sources,
            "load_seconds": self.load_seconds,
            "cache": {"status": self.cache_status, "path": str(self.cache_path) if self.cache_path else None},
        }

    def name(self, name_id: int) -> str:
        name = self._name_cache.get(name_id)
        if name is None:
            lo, hi = int(self._names_offsets[name_id]), int(self._names_offsets[name_id + 1])
            name = self._names_blob[lo:hi].tobytes().decode("utf-8", "replace")
            self._name_cache[name_id] = name
        return name

    def __repr__(self) -> str:
        return f"<avgate.Database {self.signature_count} signatures, {self.cache_status}>"

    # -- matching ----------------------------------------------------------

    def node_scanner(self) -> "NodeScanner":
        return NodeScanner(self)

    def match(self, data: Union[bytes, bytearray, memoryview, Iterable[bytes]]) -> list[Hit]:
        """Every signature that matches one node (given whole or as chunks)."""
        node = self.node_scanner()
        chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
        hits = []
        for chunk in chunks:
            hits += node.feed(chunk)
        return hits + node.finish()


class NodeScanner:
    """Matches one node's bytes, chunk by chunk, against the database."""

    __slots__ = ("db", "allowed", "_body", "_hashers", "_size", "_held", "_head", "_waiting", "_reported",
                 "_finished")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.allowed = False  # set by finish(): the node's hash is on an allow list
        self._body = db._body.node() if db._body is not None else None
        self._hashers = [(kind, _HASHERS[kind](), limit) for kind, limit in db._hash_limits]
        self._size = 0
        allow_limit = db._allow_limit
        self._held: Optional[list[Hit]] = [] if allow_limit is None or allow_limit >= 0 else None
        self._head: Optional[bytearray] = bytearray() if db._typed else None
        self._waiting: list[tuple[int, int]] = []  # typed detections until the head decides
        self._reported: set[str] = set()
        self._finished = False

    def feed(self, chunk: Union[bytes, bytearray, memoryview]) -> list[Hit]:
        """Body signature matches that end in this chunk (see the module
        note on allow lists)."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        size = self._size = self._size + len(chunk)
        if self._hashers:
            until = self.db._first_hash_limit
            if until is not None and size > until:
                self._hashers = [h for h in self._hashers if h[2] is None or size <= h[2]]
            for _, hasher, _ in self._hashers:
                hasher.update(chunk)
        head = self._head
        if head is not None and len(head) < HEAD_SIZE:
            head += bytes(chunk[: HEAD_SIZE - len(head)])
        found = self._body.feed(chunk) if self._body is not None else []
        if not found and not self._waiting and not self._held:
            return []
        hits = self._accept(self._take_waiting() + found, complete=False) if (found or self._waiting) else []
        if self._held is not None:
            limit = self.db._allow_limit
            if limit is None or size <= limit:
                self._held += hits
                return []
            hits, self._held = self._held + hits, None
        return hits

    def finish(self) -> list[Hit]:
        """Matches only known at the end of the node: EOF-anchored body
        signatures, hash signatures, and anything held back."""
        if self._finished:
            return []
        self._finished = True
        db = self.db
        found = self._body.finish() if self._body is not None else []
        if self._waiting:
            found = self._take_waiting() + found
        hits = self._accept(found, complete=True) if found else []
        if not self._hashers:
            return self._held + hits if self._held else hits
        size = self._size
        digests = [(kind, hasher.digest()) for kind, hasher, _ in self._hashers]
        if self._held is not None:
            for kind, digest in digests:
                table = db._allow.get(kind)
                if table is not None and table.lookup(digest, size):
                    self.allowed = True
                    return []
            hits = self._held + hits
        for kind, digest in digests:
            table = db._detect.get(kind)
            if table is not None:
                for row in table.lookup(digest, size):
                    name = db.name(int(table.names[row]))
                    if name not in self._reported:
                        self._reported.add(name)
                        hits.append((name, None))
        return hits

    def _take_waiting(self) -> list[tuple[int, int]]:
        waiting, self._waiting = self._waiting, []
        return waiting

    def _accept(self, found: list[tuple[int, int]], complete: bool) -> list[Hit]:
        """Signature indices -> names: file types checked, each name once."""
        db = self.db
        hits: list[Hit] = []
        for sig, end in found:
            target = db._sig_target[sig]
            if target not in (0, 7):
                assert self._head is not None
                fits = type_matches(target, bytes(self._head), complete)
                if fits is None:
                    self._waiting.append((sig, end))
                    continue
                if not fits:
                    continue
            name = db.name(db._sig_name[sig])
            if name not in self._reported:
                self._reported.add(name)
                hits.append((name, end))
        return hits
