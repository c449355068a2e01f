"""The memory outbox at its edges: filters checked before any message is read, readable
failures (refused recipients, long outboxes, pytest frames), a directory outbox written
by several processes at once and one whose write fails."""

from __future__ import annotations

import importlib.metadata
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from mimekit.transports import MemoryTransport
from mimekit.transports.memory import LISTED, Outbox

MSG = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: Hi\r\n\r\nbody\r\n"


@pytest.mark.parametrize("call", [
    lambda t: t.assert_not_sent(subjet="Spam"),
    lambda t: t.outbox.assert_not_sent(subjet="Spam"),
    lambda t: t.assert_sent(count=0, to="x@example.net", sujet="x"),
    lambda t: t.find(subjet="x"),
])
def test_a_misspelt_filter_fails_even_on_an_empty_outbox(call: object) -> None:
    """Regression: filters were checked per message, so ``assert_not_sent(subjet=...)``
    on an empty outbox passed: a test that could never fail."""
    t = MemoryTransport()
    with pytest.raises(TypeError, match="unknown filter 'su"):
        call(t)  # type: ignore[operator]


def test_a_misspelt_filter_after_a_failing_one_is_still_named() -> None:
    t = MemoryTransport()
    t.send(MSG)
    with pytest.raises(TypeError, match="unknown filter 'subjet'"):
        t.assert_not_sent(subject="Other", subjet="Hi")


@pytest.mark.parametrize("filters,message", [
    ({"header": "X-Tag"}, r"header= takes a \(name, value\) pair"),
    ({"to": 3}, "an address or a list of addresses"),
    ({"where": "yes"}, "where= takes a predicate"),
])
def test_malformed_filters_fail_on_an_empty_outbox(filters: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(TypeError, match=message):
        MemoryTransport().assert_not_sent(**filters)


@pytest.mark.parametrize("count", [-1, 1.0, True, "1"])
def test_a_count_that_no_outbox_can_hold_is_a_value_error(count: object) -> None:
    with pytest.raises(ValueError, match="count must be a non-negative int"):
        MemoryTransport().assert_sent(count=count)  # type: ignore[arg-type]


def test_failure_names_refused_recipients() -> None:
    """A recipient that was refused is shown as refused, not just missing from to=."""
    t = MemoryTransport(refuse={"x@example.net": (550, "5.1.1", "no such user")})
    t.send(MSG.replace(b"To: b@example.net", b"To: b@example.net, x@example.net"))
    with pytest.raises(AssertionError) as info:
        t.assert_sent(to="x@example.net")
    assert str(info.value) == (
        "expected at least 1 message(s) matching to='x@example.net', found 0; the outbox "
        "holds 1:\n  0: subject='Hi' from='a@example.org' to=['b@example.net'] "
        "refused=['x@example.net']")


def test_failure_in_a_long_outbox_lists_both_ends() -> None:
    t = MemoryTransport()
    for i in range(100):
        t.send(MSG.replace(b"Subject: Hi", f"Subject: n{i}".encode()))
    with pytest.raises(AssertionError) as info:
        t.assert_sent(subject="nope")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("the outbox holds 100:")
    assert len(lines) == 1 + LISTED + 1
    assert lines[1].startswith("  0: subject='n0'")
    assert lines[1 + LISTED // 2] == f"  ... {100 - LISTED} more ..."
    assert lines[-1].startswith("  99: subject='n99'")


def _entry_point_installed() -> bool:
    return any(ep.value == "mimekit.transports.pytest_plugin"
               for ep in importlib.metadata.entry_points(group="pytest11"))


def test_a_failing_assertion_in_a_users_project_points_at_the_users_line(
        tmp_path: Path) -> None:
    """A fresh project (only mimekit installed): the failure shows the user's line and
    the message, and no frame inside mimekit (``__tracebackhide__``)."""
    (tmp_path / "test_user.py").write_text(
        "def test_welcome(outbox):\n"
        "    outbox.send(b'From: a@example.org\\r\\nTo: z@example.net\\r\\nSubject: s\\r\\n"
        "\\r\\nb\\r\\n')\n"
        "    outbox.assert_sent(to='nobody@example.net')\n"
        "\n"
        "def test_last(outbox):\n"
        "    outbox.outbox.last\n"
    )
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    if not _entry_point_installed():
        args[3:3] = ["-p", "mimekit.transports.pytest_plugin"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, check=False,
                          timeout=120)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "2 failed" in out
    assert ">       outbox.assert_sent(to='nobody@example.net')" in out
    assert "E       AssertionError: expected at least 1 message(s) matching " in out
    assert ">       outbox.outbox.last" in out and "the outbox is empty" in out
    assert not re.search(r"transports[/\\]memory\.py:\d+", out), out


_WRITER = """
import sys
from mimekit.transports import from_url
t = from_url(sys.argv[1])
for i in range(int(sys.argv[3])):
    t.send(("From: a@example.org\\r\\nTo: w%s@example.net\\r\\nSubject: %s-%d\\r\\n\\r\\nx\\r\\n"
            % (sys.argv[2], sys.argv[2], i)).encode())
"""


def test_two_processes_sending_at_once_lose_nothing(tmp_path: Path) -> None:
    box = tmp_path / "box"
    url = f"memory:{box}"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, tag, "60"])
             for tag in ("p", "q")]
    reader = Outbox(box)
    seen = 0
    while any(p.poll() is None for p in procs):
        now = len(reader)  # reading while they write: never a partial or vanished item
        assert now >= seen
        seen = now
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    items = list(reader)
    assert len(items) == 120 == len({item.result.queue_id for item in items})
    for tag in ("p", "q"):
        found = reader.assert_sent(count=60, to=f"w{tag}@example.net")
        assert sorted(item.subject or "" for item in found) == sorted(
            f"{tag}-{i}" for i in range(60))


_FULL = """
import resource, sys
from mimekit.transports import MemoryTransport
t = MemoryTransport(path=sys.argv[1])
t.send(b"From: a@example.org\\r\\nTo: b@example.net\\r\\n\\r\\nsmall\\r\\n")
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
try:
    t.send(b"From: a@example.org\\r\\nTo: b@example.net\\r\\n\\r\\n" + b"y" * 70000 + b"\\r\\n")
except Exception as exc:
    print(type(exc).__name__)
"""


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_failed_write_leaves_no_metadata_behind(tmp_path: Path) -> None:
    """Regression: when the .eml could not be written (a full disk, here a file size
    limit), its .json stayed in the outbox directory."""
    box = tmp_path / "box"
    proc = subprocess.run([sys.executable, "-c", _FULL, str(box)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.stdout.strip() == "TransportError", proc.stderr
    names = sorted(p.name for p in box.iterdir())
    assert len(names) == 2 and names[0].endswith(".eml") and names[1].endswith(".json")
    assert [m.data for m in Outbox(box)] == [
        b"From: a@example.org\r\nTo: b@example.net\r\n\r\nsmall\r\n"]
