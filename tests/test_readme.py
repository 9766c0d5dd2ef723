"""The README's Python examples run as written, and its commands are the
ones .ci/run uses."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code: str) -> None:
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


def test_ci_runs_the_readme_commands() -> None:
    commands = re.search(r"```sh\n(.*?)```", README, re.S)
    assert commands is not None
    install, tests = commands.group(1).strip().splitlines()[:2]
    assert "avgate scan" in install and "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci and tests in ci
