"""Limits while walking: bombs end as content-size (fast, small), max-files,
content-size-limit, timeouts that stop even a bomb, memory bounded by
chunks and layers. Memory is measured as the peak RSS of a child process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import avgate
from content_fixtures import (
    CLEAN, EICAR, EICAR_HDB, MiB, gzip_zeros, tar_bytes, tar_gz_stream, zip_bytes,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def run_child(body: str) -> dict:
    """Run `body` (which sets `result` and may set `extra`) in a fresh
    interpreter; returns its peak RSS in MiB, the scan's seconds and result.
    The peak is VmHWM of the child's own address space: ru_maxrss would
    carry over the parent's peak from before exec."""
    header = (
        "import json, sys, time, zipfile\n"
        f"sys.path.insert(0, {HERE!r})\n"
        "import avgate\n"
        "from content_fixtures import *\n"
        "from content_fixtures import peak_rss_mib\n"
        "extra = {}\n"
    )
    footer = (
        "print(json.dumps({\n"
        "    'rss_mib': peak_rss_mib(),\n"
        "    'seconds': seconds,\n"
        "    'errors': [[p.reason, p.path, p.detail] for p in result.errors],\n"
        "    'detections': [[d.name, d.path] for d in result.detections],\n"
        "    'scanned': result.stats.bytes_scanned,\n"
        "    **extra,\n"
        "}))\n"
    )
    script = header + textwrap.dedent(body) + footer
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_gib_gzip_bomb_ends_as_content_size_fast_and_small() -> None:
    out = run_child(
        """
        bomb = gzip_zeros(1 << 30)
        engine = avgate.Engine()
        started = time.perf_counter()
        result = engine.scan_bytes(bomb, "bomb.gz")
        seconds = time.perf_counter() - started
        extra["compressed"] = len(bomb)
        """
    )
    assert out["compressed"] < 2 * MiB
    assert [e[:2] for e in out["errors"]] == [["content-size", "bomb.gz//bomb"]]
    assert "scan-size-limit" in out["errors"][0][2]  # inflated up to the limit, then the scan ends
    assert out["seconds"] < 1.0
    assert out["rss_mib"] < 100


def test_nested_zip_bomb_ends_as_content_size_fast_and_small() -> None:
    # 42.zip-like: a zip of zips, each holding 1 GiB of zeros (10 GiB in all)
    out = run_child(
        """
        layer = zip_of_zeros("zeros.bin", 1 << 30)
        bomb = zip_bytes({f"part{i}.zip": layer for i in range(10)}, zipfile.ZIP_STORED)
        engine = avgate.Engine()
        started = time.perf_counter()
        result = engine.scan_bytes(bomb, "42.zip")
        seconds = time.perf_counter() - started
        extra["compressed"] = len(bomb)
        """
    )
    assert out["compressed"] < 20 * MiB
    assert [e[:2] for e in out["errors"]] == [["content-size", "42.zip//part0.zip//zeros.bin"]]
    assert "declares 1073741824 bytes" in out["errors"][0][2]
    assert out["seconds"] < 1.0
    assert out["rss_mib"] < 100


def test_tar_gz_bomb_is_stopped_by_its_declared_size() -> None:
    data = b"".join(tar_gz_stream(bytes(MiB), 1024))  # a tar holding 1 GiB of zeros
    engine = avgate.Engine()
    started = time.perf_counter()
    result = engine.scan_bytes(data, "bomb.tar.gz")
    assert time.perf_counter() - started < 1.0
    assert [(p.reason, p.path) for p in result.errors] == [("content-size", "bomb.tar.gz//big.bin")]
    assert "declares 1073741824 bytes" in result.errors[0].detail


def test_streamed_bomb_without_declared_size_stops_at_scan_size_limit() -> None:
    # through the stream API nothing can be read from the end: the walk counts
    # decoded bytes and aborts the whole stream at the limit (not skipping it)
    out = run_child(
        """
        bomb = gzip_zeros(1 << 30)
        engine = avgate.Engine(profile=avgate.Profile(scan_size_limit=96 << 20))
        started = time.perf_counter()
        with engine.stream("bomb.gz") as stream:
            for i in range(0, len(bomb), 65536):
                stream.feed(bomb[i:i + 65536])
        result = stream.result
        seconds = time.perf_counter() - started
        """
    )
    assert [e[:2] for e in out["errors"]] == [["content-size", "bomb.gz//bomb"]]
    assert 90 * MiB < out["scanned"] <= 96 * MiB  # the block that would pass the limit is not scanned
    assert out["seconds"] < 2.0
    assert out["rss_mib"] < 100


def test_bomb_stops_within_100_ms_of_the_deadline() -> None:
    bomb = gzip_zeros(1 << 30)
    engine = avgate.Engine(profile=avgate.Profile(timeout=0.2, scan_size_limit=8 << 30))
    started = time.perf_counter()
    result = engine._scan(iter([bomb]), "bomb.gz")  # a stream: no trailer to read first
    elapsed = time.perf_counter() - started
    assert [(p.reason, p.path) for p in result.errors] == [("timeout", "bomb.gz//bomb")]
    assert elapsed < 0.2 + 0.1
    assert result.decision.action == "block"


def test_timeout_between_entries_of_an_archive_of_many_small_files() -> None:
    files = {f"f{i:05d}.txt": b"x" for i in range(5000)}
    data = tar_bytes(files)
    engine = avgate.Engine(profile=avgate.Profile(timeout=0.01))
    result = engine.scan_bytes(data, "many.tar")
    assert [p.reason for p in result.errors] == ["timeout"]
    assert result.errors[0].path.startswith("many.tar//f")


def test_max_files_aborts_the_container() -> None:
    data = zip_bytes({f"f{i}.txt": CLEAN[:10] for i in range(50)} | {"z.exe": EICAR})
    engine = avgate.Engine(profile=avgate.Profile(max_files=20), all_matches=True)
    result = engine.scan_bytes(data, "many.zip")
    assert [(p.reason, p.path) for p in result.errors] == [("content-size", "many.zip//f20.txt")]
    assert "max-files" in result.errors[0].detail
    assert result.detections == []  # the entry after the limit was never reached
    assert result.decision.action == "block"
    assert engine.scan_bytes(zip_bytes({"z.exe": EICAR}), "ok.zip").verdict == "infected"


def test_content_size_limit_counts_the_input_only() -> None:
    engine = avgate.Engine(profile=avgate.Profile(content_size_limit=10), all_matches=True)  # KB
    small_bomb = gzip_zeros(64 * MiB)  # 64 KiB compressed, 64 MiB decoded
    result = engine.scan_bytes(small_bomb, "b.gz")
    assert [(p.reason, p.path) for p in result.errors] == [("content-size", "b.gz")]
    assert "content-size-limit" in result.errors[0].detail
    fine = engine.scan_bytes(zip_bytes({"e.exe": EICAR}), "fine.zip")
    assert (EICAR_HDB, "fine.zip//e.exe") in {(d.name, d.path) for d in fine.detections}


def test_scan_size_limit_counts_every_layer() -> None:
    data = zip_bytes({"a.bin": bytes(3 * MiB), "b.bin": bytes(3 * MiB)})
    engine = avgate.Engine(profile=avgate.Profile(scan_size_limit=5 * MiB))
    result = engine.scan_bytes(data, "two.zip")
    assert [(p.reason, p.path) for p in result.errors] == [("content-size", "two.zip//b.bin")]


def test_data_after_a_gzip_stream_is_no_size_claim() -> None:
    import gzip

    data = gzip.compress(EICAR) + b"\xff\xff\xff\x7f"  # would read as a 2 GiB ISIZE if trusted
    result = avgate.Engine(all_matches=True).scan_bytes(data, "odd.gz")
    assert result.errors == []
    assert (EICAR_HDB, "odd.gz//odd") in {(d.name, d.path) for d in result.detections}


@pytest.mark.parametrize("size_mib", [256])
def test_big_tar_gz_through_the_stream_api_keeps_memory_bounded(size_mib: int) -> None:
    # the full 4 GiB run is in bench/content_bench.py; the bound does not depend on the size
    out = run_child(
        f"""
        import random
        chunk = random.Random(7).randbytes(64 * 1024) * 16  # 1 MiB, compresses about 16:1
        engine = avgate.Engine(profile=avgate.Profile(scan_size_limit=8 << 30))
        started = time.perf_counter()
        with engine.stream("big.tar.gz") as stream:
            for block in tar_gz_stream(chunk, {size_mib}):
                stream.feed(block)
        result = stream.result
        seconds = time.perf_counter() - started
        """
    )
    assert out["errors"] == [] and out["detections"] == []
    assert out["scanned"] >= size_mib * MiB
    assert out["rss_mib"] < 200


def test_engine_memory_budget_refuses_a_decoder() -> None:
    from avgate.decoders import LZMA_MEMLIMIT
    import lzma

    engine = avgate.Engine(memory_budget=LZMA_MEMLIMIT // 2)
    result = engine.scan_bytes(lzma.compress(EICAR), "x.xz")
    assert [(p.reason, p.path) for p in result.errors] == [("out-of-resources", "x.xz")]
    assert engine.governor.memory.used == 0
    assert engine.scan_bytes(zip_bytes({"e.exe": EICAR}), "z.zip").verdict == "infected"


def test_bomb_behind_a_broken_tar_header_still_counts_against_scan_size() -> None:
    import tarfile
    import zlib

    info = tarfile.TarInfo("x")
    info.size = 1 << 30
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[148] ^= 1  # checksum broken: libarchive will not read this tar
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = c.compress(bytes(header)) + c.flush(zlib.Z_FULL_FLUSH)
    zeros = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head + zeros * 1024 + c.flush() + bytes(8)
    engine = avgate.Engine(profile=avgate.Profile(scan_size_limit=64 * MiB))
    started = time.perf_counter()
    result = engine._scan(iter([data]), "broken.tar.gz")
    assert time.perf_counter() - started < 1.0
    assert [(p.reason, p.path) for p in result.errors] == [("corrupt-file", "broken.tar.gz"),
                                                           ("content-size", "broken.tar.gz")]
