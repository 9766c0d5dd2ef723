"""Packed databases (.cvd gzip'd tar, .cld plain tar): header facts,
members loaded in memory, damage reported."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from avgate.database import Database, DatabaseError

BUILD_TIME = "14 Nov 2023 08-24 -0500"
STIME = 1699968240


def packed(members: dict[str, bytes], *, compressed: bool = True, version: int = 27095, sigs: int = 5,
           md5: str | None = None, header: str | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz" if compressed else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    body = raw.getvalue()
    md5 = md5 or hashlib.md5(body).hexdigest()
    text = header or f"ClamAV-VDB:{BUILD_TIME}:{version}:{sigs}:90:{md5}:{'S' * 40}:tester:{STIME}"
    return text.encode().ljust(512, b" ") + body


MEMBERS = {
    "daily.info": b"DAILY:27095:5:90\n",
    "COPYING": b"license text",
    "daily.ndb": b"Packed.Body-1:0:*:" + b"packed-body-signature".hex().encode() + b"\n"
                 b"Packed.Dropped-1:0:*:" + b"dropped-body-signature".hex().encode() + b"\n",
    "daily.hdb": f"{hashlib.md5(b'packed-hash').hexdigest()}:11:Packed.Hash-1\n".encode(),
    "daily.ign2": b"Packed.Dropped-1\n",
    "daily.ldb": b"Packed.Logical-1;Engine:51-255,Target:1;0;616263\n",
}


def test_a_cvd_is_read_in_memory_with_its_header_facts(tmp_path, monkeypatch):
    def no_extracting(*args, **kwargs):
        raise AssertionError("a packed database must not be unpacked to disk")

    monkeypatch.setattr(tarfile.TarFile, "extract", no_extracting)
    monkeypatch.setattr(tarfile.TarFile, "extractall", no_extracting)
    (tmp_path / "daily.cvd").write_bytes(packed(MEMBERS))
    before = sorted(p.name for p in tmp_path.iterdir())
    db = Database.load(tmp_path, cache=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert db.counts == {"ndb": 1, "hdb": 1, "ign2": 1}
    assert db.unsupported == {"ldb (logical signatures)": 1}
    assert db.ignored == 1
    [version] = db.versions
    assert (version["version"], version["signatures"], version["functionality_level"]) == (27095, 5, 90)
    assert (version["build_time"], version["builder"], version["stime"]) == (BUILD_TIME, "tester", STIME)
    assert version["built"] == "2023-11-14T13:24:00+00:00" and version["compressed"]
    assert db.match(b"..packed-body-signature..") == [("Packed.Body-1", 23)]
    assert db.match(b"..dropped-body-signature..") == []
    assert db.match(b"packed-hash") == [("Packed.Hash-1", None)]


def test_a_cld_is_a_plain_tar_and_its_md5_is_not_checked(tmp_path):
    (tmp_path / "daily.cld").write_bytes(packed(MEMBERS, compressed=False, md5="0" * 32))
    db = Database.load(tmp_path, cache=False)
    assert db.versions[0]["compressed"] is False
    assert db.match(b"packed-body-signature") == [("Packed.Body-1", 21)]


def test_bad_lines_inside_a_cvd_are_named_by_member(tmp_path):
    members = dict(MEMBERS, **{"daily.ndb": b"Good-1:0:*:" + b"good-signature".hex().encode() + b"\nBad:0:*:6\n"})
    path = tmp_path / "daily.cvd"
    path.write_bytes(packed(members))
    with pytest.raises(DatabaseError, match=rf"^{path}//daily.ndb:2: odd number of hex digits"):
        Database.load(path, cache=False)
    db = Database.load(path, cache=False, strict=False)
    assert db.bad_lines == 1 and db.match(b"good-signature") == [("Good-1", 14)]


def test_a_cvd_and_loose_files_load_together(tmp_path):
    (tmp_path / "main.cvd").write_bytes(packed(MEMBERS))
    (tmp_path / "local.ndb").write_text("Local-1:0:*:" + b"local-signature".hex() + "\n")
    db = Database.load(tmp_path, cache=False)
    assert {name for name, _ in db.match(b"local-signature packed-body-signature")} == {"Local-1", "Packed.Body-1"}


@pytest.mark.parametrize("damage,message", [
    (lambda data: data[:300], "too short for a ClamAV database header"),
    (lambda data: b"NotClamAV" + data[9:], "not a ClamAV database"),
    (lambda data: data.replace(b":27095:", b":27o95:", 1), "header field version is '27o95', not a number"),
    (lambda data: data[:600], "MD5 mismatch"),
    (lambda data: data[:512] + bytes(len(data) - 512), "MD5 mismatch"),
], ids=["short", "magic", "version", "truncated", "zeroed"])
def test_damaged_packed_databases_are_errors_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "daily.cvd"
    path.write_bytes(damage(packed(MEMBERS)))
    with pytest.raises(DatabaseError, match=message) as err:
        Database.load(path, cache=False)
    assert str(err.value).startswith(str(path))
    # the loader keeps working
    path.write_bytes(packed(MEMBERS))
    assert Database.load(path, cache=False).signature_count == 2


def test_a_damaged_archive_with_a_matching_md5_is_still_an_error(tmp_path):
    good = packed(MEMBERS)
    body = bytearray(good[512:])
    body[len(body) // 2] ^= 0xFF  # corrupt the deflate stream, then fix the header's MD5
    header = good[:512].replace(hashlib.md5(good[512:]).hexdigest().encode(), hashlib.md5(body).hexdigest().encode())
    path = tmp_path / "daily.cvd"
    path.write_bytes(header + bytes(body))
    with pytest.raises(DatabaseError, match="damaged archive"):
        Database.load(path, cache=False)
    cld = tmp_path / "plain.cld"
    cld.write_bytes(packed(MEMBERS, compressed=False)[:700])  # a tar cut in its first member
    with pytest.raises(DatabaseError, match="damaged archive"):
        Database.load(cld, cache=False)
