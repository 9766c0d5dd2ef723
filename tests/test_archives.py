"""Archives: every format avgate opens, with EICAR inside, found by its
path inside the container; encrypted entries; damaged archives."""
from __future__ import annotations

import os

import pytest

import avgate
from content_fixtures import (
    ARCHIVE_FORMATS, found, reasons, CLEAN, EICAR, EICAR_HDB, EICAR_NDB, LITERAL, LITERAL_NAME, archive, flipped, rar4_bytes,
    rar5_bytes, sevenzip, tar_bytes, zip_aes, zip_bytes, zip_zipcrypto,
)

FILES = {"readme.txt": CLEAN, "payload.exe": EICAR}


@pytest.fixture(scope="module")
def engine() -> avgate.Engine:
    return avgate.Engine(all_matches=True)




@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_eicar_inside_every_format_is_found_by_entry_path(engine: avgate.Engine, fmt: str) -> None:
    data = archive(fmt, FILES)
    result = engine.scan_bytes(data, f"sample.{fmt}")
    detections = found(result)
    # the entry itself: by body signature and by its MD5 (only the entry has EICAR's exact bytes)
    assert (EICAR_NDB, f"sample.{fmt}//payload.exe") in detections
    assert (EICAR_HDB, f"sample.{fmt}//payload.exe") in detections
    assert result.errors == []
    assert result.decision.action == "block"
    assert result.stats.max_layer == 1
    assert result.stats.files >= 3  # the archive and both entries


@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_clean_archive_of_every_format_is_clean(engine: avgate.Engine, fmt: str) -> None:
    result = engine.scan_bytes(archive(fmt, {"a.txt": CLEAN, "b.txt": CLEAN[:300]}), f"clean.{fmt}")
    assert result.verdict == "clean", result
    assert result.decision.action == "permit"


def test_detection_is_named_by_type_not_by_file_name(engine: avgate.Engine, tmp_path: "os.PathLike[str]") -> None:
    path = os.path.join(tmp_path, "holiday-photo.jpg")  # a zip, whatever its name says
    with open(path, "wb") as f:
        f.write(zip_bytes({"inner/payload.exe": EICAR}))
    result = engine.scan_file(path)
    assert (EICAR_HDB, f"{path}//inner/payload.exe") in found(result)


def test_stored_entry_is_also_found_in_the_containers_own_bytes(engine: avgate.Engine) -> None:
    result = engine.scan_bytes(archive("zip-stored", {"sig.bin": b"xx" + LITERAL + b"yy"}), "s.zip")
    paths = {d.path for d in result.detections if d.name == LITERAL_NAME}
    assert paths == {"s.zip", "s.zip//sig.bin"}


def test_first_detection_stops_the_walk_unless_all_matches(engine: avgate.Engine) -> None:
    data = zip_bytes({"a.exe": EICAR, "b.exe": EICAR})
    first = avgate.Engine().scan_bytes(data, "two.zip")
    assert [d.path for d in first.detections] == ["two.zip//a.exe"]
    everything = engine.scan_bytes(data, "two.zip")
    assert {d.path for d in everything.detections} == {"two.zip//a.exe", "two.zip//b.exe"}


def test_file_path_input_and_7z_read_in_place(engine: avgate.Engine, tmp_path: "os.PathLike[str]") -> None:
    path = os.path.join(tmp_path, "a.7z")
    with open(path, "wb") as f:
        f.write(sevenzip({"dir.txt": CLEAN, "payload.exe": EICAR}))
    result = engine.scan_file(path)
    assert (EICAR_HDB, f"{path}//payload.exe") in found(result)


def test_7z_from_a_stream_is_spooled_and_walked(engine: avgate.Engine) -> None:
    data = sevenzip({"payload.exe": EICAR})
    with engine.stream("upload.7z") as stream:
        for i in range(0, len(data), 50):
            stream.feed(data[i : i + 50])
    assert (EICAR_HDB, "upload.7z//payload.exe") in found(stream.result)


def test_7z_spool_counts_against_the_memory_budget() -> None:
    data = sevenzip({"big.bin": os.urandom(3 << 20), "payload.exe": EICAR})
    tight = avgate.Engine(memory_budget=2 << 20)
    # 7z inside a tar: the spool is needed (no file to reopen) and is bigger than the budget
    result = tight.scan_bytes(tar_bytes({"x.7z": data}), "t.tar")
    assert ("out-of-resources", "t.tar//x.7z") in reasons(result)
    assert result.decision.action == "block"
    assert tight.governor.memory.used == 0  # released again
    roomy = avgate.Engine(memory_budget=64 << 20)
    assert roomy.scan_bytes(tar_bytes({"x.7z": data}), "t.tar").verdict == "infected"


# -- encrypted entries: password-file ------------------------------------------------------------


@pytest.mark.parametrize("make", [zip_zipcrypto, zip_aes], ids=["zipcrypto", "aes"])
def test_encrypted_zip_entries_are_password_file_and_others_still_scanned(engine: avgate.Engine, make) -> None:
    encrypted = make({"secret.doc": CLEAN})
    outer = zip_bytes({"locked.zip": encrypted, "later.exe": EICAR})
    result = engine.scan_bytes(outer, "mail.zip")
    assert ("password-file", "mail.zip//locked.zip//secret.doc") in reasons(result)
    assert (EICAR_HDB, "mail.zip//later.exe") in found(result)
    alone = engine.scan_bytes(encrypted, "locked.zip")
    assert reasons(alone) == [("password-file", "locked.zip//secret.doc")]
    assert alone.decision.action == "log-and-permit" and alone.decision.reason == "password-file"


def test_encrypted_7z_content_and_headers(engine: avgate.Engine) -> None:
    content = engine.scan_bytes(sevenzip({"a.txt": CLEAN, "b.exe": EICAR}, password="pw"), "c.7z")
    assert sorted(reasons(content)) == [("password-file", "c.7z//a.txt"), ("password-file", "c.7z//b.exe")]
    assert content.detections == []
    headers = engine.scan_bytes(sevenzip({"b.exe": EICAR}, password="pw", encrypt_headers=True), "h.7z")
    assert reasons(headers) == [("password-file", "h.7z")]
    assert "encrypted" in headers.errors[0].detail


def test_rar_encryption(engine: avgate.Engine) -> None:
    headers4 = engine.scan_bytes(rar4_bytes({"a.exe": EICAR}, encrypted_headers=True), "h.rar")
    assert reasons(headers4) == [("password-file", "h.rar")]
    files4 = engine.scan_bytes(rar4_bytes({"a.exe": CLEAN}, encrypted_files=True), "f.rar")
    assert reasons(files4) == [("password-file", "f.rar//a.exe")]
    headers5 = engine.scan_bytes(rar5_bytes({"a.exe": EICAR}, encrypted_headers=True), "h5.rar")
    assert reasons(headers5) == [("password-file", "h5.rar")]


def test_rar5_file_encryption_is_password_file(engine: avgate.Engine) -> None:
    # libarchive before 3.8 neither flags it nor fails: avgate reads the file
    # headers' encryption records itself
    data = rar5_bytes({"a.exe": EICAR, "b.txt": CLEAN}, encrypted_files=True)
    result = engine.scan_bytes(data, "f5.rar")
    assert reasons(result) == [("password-file", "f5.rar//a.exe"), ("password-file", "f5.rar//b.txt")]
    mixed = zip_bytes({"enc.rar": data, "plain.rar": rar5_bytes({"payload.exe": EICAR})})
    result = engine.scan_bytes(mixed, "m.zip")
    assert reasons(result) == [("password-file", "m.zip//enc.rar//a.exe"), ("password-file", "m.zip//enc.rar//b.txt")]
    assert (EICAR_HDB, "m.zip//plain.rar//payload.exe") in found(result)


def test_rar5_header_follower_across_block_boundaries() -> None:
    from avgate.rar5_headers import Rar5Headers

    files = {f"f{i}.bin": os.urandom(i * 37) for i in range(6)}
    data = rar5_bytes(files, encrypted_files=True) + b""
    plain = rar5_bytes(files)
    for blob, expected in ((data, True), (plain, False)):
        for step in (1, 3, 7, 64, len(blob)):
            headers = Rar5Headers()
            for i in range(0, len(blob), step):
                headers.feed(blob[i : i + step])
            assert headers.encrypted == [expected] * 6, step
            assert headers.done


# -- damaged archives: corrupt-file, and the rest still scanned --------------------------------------

THREE = {"readme.txt": CLEAN, "second.txt": CLEAN[:100], "payload.exe": EICAR}


def _truncate_in_first_entry(data: bytes) -> bytes:
    return data[: data.find(CLEAN[:40]) + 100]


@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_truncated_archive_is_corrupt_file(engine: avgate.Engine, fmt: str) -> None:
    data = archive(fmt, THREE)
    if data.find(CLEAN[:40]) < 0:  # compressed entries: cut in the middle of the archive
        damaged = data[: len(data) // 2]
    else:
        damaged = _truncate_in_first_entry(data)
    result = engine.scan_bytes(damaged, f"cut.{fmt}")
    assert [p.reason for p in result.errors] == ["corrupt-file"], result
    assert result.errors[0].path.startswith(f"cut.{fmt}")
    assert result.errors[0].detail
    assert result.decision.action == "log-and-permit"
    # the engine keeps working
    assert EICAR_HDB in {d.name for d in engine.scan_bytes(archive(fmt, FILES), fmt).detections}


# Where a bit flip is detectable: in data under a checksum (CRC, CAB checksum) or in
# a header that has one. Formats with no checksum at all (cpio, ar, iso9660, warc)
# cannot tell a flipped data byte from real data; there a damaged header is flipped.
FLIP_IN_DATA = ("zip", "zip-stored", "zip-bzip2", "zip-lzma", "7z", "7z-libarchive", "cab", "lha")
FLIP_IN_SECOND_HEADER = ("tar-ustar", "tar-gnu", "tar-pax", "tar-v7", "rar4", "rar5", "xar")


@pytest.mark.parametrize("fmt", FLIP_IN_DATA + FLIP_IN_SECOND_HEADER)
def test_bit_flipped_archive_is_corrupt_file_and_later_entries_still_found(engine: avgate.Engine, fmt: str) -> None:
    data = archive(fmt, THREE)
    if fmt in FLIP_IN_DATA:
        at = data.find(CLEAN[:40])
        damaged = flipped(data, at + 10 if at >= 0 else len(data) // 3)
    else:
        damaged = flipped(data, data.find(b"second.txt") + 2) if fmt != "xar" else flipped(data, len(data) // 2)
    result = engine.scan_bytes(damaged, f"flip.{fmt}")
    assert "corrupt-file" in {p.reason for p in result.errors}, result
    if fmt not in ("7z", "7z-libarchive", "xar", "zip-lzma", "zip-bzip2", "zip"):
        # one damaged entry or header; EICAR behind it is still found
        assert EICAR_NDB in {d.name for d in result.detections}, result


@pytest.mark.parametrize("fmt", ["cpio-odc", "cpio-newc", "ar", "warc", "iso9660"])
def test_archives_without_checksums_scan_damaged_data_as_data(engine: avgate.Engine, fmt: str) -> None:
    data = archive(fmt, THREE)
    at = data.find(CLEAN[:40])
    result = engine.scan_bytes(flipped(data, at + 10), f"flip.{fmt}")
    assert result.errors == []  # nothing can tell
    assert (EICAR_HDB, f"flip.{fmt}//payload.exe") in found(result)


def test_zip_crc_mismatch_is_reported_and_the_entry_still_scanned(engine: avgate.Engine) -> None:
    data = archive("zip-stored", {"payload.exe": EICAR + b"!" * 10})
    damaged = flipped(data, data.find(EICAR) + len(EICAR) + 3)
    result = engine.scan_bytes(damaged, "crc.zip")
    assert reasons(result) == [("corrupt-file", "crc.zip//payload.exe")]
    assert "CRC" in result.errors[0].detail
    assert (EICAR_NDB, "crc.zip//payload.exe") in found(result)


def test_damaged_magic_of_a_strong_format_is_corrupt_but_scanned(engine: avgate.Engine) -> None:
    damaged = flipped(tar_bytes(FILES), 100)  # header checksum broken: libarchive does not recognise it
    result = engine.scan_bytes(damaged, "bad.tar")
    assert reasons(result) == [("corrupt-file", "bad.tar")]
    assert (EICAR_NDB, "bad.tar") in found(result)


def test_weak_magic_that_is_no_archive_is_plain_data(engine: avgate.Engine) -> None:
    # two bytes of binary cpio magic, then no cpio at all
    data = b"\xc7\x71" + os.urandom(600) + EICAR
    result = engine.scan_bytes(data, "random.bin")
    assert result.errors == []
    assert found(result) == {(EICAR_NDB, "random.bin")}


def test_random_and_empty_inputs_are_clean(engine: avgate.Engine) -> None:
    for data in (b"", b"PK", os.urandom(100_000), b"\x1f", b"7z"):
        result = engine.scan_bytes(data, "x")
        assert result.verdict == "clean", (data[:10], result)


def test_directories_and_links_are_not_nodes_but_count_as_files(engine: avgate.Engine) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("d1", "d1/d2"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        link = tarfile.TarInfo("d1/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "elsewhere"
        tar.addfile(link)
        info = tarfile.TarInfo("d1/d2/payload.exe")
        info.size = len(EICAR)
        tar.addfile(info, io.BytesIO(EICAR))
    result = engine.scan_bytes(buf.getvalue(), "dirs.tar")
    assert result.stats.files == 2  # the tar and the one file
    assert (EICAR_HDB, "dirs.tar//d1/d2/payload.exe") in found(result)
    limited = avgate.Engine(profile=avgate.Profile(max_files=3), all_matches=True).scan_bytes(buf.getvalue(), "dirs.tar")
    assert reasons(limited) == [("content-size", "dirs.tar//d1/d2/payload.exe")]


def test_sparse_tar_holes_read_as_zeros(engine: avgate.Engine) -> None:
    import io
    import tarfile

    # a GNU sparse file: tarfile cannot write one, libarchive's pax writer can't either; build
    # the old GNU sparse header by hand: data "EICAR" at offset 1 MiB, size 1 MiB + 68
    size = (1 << 20) + len(EICAR)
    header = bytearray(512)
    header[0:11] = b"sparse.exe\x00"
    header[100:108] = b"0000644\x00"
    header[108:116] = header[116:124] = b"0000000\x00"
    header[124:136] = f"{len(EICAR):011o}\x00".encode()  # bytes stored
    header[136:148] = b"00000000000\x00"
    header[156:157] = b"S"
    header[257:265] = b"ustar  \x00"
    header[386:398] = f"{1 << 20:011o}\x00".encode()  # sparse map: offset
    header[398:410] = f"{len(EICAR):011o}\x00".encode()  # numbytes
    header[483:495] = f"{size:011o}\x00".encode()  # real size
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}\x00 ".encode()
    data = bytes(header) + EICAR + bytes(-len(EICAR) % 512) + bytes(1024)
    assert tarfile.open(fileobj=io.BytesIO(data)).getmember("sparse.exe").size == size
    result = engine.scan_bytes(data, "sparse.tar")
    assert (EICAR_NDB, "sparse.tar//sparse.exe") in found(result)
    offsets = {d.offset for d in result.detections if d.path == "sparse.tar//sparse.exe"}
    assert offsets == {size}  # EICAR ends where the real file ends: the hole was fed
