"""The `avgate` command, driven for real in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
TEST_LITERAL = b"AVGATE-TEST-SIGNATURE-LITERAL-7f3c"


def avgate(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "avgate.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_bytes(b"nothing to see here\n" * 100)
    (tmp_path / "docs" / "eicar.com").write_bytes(EICAR)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_bytes(os.urandom(50_000) + TEST_LITERAL + os.urandom(1000))
    (tmp_path / "bin" / "clean.bin").write_bytes(os.urandom(70_000))
    return tmp_path


def lines(proc: subprocess.CompletedProcess) -> list[str]:
    return proc.stdout.decode().splitlines()


def test_clean_directory_exits_0_and_prints_ok(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "b.txt").write_text("world")
    proc = avgate("scan", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = lines(proc)
    assert f"{tmp_path / 'a.txt'}: OK" in out and f"{tmp_path / 'b.txt'}: OK" in out
    assert "Scanned files: 2" in out and "Infected files: 0" in out


def test_detections_exit_1_with_clamscan_lines(tree: Path) -> None:
    proc = avgate("scan", str(tree))
    assert proc.returncode == 1, proc.stderr
    out = lines(proc)
    assert f"{tree / 'docs' / 'eicar.com'}: Win.Test.EICAR_NDB-1 FOUND" in out
    assert f"{tree / 'bin' / 'tool'}: Avgate.Test.Literal-1 FOUND" in out
    assert f"{tree / 'bin' / 'clean.bin'}: OK" in out
    assert "Scanned files: 4" in out and "Infected files: 2" in out


def test_infected_only_and_no_summary(tree: Path) -> None:
    proc = avgate("scan", "--infected", "--no-summary", str(tree))
    assert proc.returncode == 1
    out = lines(proc)
    assert out and all(line.endswith(" FOUND") for line in out)
    quiet = avgate("scan", "-q", str(tree / "bin" / "clean.bin"))
    assert quiet.returncode == 0 and quiet.stdout == b""


def test_json_one_object_per_file(tree: Path) -> None:
    proc = avgate("scan", "--json", str(tree))
    assert proc.returncode == 1
    records = [json.loads(line) for line in lines(proc)]
    assert len(records) == 4
    for record in records:
        assert set(record) == {"path", "verdict", "detections", "errors", "decision", "bytes", "seconds"}
        assert record["verdict"] in ("clean", "infected", "error")
        assert record["decision"]["action"] in ("permit", "log-and-permit", "block")
        assert isinstance(record["bytes"], int) and record["seconds"] >= 0
    by_path = {r["path"]: r for r in records}
    eicar = by_path[str(tree / "docs" / "eicar.com")]
    assert eicar["verdict"] == "infected" and eicar["bytes"] == len(EICAR)
    assert {"name": "Win.Test.EICAR_NDB-1", "path": str(tree / "docs" / "eicar.com"), "offset": 68} in eicar["detections"]
    assert by_path[str(tree / "bin" / "clean.bin")]["verdict"] == "clean"


def test_stdin(tree: Path) -> None:
    proc = avgate("scan", "--no-summary", "-", stdin=b"prefix " + EICAR + b" suffix")
    assert proc.returncode == 1
    assert lines(proc) == ["stdin: Win.Test.EICAR_NDB-1 FOUND"]
    clean = avgate("scan", "--no-summary", "-", stdin=b"harmless")
    assert clean.returncode == 0 and lines(clean) == ["stdin: OK"]


def test_jobs_give_the_same_results_in_the_same_order(tree: Path) -> None:
    for i in range(30):
        (tree / "docs" / f"f{i:02}.txt").write_bytes(os.urandom(2000))
    one = avgate("scan", "-j", "1", str(tree))
    two = avgate("scan", "-j", "2", str(tree))
    assert one.returncode == two.returncode == 1
    # the same lines and the same summary counters (workers' counters are merged)
    same = [line for line in lines(one) if not line.startswith("Time:")]
    assert same == [line for line in lines(two) if not line.startswith("Time:")]
    assert len(same) >= 34 and "Scan requests: 34 (clean 32, threat found 2, fallback 0)" in same


def test_exclude_and_symlinks(tree: Path) -> None:
    (tree / "link.com").symlink_to(tree / "docs" / "eicar.com")
    proc = avgate("scan", "--no-summary", "--exclude", "docs", str(tree))
    assert proc.returncode == 1  # bin/tool still infected
    out = "\n".join(lines(proc))
    assert "eicar.com" not in out and "link.com" not in out  # symlinks are not followed by default
    followed = avgate("scan", "--no-summary", "--exclude", "docs", "--follow-symlinks", str(tree))
    assert f"{tree / 'link.com'}: Win.Test.EICAR_NDB-1 FOUND" in lines(followed)
    globbed = avgate("scan", "--no-summary", "--exclude", "*.com", "--exclude", "tool", str(tree))
    assert globbed.returncode == 0


def test_missing_path_and_bad_database_are_errors(tmp_path: Path) -> None:
    proc = avgate("scan", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert b"no such file or directory" in proc.stderr
    bad = tmp_path / "bad.ndb"
    bad.write_text("this is not a signature\n")
    proc = avgate("scan", "-d", str(bad), str(tmp_path))
    assert proc.returncode == 2 and str(bad).encode() in proc.stderr
    assert avgate("scan", "-j", "0", str(tmp_path)).returncode == 2


def test_lenient_database_skips_malformed_lines(tmp_path: Path) -> None:
    db = tmp_path / "mixed.ndb"
    db.write_text("Broken.Line:0:*:zz-not-hex\n" + "Good.Sig:0:*:" + b"good-marker".hex() + "\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x").write_bytes(b"..good-marker..")
    strict = avgate("scan", "--no-summary", "-d", str(db), str(tmp_path / "data"))
    assert strict.returncode == 2 and f"{db}:1".encode() in strict.stderr
    lenient = avgate("scan", "--no-summary", "--lenient", "--no-cache", "-d", str(db), str(tmp_path / "data"))
    assert lenient.returncode == 1, lenient.stderr
    assert lines(lenient) == [f"{tmp_path / 'data' / 'x'}: Good.Sig FOUND"]


def test_database_option_replaces_the_default(tmp_path: Path) -> None:
    db = tmp_path / "mine.ndb"
    db.write_text("My.Own.Sig:0:*:" + b"secret-marker".hex() + "\n")
    target = tmp_path / "data"
    target.mkdir()
    (target / "x").write_bytes(b"...secret-marker..." + EICAR)
    proc = avgate("scan", "--no-summary", "-d", str(db), str(target))
    assert proc.returncode == 1
    assert lines(proc) == [f"{target / 'x'}: My.Own.Sig FOUND"]


def test_help_explains_options() -> None:
    proc = avgate("scan", "--help")
    assert proc.returncode == 0
    text = proc.stdout.decode()
    for option in ("--database", "--profile", "--jobs", "--json", "--infected", "--exclude", "--quiet", "exit codes"):
        assert option in text
    assert avgate("version").stdout.startswith(b"avgate ")


def test_log_and_permit_is_logged_as_json_lines(tmp_path: Path) -> None:
    import zipfile

    target = tmp_path / "in"
    target.mkdir()
    encrypted = target / "enc.zip"
    made = subprocess.run(["zip", "-q", "-P", "secret", str(encrypted), "-"], input=b"payload", capture_output=True)
    if made.returncode != 0:
        pytest.skip("the zip tool is not installed")
    with zipfile.ZipFile(target / "plain.zip", "w") as z:
        z.writestr("a.txt", "clean")
    log = tmp_path / "avgate.log"
    proc = avgate("scan", "--no-summary", "--log", str(log), str(target))
    assert proc.returncode == 0, proc.stderr  # log-and-permit passes
    assert proc.stderr == b""  # nothing on stderr unless asked
    assert f"{encrypted}//-: password-file LOG-AND-PERMIT" in lines(proc)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "warning" and record["logger"] == "avgate.policy"
    assert record["avgate"]["action"] == "log-and-permit"
    assert record["avgate"]["reason"] == "password-file"
    assert record["avgate"]["errors"][0]["path"] == f"{encrypted}//-"
