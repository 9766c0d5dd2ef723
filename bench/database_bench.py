"""Signature database benchmark: wildcards vs literals, load times, hashes,
and clamscan on the same files, in one run.

    python bench/database_bench.py                  # 50,000 body signatures, 1,000,000 hashes
    python bench/database_bench.py --hashes 200000 --no-clamscan

Body signatures are bench/workload.py's (12-40 bytes of static content that
never occur in its 64 MiB corpus of real binaries and text). A fifth of them
get wildcards or gaps, two ways:

- "inside": the static content is split in the middle by ``??``, a nibble,
  ``{0-8}``, ``*`` or a one-byte alternative (anchors get shorter: 6-20 bytes);
- "around": the static content stays whole and gains ``????xxxxxxxx``,
  ``xxxxxxxx{0-8}``, ``{10-200}xxxxxxxx``, ``(aa|bb)`` or a nibble next to it.

The few wildcard signatures that then occur in the corpus are put back in
their literal form, so that no engine stops early at a detection.

Throughput is MB/s (10^6 bytes) of the corpus through a NodeScanner in 1 MiB
chunks, best of --repeat; "vs literal" is the ratio to the all-literal
database (target >= 80%). Load times are in-process (Database.load) and, for
the whole-process comparison with clamscan, the wall time of a command.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

import avgate  # noqa: E402
from avgate.database import Database  # noqa: E402

CHUNK = 1 << 20


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def wildcard_inside(sig: bytes, i: int) -> str:
    k = len(sig) // 2
    head, tail = sig[:k].hex(), sig[k:].hex()
    return [
        lambda: head + "??" + sig[k + 1 :].hex(),
        lambda: head + f"{sig[k] >> 4:x}?" + sig[k + 1 :].hex(),
        lambda: head + "{0-8}" + tail,
        lambda: head + "*" + tail,
        lambda: head + f"({sig[k]:02x}|{sig[k] ^ 0x20:02x})" + sig[k + 1 :].hex(),
    ][i % 5]()


def wildcard_around(sig: bytes, i: int, rng: random.Random) -> str:
    extra = rng.randbytes(4).hex()
    return [
        lambda: sig.hex() + "????" + extra,
        lambda: extra + "{0-8}" + sig.hex(),
        lambda: sig.hex() + "{10-200}" + extra,
        lambda: f"({extra[:2]}|{extra[2:4]})" + sig.hex(),
        lambda: sig.hex() + "a?" + extra,
    ][i % 5]()


def without_detections(bodies: list[str], literal: list[str], corpus: bytes) -> tuple[list[str], int]:
    """Signatures that occur in the corpus go back to their literal form, so
    every engine scans the whole corpus (clamscan stops at a detection)."""
    db = Database.from_files({"x.ndb": "".join(f"S{i}:0:*:{b}\n" for i, b in enumerate(bodies))})
    hit = {int(name[1:]) for name, _ in db.match([corpus[i : i + CHUNK] for i in range(0, len(corpus), CHUNK)])}
    return [literal[i] if i in hit else b for i, b in enumerate(bodies)], len(hit)


def write_ndb(path: Path, bodies: list[str]) -> Path:
    path.write_text("".join(f"Bench.Sig-{i}:0:*:{body}\n" for i, body in enumerate(bodies)))
    return path


def stream(db: Database, corpus: bytes) -> int:
    node = db.node_scanner()
    view = memoryview(corpus)
    found = 0
    for i in range(0, len(view), CHUNK):
        found += len(node.feed(view[i : i + CHUNK]))
    return found + len(node.finish())


def wall(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50_000, help="body signatures (default 50,000)")
    parser.add_argument("--hashes", type=int, default=1_000_000, help=".hdb entries (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best taken")
    parser.add_argument("--no-clamscan", action="store_true", help="skip the clamscan comparison")
    args = parser.parse_args()

    corpus, sigs = workload.load(args.count)
    mb = len(corpus) / 1e6
    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="avgate-dbbench-"))
    env = dict(os.environ, AVGATE_CACHE_DIR=str(work / "cache"))
    rows: list[tuple[str, str]] = []
    try:
        literal = [s.hex() for s in sigs]
        inside = [wildcard_inside(s, i) if i % 5 == 0 else s.hex() for i, s in enumerate(sigs)]
        around = [wildcard_around(s, i, rng) if i % 5 == 0 else s.hex() for i, s in enumerate(sigs)]
        inside, reverted = without_detections(inside, literal, corpus)
        around, reverted_around = without_detections(around, literal, corpus)
        rows.append(("wildcard signatures found in the corpus, made literal",
                     f"{reverted} inside, {reverted_around} around"))
        files = {name: write_ndb(work / f"{name}.ndb", bodies)
                 for name, bodies in (("literal", literal), ("inside", inside), ("around", around))}

        print(f"corpus {mb:.1f} MB, {args.count} body signatures, kernel {avgate._matcher.kernel()}", flush=True)
        matcher = avgate.Matcher(sigs)
        t = best(lambda: [matcher.stream().feed(corpus[i : i + CHUNK]) for i in range(0, len(corpus), CHUNK)],
                 args.repeat)
        rows.append(("matcher alone, literal patterns", f"{mb / t:8.0f} MB/s"))
        rates = {}
        for name, path in files.items():
            t0 = time.perf_counter()
            db = Database.load(path, cache=False)
            source = time.perf_counter() - t0
            Database.compile(path, cache_dir=work / "cache")
            cached = best(lambda: Database.load(path, cache=True, cache_dir=work / "cache"), args.repeat)
            found = stream(db, corpus)
            rates[name] = mb / best(lambda: stream(db, corpus), args.repeat)
            ratio = f", {rates[name] / rates['literal']:.0%} of literal" if name != "literal" else ""
            rows.append((f"{name:8} scan (1/5 wildcards)" if name != "literal" else "literal  scan",
                         f"{rates[name]:8.0f} MB/s{ratio}, {found} detections"))
            rows.append((f"{name:8} load: source / cache", f"{source:8.3f} s / {cached:.3f} s"))
            del db

        # 100,000 signatures: the start-up target
        more = [rng.randbytes(rng.randint(12, 40)).hex() for _ in range(100_000 - args.count)]
        big = write_ndb(work / "sigs100k.ndb", inside + more)
        t0 = time.perf_counter()
        Database.compile(big, cache_dir=work / "cache")
        compile_100k = time.perf_counter() - t0
        cached_100k = best(lambda: Database.load(big, cache=True, cache_dir=work / "cache"), args.repeat)
        rows.append(("100k sigs: compile / load from cache", f"{compile_100k:8.3f} s / {cached_100k:.3f} s"))
        avg = [sys.executable, "-m", "avgate.cli"]
        t_proc = min(wall(avg + ["db", "info", "-d", str(big)], env)[0] for _ in range(args.repeat))
        rows.append(("100k sigs: `avgate db info` whole process, cached", f"{t_proc:8.3f} s"))

        # hashes
        hdb = work / "hashes.hdb"
        with open(hdb, "w") as f:
            for i in range(args.hashes):
                f.write(f"{rng.randbytes(16).hex()}:{rng.randint(100, 5_000_000)}:Bench.Hash-{i}\n")
        t0 = time.perf_counter()
        Database.load(hdb, cache=False)
        hash_source = time.perf_counter() - t0
        Database.compile(hdb, cache_dir=work / "cache")
        hash_cached = best(lambda: Database.load(hdb, cache=True, cache_dir=work / "cache"), args.repeat)
        rows.append((f"{args.hashes} .hdb: load source / cache", f"{hash_source:8.3f} s / {hash_cached:.3f} s"))
        files_1k = [rng.randbytes(1024) for _ in range(20_000)]
        bodies_db = Database.load(files["literal"], cache=True, cache_dir=work / "cache")
        both_db = Database.load([files["literal"], hdb], cache=True, cache_dir=work / "cache")

        def per_file(db: Database) -> float:
            def run() -> None:
                for data in files_1k:
                    node = db.node_scanner()
                    node.feed(data)
                    node.finish()
            return best(run, args.repeat) / len(files_1k) * 1e6

        plain, hashed = per_file(bodies_db), per_file(both_db)
        md5_alone = best(lambda: [hashlib.md5(d).digest() for d in files_1k], args.repeat) / len(files_1k) * 1e6
        rows.append(("1 KiB node: bodies only / + 1M hashes", f"{plain:8.2f} us / {hashed:.2f} us per file"))
        rows.append(("  of which MD5 of 1 KiB alone", f"{md5_alone:8.2f} us"))

        # clamscan and avgate, whole process, same files
        corpus_file = work / "corpus.bin"
        corpus_file.write_bytes(corpus)
        empty = work / "empty.bin"
        empty.write_bytes(b"")
        if args.no_clamscan or not shutil.which("clamscan"):
            rows.append(("clamscan", "skipped"))
        else:
            for label, db_file in (("inside.ndb", files["inside"]), ("literal.ndb", files["literal"]),
                                   (f"{args.hashes} .hdb", hdb)):
                t_load, done = wall(["clamscan", "--no-summary", "-d", str(db_file), str(empty)], env)
                t_scan, done = wall(["clamscan", "--no-summary", "-d", str(db_file), str(corpus_file)], env)
                verdict = done.stdout.strip().rsplit(": ", 1)[-1]
                rows.append((f"clamscan {label}: start / start+corpus",
                             f"{t_load:8.2f} s / {t_scan:.2f} s ({verdict})"))
                shutil.rmtree(work / "cache", ignore_errors=True)
                cold, _ = wall(avg + ["scan", "--no-summary", "-d", str(db_file), str(empty)], env)
                warm, _ = wall(avg + ["scan", "--no-summary", "-d", str(db_file), str(empty)], env)
                t_scan, done = wall(avg + ["scan", "--no-summary", "-d", str(db_file), str(corpus_file)], env)
                verdict = done.stdout.strip().rsplit(": ", 1)[-1]
                rows.append((f"avgate   {label}: start cold / cached / +corpus",
                             f"{cold:8.2f} s / {warm:.2f} s / {t_scan:.2f} s ({verdict})"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
