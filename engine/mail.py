"""E-mail as layers: RFC 5322 / MIME messages, mbox files, uuencoded files
in text.

The message's raw bytes are its node (fed by the walk); each leaf part,
decoded from its Content-Transfer-Encoding, is a node one layer deeper,
named by its filename or by its MIME section number (``part-2.1``). A
multipart is structure, not a layer: its parts sit directly under the
message. An attached message (message/rfc822) is a node of its own, and its
parts are one layer below it. In an mbox each message is a node
(``message-3``) one layer below the file.

Headers are parsed by the standard library (email.policy.default decodes
RFC 2047 and RFC 2231 file names); bodies stream through section readers and
are never held whole.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Optional

from .blocks import BlockSource
from .archive_reader import child_path
from .errors import CorruptFile, DecompressLayer
from .mime_sections import MAX_LINE, Cursor, SectionReader, Terminator, Terminators
from .sniff import MAIL, MAIL_TEXT, Kind
from .transfer_decoding import UU_BEGIN, UuSource, decoder_for

if TYPE_CHECKING:  # pragma: no cover
    from .content import Walker

__all__ = ["walk_message", "walk_mbox", "walk_text", "MAX_MULTIPART_DEPTH"]

MAX_HEADER_BYTES = 256 * 1024
MAX_MULTIPART_DEPTH = 20  # multiparts inside multiparts; deeper is decompress-layer
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_PARSER = BytesHeaderParser(policy=default_policy)
_MESSAGE_TYPES = ("message/rfc822", "message/global")


@dataclass(frozen=True)
class PartInfo:
    content_type: str
    boundary: Optional[bytes]
    filename: Optional[str]
    encoding: str


def describe(raw_headers: bytes, default_type: str = "text/plain") -> PartInfo:
    """What a part's header block says about its body."""
    try:
        msg = _PARSER.parsebytes(raw_headers)
        if default_type != "text/plain":
            msg.set_default_type(default_type)
        content_type = msg.get_content_type()
        boundary = msg.get_boundary() if msg.get_content_maintype() == "multipart" else None
        filename = msg.get_filename()
        encoding = str(msg.get("Content-Transfer-Encoding", "") or "")
    except Exception:  # a header the parser chokes on: treat the part as plain text
        return PartInfo("text/plain", None, None, "")
    return PartInfo(
        content_type,
        boundary.encode("utf-8", "surrogateescape") if boundary else None,
        filename.strip() if filename and filename.strip() else None,
        encoding,
    )


def read_headers(cursor: Cursor, terminators: Terminators) -> bytes:
    """The header block at the cursor, up to and including the blank line
    (consumed); stops before a terminator line or a line that is no field."""
    lines = []
    size = 0
    while size <= MAX_HEADER_BYTES:
        line = cursor.peekline()
        if not line:
            break
        if line in (b"\n", b"\r\n"):
            cursor.pos += len(line)
            break
        if terminators.markers and terminators.match_line(line) is not None:
            break
        if not (line[:1] in (b" ", b"\t") or _FIELD.match(line)):
            break  # the body starts without a blank line
        cursor.pos += len(line)
        lines.append(line)
        size += len(line)
    return b"".join(lines)


class _MessageWalk:
    def __init__(self, walker: "Walker", path: str, layer: int) -> None:
        self.walker = walker
        self.path = path
        self.layer = layer

    def entity(self, cursor: Cursor, terms: Terminators, section: str, depth: int,
               default_type: str = "text/plain") -> Optional[Terminator]:
        """One entity (headers + body); returns what ended it."""
        info = describe(read_headers(cursor, terms), default_type)
        if info.boundary is not None:
            if depth < MAX_MULTIPART_DEPTH:
                return self.multipart(cursor, terms, info, section, depth)
            self.walker.problem(
                DecompressLayer(f"multipart nesting deeper than {MAX_MULTIPART_DEPTH}", self.path)
            )
        return self.leaf(cursor, terms, info, section)

    def multipart(self, cursor: Cursor, terms: Terminators, info: PartInfo, section: str,
                  depth: int) -> Optional[Terminator]:
        boundary = info.boundary
        assert boundary is not None
        inner = terms.inside(boundary)
        child_type = "message/rfc822" if info.content_type == "multipart/digest" else "text/plain"
        preamble = SectionReader(cursor, inner)
        preamble.drain()
        ended = preamble.ended
        index = 0
        while ended is not None and ended.boundary == boundary and not ended.closing:
            cursor.readline()  # the delimiter line
            index += 1
            ended = self.entity(cursor, inner, f"{section}.{index}" if section else str(index), depth + 1, child_type)
        if ended is not None and ended.boundary == boundary:  # the closing delimiter
            cursor.readline()
            epilogue = SectionReader(cursor, terms)
            epilogue.drain()
            return epilogue.ended
        self.walker.problem(CorruptFile("multipart ends without its closing boundary", self.path))
        return ended

    def leaf(self, cursor: Cursor, terms: Terminators, info: PartInfo, section: str) -> Optional[Terminator]:
        body = SectionReader(cursor, terms)
        part_path = child_path(self.path, info.filename or f"part-{section or '1'}")
        self.walker.budget.count_file(part_path)
        decoded = decoder_for(info.encoding, body, part_path, self.walker.problem)
        kind: Optional[Kind] = None
        if info.content_type in _MESSAGE_TYPES:
            kind = MAIL
        elif info.content_type.startswith("text/"):
            kind = MAIL_TEXT
        self.walker.node(decoded, part_path, self.layer + 1, kind=kind)
        body.drain()
        return body.ended


def walk_message(walker: "Walker", source: BlockSource, path: str, layer: int) -> None:
    """The parts of one message, as nodes of layer + 1."""
    cursor = Cursor(source)
    _MessageWalk(walker, path, layer).entity(cursor, Terminators(), "", 0)
    cursor.drain()


def walk_mbox(walker: "Walker", source: BlockSource, path: str, layer: int) -> None:
    """Each message of an mbox file, as a node of layer + 1."""
    cursor = Cursor(source)
    terms = Terminators(mbox=True)
    before = SectionReader(cursor, terms)  # anything before the first From line
    before.drain()
    ended = before.ended
    index = 0
    while ended is not None:
        cursor.readline()  # the From line
        index += 1
        message_path = child_path(path, f"message-{index}")
        walker.budget.count_file(message_path)
        message = SectionReader(cursor, terms)
        walker.node(message, message_path, layer + 1, kind=MAIL)
        message.drain()
        ended = message.ended


def walk_text(walker: "Walker", source: BlockSource, path: str, layer: int) -> None:
    """A text part: uuencoded files inside it (``begin 644 name`` ...
    ``end``) are nodes of layer + 1."""
    cursor = Cursor(source)
    finder = _UuFinder(cursor)
    while True:
        name = finder.next_begin()
        if name is None:
            break
        uu_path = child_path(path, name or "uuencoded")
        if layer + 1 > walker.budget.limits.decompress_layer_limit:
            walker.problem(DecompressLayer(
                f"layer {layer + 1} is deeper than decompress-layer-limit "
                f"{walker.budget.limits.decompress_layer_limit}", uu_path))
            break
        walker.budget.count_file(uu_path)
        uu = UuSource(cursor, uu_path, walker.problem, seek_begin=False)
        walker.node(uu, uu_path, layer + 1)
        while uu.read():
            pass
        finder.at_line_start = True
    cursor.drain()


class _UuFinder:
    """Finds ``begin <mode> <name>`` lines in a text stream, block-wise."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor
        self.at_line_start = True

    def next_begin(self) -> Optional[str]:
        """Consumes through the next begin line and returns its file name
        ("" when it has none); None at the end of the text."""
        c = self.cursor
        while True:
            if self.at_line_start:
                self.at_line_start = False
                name = self._begin_here()
                if name is not None:
                    return name
            found = c.buf.find(b"\nbegin ", c.pos)
            if found >= 0:
                c.pos = found + 1
                name = self._begin_here()
                if name is not None:
                    return name
                continue
            c.pos = max(c.pos, len(c.buf) - 6)  # keep a "\nbegin" cut by the block end
            if not c.fill():
                return None

    def _begin_here(self) -> Optional[str]:
        line = self.cursor.peekline(MAX_LINE)
        begin = UU_BEGIN.match(line)
        if begin is None:
            return None
        self.cursor.pos += len(line)
        return begin.group(1).decode("utf-8", "replace").strip().rsplit("/", 1)[-1]
