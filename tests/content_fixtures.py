"""Test inputs for the content walk, built at test time: archives of every
format avgate reads, compressed streams, mails and mboxes, and damaged
versions of each. Nothing is downloaded.

libarchive's writer (through libarchive-c) makes most formats in-process;
the `zip` and `7z` tools make the encrypted zips and 7z archives as users
produce them; RAR, CAB and LHA, which nothing on a free system writes, are
written byte by byte from their format specifications (stored entries).
"""
from __future__ import annotations

import binascii
import bz2
import email.message
import email.policy
import gzip
import io
import lzma
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from typing import Iterator, Mapping, Optional

import libarchive

import avgate

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NDB = "Win.Test.EICAR_NDB-1"
EICAR_HDB = "Win.Test.EICAR_HDB-1"
LITERAL = b"AVGATE-TEST-SIGNATURE-LITERAL-7f3c"
LITERAL_NAME = "Avgate.Test.Literal-1"

Files = Mapping[str, bytes]

CLEAN = b"an ordinary text file, nothing to see here\n" * 40


def have_tool(name: str) -> bool:
    return shutil.which(name) is not None


# -- libarchive writer -------------------------------------------------------


def libarchive_pack(format_name: str, files: Files, filter_name: Optional[str] = None, options: str = "",
                    passphrase: Optional[str] = None) -> bytes:
    out: list[bytes] = []

    def write(data: bytes) -> int:
        out.append(bytes(data))
        return len(data)

    with libarchive.custom_writer(write, format_name, filter_name, options=options, passphrase=passphrase) as archive:
        for name, data in files.items():
            archive.add_file_from_memory(name, len(data), data)
    return b"".join(out)


def compress(kind: str, data: bytes) -> bytes:
    """One compressed stream of `data`."""
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "lzma":
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    filters = {"zstd": "zstd", "lz4": "lz4", "compress": "compress", "lzip": "lzip", "uu": "uuencode"}
    return libarchive_pack("raw", {"data": data}, filters[kind])


COMPRESSED_KINDS = ("gzip", "bzip2", "xz", "lzma", "zstd", "lz4", "compress", "lzip", "uu")


# -- zip and tar through the standard library --------------------------------


def zip_bytes(files: Files, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def tar_bytes(files: Files, fmt: int = tarfile.PAX_FORMAT, mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=fmt) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def v7_tar_bytes(files: Files) -> bytes:
    """Old tar: no magic, a header whose checksum is all that identifies it."""
    out = bytearray()
    for name, data in files.items():
        header = bytearray(512)
        header[0 : len(name)] = name.encode()
        header[100:108] = b"0000644\x00"
        header[108:116] = b"0000000\x00"
        header[116:124] = b"0000000\x00"
        header[124:136] = f"{len(data):011o}\x00".encode()
        header[136:148] = b"00000000000\x00"
        header[156:157] = b"0"
        header[148:156] = b" " * 8
        header[148:156] = f"{sum(header):06o}\x00 ".encode()
        out += header + data + bytes(-len(data) % 512)
    return bytes(out + bytes(1024))


# -- the command-line tools --------------------------------------------------


def _tool_archive(args: list[str], files: Files, out_name: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for name, data in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
            names.append(name)
        subprocess.run(args + [out_name] + names, cwd=tmp, check=True, capture_output=True)
        with open(os.path.join(tmp, out_name), "rb") as f:
            return f.read()


def zip_zipcrypto(files: Files, password: str = "secret") -> bytes:
    return _tool_archive(["zip", "-q", "-P", password], files, "out.zip")


def zip_aes(files: Files, password: str = "secret") -> bytes:
    return _tool_archive(["7z", "a", "-bd", "-tzip", "-mem=AES256", f"-p{password}"], files, "out.zip")


def sevenzip(files: Files, password: Optional[str] = None, encrypt_headers: bool = False) -> bytes:
    args = ["7z", "a", "-bd", "-t7z"]
    if password:
        args.append(f"-p{password}")
    if encrypt_headers:
        args.append("-mhe=on")
    return _tool_archive(args, files, "out.7z")


# -- formats written from their specifications -------------------------------


def cab_bytes(files: Files) -> bytes:
    """A Microsoft Cabinet with one uncompressed folder (MS-CAB)."""
    stream = b"".join(files.values())
    blocks = [stream[i : i + 32768] for i in range(0, len(stream), 32768)] or [b""]
    file_records = b""
    offset = 0
    for name, data in files.items():
        file_records += struct.pack("<IIHHHH", len(data), offset, 0, 0x5A21, 0, 0x20) + name.encode() + b"\x00"
        offset += len(data)
    header_size = 36 + 8
    data_start = header_size + len(file_records)
    data_records = b""
    for block in blocks:
        sizes = struct.pack("<HH", len(block), len(block))
        data_records += struct.pack("<I", _cab_checksum(sizes, _cab_checksum(block, 0))) + sizes + block
    total = data_start + len(data_records)
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, total, 0, header_size, 0, 3, 1, 1, len(files), 0, 0, 0)
    folder = struct.pack("<IHH", data_start, len(blocks), 0)
    return header + folder + file_records + data_records


def _cab_checksum(data: bytes, seed: int) -> int:
    total = seed
    whole = len(data) // 4 * 4
    for (word,) in struct.iter_unpack("<I", data[:whole]):
        total ^= word
    tail = 0
    for byte in data[whole:]:
        tail = (tail << 8) | byte
    return total ^ tail


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def lha_bytes(files: Files) -> bytes:
    """An LHA archive of level-0 headers, stored (-lh0-)."""
    out = b""
    for name, data in files.items():
        raw_name = name.encode()
        body = (b"-lh0-" + struct.pack("<IIIBB", len(data), len(data), 0x5A210000, 0x20, 0)
                + bytes([len(raw_name)]) + raw_name + struct.pack("<H", _crc16(data)))
        out += bytes([len(body), sum(body) & 0xFF]) + body + data
    return out + b"\x00"


def _rar4_block(head_type: int, flags: int, body: bytes) -> bytes:
    rest = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def rar4_bytes(files: Files, encrypted_headers: bool = False, encrypted_files: bool = False) -> bytes:
    """RAR 1.5-4.x with stored entries (technote.txt of RAR 4)."""
    out = b"Rar!\x1a\x07\x00" + _rar4_block(0x73, 0x0080 if encrypted_headers else 0, bytes(6))
    for name, data in files.items():
        raw_name = name.encode()
        flags = 0x8000 | (0x0004 if encrypted_files else 0)
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 0, zlib.crc32(data), 0x5A210000, 20, 0x30,
                           len(raw_name), 0x20) + raw_name
        out += _rar4_block(0x74, flags, body) + data
    return out + _rar4_block(0x7B, 0x4000, b"")


def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _rar5_block(fields: bytes) -> bytes:
    size = _vint(len(fields))
    return struct.pack("<I", zlib.crc32(size + fields)) + size + fields


def rar5_bytes(files: Files, encrypted_headers: bool = False, encrypted_files: bool = False) -> bytes:
    """RAR 5 with stored entries (rarlab's RAR 5.0 archive format)."""
    out = b"Rar!\x1a\x07\x01\x00"
    if encrypted_headers:  # archive encryption header: AES-256, KDF count 15, salt, no check value
        out += _rar5_block(_vint(4) + _vint(0) + _vint(0) + _vint(0) + bytes([15]) + os.urandom(16))
        return out + os.urandom(64)
    out += _rar5_block(_vint(1) + _vint(0) + _vint(0))
    for name, data in files.items():
        raw_name = name.encode()
        extra = b""
        crc = zlib.crc32(data)  # of the plain data, as RAR computes it
        if encrypted_files:  # file encryption record: AES-256, KDF count 15, salt, IV
            record = _vint(1) + _vint(0) + _vint(0) + bytes([15]) + os.urandom(32)
            extra = _vint(len(record)) + record
            data = os.urandom(len(data) + 15 & ~15)
        flags = 0x02 | (0x01 if extra else 0)
        fields = (_vint(2) + _vint(flags) + (_vint(len(extra)) if extra else b"") + _vint(len(data)) + _vint(0x04)
                  + _vint(len(data)) + _vint(0o100644) + struct.pack("<I", crc) + _vint(0) + _vint(1)
                  + _vint(len(raw_name)) + raw_name + extra)
        out += _rar5_block(fields) + data
    return out + _rar5_block(_vint(5) + _vint(0) + _vint(0))


# -- every archive format, one builder each -----------------------------------


def archive(fmt: str, files: Files) -> bytes:
    """`files` packed as format `fmt` (names as in ARCHIVE_FORMATS)."""
    builders = {
        "zip": lambda: zip_bytes(files),
        "zip-stored": lambda: zip_bytes(files, zipfile.ZIP_STORED),
        "zip-bzip2": lambda: zip_bytes(files, zipfile.ZIP_BZIP2),
        "zip-lzma": lambda: zip_bytes(files, zipfile.ZIP_LZMA),
        "tar-ustar": lambda: tar_bytes(files, tarfile.USTAR_FORMAT),
        "tar-gnu": lambda: tar_bytes(files, tarfile.GNU_FORMAT),
        "tar-pax": lambda: tar_bytes(files, tarfile.PAX_FORMAT),
        "tar-v7": lambda: v7_tar_bytes(files),
        "7z": lambda: sevenzip(files),
        "7z-libarchive": lambda: libarchive_pack("7zip", files),
        "rar4": lambda: rar4_bytes(files),
        "rar5": lambda: rar5_bytes(files),
        "cab": lambda: cab_bytes(files),
        "cpio-odc": lambda: libarchive_pack("cpio_odc", files),
        "cpio-newc": lambda: libarchive_pack("cpio_newc", files),
        "cpio-bin": lambda: libarchive_pack("cpio_bin", files),
        "iso9660": lambda: libarchive_pack("iso9660", files),
        "ar": lambda: libarchive_pack("ar_svr4", files),
        "ar-bsd": lambda: libarchive_pack("ar_bsd", files),
        "xar": lambda: libarchive_pack("xar", files),
        "lha": lambda: lha_bytes(files),
        "warc": lambda: libarchive_pack("warc", files),
    }
    return builders[fmt]()


ARCHIVE_FORMATS = (
    "zip", "zip-stored", "zip-bzip2", "zip-lzma", "tar-ustar", "tar-gnu", "tar-pax", "tar-v7", "7z",
    "7z-libarchive", "rar4", "rar5", "cab", "cpio-odc", "cpio-newc", "cpio-bin", "iso9660", "ar", "ar-bsd",
    "xar", "lha", "warc",
)


# -- mail ---------------------------------------------------------------------


def mail_with_attachment(data: bytes, filename: str, encoding: str = "base64", subject: str = "invoice") -> bytes:
    """A multipart/mixed message: a text part and `data` attached with this
    Content-Transfer-Encoding (base64, quoted-printable, uuencode or 7bit)."""
    msg = email.message.EmailMessage()
    msg["From"] = "Sender <sender@example.com>"
    msg["To"] = "rcpt@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = "<fixture@example.com>"
    msg.set_content("Please find the file attached.\n")
    if encoding == "uuencode":
        body = f"begin 644 {filename}\n".encode()
        body += b"".join(binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)) + b"`\nend\n"
        msg.add_attachment(body, maintype="application", subtype="octet-stream", filename=filename, cte="7bit")
        part = msg.get_payload()[1]
        part.replace_header("Content-Transfer-Encoding", "x-uuencode")
    elif encoding == "7bit":
        msg.add_attachment(data.decode("ascii"), subtype="plain", filename=filename, cte="7bit")
    else:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename, cte=encoding)
    return msg.as_bytes(policy=email.policy.SMTP)


def text_mail_with_uuencoded(data: bytes, filename: str) -> bytes:
    """A plain text message whose body carries a uuencoded file (no MIME)."""
    uu = f"begin 644 {filename}\n".encode()
    uu += b"".join(binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)) + b"`\nend\n"
    return (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: old style\r\n\r\n"
            b"Here it is:\r\n\r\n" + uu.replace(b"\n", b"\r\n") + b"\r\nbye\r\n")


def forward(message: bytes, subject: str = "Fwd") -> bytes:
    """A message that carries `message` as a message/rfc822 attachment."""
    outer = email.message.EmailMessage()
    outer["From"] = "fwd@example.com"
    outer["To"] = "rcpt@example.org"
    outer["Subject"] = subject
    outer.set_content("forwarded message attached\n")
    outer.add_attachment(email.message_from_bytes(message, policy=email.policy.default))
    return outer.as_bytes(policy=email.policy.SMTP)


def mbox(messages: list[bytes]) -> bytes:
    out = b""
    for message in messages:
        out += b"From sender@example.com Thu Jan  1 00:00:00 2026\n" + message.replace(b"\r\n", b"\n")
        out += b"" if out.endswith(b"\n") else b"\n"
        out += b"\n"
    return out


# -- measuring ----------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM) in MiB. Unlike ru_maxrss it
    starts afresh at exec, so a child does not inherit its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# -- damage -------------------------------------------------------------------


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def flipped(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= mask
    return bytes(damaged)


# -- bombs and big streams, made from repeated deflate segments ---------------------------------
#
# After a full flush a deflate stream refers to nothing before it, so the
# compressed form of a chunk can be repeated to stand for the chunk repeated:
# a 1 GiB stream costs a few milliseconds to make and a megabyte to hold.

MiB = 1 << 20


def _segments(chunk: bytes, level: int = 9) -> tuple[bytes, bytes]:
    """(raw deflate of `chunk` ending in a full flush, the final empty block)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == segment  # position-independent, so it can be repeated
    return segment, c.flush(zlib.Z_FINISH)


def _crc_of_repeats(chunk: bytes, count: int, crc: int = 0) -> int:
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return crc


def raw_deflate_repeated(chunk: bytes, count: int, with_crc: bool = True) -> tuple[bytes, int]:
    """Raw deflate of `chunk` * `count`, and its CRC-32 (0 unless `with_crc`:
    computing it takes a while for gigabytes, and a scan that stops early
    never reaches the trailer)."""
    segment, final = _segments(chunk)
    return segment * count + final, _crc_of_repeats(chunk, count) if with_crc else 0


def gzip_repeated(chunk: bytes, count: int, with_crc: bool = True) -> bytes:
    """A gzip member whose content is `chunk` * `count`."""
    body, crc = raw_deflate_repeated(chunk, count, with_crc)
    size = len(chunk) * count
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, size & 0xFFFFFFFF)


def gzip_zeros(size: int) -> bytes:
    """`size` (a multiple of 1 MiB) zero bytes, gzip'd into about size / 1000."""
    return gzip_repeated(bytes(MiB), size // MiB)


def zip_of_zeros(name: str, size: int) -> bytes:
    """A zip with one deflated entry of `size` zeros (under 4 GiB), honest headers."""
    body, crc = raw_deflate_repeated(bytes(MiB), size // MiB)
    raw_name = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(body), size, len(raw_name), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(body), size,
                          len(raw_name), 0, 0, 0, 0, 0o100644 << 16, 0)
    directory = central + raw_name
    entry = local + raw_name + body
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(entry), 0)
    return entry + directory + end


def tar_gz_stream(chunk: bytes, count: int, name: str = "big.bin") -> Iterator[bytes]:
    """A tar.gz of one file holding `chunk` * `count`, generated as it is
    read (a few MiB of memory whatever the size)."""
    size = len(chunk) * count
    info = tarfile.TarInfo(name)
    info.size = size
    header = info.tobuf(tarfile.GNU_FORMAT)
    trailer = bytes(-size % 512) + bytes(1024)
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    segment = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH) == segment
    tail = c.compress(trailer) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
        yield segment
    crc = zlib.crc32(trailer, crc)
    total = len(header) + size + len(trailer)
    yield tail + struct.pack("<II", crc, total & 0xFFFFFFFF)


def found(result: "avgate.ScanResult") -> set[tuple[str, str]]:
    """(signature name, path inside containers) of every detection."""
    return {(d.name, d.path) for d in result.detections}


def reasons(result: "avgate.ScanResult") -> list[tuple[str, str]]:
    """(fallback reason, path) of every problem, in order."""
    return [(p.reason, p.path) for p in result.errors]
