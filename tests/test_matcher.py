"""The native matcher against pyahocorasick as the oracle.

Every property runs under each probe kernel this CPU has (the portable
scalar loop and AVX-512), since they must agree bit for bit.
"""
from __future__ import annotations

import mmap
import os
import random
import threading
import time

import ahocorasick
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import avgate
from avgate import _matcher

KERNELS = ["scalar"] + (["avx512"] if _matcher.kernel() == "avx512" else [])


@pytest.fixture(params=KERNELS, scope="module")
def kernel(request):
    _matcher.set_kernel(request.param)
    yield request.param
    _matcher.set_kernel(None)


def oracle(patterns: list[bytes], data: bytes) -> list[tuple[int, int]]:
    """Every (pattern index, end offset) by pyahocorasick, sorted like avgate."""
    automaton = ahocorasick.Automaton()
    by_pattern: dict[bytes, list[int]] = {}
    for i, p in enumerate(patterns):
        by_pattern.setdefault(p, []).append(i)
    for p, indices in by_pattern.items():
        automaton.add_word(p.decode("latin-1"), indices)
    if not by_pattern:
        return []
    automaton.make_automaton()
    found = [(i, end + 1) for end, indices in automaton.iter(data.decode("latin-1")) for i in indices]
    return sorted(found, key=lambda m: (m[1], m[0]))


def first_only(matches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    seen: set[int] = set()
    out = []
    for i, end in matches:
        if i not in seen:
            seen.add(i)
            out.append((i, end))
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


# Small alphabets make overlaps, prefixes, suffixes and repeats common.
ALPHABETS = [b"ab", b"\x00\x01", b"abc\x00", bytes(range(256))]


@st.composite
def pattern_sets(draw, max_patterns=40):
    alphabet = draw(st.sampled_from(ALPHABETS))
    byte = st.sampled_from(list(alphabet))
    pattern = st.lists(byte, min_size=2, max_size=draw(st.sampled_from([3, 8, 24, 64]))).map(bytes)
    patterns = draw(st.lists(pattern, min_size=1, max_size=max_patterns))
    data = draw(st.lists(byte, max_size=600).map(bytes))
    # plant some of the patterns so there is something to find
    for p in draw(st.lists(st.sampled_from(patterns), max_size=6)):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + p + data[at:]
    return patterns, data


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(case=pattern_sets())
def test_scan_equals_oracle(kernel, case):
    patterns, data = case
    assert avgate.Matcher(patterns).scan(data) == oracle(patterns, data)


@SETTINGS
@given(case=pattern_sets(), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_stream_equals_oracle_for_any_chunking(kernel, case, cuts):
    patterns, data = case
    matcher = avgate.Matcher(patterns)
    stream = matcher.stream()
    fed = []
    for chunk in chunked(data, cuts):
        new = stream.feed(chunk)
        # what a feed returns ends inside that chunk
        assert all(stream.offset - len(chunk) < end <= stream.offset for _, end in new)
        fed.extend(new)
    expected = oracle(patterns, data)
    assert fed == expected
    assert stream.finish() == expected


@SETTINGS
@given(case=pattern_sets(), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_first_only_reports_each_pattern_once_at_its_first_end(kernel, case, cuts):
    patterns, data = case
    matcher = avgate.Matcher(patterns)
    expected = first_only(oracle(patterns, data))
    assert matcher.scan(data, first_only=True) == expected
    stream = matcher.stream(first_only=True)
    for chunk in chunked(data, cuts):
        stream.feed(chunk)
    assert stream.finish() == expected


def random_patterns(rng: random.Random, count: int, lo: int, hi: int, alphabet: bytes) -> list[bytes]:
    return [bytes(rng.choice(alphabet) for _ in range(rng.randint(lo, hi))) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2])
def test_ten_thousand_patterns_of_every_length(kernel, seed):
    rng = random.Random(seed)
    patterns = random_patterns(rng, 10_000, 2, 48, bytes(range(256)))
    patterns += random_patterns(rng, 2_000, 2, 12, b"\x00\x01\xff")  # NUL-heavy, many repeats
    data = bytearray(rng.randbytes(1 << 20))
    for p in rng.sample(patterns, 500):
        at = rng.randrange(len(data))
        data[at : at + len(p)] = p
    data = bytes(data)
    matcher = avgate.Matcher(patterns)
    expected = oracle(patterns, data)
    assert len(expected) > 500
    assert matcher.scan(data) == expected
    stream = matcher.stream()
    for chunk in chunked(data, [rng.randrange(len(data)) for _ in range(50)]):
        stream.feed(chunk)
    assert stream.finish() == expected


def test_long_patterns_and_zero_runs(kernel):
    # Patterns that are almost all NUL bytes with a rare tail get demoted to
    # the exact two-byte group; they must still be found, across chunks.
    rng = random.Random(3)
    patterns = [bytes(30) + rng.randbytes(2) for _ in range(200)] + [rng.randbytes(300) for _ in range(50)]
    data = bytes(5000) + patterns[7] + bytes(3000) + patterns[205] + bytes(100) + patterns[7]
    expected = oracle(patterns, data)
    assert {i for i, _ in expected} == {7, 205}
    matcher = avgate.Matcher(patterns)
    assert matcher.scan(data) == expected
    stream = matcher.stream()
    for i in range(0, len(data), 17):
        stream.feed(data[i : i + 17])
    assert stream.finish() == expected


def test_accepts_every_buffer_kind(tmp_path):
    matcher = avgate.Matcher([b"needle", b"\x00\x00"])
    data = b"hay needle hay\x00\x00"
    expected = [(0, 10), (1, 16)]
    path = tmp_path / "data"
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert matcher.scan(mapped) == expected
    assert matcher.scan(bytearray(data)) == expected
    assert matcher.scan(memoryview(data)) == expected
    assert matcher.scan(memoryview(data)[4:]) == [(0, 6), (1, 12)]
    assert matcher.scan(np.frombuffer(data, dtype=np.uint8)) == expected
    assert matcher.scan(b"") == []
    stream = matcher.stream()
    assert stream.feed(b"") == []
    assert stream.feed(bytearray(b"need")) == []
    assert stream.feed(memoryview(b"le")) == [(0, 6)]


def test_bad_patterns_are_named_by_index():
    with pytest.raises(ValueError, match="pattern 2 is 1 byte"):
        avgate.Matcher([b"ok", b"fine", b"x"])
    with pytest.raises(ValueError, match="pattern 0 is 0 byte"):
        avgate.Matcher([b""])
    with pytest.raises(TypeError, match="pattern 1 is str"):
        avgate.Matcher([b"ok", "text"])
    assert avgate.Matcher([]).scan(b"anything") == []


def test_duplicate_patterns_each_report():
    matcher = avgate.Matcher([b"abc", b"abc", b"bc"])
    assert matcher.scan(b"xabc") == [(0, 4), (1, 4), (2, 4)]


def test_stream_misuse_is_an_error():
    stream = avgate.Matcher([b"ab"]).stream()
    stream.feed(b"ab")
    assert stream.finish() == [(0, 2)]
    with pytest.raises(RuntimeError, match="after finish"):
        stream.feed(b"ab")
    stream.reset()
    assert stream.offset == 0 and stream.matches == []
    assert stream.feed(b"xab") == [(0, 3)]


def test_save_and_load_give_the_same_matcher(tmp_path):
    rng = random.Random(5)
    patterns = random_patterns(rng, 3000, 2, 40, bytes(range(256)))
    data = rng.randbytes(200_000) + b"".join(rng.sample(patterns, 50))
    matcher = avgate.Matcher(patterns)
    path = tmp_path / "tables.avg"
    matcher.save(path)
    loaded = avgate.Matcher.load(path)
    assert len(loaded) == len(matcher) and loaded.max_len == matcher.max_len
    assert loaded.pattern(17) == patterns[17]
    assert loaded.scan(data) == matcher.scan(data) == oracle(patterns, data)
    clone = avgate.Matcher.from_arrays(matcher.arrays)
    assert clone.scan(data) == matcher.scan(data)


def test_load_rejects_damaged_tables(tmp_path):
    path = tmp_path / "tables.avg"
    avgate.Matcher([b"abcdef"]).save(path)
    raw = bytearray(path.read_bytes())
    (tmp_path / "magic").write_bytes(b"XXXXXXXX" + raw[8:])
    with pytest.raises(ValueError, match="bad magic"):
        avgate.Matcher.load(tmp_path / "magic")
    (tmp_path / "short").write_bytes(raw[: len(raw) - 64])
    with pytest.raises(ValueError, match="past the end|inconsistent"):
        avgate.Matcher.load(tmp_path / "short")


def test_matcher_is_shared_by_threads_and_scans_in_parallel():
    rng = random.Random(9)
    patterns = random_patterns(rng, 2000, 12, 40, bytes(range(256)))
    data = rng.randbytes(8 << 20)
    planted = bytearray(data)
    for k, p in enumerate(rng.sample(patterns, 100)):
        at = k * 80_000
        planted[at : at + len(p)] = p
    data = bytes(planted)
    matcher = avgate.Matcher(patterns)
    expected = matcher.scan(data)
    assert len(expected) >= 100

    def stream_all(out: list) -> None:
        stream = matcher.stream()
        for i in range(0, len(data), 1 << 16):
            stream.feed(data[i : i + (1 << 16)])
        out.append(stream.finish())

    results: list = []
    threads = [threading.Thread(target=stream_all, args=(results,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4

    # The GIL is released while scanning: a Python thread keeps running
    # while another thread is inside one long scan call.
    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.0005)

    big = data * 8
    t = threading.Thread(target=ticker)
    t.start()
    t0 = time.perf_counter()
    matcher.scan(big)
    elapsed = time.perf_counter() - t0
    done.set()
    t.join()
    assert ticks >= max(2, int(elapsed / 0.0005 / 20))


def test_feeding_one_stream_from_two_threads_is_refused():
    matcher = avgate.Matcher([b"abcdefgh"])
    stream = matcher.stream()
    data = os.urandom(64 << 20)
    errors: list = []

    def feed() -> None:
        try:
            stream.feed(data)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=feed) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Either the feeds did not overlap, or the second was refused; never both at once.
    assert stream.offset + len(errors) * len(data) == 2 * len(data)


def test_info_describes_the_groups():
    matcher = avgate.Matcher([b"ab", b"abcdef", b"0123456789abcdef"])
    windows = {g["window"] for g in matcher.info()}
    assert windows == {2, 4, 8}
    assert "3 patterns" in repr(matcher)
