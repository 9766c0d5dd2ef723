"""The content walk: what a byte stream is, and how to open it, layer by layer.

Contract (used by scanner.py):

    walk(source, name, visitor, budget)

- `source`: a path, a bytes-like object, a binary file object, or an
  iterable of byte chunks.
- For each node: ``sink = visitor.begin(path, layer)``, then
  ``sink.feed(chunk)`` for its bytes, then ``sink.end()``. Sinks of nested
  nodes are open at the same time (a zip's own bytes are still streaming
  while its entries are scanned).
- A problem that does not end the scan: ``visitor.problem(ScanError)``.
- An error that ends the scan (content-size, timeout, out-of-resources):
  raised as the ScanError.
- The walk stops as soon as ``visitor.stopped`` is true.
- The budget is charged as the bytes flow: ``count_input`` for the input's
  bytes, ``count_file`` for every entry, part and message,
  ``check_deadline`` between blocks and entries; ``sink.feed`` charges the
  scanned bytes (scan-size-limit) itself.

Layers: layer 0 is the input. Every archive entry, decoded stream, MIME part
and mbox message is one layer deeper than the node it came from. A node whose
children would be deeper than decompress-layer-limit is not opened: its bytes
are scanned as they are and a decompress-layer problem names it.

What is a node, and what are its bytes:
- the input, each archive entry (regular files only), each MIME leaf part
  (decoded), each attached message and each mbox message: its own bytes;
- a container's own bytes (a zip, a tar, a mail) are scanned as its node
  while its entries are walked; that is how a signature in a stored entry,
  a tar header or a mail's text is still found;
- a decoded stream is a node (``x.gz//x``) when its content is not an
  archive; when it is (``docs.tar.gz``), the decoded stream is transparent:
  it still counts as a layer, but the archive's entries are named directly
  under the compressed file (``docs.tar.gz//payload.exe``) and the decoded
  archive bytes are not scanned a second time as a whole.

Nothing is extracted to disk; a 7z (which needs seeking) is spooled to a
bounded temporary file, or read from the input file itself.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional, Protocol

from . import containers, decoders, mail
from .blocks import CHUNK_SIZE, BlockSource, InputSource, LayerError, Sink, Stopped, Tee, open_source
from .errors import ContentSize, DecompressLayer, OutOfResources, ScanError
from .governor import ScanBudget
from .prefetch import PREFETCH_MIN_SIZE, Prefetched
from .sniff import DATA, F_ARCHIVE, F_COMPRESSED, F_MAIL, F_MBOX, F_SEEKABLE, F_TEXT, HEAD_SIZE, Kind, sniff

__all__ = ["Source", "walk", "Walker", "CHUNK_SIZE", "Visitor", "Sink"]

_ARCHIVE_FAMILIES = (F_ARCHIVE, F_SEEKABLE, F_COMPRESSED)

Source = Any  # str | os.PathLike | bytes-like | binary file object | Iterable[bytes]


class Visitor(Protocol):
    @property
    def stopped(self) -> bool: ...
    def begin(self, path: str, layer: int) -> Sink: ...
    def problem(self, error: Any) -> None: ...


def walk(source: Source, name: str, visitor: Visitor, budget: ScanBudget) -> None:
    root = open_source(source, name, budget)
    try:
        Walker(visitor, budget, root).node(root, name, 0)
    except Stopped:
        pass
    except LayerError as exc:  # no owner above the input: report it
        visitor.problem(exc.error)
    finally:
        root.close()


class Walker:
    """One walk: dispatches every node to the opener of its kind."""

    def __init__(self, visitor: Visitor, budget: ScanBudget, root: Optional[InputSource] = None) -> None:
        self.visitor = visitor
        self.budget = budget
        self.limit = budget.limits.decompress_layer_limit
        self._root = root  # the input: its own file, which a 7z is read from

    def check(self, path: str = "") -> None:
        """Between blocks and entries: stop early, or time out."""
        if self.visitor.stopped:
            raise Stopped
        self.budget.check_deadline(path)

    def problem(self, error: ScanError) -> None:
        self.visitor.problem(error)

    @contextmanager
    def reserve(self, nbytes: int, what: str, path: str) -> Iterator[None]:
        """Hold `nbytes` of the engine's memory budget; a refusal names `path`."""
        try:
            with self.budget.reserve(nbytes, what):
                yield
        except OutOfResources as exc:
            exc.path = exc.path or path
            raise

    def expect(self, size: int, path: str) -> None:
        """A node declares `size` bytes (its entry header says so).
        When they cannot fit in what is left of scan-size-limit the scan ends
        now as content-size, before a bomb is inflated: scanning would end
        the same way, only later."""
        limit = self.budget.limits.scan_size_limit
        if limit is not None and self.budget.scanned_bytes + size > limit:
            raise ContentSize(
                f"declares {size} bytes; {max(0, limit - self.budget.scanned_bytes)} bytes of "
                f"scan-size-limit ({limit}) are left", path)

    def node(
        self,
        src: BlockSource,
        path: str,
        layer: int,
        kind: Optional[Kind] = None,
        container_path: Optional[str] = None,
    ) -> None:
        """Walk one node. `kind` is a hint from the container (a MIME part's
        type); the content's own type wins when it is an archive or a
        compressed stream. `container_path` is set for a decoded stream: if
        its content is an archive, the decoded stream is transparent and the
        entries go under `container_path`."""
        self.check(path)
        tee = Tee(src, self.visitor, self.budget, path)
        sniffed = sniff(tee.peek(HEAD_SIZE))
        # A hint (a MIME type) only says how to read plain content: what the
        # bytes say wins, so a zip labelled text/plain is still opened.
        if kind is None or sniffed.family in _ARCHIVE_FAMILIES:
            kind = sniffed
        if kind.family not in (F_TEXT, DATA.family) and layer + 1 > self.limit:
            self.problem(DecompressLayer(
                f"{kind.name} content would be layer {layer + 1}, deeper than "
                f"decompress-layer-limit {self.limit}", path))
            kind = DATA
        if container_path is not None and kind.family in (F_ARCHIVE, F_SEEKABLE) and not kind.weak:
            self._transparent(kind, tee, container_path, layer)
            return
        sink = self.visitor.begin(path, layer)
        tee.sink = sink
        if kind is not DATA:
            self._open(kind, tee, path, layer)  # False (a weak magic was wrong): plain data
        tee.drain()
        sink.end()

    def _transparent(self, kind: Kind, tee: Tee, container_path: str, layer: int) -> None:
        """A decoded archive: its entries go under the compressed file, and
        it has no node of its own."""
        self._open(kind, tee, container_path, layer)
        # What the archive left unread (padding, or the rest of a damaged one) is
        # decompressed all the same: it counts against scan-size-limit, so a bomb
        # behind a broken tar header ends as content-size, not as an endless inflate.
        while True:
            block = tee.read()
            if not block:
                return
            self.budget.count_scanned(len(block), container_path)

    def _open(self, kind: Kind, tee: Tee, path: str, layer: int) -> bool:
        family = kind.family
        if family == F_ARCHIVE:
            return containers.walk_archive(self, tee, kind, path, layer)
        if family == F_SEEKABLE:
            file_path = self._root.path if self._root is not None and layer == 0 and tee.consumed == 0 else None
            containers.walk_seekable(self, tee, kind, path, layer, file_path)
            return True
        if family == F_COMPRESSED:
            self._decode(kind, tee, path, layer)
            return True
        if family == F_MAIL:
            mail.walk_message(self, tee, path, layer)
            return True
        if family == F_MBOX:
            mail.walk_mbox(self, tee, path, layer)
            return True
        if family == F_TEXT:
            mail.walk_text(self, tee, path, layer)
            return True
        return False

    def _decode(self, kind: Kind, tee: Tee, path: str, layer: int) -> None:
        decoder: Any = decoders.open_decoder(kind, tee, path, self.problem)
        if decoder is None:
            return
        decoded_path = containers.child_path(path, decoders.decoded_name(path, kind))
        size = tee.size_hint()
        if kind.name in decoders.THREADABLE and size is not None and size >= PREFETCH_MIN_SIZE:
            decoder = Prefetched(tee, lambda source, report: decoders.open_decoder(kind, source, path, report),
                                 self.problem, decoder.memory)
        try:
            with self.reserve(decoder.memory, f"{kind.name} decoder", path), decoder:
                self.node(decoder, decoded_path, layer + 1, container_path=path)
        except LayerError as exc:
            if exc.origin is not decoder:
                raise
            self.problem(exc.error)
