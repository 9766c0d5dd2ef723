"""Build the C matcher with AddressSanitizer + UBSan and run its fuzz driver."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CC = shutil.which("gcc") or shutil.which("cc")


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_matcher_under_sanitizers(tmp_path: Path) -> None:
    sources = sorted(str(p) for p in (ROOT / "csrc").glob("*.c"))
    binary = tmp_path / "fuzz_matcher"
    build = subprocess.run(
        [CC, "-O1", "-g", "-std=gnu11", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
         "-I", str(ROOT / "csrc"), str(ROOT / "tests" / "c" / "fuzz_matcher.c"), *sources, "-lm", "-o", str(binary)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary), "200"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "ok 200 iterations"
