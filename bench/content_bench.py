"""The content walk's speed and memory, against its yardsticks, in one run.

    python bench/content_bench.py                    # everything
    python bench/content_bench.py --size-mb 500 --big-gib 4 --small 10000

1. A tar.gz of real files (built once into bench/.cache/ from /usr: about
   --size-mb MB of compressed tar.gz): avgate's scan throughput against merely
   decompressing it with libarchive-c (reading every entry's data in 64 KiB
   blocks, its best block size), and clamscan on the same file with the same
   signatures (avgate's shipped database) as a whole process. Throughput is MB
   of decompressed tar per second; avgate's and clamscan's limits are raised so
   both read everything.
2. Peak RSS of a child process scanning a --big-gib GiB tar.gz generated on
   the fly (repeated deflate segments of real data) through the stream API.
3. --small small files in a directory: avgate's per-file time minus the time
   to scan the same bytes from memory (node scanner alone): the per-file
   overhead of opening, sniffing and walking.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import libarchive

import avgate
from avgate.database import default_database_dir
from avgate.engine import iter_files

CACHE = Path(__file__).with_name(".cache")
HERE = Path(__file__).resolve().parent
SOURCES = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/share", "/usr/bin", "/usr/lib/python3")
UNLIMITED = avgate.Profile(scan_size_limit=1 << 40, max_files=10_000_000, timeout=1800)


def real_files(limit_bytes: int) -> list[str]:
    picked, total = [], 0
    for root in SOURCES:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path) or not os.access(path, os.R_OK):
                    continue
                size = os.path.getsize(path)
                if size > 64 << 20:
                    continue
                picked.append(path)
                total += size
                if total >= limit_bytes:
                    return picked
    return picked


def build_tar_gz(size_mb: int) -> Path:
    """A tar.gz of real files whose compressed size is about `size_mb` MB."""
    target = CACHE / f"real-{size_mb}m.tar.gz"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    files = real_files(size_mb * 3 * 10**6)  # binaries and text compress about 3:1
    listing = CACHE / "files.txt"
    listing.write_text("\n".join(f.lstrip("/") for f in files) + "\n")
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as out:
        tar = subprocess.Popen(["tar", "-C", "/", "-cf", "-", "-T", str(listing)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        subprocess.run(["gzip", "-6"], stdin=tar.stdout, stdout=out, check=True)
        tar.wait()
    partial.rename(target)
    return target


def timed(run) -> tuple[float, object]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def libarchive_decompress(path: Path) -> int:
    total = 0
    with libarchive.file_reader(str(path)) as archive:
        for entry in archive:
            for block in entry.get_blocks(65536):
                total += len(block)
    return total


def tar_size(path: Path) -> int:
    import gzip

    with gzip.open(path, "rb") as f:
        size = 0
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                return size
            size += len(chunk)


def throughput(path: Path, repeat: int) -> dict:
    engine = avgate.Engine(profile=UNLIMITED)
    size = tar_size(path)
    rows = {}
    best = min(timed(lambda: libarchive_decompress(path))[0] for _ in range(repeat))
    rows["libarchive-c decompress only"] = best
    results = []

    def scan() -> None:
        results.append(engine.scan_file(path))

    rows["avgate scan"] = min(timed(scan)[0] for _ in range(repeat))
    result = results[-1]
    clamscan = shutil.which("clamscan")
    if clamscan:
        cmd = [clamscan, "--no-summary", "-d", str(default_database_dir()), "--max-scansize=4000M",
               "--max-filesize=4000M", "--max-files=10000000", "--max-recursion=16", str(path)]
        rows["clamscan (whole process)"] = min(
            timed(lambda: subprocess.run(cmd, capture_output=True))[0] for _ in range(repeat))
    return {
        "file": str(path), "compressed_mb": path.stat().st_size / 1e6, "tar_mb": size / 1e6,
        "seconds": rows, "mb_per_s": {k: size / v / 1e6 for k, v in rows.items()},
        "avgate_vs_decompress": rows["libarchive-c decompress only"] / rows["avgate scan"],
        "avgate_files": result.stats.files, "avgate_bytes_scanned_mb": result.stats.bytes_scanned / 1e6,
        "avgate_errors": [(p.reason, p.path) for p in result.errors][:5],
    }


def big_stream_rss(gib: int) -> dict:
    script = f"""
import json, random, sys, time
sys.path.insert(0, {str(HERE.parent / 'tests')!r})
import avgate
from content_fixtures import peak_rss_mib, tar_gz_stream
chunk = b''.join(open(p, 'rb').read() for p in {real_files(2 << 20)!r})[:1 << 20]
engine = avgate.Engine(profile=avgate.Profile(scan_size_limit=1 << 40, timeout=1800))
started = time.perf_counter()
with engine.stream('big.tar.gz') as stream:
    for block in tar_gz_stream(chunk, {gib} * 1024):
        stream.feed(block)
r = stream.result
print(json.dumps({{"seconds": time.perf_counter() - started, "scanned_gib": r.stats.bytes_scanned / 2**30,
                  "errors": [(p.reason, p.path) for p in r.errors],
                  "peak_rss_mib": peak_rss_mib()}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def build_small(count: int) -> Path:
    directory = CACHE / f"small-{count}"
    marker = directory / ".complete"
    if marker.exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    sources = [f for f in real_files(64 << 20) if os.path.getsize(f) > 8192]
    for i in range(count):
        with open(sources[i % len(sources)], "rb") as f:
            f.seek((i * 4099) % 4096)
            data = f.read(256 + (i * 7919) % 3840)  # 256 B to 4 KiB
        (directory / f"f{i:05d}.bin").write_bytes(data)
    marker.write_text("")
    return directory


def small_files(count: int, repeat: int) -> dict:
    directory = build_small(count)
    paths = [p for p in iter_files(directory) if not p.endswith(".complete")]
    datas = [Path(p).read_bytes() for p in paths]
    engine = avgate.Engine()
    db = engine.database

    def bytes_only() -> None:
        for data in datas:
            node = db.node_scanner()
            node.feed(data)
            node.finish()

    def whole() -> None:
        for path in paths:
            engine.scan_file(path)

    base = min(timed(bytes_only)[0] for _ in range(repeat))
    full = min(timed(whole)[0] for _ in range(repeat))
    return {"files": len(paths), "bytes_mb": sum(map(len, datas)) / 1e6, "bytes_only_s": base, "scan_files_s": full,
            "per_file_overhead_us": (full - base) / len(paths) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=500, help="compressed size of the real tar.gz")
    parser.add_argument("--big-gib", type=int, default=4, help="size of the generated tar.gz content")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "memory", "small"])
    args = parser.parse_args()
    from avgate.gzip_stream import INFLATE

    report: dict = {"inflate": INFLATE, "libarchive": libarchive.ffi.version_number()}
    if "throughput" not in args.skip:
        report["throughput"] = throughput(build_tar_gz(args.size_mb), args.repeat)
    if "memory" not in args.skip:
        report["memory"] = big_stream_rss(args.big_gib)
    if "small" not in args.skip:
        report["small_files"] = small_files(args.small, max(args.repeat, 3))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
