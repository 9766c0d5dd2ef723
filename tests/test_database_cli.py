"""`avgate db info|compile`, and `avgate scan -d` with the database."""
from __future__ import annotations

import hashlib
import json

import pytest

from avgate.cli import main
from avgate.database import default_database_dir

from test_cvd import MEMBERS, packed

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture
def dbdir(tmp_path):
    d = tmp_path / "db"
    d.mkdir()
    (d / "daily.cvd").write_bytes(packed(MEMBERS))
    (d / "local.ndb").write_text("Local-1:0:*:" + b"local-signature".hex() + "\nBroken:0:*:6\nHtml-1:3:*:6162636465\n")
    (d / "local.hsb").write_text(f"{hashlib.sha256(b'hashed').hexdigest()}:6:Local.Hash-1\n")
    (d / "main.ldb").write_text("L1;Target:0;0;616263\nL2;Target:0;0;646566\n")
    return d


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_info_shows_counts_unsupported_kinds_bad_lines_versions_and_load_time(capsys, dbdir, tmp_path):
    code, out, err = run(capsys, "db", "info", "-d", str(dbdir), "--no-cache")
    assert code == 0, err
    assert f"  {dbdir}/daily.cvd" in out and f"  {dbdir}/local.ndb" in out
    assert (f"Packed database {dbdir}/daily.cvd: version 27095, 5 signatures, built 14 Nov 2023 08-24 -0500 "
            "(functionality level 90, by tester)") in out
    assert "Signatures loaded: 4" in out
    lines = out.splitlines()
    assert any(line.split() == ["ndb", "(body", "signatures)", "2"] for line in lines)
    assert any(line.split() == ["hsb", "(SHA-1/SHA-256", "hashes)", "1"] for line in lines)
    assert "Hash signatures by digest: md5 1, sha256 1; allow list: none" in out
    assert "Dropped by .ign2: 1" in out
    assert "Not supported yet (counted, not loaded): 4" in out
    assert any(line.split() == ["ldb", "(logical", "signatures)", "3"] for line in lines)  # 2 loose + 1 packed
    assert any("ndb: target type 3 (HTML, needs a normaliser)" in line and line.endswith(" 1") for line in lines)
    assert "Malformed lines skipped: 1" in out
    assert f"  {dbdir}/local.ndb:2: odd number of hex digits" in out
    assert lines[-1].startswith("Load time: ") and lines[-1].endswith("s; not cached")


def test_db_info_json_and_strict(capsys, dbdir):
    code, out, _ = run(capsys, "db", "info", "-d", str(dbdir), "--no-cache", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["signatures"] == 4 and facts["bad_lines"] == 1
    assert facts["versions"][0]["version"] == 27095 and facts["unsupported"]["ldb (logical signatures)"] == 3
    assert facts["cache"] == {"status": "not cached", "path": None} and facts["load_seconds"] > 0
    code, out, err = run(capsys, "db", "info", "-d", str(dbdir), "--strict", "--no-cache")
    assert code == 2 and out == ""
    assert err.startswith(f"avgate: {dbdir}/local.ndb:2: odd number of hex digits")


def test_db_compile_fills_the_cache_that_info_and_scan_then_use(capsys, dbdir, tmp_path):
    cache = tmp_path / "cache"
    code, out, err = run(capsys, "db", "compile", "-d", str(dbdir), "--cache-dir", str(cache))
    assert code == 0
    assert out.startswith("compiled 4 signatures from 4 file(s) in ")
    assert "skipped 1 malformed line(s); first: " in err
    [entry] = list(cache.iterdir())
    assert f"cache: {entry}" in out
    code, out, _ = run(capsys, "db", "info", "-d", str(dbdir), "--cache-dir", str(cache))
    assert code == 0 and out.splitlines()[-1].endswith(f"loaded from cache ({entry})")
    (dbdir / "local.ndb").write_text("Local-1:0:*:" + b"local-signature".hex() + "\n")
    code, out, _ = run(capsys, "db", "info", "-d", str(dbdir), "--cache-dir", str(cache))
    assert "compiled now (no cached copy); cached" in out  # the sources changed: a new entry
    assert len(list(cache.iterdir())) == 2


def test_db_compile_reports_an_unusable_cache_dir(capsys, dbdir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, "db", "compile", "-d", str(dbdir), "--cache-dir", str(blocker))
    assert code == 2 and "not cached" in err


def test_db_commands_default_to_the_shipped_database(capsys):
    code, out, _ = run(capsys, "db", "info", "--no-cache")
    shipped = sorted(p.name for p in default_database_dir().iterdir() if p.suffix in (".ndb", ".hdb", ".hsb"))
    assert code == 0 and [line.strip().rsplit("/", 1)[-1] for line in out.splitlines()[1:1 + len(shipped)]] == shipped
    assert "hsb (SHA-1/SHA-256 hashes)" in out


@pytest.mark.parametrize("command", ["info", "compile"])
def test_db_help_explains_every_option(capsys, command):
    with pytest.raises(SystemExit):
        main(["db", command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--database PATH signature file or directory" in text and "(repeatable;" in text
    assert "--strict stop at the first malformed line" in text
    assert "--cache-dir DIR where compiled databases are cached" in text
    if command == "info":
        assert "--no-cache compile from the sources" in text and "--json print the facts" in text


def test_scan_uses_the_shipped_database_unless_given_others(capsys, tmp_path):
    target = tmp_path / "files"
    target.mkdir()
    (target / "eicar.com").write_bytes(EICAR)
    (target / "mine.bin").write_bytes(b"..my-own-signature-one.. my-own-signature-two")
    code, out, _ = run(capsys, "scan", "--no-summary", str(target))
    assert code == 1 and f"{target}/eicar.com: Win.Test.EICAR_NDB-1 FOUND" in out and f"{target}/mine.bin: OK" in out
    one, two = tmp_path / "one.ndb", tmp_path / "two.ndb"
    one.write_text("Mine.One-1:0:*:" + b"my-own-signature-one".hex() + "\n")
    two.write_text("Mine.Two-1:1:*:" + b"my-own-signature-two".hex() + "\n"  # PE only: this is not one
                   + "Mine.Three-1:0:*:" + b"my-own-signature-two".hex() + "\n")
    code, out, _ = run(capsys, "scan", "--no-summary", "-d", str(one), "-d", str(two), str(target))
    assert code == 1
    assert f"{target}/eicar.com: OK" in out and f"{target}/mine.bin: Mine.One-1 FOUND" in out
