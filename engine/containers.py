"""Archives through libarchive: one reader per container, its entries
walked as child nodes, every failure reported as its fallback reason.

7z needs seeking: it is spooled to a bounded temporary file first (or, for
the input itself, the file is reopened). RAR5 entries are checked for
encryption records as their headers stream by (rar5_headers).
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, Optional

from . import archive_ffi as ffi
from .archive_reader import ArchiveReader, EntrySource, child_path
from .blocks import BlockSource, LayerError, Tee
from .errors import PasswordFile
from .rar5_headers import SIGNATURE as RAR5_SIGNATURE, ObservedSource, Rar5Headers
from .sniff import Kind
from .spool import spool

if TYPE_CHECKING:  # pragma: no cover
    from .content import Walker

__all__ = ["walk_archive", "walk_seekable", "walk_entries", "child_path"]

_MAX_HEADER_FAILURES = 16  # damaged headers tolerated in one container before giving up


def walk_archive(walker: "Walker", source: BlockSource, kind: Kind, path: str, layer: int) -> bool:
    """Walk a streamed archive's entries as nodes of layer + 1. False when a
    weak magic was wrong (libarchive does not recognise the format): the
    bytes are then plain data."""
    rar5: Optional[Rar5Headers] = None
    if kind.name == "rar" and isinstance(source, Tee) and source.peek(len(RAR5_SIGNATURE)) == RAR5_SIGNATURE:
        rar5 = Rar5Headers()
        source = ObservedSource(source, rar5)
    reader = ArchiveReader(kind.formats, source=source, path=path)
    try:
        with reader:
            first_failure = walk_entries(walker, reader, path, layer, report_first=not kind.weak,
                                         encrypted=rar5.encrypted if rar5 is not None else None)
            if first_failure is not None and reader.unrecognized(first_failure):
                return False
            if first_failure is not None:
                walker.problem(first_failure.error)
    except LayerError as exc:
        if exc.origin is not reader:
            raise
        if kind.weak and reader.unrecognized(exc):
            return False
        walker.problem(exc.error)
    return True


def walk_seekable(walker: "Walker", source: BlockSource, kind: Kind, path: str, layer: int, file_path: Optional[str]) -> None:
    """Walk an archive that needs seeking (7z): from the input file itself
    when there is one, else from a bounded spool of the stream."""
    with ExitStack() as stack:
        file: IO[bytes]
        if file_path is not None:
            _drain(source)
            file = stack.enter_context(open(file_path, "rb"))
        else:
            file = stack.enter_context(spool(walker, source, path))
        reader = ArchiveReader(kind.formats, file=file, path=path)
        try:
            with reader:
                walk_entries(walker, reader, path, layer)
        except LayerError as exc:
            if exc.origin is not reader:
                raise
            walker.problem(exc.error)


def _drain(source: BlockSource) -> None:
    while source.read():
        pass


def walk_entries(walker: "Walker", reader: ArchiveReader, path: str, layer: int,
                 report_first: bool = True, encrypted: Optional[list[bool]] = None) -> Optional[LayerError]:
    """Each entry of an open archive: one with data becomes a node of layer + 1;
    an encrypted one is reported as password-file without reading it
    (libarchive's flags, or `encrypted`: per entry, what the format's own
    headers said). A header failure before the first entry is returned
    instead of reported when not `report_first` (a weak magic may have been
    wrong)."""
    failures = 0
    while True:
        rc = reader.next_header()
        if rc == ffi.EOF:
            return None
        if ffi.failed(rc):  # RETRY or FAILED: this header; FATAL: the archive
            failure = reader.failure(rc, path)
            if not report_first and reader.entries == 0:
                return failure
            if failures == 0 or failure.fatal:
                walker.problem(failure.error)
            failures += 1
            if failure.fatal or failures > _MAX_HEADER_FAILURES:
                return None
            continue
        entry_path = child_path(path, reader.entry_name() or f"entry-{walker.budget.files + 1}")
        walker.budget.count_file(entry_path)
        if not reader.entry_has_data():
            walker.check(entry_path)  # nothing else checks between data-less entries
            continue
        index = reader.entries - 1
        if reader.entry_is_encrypted() or (encrypted is not None and index < len(encrypted) and encrypted[index]):
            walker.problem(PasswordFile("entry is encrypted", entry_path))
            walker.check(entry_path)
            continue
        size = reader.entry_size()
        if size is not None:
            walker.expect(size, entry_path)
        try:
            walker.node(EntrySource(reader, entry_path, walker), entry_path, layer + 1)
        except LayerError as exc:
            if exc.origin is not reader:
                raise
            walker.problem(exc.error)
            if exc.fatal:
                return None
