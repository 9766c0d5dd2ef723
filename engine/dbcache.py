"""Where compiled databases are cached, and under what key.

The key is a SHA-256 over the compiled format's version and, for each
source file in load order, its name and the SHA-256 of its content: the same
files give the same key wherever they live, and any change to any of them
(or to the compiler) gives a new one. Entries are table files
(avgate.tables), written atomically, so concurrent starts are safe.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Optional

__all__ = ["FORMAT", "cache_key", "default_cache_dir", "cache_path"]

# Bump when the compiled layout or the compiler's output changes.
FORMAT = "avgate-db-3"


def default_cache_dir() -> Path:
    """$AVGATE_CACHE_DIR, else $XDG_CACHE_HOME/avgate, else ~/.cache/avgate."""
    explicit = os.environ.get("AVGATE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "avgate"


def cache_key(sources: Iterable[tuple[str, bytes]]) -> str:
    """sources: (file name, content) in load order."""
    key = hashlib.sha256(FORMAT.encode())
    for name, data in sources:
        key.update(b"\0" + os.path.basename(name).encode("utf-8", "surrogateescape") + b"\0")
        key.update(hashlib.sha256(data).digest())
    return key.hexdigest()


def cache_path(key: str, cache_dir: Optional[os.PathLike[str] | str] = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / f"{key[:32]}.avgdb"
