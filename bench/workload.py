"""The matcher benchmark's workload, built from files already on the machine.

Corpus: 64 MiB of real data, about two thirds shared libraries and
executables, one third text (docs, Python and Perl sources), concatenated.
Signatures: 12-40 bytes each, half random bytes, half slices of other real
binaries that are not in the corpus; any signature that occurs in the corpus
is replaced, so a scan reports nothing and every engine does the same work.

Built once per machine and cached in bench/.cache/ (the choice of files is
deterministic: sorted paths, a fixed seed).
"""
from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

CACHE = Path(__file__).with_name(".cache")
MiB = 1 << 20
CORPUS_SIZE = 64 * MiB
BINARY_SHARE = 2 / 3
BINARY_ROOTS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/bin", "/usr/sbin"]
TEXT_ROOTS = ["/usr/share/doc", "/usr/lib/python3", "/usr/share/perl", "/usr/share/perl5", "/usr/share/man"]
TEXT_SUFFIXES = {".py", ".pm", ".pl", ".txt", ".html", ".md", ".rst", ".c", ".h", ".sh", ""}
SIG_MIN, SIG_MAX = 12, 40


def _files(roots: list[str], want) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath, name)
                try:
                    if path.is_symlink() or not path.is_file() or path.stat().st_size < 4096:
                        continue
                    real = path.resolve()
                except OSError:
                    continue
                if real in seen or not want(path):
                    continue
                seen.add(real)
                out.append(path)
    return out


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _is_text(path: Path) -> bool:
    if path.suffix not in TEXT_SUFFIXES:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"\0" not in head and not head.startswith(b"\x1f\x8b")


def _fill(paths: list[Path], size: int, rng: random.Random) -> tuple[bytes, set[Path]]:
    order = list(paths)
    rng.shuffle(order)
    parts, used, total = [], set(), 0
    for path in order:
        if total >= size:
            break
        try:
            data = path.read_bytes()[: 4 * MiB]  # no single file dominates
        except OSError:
            continue
        parts.append(data)
        used.add(path)
        total += len(data)
    return b"".join(parts)[:size], used


def corpus_and_sources(seed: int = 1) -> tuple[bytes, list[Path]]:
    """The corpus, and the binaries left out of it (sources of slices)."""
    rng = random.Random(seed)
    binaries = _files(BINARY_ROOTS, _is_elf)
    texts = _files(TEXT_ROOTS, _is_text)
    bin_part, used = _fill(binaries, int(CORPUS_SIZE * BINARY_SHARE), rng)
    text_part, _ = _fill(texts, CORPUS_SIZE - len(bin_part), rng)
    corpus = bin_part + text_part
    if len(corpus) < CORPUS_SIZE:
        raise RuntimeError(f"only {len(corpus)} bytes of real files found for the corpus")
    return corpus, [p for p in binaries if p not in used]


def _occurring(corpus_text: str, sigs: list[bytes]) -> set[int]:
    import ahocorasick  # the oracle; independent of the engine under test

    automaton = ahocorasick.Automaton()
    for i, sig in enumerate(sigs):
        automaton.add_word(sig.decode("latin-1"), i)
    automaton.make_automaton()
    return {i for _, i in automaton.iter(corpus_text)}


def signatures(corpus: bytes, sources: list[Path], count: int, seed: int = 2) -> list[bytes]:
    rng = random.Random(seed)
    sources = [p for p in sources if p.stat().st_size > 64 * 1024]
    source_data = [p.read_bytes() for p in rng.sample(sources, min(len(sources), 400))]
    unique: set[bytes] = set()

    def one(i: int) -> bytes:
        length = rng.randint(SIG_MIN, SIG_MAX)
        if i % 2 == 0:
            return rng.randbytes(length)
        data = rng.choice(source_data)
        start = rng.randrange(0, len(data) - length)
        return data[start : start + length]

    sigs = []
    for i in range(count):
        sig = one(i)
        while sig in unique:
            sig = one(i)
        unique.add(sig)
        sigs.append(sig)
    text = corpus.decode("latin-1")
    while True:
        bad = _occurring(text, sigs)
        if not bad:
            return sigs
        for i in bad:
            unique.discard(sigs[i])
            sig = one(i)
            while sig in unique:
                sig = one(i)
            unique.add(sig)
            sigs[i] = sig


def load(count: int) -> tuple[bytes, list[bytes]]:
    """(corpus, signatures) for `count` signatures, cached on disk."""
    CACHE.mkdir(exist_ok=True)
    corpus_file = CACHE / "corpus.bin"
    sources_file = CACHE / "sources.txt"
    if corpus_file.exists() and sources_file.exists():
        corpus = corpus_file.read_bytes()
        sources = [Path(line) for line in sources_file.read_text().splitlines() if Path(line).exists()]
    else:
        corpus, sources = corpus_and_sources()
        corpus_file.write_bytes(corpus)
        sources_file.write_text("\n".join(map(str, sources)))
    tag = hashlib.sha256(corpus[:1 << 20]).hexdigest()[:12]
    sig_file = CACHE / f"sigs-{count}-{tag}.txt"
    if sig_file.exists():
        sigs = [bytes.fromhex(line) for line in sig_file.read_text().split()]
    else:
        sigs = signatures(corpus, sources, count)
        sig_file.write_text("\n".join(s.hex() for s in sigs))
    return corpus, sigs
