"""Content-Transfer-Encodings decoded as they stream: base64,
quoted-printable and uuencode (binascii does the decoding).

Each decoder is a BlockSource over the encoded section. Damage that still
leaves data (a base64 part cut in the middle of a quantum, an undecodable uu
line) is reported to `report` and decoding goes on: the part's bytes are
still worth scanning.
"""
from __future__ import annotations

import binascii
import re
from typing import Callable, Optional, Protocol

from .blocks import BlockSource
from .errors import CorruptFile, ScanError
from .mime_sections import Cursor

__all__ = ["Base64Source", "QuotedPrintableSource", "UuSource", "UU_BEGIN", "decoder_for"]

Report = Callable[[ScanError], None]

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)
UU_BEGIN = re.compile(rb"begin [0-7]{1,4} ([^\r\n]*)")
_UU_END = re.compile(rb"end\s*")


class _SectionDecoder:
    """A BlockSource that decodes its section as it streams: each span goes
    through `_feed`, the end through `_finish`; spans that decode to nothing
    yet (a partial quantum or escape) are not returned as empty blocks."""

    volatile = False

    def __init__(self, section: BlockSource) -> None:
        self.section = section
        self._done = False

    def read(self) -> bytes:
        while not self._done:
            span = self.section.read()
            if not span:
                self._done = True
                return self._finish()
            out = self._feed(bytes(span))
            if out:
                return out
        return b""

    def _feed(self, span: bytes) -> bytes:
        raise NotImplementedError

    def _finish(self) -> bytes:
        raise NotImplementedError


class Base64Source(_SectionDecoder):
    def __init__(self, section: BlockSource, path: str, report: Report) -> None:
        super().__init__(section)
        self.path = path
        self.report = report
        self._pending = b""

    def _feed(self, span: bytes) -> bytes:
        self._pending += span.translate(None, _NOT_B64)
        return self._decode_complete()

    def _decode_complete(self) -> bytes:
        """Decode every whole quantum; a padded quantum ends one encoded
        run, and another may follow (a2b_base64 alone would stop there)."""
        pieces = []
        data = self._pending
        while True:
            pad = data.find(b"=")
            if pad < 0:
                whole = len(data) - len(data) % 4
                pieces.append(binascii.a2b_base64(data[:whole]))
                data = data[whole:]
                break
            end = (pad // 4 + 1) * 4
            if end > len(data):
                break
            pieces.append(binascii.a2b_base64(data[:end]))
            data = data[end:].lstrip(b"=")
        self._pending = data
        return b"".join(pieces)

    def _finish(self) -> bytes:
        data = self._pending.replace(b"=", b"")
        self._pending = b""
        if not data:
            return b""
        if len(data) % 4 == 1:
            self.report(CorruptFile("base64 text ends in the middle of a byte", self.path))
            data = data[:-1]
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4)) if data else b""


class QuotedPrintableSource(_SectionDecoder):
    def __init__(self, section: BlockSource) -> None:
        super().__init__(section)
        self._carry = b""

    def _feed(self, span: bytes) -> bytes:
        data = self._carry + span
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            cut = max(0, len(data) - 2)  # keep a possible "=X" escape whole
        self._carry = data[cut:]
        return binascii.a2b_qp(data[:cut])

    def _finish(self) -> bytes:
        data, self._carry = self._carry, b""
        return binascii.a2b_qp(data) if data else b""


class Lines(Protocol):
    def readline(self) -> bytes: ...


class UuSource:
    """The file between a ``begin <mode> <name>`` line and ``end``. With
    `section` already past the begin line, it decodes from the first line."""

    volatile = False

    def __init__(self, lines: Lines, path: str, report: Report, seek_begin: bool) -> None:
        self.lines = lines
        self.path = path
        self.report = report
        self._seek_begin = seek_begin
        self._done = False
        self._reported = False
        self.name: Optional[str] = None

    def read(self) -> bytes:
        out = []
        size = 0
        while not self._done and size < 1 << 16:
            line = self.lines.readline()
            if not line:
                self._done = True
                break
            if self._seek_begin:
                begin = UU_BEGIN.match(line)
                if begin is not None:
                    self._seek_begin = False
                    self.name = begin.group(1).decode("utf-8", "replace").strip()
                continue
            stripped = line.rstrip(b"\r\n")
            if _UU_END.fullmatch(stripped):
                self._done = True
                break
            if not stripped:
                continue
            data = self._decode(stripped)
            out.append(data)
            size += len(data)
        return b"".join(out)

    def _decode(self, line: bytes) -> bytes:
        try:
            return binascii.a2b_uu(line)
        except binascii.Error:
            pass
        # Some encoders pad lines wrongly: decode the bytes the length char promises.
        try:
            return binascii.a2b_uu(line[: (((line[0] - 32) & 63) * 4 + 5) // 3])
        except binascii.Error as exc:
            if not self._reported:
                self._reported = True
                self.report(CorruptFile(f"uuencoded line cannot be decoded: {exc}", self.path))
            return b""


class LineSource:
    """Lines from a BlockSource (uuencode is line based)."""

    def __init__(self, source: BlockSource) -> None:
        self.cursor = Cursor(source)

    def readline(self) -> bytes:
        return self.cursor.readline()


def decoder_for(encoding: str, section: BlockSource, path: str, report: Report) -> BlockSource:
    """The decoded bytes of a part with this Content-Transfer-Encoding
    (7bit, 8bit, binary and unknown encodings pass through)."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        return Base64Source(section, path, report)
    if encoding == "quoted-printable":
        return QuotedPrintableSource(section)
    if encoding in ("x-uuencode", "uuencode", "x-uue"):
        return UuSource(LineSource(section), path, report, seek_begin=True)
    return section
