"""What a byte stream is, judged by its first bytes (never by its name).

``sniff(head)`` looks at up to HEAD_SIZE bytes and returns a Kind: plain
data, an archive libarchive reads as a stream, an archive that needs seeking
(7z), a single compressed stream, an e-mail message or an mbox file.

Most inputs are plain data, so the common path is a dictionary look-up on
the first two bytes; only candidates are checked further.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

__all__ = ["Kind", "sniff", "HEAD_SIZE", "DATA", "MAIL", "MBOX", "MAIL_TEXT", "KINDS"]

# ISO 9660's volume descriptor says "CD001" at byte 32769.
HEAD_SIZE = 32 * 1024 + 8

# Families: how the walk opens a kind.
F_DATA = "data"  # scanned as is
F_ARCHIVE = "archive"  # libarchive, read as a stream
F_SEEKABLE = "seekable-archive"  # libarchive, needs seeking: spooled first
F_COMPRESSED = "compressed"  # one decoded stream
F_MAIL = "mail"  # RFC 5322 / MIME message
F_MBOX = "mbox"  # messages separated by "From " lines
F_TEXT = "text"  # a text part of a message: may carry uuencoded files


@dataclass(frozen=True)
class Kind:
    name: str
    family: str
    formats: tuple[str, ...] = ()  # libarchive read formats (archives)
    # A weak magic (two bytes, or a pattern text can contain): when libarchive
    # does not recognise the format, the bytes are plain data, not a corrupt file.
    weak: bool = False

    @property
    def opens(self) -> bool:
        """True when the walk looks inside (the node has children)."""
        return self.family not in (F_DATA, F_TEXT)


DATA = Kind("data", F_DATA)
MAIL = Kind("mail", F_MAIL)
MBOX = Kind("mbox", F_MBOX)
MAIL_TEXT = Kind("mail-text", F_TEXT)

ZIP = Kind("zip", F_ARCHIVE, ("zip",))
SEVENZIP = Kind("7z", F_SEEKABLE, ("7zip",))
RAR = Kind("rar", F_ARCHIVE, ("rar", "rar5"))
CAB = Kind("cab", F_ARCHIVE, ("cab",))
CPIO = Kind("cpio", F_ARCHIVE, ("cpio",))
CPIO_BINARY = Kind("cpio", F_ARCHIVE, ("cpio",), weak=True)
AR = Kind("ar", F_ARCHIVE, ("ar",))
XAR = Kind("xar", F_ARCHIVE, ("xar",))
LHA = Kind("lha", F_ARCHIVE, ("lha",), weak=True)
WARC = Kind("warc", F_ARCHIVE, ("warc",))
ISO9660 = Kind("iso9660", F_ARCHIVE, ("iso9660",))
TAR = Kind("tar", F_ARCHIVE, ("tar",))
TAR_V7 = Kind("tar", F_ARCHIVE, ("tar",), weak=True)

GZIP = Kind("gzip", F_COMPRESSED)
BZIP2 = Kind("bzip2", F_COMPRESSED)
XZ = Kind("xz", F_COMPRESSED)
LZMA = Kind("lzma", F_COMPRESSED)
ZSTD = Kind("zstd", F_COMPRESSED)
LZ4 = Kind("lz4", F_COMPRESSED)
COMPRESS = Kind("compress", F_COMPRESSED)  # Unix .Z
LZIP = Kind("lzip", F_COMPRESSED)
UUENCODE = Kind("uu", F_COMPRESSED)

KINDS: tuple[Kind, ...] = (
    ZIP, SEVENZIP, RAR, CAB, CPIO, AR, XAR, LHA, WARC, ISO9660, TAR,
    GZIP, BZIP2, XZ, LZMA, ZSTD, LZ4, COMPRESS, LZIP, UUENCODE, MAIL, MBOX,
)

# (magic at offset 0, kind), grouped by the first two bytes for a fast reject.
_MAGICS: tuple[tuple[bytes, Kind], ...] = (
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),  # empty archive: end record only
    (b"PK\x07\x08PK\x03\x04", ZIP),  # spanned-archive marker
    (b"PK00PK\x03\x04", ZIP),
    (b"7z\xbc\xaf\x27\x1c", SEVENZIP),
    (b"Rar!\x1a\x07\x00", RAR),
    (b"Rar!\x1a\x07\x01\x00", RAR),
    (b"MSCF\x00\x00\x00\x00", CAB),
    (b"070707", CPIO),
    (b"070701", CPIO),
    (b"070702", CPIO),
    (b"\xc7\x71", CPIO_BINARY),
    (b"\x71\xc7", CPIO_BINARY),
    (b"!<arch>\n", AR),
    (b"xar!", XAR),
    (b"WARC/1.", WARC),
    (b"\x1f\x8b\x08", GZIP),
    (b"BZh", BZIP2),  # checked further below
    (b"\xfd7zXZ\x00", XZ),
    (b"\x28\xb5\x2f\xfd", ZSTD),
    (b"\x04\x22\x4d\x18", LZ4),
    (b"\x02\x21\x4c\x18", LZ4),  # legacy frame
    (b"\x1f\x9d", COMPRESS),
    (b"LZIP", LZIP),
)
_BY_PREFIX: dict[bytes, list[tuple[bytes, Kind]]] = {}
for _magic, _kind in _MAGICS:
    _BY_PREFIX.setdefault(_magic[:2], []).append((_magic, _kind))

_BZIP2_BLOCK = (b"1AY&SY", b"\x17rE8P\x90")  # first block, or end of an empty stream
_OCTAL_FIELD = re.compile(rb"[ \x00]*[0-7]{1,7}[ \x00]*")
_UU_BEGIN = re.compile(rb"begin(?:-base64)? [0-7]{3,4} [^\r\n]+\r?\n")

# Mail: a run of header fields at the very start, with known names among them.
_HEADER_RUN = re.compile(rb"(?:[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*)+")
_FIELD_NAME = re.compile(rb"^([!-9;-~]+):", re.M)
_MAIL_FIELDS = frozenset(
    (
        b"from", b"to", b"cc", b"subject", b"date", b"received", b"message-id",
        b"mime-version", b"return-path", b"delivered-to", b"reply-to", b"sender",
        b"content-type", b"content-transfer-encoding", b"x-mailer", b"in-reply-to",
        b"references", b"dkim-signature", b"authentication-results",
    )
)
_MAIL_ONLY_FIELDS = frozenset((b"received", b"return-path", b"delivered-to", b"message-id", b"mime-version"))


def sniff(head: bytes) -> Kind:
    """The kind of a stream whose first bytes are `head` (up to HEAD_SIZE)."""
    candidates = _BY_PREFIX.get(head[:2])
    if candidates is not None:
        for magic, kind in candidates:
            if head.startswith(magic):
                if kind is BZIP2 and not (head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCK):
                    continue
                return kind
    if len(head) >= 512:
        tar = _tar(head)
        if tar is not None:
            return tar
    if head[32769:32774] == b"CD001":
        return ISO9660
    if head[2:4] in (b"-l",) and head[6:7] == b"-" and head[4:6] in _LHA_METHODS:
        return LHA
    if head[:1] == b"\x5d" and _lzma_alone(head):
        return LZMA
    if head[:6] == b"begin " or head[:13] == b"begin-base64 ":
        if _UU_BEGIN.match(head):
            return UUENCODE
    if head[:1].isalpha():
        return _mail(head)
    return DATA


_LHA_METHODS = frozenset(
    (b"h0", b"h1", b"h2", b"h3", b"h4", b"h5", b"h6", b"h7", b"hd", b"z4", b"z5", b"zs")
)


def _tar(head: bytes) -> Optional[Kind]:
    if head[257:262] == b"ustar":
        return TAR
    # Old (v7) tar has no magic: a header block whose checksum adds up.
    checksum = head[148:156]
    if not head[0] or not _OCTAL_FIELD.fullmatch(checksum) or head[156:157] not in b"\x000123456":
        return None
    try:
        stored = int(checksum.replace(b"\x00", b" ").strip(), 8)
    except ValueError:
        return None
    block = head[:512]
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return TAR_V7 if stored == computed else None


def _lzma_alone(head: bytes) -> bool:
    """The .lzma (LZMA_Alone) header: properties 0x5d, a dictionary size of
    2^n or 2^n + 2^(n-1), and an unknown (-1) or plausible uncompressed size."""
    if len(head) < 13:
        return False
    dict_size = int.from_bytes(head[1:5], "little")
    size = int.from_bytes(head[5:13], "little")
    if dict_size < 4096:
        return False
    power = dict_size.bit_length() - 1
    if dict_size not in (1 << power, (1 << power) | (1 << (power - 1))):
        return False
    return size == (1 << 64) - 1 or size < (1 << 48)


def _mail(head: bytes) -> Kind:
    sample = head[:8192]
    if sample.startswith(b"From "):
        newline = sample.find(b"\n")
        if newline < 0:
            return DATA
        return MBOX if _looks_like_headers(sample[newline + 1 :], need=1) else DATA
    return MAIL if _looks_like_headers(sample, need=2) else DATA


def _looks_like_headers(sample: bytes, need: int) -> bool:
    run = _HEADER_RUN.match(sample)
    if run is None:
        return False
    names = {name.lower() for name in _FIELD_NAME.findall(run.group(0))}
    known = names & _MAIL_FIELDS
    return len(known) >= need or bool(names & _MAIL_ONLY_FIELDS)
