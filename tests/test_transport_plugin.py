"""The pytest plugin: ``outbox`` and ``shared_outbox`` fixtures, the pytest11 entry point."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mimekit.transports import MemoryTransport

# Imported so these tests work whether or not the entry point is installed yet.
from mimekit.transports.pytest_plugin import outbox, shared_outbox  # noqa: F401

MSG = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: Welcome\r\n\r\nHi\r\n"


def send_welcome(transport: MemoryTransport, to: str) -> None:
    transport.send(MSG.replace(b"b@example.net", to.encode()))


def test_outbox_fixture_is_a_fresh_memory_transport(outbox: MemoryTransport) -> None:  # noqa: F811
    assert isinstance(outbox, MemoryTransport)
    assert len(outbox) == 0
    send_welcome(outbox, "bo@example.net")
    outbox.assert_sent(count=1, to="bo@example.net", subject="Welcome")
    assert outbox.outbox.messages[0].subject == "Welcome"


def test_outbox_fixture_is_fresh_again(outbox: MemoryTransport) -> None:  # noqa: F811
    assert len(outbox.outbox) == 0


def test_shared_outbox_receives_from_a_subprocess(
    shared_outbox: MemoryTransport,  # noqa: F811
) -> None:
    url = os.environ["MIMEKIT_TRANSPORT"]
    assert url.startswith("memory:")
    code = (
        "import os; from mimekit.transports import from_url\n"
        "from_url(os.environ['MIMEKIT_TRANSPORT']).send("
        "b'From: a@example.org\\r\\nTo: c@example.net\\r\\nSubject: child\\r\\n\\r\\nx\\r\\n')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
    shared_outbox.assert_sent(count=1, subject="child", to="c@example.net")


def _entry_point_installed() -> bool:
    return any(
        ep.name == "mimekit" and ep.value == "mimekit.transports.pytest_plugin"
        for ep in importlib.metadata.entry_points(group="pytest11")
    )


def test_plugin_works_in_a_separate_pytest_run(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        "def test_uses_fixture(outbox):\n"
        "    outbox.send(b'From: a@example.org\\r\\nTo: z@example.net\\r\\nSubject: s\\r\\n\\r\\nb\\r\\n')\n"
        "    outbox.assert_sent(count=1, to='z@example.net')\n"
        "    try:\n"
        "        outbox.assert_sent(count=2)\n"
        "    except AssertionError as e:\n"
        "        assert 'found 1' in str(e)\n"
        "    else:\n"
        "        raise RuntimeError('assert_sent should have failed')\n"
    )
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    if not _entry_point_installed():
        args[3:3] = ["-p", "mimekit.transports.pytest_plugin"]
    proc = subprocess.run(
        args, capture_output=True, text=True, cwd=tmp_path, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_entry_point_declared_in_pyproject() -> None:
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text("utf-8")
    assert '[project.entry-points.pytest11]\nmimekit = "mimekit.transports.pytest_plugin"' in text


def test_plugin_import_is_light() -> None:
    code = (
        "import sys; import mimekit.transports.pytest_plugin\n"
        "print(any(m.startswith('mimekit.transports.memory') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(
    not _entry_point_installed(), reason="mimekit not (re)installed with the pytest11 entry point"
)
def test_entry_point_is_installed() -> None:
    assert _entry_point_installed()


def test_shared_outbox_url_survives_special_characters_in_the_temp_path(tmp_path: Path) -> None:
    """Regression (review): ``MIMEKIT_TRANSPORT=memory:<dir>`` was not percent-encoded, so a
    base temp directory holding "#" (a URL fragment) or "%41" (an escape) broke it."""
    (tmp_path / "test_user.py").write_text(
        "import os\n"
        "from mimekit.transports import from_url\n"
        "def test_shared(shared_outbox):\n"
        "    from_url(os.environ['MIMEKIT_TRANSPORT']).send(\n"
        "        b'From: a@example.org\\r\\nTo: z@example.net\\r\\nSubject: s\\r\\n\\r\\nb\\r\\n')\n"
        "    shared_outbox.assert_sent(count=1, to='z@example.net')\n"
    )
    base = tmp_path / "base #1 %41"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--basetemp={base}", str(tmp_path / "test_user.py")]
    if not _entry_point_installed():
        args[3:3] = ["-p", "mimekit.transports.pytest_plugin"]
    proc = subprocess.run(
        args, capture_output=True, text=True, cwd=tmp_path, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
