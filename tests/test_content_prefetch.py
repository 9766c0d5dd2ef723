"""Large compressed streams are decoded ahead in a helper thread; the walk
and its error handling must not be able to tell, and the helper must never
outlive the scan."""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import threading
import time

import pytest

import avgate
from avgate import content, gzip_stream
from avgate.prefetch import PREFETCH_MIN_SIZE, Prefetched
from content_fixtures import EICAR, EICAR_HDB, EICAR_NDB, MiB, gzip_repeated, tar_bytes, zip_bytes

RANDOM = os.urandom(MiB)  # incompressible: each repeat is a MiB of gzip


def _with_tail(count: int, tail: bytes) -> bytes:
    body = gzip.compress(RANDOM * count + tail, compresslevel=1)
    return body


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "avgate-decode"]


@pytest.fixture(scope="module")
def engine() -> avgate.Engine:
    return avgate.Engine(all_matches=True)


def test_big_stream_is_decoded_ahead_and_found(engine: avgate.Engine) -> None:
    data = _with_tail(10, EICAR)
    assert len(data) >= PREFETCH_MIN_SIZE
    result = engine.scan_bytes(data, "big.bin.gz")
    assert (EICAR_NDB, "big.bin.gz//big.bin") in {(d.name, d.path) for d in result.detections}
    assert result.errors == []
    assert decode_threads() == []


def test_big_tar_gz_entries_through_the_helper(engine: avgate.Engine) -> None:
    data = gzip.compress(tar_bytes({"noise.bin": RANDOM * 9, "payload.exe": EICAR}), compresslevel=1)
    result = engine.scan_bytes(data, "big.tar.gz")
    assert (EICAR_HDB, "big.tar.gz//payload.exe") in {(d.name, d.path) for d in result.detections}


def test_crc_mismatch_is_reported_from_the_helper(engine: avgate.Engine) -> None:
    data = bytearray(_with_tail(10, b"end"))
    data[-8] ^= 0xFF
    result = engine.scan_bytes(bytes(data), "bad.gz")
    assert [(p.reason, p.path) for p in result.errors] == [("corrupt-file", "bad.gz")]
    assert "CRC-32 mismatch" in result.errors[0].detail


def test_truncated_big_stream_is_corrupt_and_owned_by_the_right_node(engine: avgate.Engine) -> None:
    data = _with_tail(10, b"end")[: 9 * MiB]
    result = engine.scan_bytes(data, "cut.gz")
    assert [(p.reason, p.path) for p in result.errors] == [("corrupt-file", "cut.gz")]
    assert "truncated" in result.errors[0].detail
    assert decode_threads() == []


@pytest.mark.parametrize("suffix,compress", [("xz", lzma.compress), ("bz2", bz2.compress)])
def test_entries_of_each_threadable_kind_are_prefetched(engine: avgate.Engine, monkeypatch, suffix, compress) -> None:
    monkeypatch.setattr(content, "PREFETCH_MIN_SIZE", 1024)  # the entry's declared size decides
    started = []
    real_enter = Prefetched.__enter__

    def counting_enter(self: Prefetched) -> Prefetched:
        started.append(self)
        return real_enter(self)

    monkeypatch.setattr(Prefetched, "__enter__", counting_enter)
    inner = compress(os.urandom(5000) + EICAR)
    result = engine.scan_bytes(zip_bytes({f"x.{suffix}": inner}, 0), "z.zip")
    assert (EICAR_NDB, f"z.zip//x.{suffix}//x") in {(d.name, d.path) for d in result.detections}
    assert len(started) == 1
    damaged = bytearray(inner)
    damaged[len(damaged) // 2] ^= 0x20
    result = engine.scan_bytes(zip_bytes({f"x.{suffix}": bytes(damaged)}, 0), "d.zip")
    assert [(p.reason, p.path) for p in result.errors] == [("corrupt-file", f"d.zip//x.{suffix}")]


def test_early_stop_ends_the_helper(tmp_path) -> None:
    data = gzip.compress(EICAR + RANDOM * 12, compresslevel=1)
    path = tmp_path / "early.gz"
    path.write_bytes(data)
    started = time.perf_counter()
    result = avgate.Engine().scan_file(path)  # stops at the first detection
    assert result.verdict == "infected"
    assert time.perf_counter() - started < 1.0
    deadline = time.monotonic() + 1.0
    while decode_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert decode_threads() == []


def test_timeout_and_content_size_end_the_helper() -> None:
    data = gzip_repeated(bytes(MiB), 4096, with_crc=False)  # 4 GiB of zeros, a few MiB; never read to the end
    data = data + bytes(PREFETCH_MIN_SIZE)  # make the input big enough to prefetch; zeros after are padding
    timed = avgate.Engine(profile=avgate.Profile(timeout=0.2, scan_size_limit=1 << 40))
    started = time.perf_counter()
    result = timed._scan(iter([data]), "z.gz")  # a stream: no size, so also check with bytes below
    assert [p.reason for p in result.errors] == ["timeout"]
    result = timed.scan_bytes(data, "z.gz")
    assert [p.reason for p in result.errors] == ["timeout"]
    assert time.perf_counter() - started < 1.0
    limited = avgate.Engine(profile=avgate.Profile(scan_size_limit=64 * MiB))
    result = limited.scan_bytes(data, "z.gz")
    assert [p.reason for p in result.errors] == ["content-size"]
    time.sleep(0.2)
    assert decode_threads() == []


def test_zlib_is_the_fallback_when_isal_is_missing(engine: avgate.Engine, monkeypatch) -> None:
    monkeypatch.setattr(gzip_stream, "_igzip", None)
    good = gzip.compress(b"x" * 3000 + EICAR) + gzip.compress(b"second member")
    result = engine.scan_bytes(good, "z.gz")
    assert (EICAR_NDB, "z.gz//z") in {(d.name, d.path) for d in result.detections}
    assert result.errors == []
    bad = bytearray(gzip.compress(b"y" * 5000))
    bad[-8] ^= 1
    assert [p.reason for p in engine.scan_bytes(bytes(bad), "b.gz").errors] == ["corrupt-file"]
    cut = gzip.compress(os.urandom(5000))[:2000]
    assert "truncated" in engine.scan_bytes(cut, "c.gz").errors[0].detail
