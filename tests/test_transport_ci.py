""".ci/run: the CI script stays in step with the README and fails loudly."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "run"


def test_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    subprocess.run([bash, "-n", str(SCRIPT)], check=True, timeout=120)


def test_script_runs_the_readme_test_line_exactly() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    lines = [ln.strip() for ln in readme.splitlines() if ".venv/bin/python -m pytest" in ln]
    assert lines, "README has no test line"
    assert lines[0] in SCRIPT.read_text("utf-8")


def test_script_is_strict_and_treats_no_tests_as_failure() -> None:
    text = SCRIPT.read_text("utf-8")
    assert "set -euo pipefail" in text
    assert re.search(r'"\$rc" -eq 5 \]; then fail', text)
    assert "trap " in text and " stop" in text
    assert "-m integration tests/integration" in text
    assert "MIMEKIT_REQUIRE_MTA=1" in text


def test_pytest_exit_5_is_reported_as_failure(tmp_path: Path) -> None:
    # Run the script's own run_pytest helper against a command that exits 5.
    text = SCRIPT.read_text("utf-8")
    start = text.index("fail() {")
    end = text.index("# 1. the README")
    helpers = text[start:end]
    probe = tmp_path / "probe.sh"
    probe.write_text(
        "set -euo pipefail\n" + helpers + 'run_pytest "probe" bash -c "exit 5"\necho unreachable\n'
    )
    proc = subprocess.run(
        ["bash", str(probe)], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode != 0
    assert "collected no tests (exit 5)" in proc.stderr
    assert "unreachable" not in proc.stdout
