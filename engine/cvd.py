"""ClamAV's packed databases, .cvd and .cld, read in memory.

Layout: a 512-byte text header
``ClamAV-VDB:build time:version:signatures:functionality level:MD5:digital
signature:builder:build time in seconds`` padded with spaces, then a tar
archive of signature files: gzip-compressed in a .cvd, usually plain in a
.cld (told apart by the gzip magic, not by the name). The MD5 in the header
covers the bytes after it; it is checked for .cvd files (a .cld rebuilt by
incremental updates keeps the original header, so its MD5 no longer applies).
The digital signature is not checked.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Optional

__all__ = ["CvdHeader", "CvdError", "HEADER_SIZE", "read_header", "members"]

HEADER_SIZE = 512
MAGIC = b"ClamAV-VDB:"


class CvdError(ValueError):
    """Not a ClamAV packed database, or a damaged one."""


@dataclass(frozen=True)
class CvdHeader:
    path: str
    build_time: str  # as written, e.g. "14 Nov 2023 08-24 -0500"
    version: int
    signatures: int
    functionality_level: int
    md5: str
    builder: str
    stime: Optional[int]  # build time, seconds since the epoch
    compressed: bool

    @property
    def built(self) -> Optional[datetime]:
        return datetime.fromtimestamp(self.stime, timezone.utc) if self.stime is not None else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["built"] = self.built.isoformat() if self.built else None
        return data


def _int(field: str, what: str, path: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise CvdError(f"{path}: header field {what} is {field!r}, not a number") from None


def read_header(data: bytes, path: str) -> CvdHeader:
    if len(data) < HEADER_SIZE:
        raise CvdError(f"{path}: {len(data)} bytes, too short for a ClamAV database header")
    if not data.startswith(MAGIC):
        raise CvdError(f"{path}: not a ClamAV database (the header does not start with ClamAV-VDB:)")
    try:
        text = data[:HEADER_SIZE].decode("ascii").rstrip(" \0\n")
    except UnicodeDecodeError:
        raise CvdError(f"{path}: the header is not ASCII text") from None
    fields = text.split(":")
    if len(fields) < 6:
        raise CvdError(f"{path}: the header has {len(fields)} fields, want at least 6")
    fields += [""] * (9 - len(fields))
    stime = fields[8].strip()
    return CvdHeader(
        path=path,
        build_time=fields[1],
        version=_int(fields[2], "version", path),
        signatures=_int(fields[3], "signatures", path),
        functionality_level=_int(fields[4], "functionality level", path),
        md5=fields[5].lower(),
        builder=fields[7],
        stime=int(stime) if stime.isdigit() else None,
        compressed=data[HEADER_SIZE : HEADER_SIZE + 2] == b"\x1f\x8b",
    )


def members(data: bytes, header: CvdHeader, check_md5: bool) -> list[tuple[str, bytes]]:
    """(name, bytes) of each regular file in the archive, in archive order;
    all read (and the archive checked to its end) before any is returned."""
    body = memoryview(data)[HEADER_SIZE:]
    if check_md5 and len(header.md5) == 32 and hashlib.md5(body).hexdigest() != header.md5:
        raise CvdError(f"{header.path}: MD5 mismatch: the file is damaged or incomplete")
    out = []
    try:
        stream: Any = gzip.GzipFile(fileobj=io.BytesIO(body)) if header.compressed else io.BytesIO(body)
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            for info in tar:
                if info.isfile():
                    f = tar.extractfile(info)
                    assert f is not None
                    out.append((info.name.rsplit("/", 1)[-1], f.read()))
        # tar stops at its end marker; reading on to the gzip trailer checks the CRC
        while stream.read(1 << 20):
            pass
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as exc:
        raise CvdError(f"{header.path}: damaged archive: {exc}") from None
    return out
