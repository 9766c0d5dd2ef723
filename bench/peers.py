"""Matcher throughput against its peers, same corpus, same signatures, one run.

    python bench/peers.py                 # 2,000 and 50,000 signatures
    python bench/peers.py --counts 2000   # one size
    python bench/peers.py --markdown      # the table for the README

Peers: pyahocorasick, yara-python and hyperscan, each skipped with a note
when not installed. MB/s is 10^6 bytes per second of corpus, best of --repeat
runs; ratios are avgate's throughput over the peer's.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

import avgate  # noqa: E402

CHUNK = 1 << 20


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def avgate_stream(matcher: avgate.Matcher, corpus: bytes) -> int:
    view = memoryview(corpus)
    stream = matcher.stream()
    for i in range(0, len(view), CHUNK):
        stream.feed(view[i : i + CHUNK])
    return len(stream.finish())


def two_threads(matcher: avgate.Matcher, corpus: bytes) -> float:
    """Seconds for two threads to stream the corpus once each."""
    barrier = threading.Barrier(3)

    def work() -> None:
        barrier.wait()
        avgate_stream(matcher, corpus)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def peer_pyahocorasick(sigs: list[bytes]):
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for i, sig in enumerate(sigs):
        automaton.add_word(sig.decode("latin-1"), i)
    automaton.make_automaton()

    def prepare(corpus: bytes):
        text = corpus.decode("latin-1")  # pyahocorasick matches str; decoding is not timed
        return lambda: sum(1 for _ in automaton.iter(text))

    return prepare


def peer_yara(sigs: list[bytes]):
    import yara

    per_rule = 1000  # yara caps the strings of one rule
    rules = []
    for r in range(0, len(sigs), per_rule):
        strings = "\n".join(
            f"    $s{j} = {{ {sig.hex(' ')} }}" for j, sig in enumerate(sigs[r : r + per_rule])
        )
        rules.append(f"rule r{r} {{\n  strings:\n{strings}\n  condition:\n    any of them\n}}")
    compiled = yara.compile(source="\n".join(rules))

    def prepare(corpus: bytes):
        return lambda: compiled.match(data=corpus)

    return prepare


def peer_hyperscan(sigs: list[bytes]):
    import hyperscan

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    # Every byte escaped: hyperscan's literal API stops at NUL.
    expressions = ["".join(f"\\x{b:02x}" for b in sig).encode() for sig in sigs]
    db.compile(expressions=expressions, ids=list(range(len(sigs))), elements=len(sigs),
               flags=[0] * len(sigs))

    def prepare(corpus: bytes):
        scratch = hyperscan.Scratch(db)
        hits = []

        def on_match(id_, start, end, flags, context):
            hits.append(id_)

        return lambda: db.scan(corpus, match_event_handler=on_match, scratch=scratch)

    return prepare


PEERS = {"pyahocorasick": peer_pyahocorasick, "yara-python": peer_yara, "hyperscan": peer_hyperscan}


def run(count: int, repeat: int) -> dict[str, object]:
    corpus, sigs = workload.load(count)
    size = len(corpus)
    row: dict[str, object] = {"signatures": count, "corpus_mib": size / workload.MiB}

    t0 = time.perf_counter()
    matcher = avgate.Matcher(sigs)
    row["compile_s"] = time.perf_counter() - t0
    row["tables_mb"] = matcher.nbytes / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tables")
        matcher.save(path)
        row["load_s"] = best_time(lambda: avgate.Matcher.load(path), 3)

    found = avgate_stream(matcher, corpus)
    if found:
        print(f"warning: avgate found {found} occurrences in a corpus built to have none", file=sys.stderr)
    row["avgate"] = size / best_time(lambda: matcher.scan(corpus), repeat) / 1e6
    one = size / best_time(lambda: avgate_stream(matcher, corpus), repeat) / 1e6
    row["avgate_stream"] = one
    two = 2 * size / min(two_threads(matcher, corpus) for _ in range(repeat)) / 1e6
    row["avgate_2threads"] = two
    row["thread_scaling"] = two / one

    for name, make in PEERS.items():
        try:
            prepare = make(sigs)
        except ImportError:
            row[name] = None
            continue
        row[name] = size / best_time(prepare(corpus), max(1, repeat - 1)) / 1e6
    return row


def print_table(rows: list[dict[str, object]], markdown: bool) -> None:
    peers = list(PEERS)
    if markdown:
        print("| signatures | avgate MB/s | " + " | ".join(f"{p} MB/s (avgate ×)" for p in peers)
              + " | 2 threads | compile | load | tables |")
        print("|---" * (len(peers) + 6) + "|")
    for row in rows:
        base = float(row["avgate_stream"])  # type: ignore[arg-type]
        cells = []
        for p in peers:
            v = row[p]
            cells.append("n/a" if v is None else f"{v:,.0f} ({base / float(v):.1f}×)")  # type: ignore[arg-type]
        two = f"{row['avgate_2threads']:,.0f} MB/s ({row['thread_scaling']:.2f}×)"
        facts = [f"{row['compile_s']:.2f} s", f"{row['load_s'] * 1000:.1f} ms", f"{row['tables_mb']:.1f} MB"]
        if markdown:
            print(f"| {row['signatures']:,} | {base:,.0f} | " + " | ".join(cells) + f" | {two} | "
                  + " | ".join(facts) + " |")
        else:
            print(f"{row['signatures']:>7,} signatures, {row['corpus_mib']:.0f} MiB corpus")
            print(f"  avgate stream    {base:10,.0f} MB/s   (whole buffer {row['avgate']:,.0f} MB/s)")
            for p, c in zip(peers, cells):
                print(f"  {p:<16} {c:>18}")
            print(f"  avgate 2 threads {two}")
            print(f"  compile {facts[0]}, load {facts[1]}, tables {facts[2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 50000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = [run(count, args.repeat) for count in args.counts]
    print_table(rows, args.markdown)


if __name__ == "__main__":
    main()
