"""ClamAV signature lines -> parsed signatures (nothing compiled here).

Formats (see /work/shared/notes/protocols.md and ClamAV's docs):

- ``.ndb`` ``Name:TargetType:Offset:HexSignature[:MinFLevel[:MaxFLevel]]``
- ``.hdb`` / ``.fp`` ``MD5:Size:Name``; ``.hsb`` / ``.sfp`` the same with SHA-1
  or SHA-256 (told apart by length); Size may be ``*``.
- ``.ign2`` ``Name`` or ``Name:MD5-of-the-signature-line``.

A line that is wrong raises SignatureError saying what is wrong (the loader
adds file and line). A line that is right but asks for something avgate does
not do yet raises Unsupported with a kind, which the loader counts.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Optional, Union

__all__ = [
    "SignatureError",
    "Unsupported",
    "Run",
    "Gap",
    "Alt",
    "Item",
    "Offset",
    "BodySignature",
    "parse_ndb_line",
    "parse_hex",
    "parse_offset",
    "parse_hash_line",
    "parse_ign2_line",
    "IgnoreList",
    "type_matches",
    "HASH_KINDS",
    "ENGINE_FLEVEL",
    "MAX_NUMBER",
    "TARGET_TYPES",
]

# The ClamAV functionality level avgate answers to (ClamAV 1.4's, checked
# against clamscan 1.4.6): signatures asking for a newer engine, or only for
# older ones, are counted and left out, as that clamscan does.
ENGINE_FLEVEL = 216

# Hash signature kinds by digest length in hex digits.
HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256"}

TARGET_TYPES = {
    0: "any file",
    1: "PE",
    2: "OLE2",
    3: "HTML",
    4: "mail",
    5: "graphics",
    6: "ELF",
    7: "ASCII text",
    8: "unused",
    9: "Mach-O",
    10: "PDF",
    11: "Flash",
    12: "Java class",
}
# Types that ClamAV matches against normalised content: avgate has no normaliser yet.
_NEEDS_NORMALISER = {3: "HTML", 4: "mail"}


class SignatureError(ValueError):
    """A signature line that cannot be parsed: says what is wrong."""


class Unsupported(Exception):
    """A well-formed signature avgate cannot match yet; `kind` names what for the counts."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# ---- the parsed forms ---------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Consecutive byte cells. Cell i matches byte b when
    ``b & masks[i] == vals[i]`` and, if listed in `classes` as (i, bits),
    when bit b of the 256-bit integer `bits` is set."""

    vals: bytes
    masks: bytes
    classes: tuple[tuple[int, int], ...] = ()

    def __len__(self) -> int:
        return len(self.vals)

    @property
    def exact(self) -> bool:
        """Every cell is one exact byte."""
        return not self.classes and self.masks.count(0xFF) == len(self.masks)

    def static_stretches(self) -> list[tuple[int, int]]:
        """(start, length) of each maximal stretch of exact bytes."""
        out = []
        start = None
        classed = {i for i, _ in self.classes}
        for i, m in enumerate(self.masks):
            exact = m == 0xFF and i not in classed
            if exact and start is None:
                start = i
            elif not exact and start is not None:
                out.append((start, i - start))
                start = None
        if start is not None:
            out.append((start, len(self.masks) - start))
        return out


@dataclass(frozen=True)
class Gap:
    """lo..hi arbitrary bytes; hi None = unbounded (``*``, ``{n-}``)."""

    lo: int
    hi: Optional[int]


@dataclass(frozen=True)
class Alt:
    """One of several byte sequences; negated: any sequence of their (common)
    length that is none of them."""

    runs: tuple[Run, ...]
    negated: bool = False


Item = Union[Run, Gap, Alt]


@dataclass(frozen=True)
class Offset:
    """Where a body signature may start: anywhere ("any"), at a + [0, shift]
    ("abs"), or at size - a + [0, shift] ("eof")."""

    kind: str = "any"
    a: int = 0
    shift: int = 0

    def __str__(self) -> str:
        if self.kind == "any":
            return "*"
        base = f"{self.a}" if self.kind == "abs" else f"EOF-{self.a}"
        return f"{base},{self.shift}" if self.shift else base


@dataclass(frozen=True)
class BodySignature:
    name: str
    target: int
    offset: Offset
    items: tuple[Item, ...]


# ---- hex signatures -------------------------------------------------------------

_HEX = "0123456789abcdefABCDEF"
_ALL_BYTES = (1 << 256) - 1


def _cell(pair: str, at: int) -> tuple[int, int]:
    """(val, mask) of a two-character hex cell: ``ab``, ``a?``, ``?b``, ``??``."""
    hi, lo = pair[0], pair[1]
    if hi == "?" and lo == "?":
        return 0, 0
    if hi == "?":
        if lo not in _HEX:
            raise SignatureError(f"bad hex digit {lo!r} at position {at + 1}")
        return int(lo, 16), 0x0F
    if hi not in _HEX:
        raise SignatureError(f"unexpected {hi!r} at position {at}")
    if lo == "?":
        return int(hi, 16) << 4, 0xF0
    if lo not in _HEX:
        raise SignatureError(f"bad hex digit {lo!r} at position {at + 1}")
    return int(pair, 16), 0xFF


def _cell_bits(val: int, mask: int) -> int:
    """The 256-bit set of bytes a (val, mask) cell matches."""
    if mask == 0xFF:
        return 1 << val
    bits = 0
    for b in range(256):
        if b & mask == val:
            bits |= 1 << b
    return bits


def _run_of(cells: list[tuple[int, int, int]]) -> Run:
    """cells: (val, mask, class bits or -1)."""
    vals = bytes(v if bits < 0 else 0 for v, _, bits in cells)
    masks = bytes(m if bits < 0 else 0 for _, m, bits in cells)
    classes = tuple((i, bits) for i, (_, _, bits) in enumerate(cells) if bits >= 0)
    return Run(vals, masks, classes)


def _cells(text: str, at: int) -> list[tuple[int, int, int]]:
    if len(text) % 2:
        raise SignatureError(f"odd number of hex digits in {text!r} at position {at}")
    return [(*_cell(text[k : k + 2], at + k), -1) for k in range(0, len(text), 2)]


MAX_NUMBER = 1 << 40  # sizes, offsets and gap bounds beyond a terabyte are typos


def _number(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise SignatureError(f"{what}: {text!r} is not a number")
    value = int(text)
    if value > MAX_NUMBER:
        raise SignatureError(f"{what}: {text} is too large (at most {MAX_NUMBER})")
    return value


def _gap(spec: str, at: int) -> Gap:
    """The inside of {n}, {-n}, {n-}, {n-m}, or of [n-m]."""
    where = f"gap {{{spec}}} at position {at}"
    if not spec:
        raise SignatureError(f"empty gap {{}} at position {at}")
    if "-" not in spec:
        n = _number(spec, where)
        return Gap(n, n)
    lo_text, _, hi_text = spec.partition("-")
    lo = _number(lo_text, where) if lo_text else 0
    if not hi_text:
        if not lo_text:
            raise SignatureError(f"{where}: needs a bound")
        return Gap(lo, None)
    hi = _number(hi_text, where)
    if lo > hi:
        raise SignatureError(f"{where}: minimum {lo} is greater than maximum {hi}")
    return Gap(lo, hi)


def _alternatives(body: str, negated: bool, at: int) -> Union[Alt, tuple[int, int, int]]:
    """An alternative group: a class cell when every choice is one byte."""
    if body in ("B", "L", "W"):
        raise Unsupported(f"ndb: ({body}) boundary anchors")
    choices = body.split("|")
    if len(choices) < 2 and not negated:
        raise SignatureError(f"alternative group ({body}) at position {at} needs at least two choices")
    cells = []
    for k, choice in enumerate(choices):
        if not choice:
            raise SignatureError(f"empty choice in alternative group ({body}) at position {at}")
        if any(ch not in _HEX and ch != "?" for ch in choice):
            bad = next(ch for ch in choice if ch not in _HEX and ch != "?")
            raise SignatureError(f"unexpected {bad!r} inside alternative group ({body}) at position {at}")
        cells.append(_cells(choice, at + 1))
    if all(len(c) == 1 for c in cells):
        bits = 0
        for (val, mask, _), in cells:
            bits |= _cell_bits(val, mask)
        if negated:
            bits ^= _ALL_BYTES
        if bits == 0:
            raise SignatureError(f"alternative group at position {at} matches no byte")
        return 0, 0, bits
    if negated and len({len(c) for c in cells}) != 1:
        raise SignatureError(f"negated alternatives !({body}) at position {at} must all have the same length")
    return Alt(tuple(_run_of(c) for c in cells), negated)


_PLAIN_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def parse_hex(text: str) -> tuple[Item, ...]:
    """A ClamAV hex signature -> items (runs, gaps, alternatives).

    Adjacent gaps are merged; a signature may not start or end with an
    unbounded gap (``*``, ``{n-}``) and must hold at least one byte cell."""
    if _PLAIN_HEX.fullmatch(text):  # most signatures: one run of exact bytes
        data = bytes.fromhex(text)
        return (Run(data, b"\xff" * len(data)),)
    items: list[Item] = []
    cells: list[tuple[int, int, int]] = []

    def flush() -> None:
        if cells:
            items.append(_run_of(cells))
            cells.clear()

    def add_gap(gap: Gap) -> None:
        flush()
        if items and isinstance(items[-1], Gap):
            prev = items.pop()
            assert isinstance(prev, Gap)
            gap = Gap(prev.lo + gap.lo, None if prev.hi is None or gap.hi is None else prev.hi + gap.hi)
        items.append(gap)

    i, n = 0, len(text)
    if not n:
        raise SignatureError("empty hex signature")
    while i < n:
        c = text[i]
        if c == "*":
            add_gap(Gap(0, None))
            i += 1
        elif c in "{[":
            close = "}" if c == "{" else "]"
            j = text.find(close, i)
            if j < 0:
                raise SignatureError(f"{c!r} at position {i} is not closed")
            add_gap(_gap(text[i + 1 : j], i))
            i = j + 1
        elif c == "!" or c == "(":
            negated = c == "!"
            if negated and text[i + 1 : i + 2] != "(":
                raise SignatureError(f"'!' at position {i} must be followed by '('")
            start = i + 1 if negated else i
            j = text.find(")", start)
            if j < 0:
                raise SignatureError(f"'(' at position {start} is not closed")
            group = _alternatives(text[start + 1 : j], negated, start)
            if isinstance(group, Alt):
                flush()
                items.append(group)
            else:
                cells.append(group)
            i = j + 1
        elif c in "})]|":
            raise SignatureError(f"unexpected {c!r} at position {i}")
        else:
            if i + 1 == n:
                raise SignatureError(f"odd number of hex digits (a lone {c!r} at the end)")
            val, mask = _cell(text[i : i + 2], i)
            cells.append((val, mask, -1))
            i += 2
    flush()
    for edge in (items[0], items[-1]):
        if isinstance(edge, Gap) and edge.hi is None:
            raise SignatureError("a signature cannot start or end with an unbounded gap ('*' or '{n-}')")
    if all(isinstance(it, Gap) for it in items):
        raise SignatureError("a signature needs at least one byte")
    return tuple(items)


# ---- offsets and lines ------------------------------------------------------------

_OFFSET = re.compile(r"(EOF-)?([0-9]+)(?:,([0-9]+))?")
_PARSER_OFFSET = re.compile(r"(EP[+-]\d+|S\d+[+-]\d+|SE\d+|SL[+-]\d+|VI)(,\d+)?")


def parse_offset(text: str) -> Offset:
    if text == "*":
        return Offset()
    m = _OFFSET.fullmatch(text)
    if m:
        a = _number(m.group(2), f"offset {text!r}")
        shift = _number(m.group(3), f"offset {text!r}") if m.group(3) else 0
        return Offset("eof" if m.group(1) else "abs", a, shift)
    if _PARSER_OFFSET.fullmatch(text):
        raise Unsupported("ndb: offsets relative to the entry point or sections (need the PE/ELF parser)")
    raise SignatureError(f"bad offset {text!r} (want *, n, EOF-n, optionally followed by ,maxshift)")


def _flevel(fields: list[str], first: int) -> None:
    """Optional MinFLevel[:MaxFLevel] fields from `first` on."""
    extra = fields[first:]
    if len(extra) > 2:
        raise SignatureError(f"{len(fields)} fields; at most {first + 2} expected")
    lo = _number(extra[0], "MinFLevel") if extra and extra[0] else 0
    hi = _number(extra[1], "MaxFLevel") if len(extra) > 1 and extra[1] else None
    if lo > ENGINE_FLEVEL or (hi is not None and hi < ENGINE_FLEVEL):
        raise Unsupported("functionality level outside this engine's")


def parse_ndb_line(line: str) -> BodySignature:
    fields = line.split(":")
    if len(fields) < 4:
        raise SignatureError(f"{len(fields)} fields; want Name:TargetType:Offset:HexSignature")
    name, target_text, offset_text, hex_text = fields[:4]
    if not name:
        raise SignatureError("empty signature name")
    target = _number(target_text, "target type")
    _flevel(fields, 4)
    if target in _NEEDS_NORMALISER:
        raise Unsupported(f"ndb: target type {target} ({_NEEDS_NORMALISER[target]}, needs a normaliser)")
    if target not in TARGET_TYPES or target == 8:
        raise Unsupported(f"ndb: target type {target} (unknown)")
    offset = parse_offset(offset_text)
    return BodySignature(name, target, offset, parse_hex(hex_text))


def parse_hash_line(line: str, allowed_lengths: tuple[int, ...]) -> tuple[str, bytes, int, str]:
    """``Hash:Size:Name[:MinFLevel[:MaxFLevel]]`` -> (kind, digest, size or -1, name)."""
    fields = line.split(":")
    if len(fields) < 3:
        raise SignatureError(f"{len(fields)} fields; want Hash:Size:Name")
    digest_hex, size_text, name = fields[:3]
    if len(digest_hex) not in allowed_lengths:
        want = " or ".join(f"{n} ({HASH_KINDS[n].upper()})" for n in allowed_lengths)
        raise SignatureError(f"hash of {len(digest_hex)} hex digits; want {want}")
    try:
        digest = bytes.fromhex(digest_hex)
    except ValueError:
        raise SignatureError(f"hash {digest_hex!r} is not hexadecimal") from None
    size = -1 if size_text == "*" else _number(size_text, "size")
    if not name:
        raise SignatureError("empty signature name")
    _flevel(fields, 3)
    return HASH_KINDS[len(digest_hex)], digest, size, name


def parse_ign2_line(line: str) -> tuple[str, Optional[str]]:
    """(signature name, MD5 of its database line or None)."""
    name, _, md5 = line.partition(":")
    if not name:
        raise SignatureError("empty signature name")
    md5 = md5.strip().lower()
    if md5 and (len(md5) != 32 or any(c not in _HEX for c in md5)):
        raise SignatureError(f"{md5!r} is not an MD5 (32 hex digits)")
    return name, md5 or None


class IgnoreList:
    """Signature names dropped by .ign2 files; an entry with an MD5 drops
    only the signature whose database line has that MD5."""

    def __init__(self) -> None:
        self.names: dict[str, Optional[set[str]]] = {}  # name -> line MD5s, None = any line

    def __len__(self) -> int:
        return len(self.names)

    def add(self, name: str, md5: Optional[str]) -> None:
        if md5 is None:
            self.names[name] = None
        elif name not in self.names or self.names[name] is not None:
            self.names.setdefault(name, set())
            entry = self.names[name]
            assert entry is not None
            entry.add(md5)

    def drops(self, name: str, line: bytes) -> bool:
        if name not in self.names:
            return False
        md5s = self.names[name]
        return md5s is None or hashlib.md5(line).hexdigest() in md5s


# ---- target types -------------------------------------------------------------------

_MAGIC: dict[int, tuple[bytes, ...]] = {
    1: (b"MZ",),
    2: (bytes.fromhex("d0cf11e0a1b11ae1"),),
    5: (b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*"),
    6: (b"\x7fELF",),
    9: (bytes.fromhex("feedface"), bytes.fromhex("feedfacf"), bytes.fromhex("cefaedfe"),
        bytes.fromhex("cffaedfe"), bytes.fromhex("cafebabe")),
    11: (b"FWS", b"CWS", b"ZWS"),
    12: (bytes.fromhex("cafebabe"),),
}
PDF_WINDOW = 1024  # ClamAV finds "%PDF-" within the first KiB
HEAD_SIZE = PDF_WINDOW


def type_matches(target: int, head: bytes, complete: bool) -> Optional[bool]:
    """Is a node whose first bytes are `head` of ClamAV target type `target`?
    None while undecided (more of the head may come; `complete` = no more)."""
    if target in (0, 7):
        return True
    if target == 10:
        if b"%PDF-" in head[:PDF_WINDOW]:
            return True
        return False if complete or len(head) >= PDF_WINDOW else None
    magics = _MAGIC.get(target, ())
    if any(head.startswith(m) for m in magics):
        return True
    if complete or all(len(head) >= len(m) for m in magics):
        return False
    return None
