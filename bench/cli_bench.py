"""The `avgate scan` command as a whole process, against clamscan.

    python bench/cli_bench.py [--size-mb 3000] [--sigs 50000] [--repeat 3]

Builds (once, in bench/.cache/tree) a directory of real files copied from
/usr/lib, /usr/share/doc and /usr/bin, then times, best of --repeat, each
whole process:
  - avgate scan --jobs 1 and --jobs 2 (the scaling ratio), with --sigs body
    signatures from the matcher benchmark's workload (its random half, which
    occurs nowhere) written as an .ndb file (0: the shipped database),
  - start to first result: avgate scan of one small file, default database,
  - clamscan with the same signature file on the same directory, and on one
    small file with the shipped database.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).with_name(".cache")
TREE = CACHE / "tree"


def build_tree(size: int) -> Path:
    marker = TREE / ".complete"
    if marker.exists() and int(marker.read_text()) >= size:
        return TREE
    shutil.rmtree(TREE, ignore_errors=True)
    TREE.mkdir(parents=True)
    total = 0
    for root in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/share/doc", "/usr/bin",
                 "/usr/lib", "/usr/share", "/usr/libexec", "/opt"):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                src = Path(dirpath, name)
                if src.is_symlink() or not src.is_file():
                    continue
                dst = TREE / src.relative_to("/")
                if dst.exists():
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copyfile(src, dst)
                except OSError:
                    continue
                total += dst.stat().st_size
                if total >= size:
                    marker.write_text(str(total))
                    return TREE
    marker.write_text(str(total))
    return TREE


def best(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=3000)
    parser.add_argument("--sigs", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tree = build_tree(args.size_mb * 1_000_000)
    files = [p for p in tree.rglob("*") if p.is_file() and p.name != ".complete"]
    size = sum(p.stat().st_size for p in files)
    small = min(files, key=lambda p: p.stat().st_size)
    from avgate.database import default_database_dir

    shipped = [str(p) for p in sorted(default_database_dir().iterdir()) if p.suffix in (".hdb", ".hsb", ".ndb")]
    if args.sigs:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import workload

        # The random half only: the sliced half comes from binaries the tree holds.
        _, sigs = workload.load(2 * args.sigs)
        ndb = CACHE / f"bench-{args.sigs}.ndb"
        ndb.write_text("".join(f"Bench.Sig-{i}:0:*:{sig.hex()}\n" for i, sig in enumerate(sigs[::2])))
        databases = [str(ndb)]
    else:
        databases = shipped
    avgate = [sys.executable, "-m", "avgate.cli", "scan", "--no-summary", "--no-progress"]
    avgate_db = avgate + [f"--database={d}" for d in databases]
    print(f"{len(files)} files, {size / 1e6:.0f} MB of real files in {tree}; "
          f"{args.sigs or 'the shipped'} signatures")

    subprocess.run(avgate_db + ["-j", "1", str(tree)], stdout=subprocess.DEVNULL)  # page cache, db cache
    one = best(avgate_db + ["-j", "1", str(tree)], args.repeat)
    two = best(avgate_db + ["-j", "2", str(tree)], args.repeat)
    first = best(avgate + ["-j", "1", str(small)], max(5, args.repeat))
    print(f"avgate --jobs 1   {one:7.2f} s  {size / one / 1e6:7.0f} MB/s")
    print(f"avgate --jobs 2   {two:7.2f} s  {size / two / 1e6:7.0f} MB/s  ({one / two:.2f}x --jobs 1)")
    print(f"avgate start to first result (one small file): {first * 1000:.0f} ms")

    clamscan = shutil.which("clamscan")
    if clamscan is None:
        print("clamscan: not installed")
        return
    clam = [clamscan, "--no-summary", "--infected", "--recursive"]
    clam_time = best(clam + [f"--database={d}" for d in databases] + [str(tree)], args.repeat)
    clam_first = best(clam + [f"--database={d}" for d in shipped] + [str(small)], max(3, args.repeat))
    print(f"clamscan          {clam_time:7.2f} s  {size / clam_time / 1e6:7.0f} MB/s  "
          f"(avgate --jobs 2 is {clam_time / two:.1f}x faster, --jobs 1 {clam_time / one:.1f}x)")
    print(f"clamscan start to first result (one small file): {clam_first * 1000:.0f} ms")


if __name__ == "__main__":
    main()
