"""Signature database: ClamAV files -> compiled tables -> per-node matching.

FIRST SLICE (issue 2): reads .hdb (MD5) and .ndb bodies that are plain hex.
Issue 3 replaces the loader (wildcards, offsets, .hsb, .fp/.sfp, .ign2,
.cvd/.cld, cache) behind the same interface:

    db = Database.load(paths)          # or Database.default()
    node = db.node_scanner()           # one per node (file, entry, part)
    hits = node.feed(chunk) ...        # body matches ending in this chunk
    hits = node.finish()               # the rest: hash matches (offset None)
    each hit is (signature name, end offset | None)
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from ._matcher import Matcher

__all__ = ["Database", "DatabaseError", "NodeScanner", "default_database_dir"]

PathLike = Union[str, "os.PathLike[str]"]


class DatabaseError(ValueError):
    """A signature file could not be read; names the file and line."""


def default_database_dir() -> Path:
    """The database shipped with the package (signatures/)."""
    return Path(str(resources.files("avgate.signatures")))


@dataclass
class Database:
    names: list[str] = field(default_factory=list)  # body signature names, by pattern index
    matcher: Matcher = field(default_factory=lambda: Matcher([]))
    md5: dict[tuple[str, Optional[int]], str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @classmethod
    def default(cls) -> "Database":
        return cls.load(default_database_dir())

    @classmethod
    def load(cls, paths: Union[PathLike, Sequence[PathLike]]) -> "Database":
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                files.extend(sorted(f for f in p.iterdir() if f.suffix in (".hdb", ".ndb")))
            elif p.exists():
                files.append(p)
            else:
                raise DatabaseError(f"{p}: no such signature file or directory")
        names: list[str] = []
        bodies: list[bytes] = []
        md5: dict[tuple[str, Optional[int]], str] = {}
        for f in files:
            for lineno, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split(":")
                try:
                    if f.suffix == ".hdb":
                        digest, size, name = parts[0].lower(), parts[1], parts[2]
                        md5[(digest, None if size == "*" else int(size))] = name
                    else:
                        names.append(parts[0])
                        bodies.append(bytes.fromhex(parts[3]))
                except (IndexError, ValueError) as exc:
                    raise DatabaseError(f"{f}:{lineno}: cannot parse signature: {exc}") from None
        return cls(names, Matcher(bodies), md5, [str(f) for f in files])

    @property
    def signature_count(self) -> int:
        return len(self.names) + len(self.md5)

    def node_scanner(self) -> "NodeScanner":
        return NodeScanner(self)


class NodeScanner:
    """Matches one node's bytes, chunk by chunk, against the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stream = db.matcher.stream(first_only=True)
        self.md5 = hashlib.md5() if db.md5 else None
        self.size = 0

    def feed(self, chunk: Union[bytes, memoryview]) -> list[tuple[str, Optional[int]]]:
        """Body signature matches that end in this chunk."""
        found = self.stream.feed(chunk)
        if self.md5 is not None:
            self.md5.update(chunk)
        self.size += len(chunk)
        return [(self.db.names[i], end) for i, end in found]

    def finish(self) -> list[tuple[str, Optional[int]]]:
        """Matches only known at the end of the node: hash signatures."""
        hits: list[tuple[str, Optional[int]]] = []
        if self.md5 is not None:
            digest = self.md5.hexdigest()
            for key in ((digest, self.size), (digest, None)):
                if key in self.db.md5:
                    hits.append((self.db.md5[key], None))
        return hits


def iter_signature_files(paths: Iterable[PathLike]) -> list[Path]:  # pragma: no cover - replaced in issue 3
    return [Path(p) for p in paths]
