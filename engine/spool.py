"""A bounded temporary file for an archive that needs seeking (7z)."""
from __future__ import annotations

import tempfile
from contextlib import ExitStack, contextmanager
from typing import IO, TYPE_CHECKING, Iterator

from .blocks import CHUNK_SIZE, BlockSource
from .errors import ContentSize

if TYPE_CHECKING:  # pragma: no cover
    from .content import Walker

__all__ = ["spool"]


@contextmanager
def spool(walker: "Walker", source: BlockSource, path: str) -> Iterator[IO[bytes]]:
    """The rest of `source` in a temporary file. Its size is reserved
    against the engine's memory budget as it grows (in doubling steps) and
    may not pass scan-size-limit."""
    budget = walker.budget
    cap = budget.limits.scan_size_limit
    with ExitStack() as stack:
        file = stack.enter_context(tempfile.TemporaryFile(prefix="avgate-spool-"))
        size = reserved = 0
        while True:
            block = source.read()
            if not block:
                break
            size += len(block)
            if cap is not None and size > cap:
                raise ContentSize(f"spool of a seekable archive over scan-size-limit ({cap} bytes)", path)
            while size > reserved:
                step = max(CHUNK_SIZE, reserved)
                stack.enter_context(walker.reserve(step, "spool of a seekable archive", path))
                reserved += step
            file.write(block)
        file.seek(0)
        yield file
