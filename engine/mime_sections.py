"""Cutting a message stream into sections without holding it in memory.

A ``Cursor`` is a window over a BlockSource. A ``SectionReader`` hands out
the bytes of one section (a MIME part's body, a preamble, one message of an
mbox) in spans, until a line that starts a terminator: a boundary delimiter
(``--boundary`` or ``--boundary--``, RFC 2046) of any enclosing multipart, or
an mbox ``From `` line. The line break before the delimiter belongs to the
delimiter, as RFC 2046 says. Spans are cut at buffer ends, never per line, so
a large base64 attachment moves in blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .blocks import BlockSource

__all__ = ["Cursor", "Terminators", "Terminator", "SectionReader", "MAX_LINE"]

MAX_LINE = 64 * 1024  # a header or delimiter line longer than this is cut
_DELIMITER_LINE = 1000  # RFC 5322 line limit: a longer line is no delimiter


class Cursor:
    """A window over a BlockSource with line access."""

    def __init__(self, source: BlockSource) -> None:
        self.source = source
        self.buf = bytearray()
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        """Append the next block; False at the end of the source."""
        if self.eof:
            return False
        block = self.source.read()
        if not block:
            self.eof = True
            return False
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += block
        return True

    def at_end(self) -> bool:
        return self.pos >= len(self.buf) and not self.fill()

    def peekline(self, limit: int = MAX_LINE) -> bytes:
        """The next line (with its line break), not consumed; b"" at the end."""
        while True:
            newline = self.buf.find(b"\n", self.pos, self.pos + limit)
            if newline >= 0:
                return bytes(self.buf[self.pos : newline + 1])
            if len(self.buf) - self.pos >= limit or not self.fill():
                return bytes(self.buf[self.pos : self.pos + limit])

    def readline(self, limit: int = MAX_LINE) -> bytes:
        line = self.peekline(limit)
        self.pos += len(line)
        return line

    def drain(self) -> None:
        self.pos = len(self.buf)
        while self.fill():
            self.pos = len(self.buf)


@dataclass(frozen=True)
class Terminator:
    """What ended a section: a boundary delimiter (closing or not) or an
    mbox From line (boundary None)."""

    boundary: Optional[bytes]
    closing: bool = False


_FROM_LINE = Terminator(None)


class Terminators:
    """The lines that end a section: the delimiters of every enclosing
    multipart, and From lines inside an mbox."""

    __slots__ = ("boundaries", "mbox", "markers", "hold")

    def __init__(self, boundaries: tuple[bytes, ...] = (), mbox: bool = False) -> None:
        self.boundaries = boundaries
        self.mbox = mbox
        markers: tuple[bytes, ...] = ()
        if boundaries:
            markers += (b"\n--",)
        if mbox:
            markers += (b"\nFrom ",)
        self.markers = markers
        # a marker cut by the end of the buffer starts in this many last bytes
        self.hold = max((len(m) for m in markers), default=1)

    def inside(self, boundary: bytes) -> "Terminators":
        return Terminators(self.boundaries + (boundary,), self.mbox)

    def match(self, buf: bytearray, start: int, eof: bool) -> tuple[bool, Optional[Terminator]]:
        """Does a terminator line start at `start`? Returns (need more
        data, the terminator or None)."""
        have = len(buf) - start
        if self.mbox:
            if buf.startswith(b"From ", start):
                return False, _FROM_LINE
            if have < 5 and not eof and b"From ".startswith(bytes(buf[start:])):
                return True, None
        if not self.boundaries:
            return False, None
        if have < 2:
            return (not eof and buf[start:] in (b"", b"-")), None
        if not buf.startswith(b"--", start):
            return False, None
        end = buf.find(b"\n", start, start + _DELIMITER_LINE)
        if end < 0:
            if not eof and have < _DELIMITER_LINE:
                return True, None
            end = min(len(buf), start + _DELIMITER_LINE)
        line = bytes(buf[start + 2 : end]).rstrip(b"\r")
        for boundary in reversed(self.boundaries):  # innermost first
            if line.startswith(boundary):
                rest = line[len(boundary) :]
                closing = rest.startswith(b"--")
                if closing:
                    rest = rest[2:]
                if not rest.strip(b" \t"):
                    return False, Terminator(boundary, closing)
        return False, None

    def match_line(self, line: bytes) -> Optional[Terminator]:
        """The terminator a whole line starts, if any."""
        return self.match(bytearray(line), 0, True)[1]


class SectionReader:
    """The bytes of one section, span by span (a BlockSource). After the
    end, `ended` is the terminator found (the cursor is at its line, not
    consumed), or None when the stream ended first."""

    volatile = False

    def __init__(self, cursor: Cursor, terminators: Terminators) -> None:
        self.cursor = cursor
        self.terminators = terminators
        self.ended: Optional[Terminator] = None
        self.done = False
        self._at_line_start = True

    def read(self) -> bytes:
        while not self.done:
            span = self._next_span()
            if span:
                return span
        return b""

    def drain(self) -> None:
        while self.read():
            pass

    def _next_span(self) -> bytes:
        c = self.cursor
        terms = self.terminators
        if self._at_line_start:
            if c.pos >= len(c.buf) and not c.fill():
                self.done = True
                return b""
            need_more, found = terms.match(c.buf, c.pos, c.eof)
            if need_more:
                c.fill()
                return b""
            self._at_line_start = False
            if found is not None:
                self.done, self.ended = True, found
                return b""
        buf, start, end = c.buf, c.pos, len(c.buf)
        emit_end = -1
        search = start
        while terms.markers:
            hits = [i for i in (buf.find(m, search, end) for m in terms.markers) if i >= 0]
            if not hits:
                break
            newline = min(hits)
            need_more, found = terms.match(buf, newline + 1, c.eof)
            if found is not None:
                body_end = newline - 1 if newline > start and buf[newline - 1] == 0x0D else newline
                span = bytes(buf[start:body_end])
                c.pos = newline + 1
                self.done, self.ended = True, found
                return span
            if need_more:
                emit_end = newline
                break
            search = newline + 1
        if emit_end < 0:
            emit_end = end if c.eof or not terms.markers else max(start, end - terms.hold)
        if emit_end > start and not c.eof and buf[emit_end - 1] == 0x0D:
            emit_end -= 1  # a CR may be the start of a delimiter's CRLF
        if emit_end <= start:
            if not c.fill():
                if start >= len(c.buf):
                    self.done = True
            return b""
        span = bytes(buf[start:emit_end])
        c.pos = emit_end
        return span
