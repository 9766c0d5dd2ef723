"""pytest-benchmark suite for the matcher (not part of the test run):

    python -m pytest bench/test_bench_matcher.py --benchmark-only

Same workload as bench/peers.py (built once per machine, cached). Compare
runs with --benchmark-autosave / --benchmark-compare; peers side by side are
in peers.py.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

import avgate  # noqa: E402

CHUNK = 1 << 20


@pytest.fixture(scope="module", params=[2000, 50000], ids=lambda n: f"{n}sigs")
def case(request):
    corpus, sigs = workload.load(request.param)
    return corpus, sigs, avgate.Matcher(sigs)


def test_scan_buffer(benchmark, case):
    corpus, _, matcher = case
    benchmark.extra_info["MB"] = len(corpus) / 1e6
    assert benchmark(matcher.scan, corpus) == []


def test_scan_stream_1mib_chunks(benchmark, case):
    corpus, _, matcher = case
    view = memoryview(corpus)

    def run():
        stream = matcher.stream(first_only=True)
        for i in range(0, len(view), CHUNK):
            stream.feed(view[i : i + CHUNK])
        return stream.finish()

    benchmark.extra_info["MB"] = len(corpus) / 1e6
    assert benchmark(run) == []


def test_compile(benchmark, case):
    _, sigs, _ = case
    benchmark.pedantic(avgate.Matcher, args=(sigs,), rounds=3, iterations=1)


def test_load_saved_tables(benchmark, case, tmp_path):
    _, _, matcher = case
    path = tmp_path / "tables"
    matcher.save(path)
    loaded = benchmark(avgate.Matcher.load, path)
    assert len(loaded) == len(matcher)
