"""What a byte stream is, and how to open it.

FIRST SLICE (issue 2): the input is read flat, in chunks, as one node.
Issue 4 replaces this with the layered walk (libarchive containers, raw
compressed streams, MIME), keeping the contract:

    walk(source, name, visitor, budget)

- `source`: a path, a bytes-like object, a binary file object, or an
  iterable of byte chunks.
- For each node (layer 0 = the input): ``sink = visitor.begin(path, layer)``,
  then ``sink.feed(chunk)`` for its bytes, then ``sink.end()``.
- A problem that does not end the scan: ``visitor.problem(ScanError)``.
- An error that ends the scan: raise the ScanError.
- Stop as soon as ``visitor.stopped`` is true.
- Charge the budget: ``budget.count_input`` for layer-0 bytes,
  ``budget.check_layer`` / ``budget.count_file`` for nodes;
  ``sink.feed`` charges scanned bytes and checks the deadline itself.
"""
from __future__ import annotations

import os
from typing import IO, Any, Iterable, Iterator, Protocol, Union

from .governor import ScanBudget

__all__ = ["Source", "walk", "CHUNK_SIZE", "Visitor", "Sink"]

CHUNK_SIZE = 1 << 20

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Iterable[bytes]]


class Sink(Protocol):
    def feed(self, chunk: Union[bytes, memoryview]) -> None: ...
    def end(self) -> None: ...


class Visitor(Protocol):
    @property
    def stopped(self) -> bool: ...
    def begin(self, path: str, layer: int) -> Sink: ...
    def problem(self, error: Any) -> None: ...


def _chunks(source: Source) -> Iterator[Union[bytes, memoryview]]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield from _chunks(f)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for i in range(0, len(view), CHUNK_SIZE):
            yield view[i : i + CHUNK_SIZE]
    elif hasattr(source, "read"):
        while True:
            chunk = source.read(CHUNK_SIZE)  # type: ignore[union-attr]
            if not chunk:
                return
            yield chunk
    else:
        yield from source  # type: ignore[misc]


def walk(source: Source, name: str, visitor: Visitor, budget: ScanBudget) -> None:
    sink = visitor.begin(name, 0)
    for chunk in _chunks(source):
        budget.count_input(len(chunk), name)
        sink.feed(chunk)
        if visitor.stopped:
            break
    sink.end()
