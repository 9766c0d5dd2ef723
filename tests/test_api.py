"""The Python API as embedders use it: files, bytes, file objects, trees,
incremental streams, from threads and from asyncio."""
from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from pathlib import Path

import pytest

import avgate

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
LITERAL = b"AVGATE-TEST-SIGNATURE-LITERAL-7f3c"


@pytest.fixture(scope="module")
def engine() -> avgate.Engine:
    return avgate.Engine()


def test_scan_bytes_file_and_fileobj_agree(engine: avgate.Engine, tmp_path: Path) -> None:
    data = os.urandom(300_000) + EICAR + os.urandom(10)
    path = tmp_path / "sample.bin"
    path.write_bytes(data)
    results = [
        engine.scan_bytes(data, name="sample.bin"),
        engine.scan_file(path),
        engine.scan_fileobj(io.BytesIO(data), name="sample.bin"),
    ]
    for result in results:
        assert result.verdict == "infected"
        assert [d.name for d in result.detections] == ["Win.Test.EICAR_NDB-1"]
        assert result.detections[0].offset == 300_000 + len(EICAR)
        assert result.decision.action == "block" and result.decision.reason == "virus"
    assert results[1].path == str(path)


def test_clean_result_is_printable_and_serialisable(engine: avgate.Engine) -> None:
    result = engine.scan_bytes(b"just text", name="note.txt")
    assert result.verdict == "clean" and not result.detections and not result.errors
    assert result.decision.action == "permit"
    assert "verdict='clean'" in repr(result) and "note.txt" in repr(result)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["verdict"] == "clean" and data["stats"]["bytes_scanned"] == len(b"just text")


def test_scan_path_walks_a_tree(engine: avgate.Engine, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_bytes(b"clean")
    (tmp_path / "a" / "y.bin").write_bytes(LITERAL)
    (tmp_path / "z.com").write_bytes(EICAR)
    (tmp_path / "link").symlink_to(tmp_path / "z.com")
    verdicts = {Path(r.path).name: r.verdict for r in engine.scan_path(tmp_path)}
    assert verdicts == {"x.txt": "clean", "y.bin": "infected", "z.com": "infected"}
    excluded = {Path(r.path).name for r in engine.scan_path(tmp_path, exclude=["*.com"])}
    assert excluded == {"x.txt", "y.bin"}
    followed = {Path(r.path).name for r in engine.scan_path(tmp_path, follow_symlinks=True)}
    assert "link" in followed


def test_incremental_stream_finds_a_signature_split_across_feeds(engine: avgate.Engine) -> None:
    with engine.stream(name="upload") as s:
        s.feed(os.urandom(100_000) + LITERAL[:10])
        s.feed(LITERAL[10:20])
        s.feed(LITERAL[20:] + os.urandom(5000))
    assert s.result is not None
    assert [d.name for d in s.result.detections] == ["Avgate.Test.Literal-1"]
    assert s.result.path == "upload"
    with engine.stream(name="clean") as clean:
        for _ in range(20):
            clean.feed(os.urandom(65536))
    assert clean.result is not None and clean.result.verdict == "clean"
    assert clean.result.stats.bytes_scanned == 20 * 65536


def test_threads_share_one_engine(engine: avgate.Engine) -> None:
    inputs = [os.urandom(200_000) + (EICAR if i % 3 == 0 else b"") for i in range(24)]
    results: dict[int, avgate.ScanResult] = {}

    def work(i: int) -> None:
        results[i] = engine.scan_bytes(inputs[i], name=f"in{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, result in results.items():
        assert result.path == f"in{i}"
        assert result.verdict == ("infected" if i % 3 == 0 else "clean")


def test_asyncio_variants_run_off_the_event_loop(engine: avgate.Engine, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(EICAR)

    async def main() -> list[avgate.ScanResult]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        results = await asyncio.gather(
            engine.scan_file_async(path),
            engine.scan_bytes_async(os.urandom(4 << 20) + LITERAL, name="big"),
            engine.scan_fileobj_async(io.BytesIO(b"clean"), name="obj"),
        )
        task.cancel()
        assert ticks > 0  # the loop kept running while scans ran in threads
        return list(results)

    by_name = {r.path: r for r in asyncio.run(main())}
    assert by_name[str(path)].verdict == "infected"
    assert by_name["big"].detections[0].name == "Avgate.Test.Literal-1"
    assert by_name["obj"].verdict == "clean"


def test_custom_database_from_files(tmp_path: Path) -> None:
    db = tmp_path / "custom.ndb"
    db.write_text("Custom.Marker:0:*:" + b"find-me-please".hex() + "\n")
    engine = avgate.Engine(database=db)
    assert engine.scan_bytes(b"xx find-me-please xx").detections[0].name == "Custom.Marker"
    assert engine.scan_bytes(EICAR).verdict == "clean"  # the default database is not loaded
    with pytest.raises(avgate.DatabaseError):
        avgate.Engine(database=tmp_path / "missing.ndb")


def test_scan_path_skips_fifos_and_survives_symlink_loops(engine: avgate.Engine, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.bin").write_bytes(LITERAL)
    os.mkfifo(tmp_path / "d" / "pipe")  # opening it would block the scan forever
    (tmp_path / "d" / "loop").symlink_to(tmp_path)  # a directory link back to the top
    names = [Path(r.path).name for r in engine.scan_path(tmp_path, follow_symlinks=True)]
    assert names == ["f.bin"]
    assert [Path(r.path).name for r in engine.scan_path(tmp_path)] == ["f.bin"]


def test_first_detection_decides_unless_all_matches(tmp_path: Path) -> None:
    data = EICAR + b" and " + LITERAL
    assert len(avgate.Engine().scan_bytes(data).detections) == 1
    names = [d.name for d in avgate.Engine(all_matches=True).scan_bytes(data).detections]
    assert sorted(names) == ["Avgate.Test.Literal-1", "Win.Test.EICAR_NDB-1"]


def test_unreadable_directory_is_reported_not_skipped(
    engine: avgate.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "x.bin").write_bytes(LITERAL)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "y.bin").write_bytes(b"never read")
    real_scandir = os.scandir

    def scandir(path):  # root reads every directory, so deny one the way the kernel would
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    results = {Path(r.path).name: r for r in engine.scan_path(tmp_path)}
    assert set(results) == {"locked", "x.bin"}
    locked = results["locked"]
    assert [(e.reason, e.detail) for e in locked.errors] == [("default", "cannot read directory: Permission denied")]
    assert locked.decision.action == "block"
    assert results["x.bin"].verdict == "infected"  # the rest of the tree was scanned
    assert engine.scan_bytes(b"clean").verdict == "clean"
