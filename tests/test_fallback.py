"""Every fallback reason provoked for real through the Engine: the reason,
the decision under the default and a non-default profile, the response in
each protocol and notification type, the statistics, and that the engine
serves the next scan normally."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import random
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from avgate import DatabaseError, Engine
from avgate.engine import scan_working_set
from avgate.notify import PROTOCOLS, NotifyContext, render
from avgate.policy import NOTIFICATION_FOR_ACTION, decide
from avgate.profile import DEFAULT_FALLBACK, Notice, Profile
from avgate.result import ScanResult
from avgate.stats import summary_lines

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
ERROR_PREFIX = {"http": "403 Forbidden", "ftp": "550 ", "smtp": "554 5.7.1 ", "pop3": "-ERR ", "imap": "NO "}
SUCCESS = {"http": "200 OK", "ftp": "226 Transfer complete", "smtp": "250 2.0.0 OK", "pop3": "+OK", "imap": "OK"}
# The non-default action each reason is tried under.
OTHER_ACTION = {"block": "log-and-permit", "log-and-permit": "block", "permit": "block"}


def other_profile(reason: str, **scan_options) -> Profile:
    """A profile that turns the reason's default action around."""
    return Profile(name="other", fallback={reason: OTHER_ACTION[DEFAULT_FALLBACK[reason]]}, **scan_options)


def check_fallback(result: ScanResult, reason: str, profile: Profile) -> None:
    """The result ended in `reason`, decided and rendered as `profile` says."""
    assert result.verdict == "error", result
    assert reason in [e.reason for e in result.errors]
    decision = result.decision
    action = profile.action(reason)
    assert (decision.action, decision.reason, decision.profile) == (action, reason, profile.name)
    assert decision.notification == NOTIFICATION_FOR_ACTION[action]
    for kind in ("message", "protocol-only"):
        typed = dataclasses.replace(profile, notifications={"fallback-block": Notice(type=kind)})
        again = decide(result, typed)
        for protocol in PROTOCOLS:
            response = render(again, protocol, NotifyContext(file=result.path))
            if action != "block":
                assert (response.outcome, response.status, response.content) == ("pass", SUCCESS[protocol], None)
            elif kind == "protocol-only":
                assert response.outcome == "error"
                assert response.status.startswith(ERROR_PREFIX[protocol])
                assert f"content not scanned ({reason})" in response.status + (response.content or b"").decode()
            else:
                assert (response.outcome, response.status) == ("replace", SUCCESS[protocol])
                assert reason in response.content.decode()


def serves_next(engine: Engine) -> None:
    clean = engine.scan_bytes(b"nothing to see here " * 1000, "clean.txt")
    assert clean.verdict == "clean" and clean.decision.action == "permit", clean
    infected = engine.scan_bytes(EICAR, "eicar.com")
    assert infected.verdict == "infected" and infected.decision.reason == "virus", infected
    assert engine.governor.active == 0 and engine.governor.memory.used == 0


NOISE = random.Random(5).randbytes(1 << 20)  # not zeros: nothing may fast-path it
NO_SIZE_LIMIT = 1 << 40  # so the deadline, not scan-size-limit, ends an endless scan


def endless(chunk: bytes = NOISE):
    while True:
        yield chunk


class SlowReader(io.RawIOBase):
    """A file object that trickles: `delay` seconds per read, for ever."""

    def __init__(self, delay: float, gate: threading.Event | None = None) -> None:
        self.delay, self.gate, self.reads = delay, gate, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.gate is not None:
            self.gate.wait(10)
            return b""
        time.sleep(self.delay)
        self.reads += 1
        return b"a" * 65536


class FailingReader(io.RawIOBase):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise self.exc


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


# -- timeout -------------------------------------------------------------------


@pytest.mark.parametrize("profile", [
    Profile(timeout=0.2, scan_size_limit=NO_SIZE_LIMIT),
    other_profile("timeout", timeout=0.2, scan_size_limit=NO_SIZE_LIMIT),
])
def test_timeout_on_an_endless_input(profile):
    engine = Engine(profile=profile)
    started = time.monotonic()
    result = engine.scan_fileobj(endless(), "endless.bin")
    elapsed = time.monotonic() - started
    check_fallback(result, "timeout", profile)
    assert "0.2 s" in result.errors[0].detail
    assert 0.2 <= elapsed < 0.45  # the deadline, plus a generous sanity margin
    assert result.stats.bytes_scanned > 0
    serves_next(engine)
    assert engine.stats()["scan_codes"]["timeout"] == 1


def test_timeout_on_a_slow_input():
    engine = Engine(profile=Profile(timeout=0.2))
    reader = SlowReader(0.02)
    started = time.monotonic()
    result = engine.scan_fileobj(reader, "slow.bin")
    check_fallback(result, "timeout", engine.profile)
    assert time.monotonic() - started < 0.45
    assert 2 <= reader.reads <= 20  # it read until the deadline, then stopped
    serves_next(engine)


def test_timeout_when_a_stream_client_stalls():
    engine = Engine(profile=Profile(timeout=0.2))
    with engine.stream("stalled") as stream:
        stream.feed(b"first bytes, then silence")
        # the slot and the memory are given back at the deadline, not when
        # the client finally closes
        wait_until(lambda: engine.governor.active == 0, timeout=2)
        time.sleep(0.1)
        stream.feed(b"too late")  # dropped: the scan is over
    result = stream.result
    check_fallback(result, "timeout", engine.profile)
    assert result.stats.seconds < 0.45
    serves_next(engine)


# -- out-of-resources ----------------------------------------------------------


def test_out_of_resources_with_a_tiny_memory_budget():
    for profile in (Profile(), other_profile("out-of-resources")):
        engine = Engine(profile=profile, memory_budget=64 * 1024)
        result = engine.scan_bytes(b"data" * 100, "small.txt")
        check_fallback(result, "out-of-resources", profile)
        assert "scan buffers refused" in result.errors[0].detail
        assert engine.governor.memory.used == 0


def test_out_of_resources_when_concurrent_scans_share_the_budget():
    engine = Engine(memory_budget=scan_working_set() * 3 // 2)
    with engine.stream("holder") as holder:
        holder.feed(b"held open")
        wait_until(lambda: engine.governor.memory.used == scan_working_set())
        refused = engine.scan_bytes(b"second scan", "second.txt")
        check_fallback(refused, "out-of-resources", engine.profile)
    assert holder.result.verdict == "clean"
    serves_next(engine)  # the budget is whole again


def test_memory_error_inside_a_scan_is_out_of_resources():
    engine = Engine()
    result = engine.scan_fileobj(FailingReader(MemoryError()), "huge.bin")
    check_fallback(result, "out-of-resources", engine.profile)
    engine.profile = other_profile("out-of-resources")
    check_fallback(engine.scan_fileobj(FailingReader(MemoryError()), "huge.bin"), "out-of-resources", engine.profile)
    serves_next(engine)


# -- too-many-requests -----------------------------------------------------------


@pytest.mark.parametrize("profile", [Profile(), other_profile("too-many-requests")])
def test_too_many_requests_from_n_plus_one_threads(profile):
    n = 2
    engine = Engine(profile=profile, max_concurrent=n)
    gate = threading.Event()
    results: list[ScanResult] = []
    lock = threading.Lock()

    def scan(i: int) -> None:
        r = engine.scan_fileobj(SlowReader(0, gate), f"upload-{i}")
        with lock:
            results.append(r)

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(n + 1)]
    for t in threads:
        t.start()
    # the refused scan finishes at once, while the admitted ones still wait
    wait_until(lambda: len(results) == 1)
    assert engine.governor.active == n
    check_fallback(results[0], "too-many-requests", profile)
    assert "2 scans running, the engine admits 2" in results[0].errors[0].detail
    gate.set()
    for t in threads:
        t.join(5)
    assert sorted(r.verdict for r in results) == ["clean", "clean", "error"]
    serves_next(engine)


def test_too_many_requests_with_streams_held_open():
    engine = Engine(max_concurrent=1)
    with engine.stream("first") as first:
        first.feed(b"x")
        wait_until(lambda: engine.governor.active == 1)
        started = time.monotonic()
        refused = engine.scan_bytes(EICAR, "eicar.com")
        assert time.monotonic() - started < 0.1  # no queueing
        check_fallback(refused, "too-many-requests", engine.profile)
    serves_next(engine)


# -- engine-not-ready --------------------------------------------------------------


@pytest.fixture(scope="module")
def big_database(tmp_path_factory) -> Path:
    """Enough hash signatures (300k) that loading takes a noticeable time,
    plus one for a marker file only this database knows."""
    path = tmp_path_factory.mktemp("db") / "big.hdb"
    marker = b"only the big database knows this file"
    with path.open("w") as f:
        f.writelines(f"{hashlib.md5(str(i).encode()).hexdigest()}:{i}:Gen.Test-{i}\n" for i in range(300_000))
        f.write(f"{hashlib.md5(marker).hexdigest()}:{len(marker)}:Big.Marker-1\n")
    return path


MARKER = b"only the big database knows this file"


def test_engine_not_ready_during_a_cold_start(big_database):
    engine = Engine(big_database, background=True)
    assert not engine.governor.ready
    result = engine.scan_bytes(MARKER, "early.txt")
    check_fallback(result, "engine-not-ready", engine.profile)
    assert "still loading" in result.errors[0].detail
    engine.profile = other_profile("engine-not-ready")
    assert not engine.governor.ready
    check_fallback(engine.scan_bytes(MARKER, "early.txt"), "engine-not-ready", engine.profile)
    assert engine.wait_ready(timeout=30)
    late = engine.scan_bytes(MARKER, "late.txt")
    assert [d.name for d in late.detections] == ["Big.Marker-1"]
    assert engine.stats()["scan_codes"]["engine-not-ready"] == 2


def test_reload_keeps_serving_the_old_database(big_database):
    engine = Engine()  # the shipped database: knows EICAR, not the marker
    engine.reload(big_database, background=True)
    during = engine.scan_bytes(EICAR, "eicar.com")
    assert during.verdict == "infected"  # not engine-not-ready: the old database serves
    assert engine.scan_bytes(MARKER, "marker.txt").verdict == "clean"
    assert engine.wait_ready(timeout=30)
    assert [d.name for d in engine.scan_bytes(MARKER, "marker.txt").detections] == ["Big.Marker-1"]
    assert engine.scan_bytes(EICAR, "eicar.com").verdict == "clean"  # swapped whole


def test_a_failed_cold_start_keeps_failing_as_not_ready(tmp_path):
    engine = Engine(tmp_path / "missing.hdb", background=True)
    with pytest.raises(DatabaseError):
        engine.wait_ready(10)
    result = engine.scan_bytes(b"x", "x")
    check_fallback(result, "engine-not-ready", engine.profile)
    assert "failed to load" in result.errors[0].detail
    engine.reload(None)  # a good database brings it back
    serves_next(engine)


# -- content-size --------------------------------------------------------------------


@pytest.mark.parametrize("profile", [Profile(content_size_limit=20), other_profile("content-size", content_size_limit=20)])
def test_content_size_over_the_limit(profile):
    engine = Engine(profile=profile)
    result = engine.scan_bytes(b"z" * (30 * 1024), "big.txt")
    check_fallback(result, "content-size", profile)
    assert "content-size-limit" in result.errors[0].detail
    assert engine.scan_bytes(b"z" * (20 * 1024), "fits.txt").verdict == "clean"
    serves_next(engine)


def test_scan_size_limit_counts_decompressed_bytes():
    profile = Profile(scan_size_limit=1 << 20)
    engine = Engine(profile=profile)
    result = engine.scan_fileobj(endless(b"\0" * 65536), "stream.bin")
    check_fallback(result, "content-size", profile)
    assert "scan-size-limit" in result.errors[0].detail
    serves_next(engine)


def test_max_files_in_an_archive():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(20):
            z.writestr(f"f{i}.txt", f"file {i}")
    profile = Profile(max_files=5)
    engine = Engine(profile=profile)
    result = engine.scan_bytes(buffer.getvalue(), "many.zip")
    check_fallback(result, "content-size", profile)
    serves_next(engine)


# -- default (internal error) ------------------------------------------------------------


def test_an_unexpected_exception_is_the_default_reason():
    engine = Engine()
    result = engine.scan_fileobj(FailingReader(RuntimeError("disk on fire")), "broken.bin")
    check_fallback(result, "default", engine.profile)
    assert result.errors[0].detail == "RuntimeError: disk on fire"
    engine.profile = other_profile("default")
    check_fallback(engine.scan_fileobj(FailingReader(OSError("EIO")), "broken.bin"), "default", engine.profile)
    assert engine.stats()["scan_codes"]["internal-error"] == 2
    serves_next(engine)


# -- through the content walk (issue 4): layers, passwords, corruption -------------------------


def nested_zip(depth: int) -> bytes:
    data, name = b"innermost", "inner.txt"
    for level in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr(name, data)
        data, name = buffer.getvalue(), f"level{level}.zip"
    return data


@pytest.mark.parametrize("profile", [Profile(decompress_layer_limit=2), other_profile("decompress-layer", decompress_layer_limit=2)])
def test_decompress_layer_too_deep(profile):
    engine = Engine(profile=profile)
    check_fallback(engine.scan_bytes(nested_zip(5), "deep.zip"), "decompress-layer", profile)
    serves_next(engine)


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip tool")
@pytest.mark.parametrize("profile", [Profile(), other_profile("password-file")])
def test_password_protected_entry(tmp_path, profile):
    (tmp_path / "secret.txt").write_text("the secret plans\n")
    subprocess.run(["zip", "-q", "-P", "hunter2", "locked.zip", "secret.txt"], cwd=tmp_path, check=True)
    engine = Engine(profile=profile)
    check_fallback(engine.scan_file(tmp_path / "locked.zip"), "password-file", profile)
    serves_next(engine)


@pytest.mark.parametrize("profile", [Profile(), other_profile("corrupt-file")])
def test_truncated_archive(profile):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data.bin", random.Random(1).randbytes(100_000))  # incompressible: the cut hits data
    engine = Engine(profile=profile)
    cut = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    check_fallback(engine.scan_bytes(cut, "truncated.zip"), "corrupt-file", profile)
    serves_next(engine)


# -- statistics ------------------------------------------------------------------------


def test_statistics_count_codes_reasons_and_actions():
    engine = Engine(profile=Profile(content_size_limit=20))
    engine.scan_bytes(b"clean", "a")
    engine.scan_bytes(EICAR, "b")
    engine.scan_bytes(b"z" * 30_000, "c")  # content-size: block
    engine.profile = Profile(timeout=0.2, scan_size_limit=NO_SIZE_LIMIT)
    engine.scan_fileobj(endless(), "d")  # timeout: block
    engine.scan_fileobj(FailingReader(RuntimeError("x")), "e")  # default: block
    engine.profile = Profile(content_size_limit=20, fallback={"content-size": "log-and-permit"})
    engine.scan_bytes(b"z" * 30_000, "f")  # content-size: log-and-permit
    stats = engine.stats()
    assert (stats["scan_requests"], stats["clean"], stats["threat_found"], stats["fallback"]) == (6, 1, 1, 4)
    assert {k: v for k, v in stats["scan_codes"].items() if v} == {
        "clean": 1, "infected": 1, "content-size": 2, "timeout": 1, "internal-error": 1}
    assert stats["fallback_by_reason"]["content-size"] == {"permit": 0, "log-and-permit": 1, "block": 1}
    assert stats["fallback_by_reason"]["timeout"]["block"] == 1
    assert stats["fallback_by_reason"]["default"]["block"] == 1
    assert stats["fallback_actions"] == {"permit": 0, "log-and-permit": 1, "block": 3}
    assert stats["engine"] == {"ready": True, "active_scans": 0, "max_concurrent": None,
                               "memory_used": 0, "memory_budget": None}
    lines = summary_lines(stats)
    assert lines[0] == "Scan requests: 6 (clean 1, threat found 1, fallback 4)"
    assert "Fallback content-size: log-and-permit 1, block 1" in lines
    assert "Fallback timeout: block 1" in lines
