"""The README's quickstart is exactly two shell lines, and the first one works
in a fresh copy of the repository with a fresh virtual environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def quickstart_lines() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the quickstart has one shell block"
    return [line for line in blocks[0].splitlines() if line.strip()]


def test_quickstart_has_two_lines() -> None:
    lines = quickstart_lines()
    assert len(lines) == 2
    assert "mimekit send" in lines[0] and "--attach" in lines[0] and "inspect" in lines[0]
    assert "pytest" in lines[1] and "[test]" in lines[1]


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                         check=False)
    if out.returncode != 0:
        pytest.skip("not a git checkout: cannot make a clean copy")
    return [f for f in out.stdout.decode().split("\0") if f]


@pytest.mark.slow
def test_first_line_runs_in_a_clean_copy(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    clone = tmp_path / "clone"
    for name in _tracked_files():
        src = REPO / name
        if src.is_file():
            dst = clone / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MIMEKIT_TRANSPORT")}
    r = subprocess.run(["bash", "-c", quickstart_lines()[0]], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    emls = list((clone / "outbox").glob("*.eml"))
    assert len(emls) == 1
    assert "application/pdf" in r.stdout and "report.pdf" in r.stdout
    assert "Subject: Grüße: the quarterly report" in r.stdout
