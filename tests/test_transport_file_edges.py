"""File, Maildir and mbox transports under stress: several processes (each with
threads) writing one folder or mbox at once, a process killed mid-write, a write that
fails for lack of room, From-munging read back exactly, and a message that already
starts with an X-Original-To field."""

from __future__ import annotations

import mailbox as stdlib_mailbox
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mimekit.transports import (
    Envelope,
    FileTransport,
    MaildirTransport,
    MboxTransport,
    TransportError,
)
from mimekit.transports.base import prepare_wire
from mimekit.transports.file import delivery_headers, split_delivery_headers

from mimekit.mailbox import read_mbox

KINDS = {"file": FileTransport, "maildir": MaildirTransport, "mbox": MboxTransport}


def message(tag: str, lines: int = 40) -> bytes:
    """A message whose body has lines an mbox must quote, and a Bcc."""
    body = "".join(f"From line {k} of {tag}\r\n>From quoted {k}\r\n" for k in range(lines))
    return (f"From: a@example.org\r\nTo: b@example.net\r\nBcc: hidden@example.net\r\n"
            f"Subject: {tag}\r\nMessage-ID: <{tag}@example.org>\r\n\r\n{body}"
            f"{'z' * 3000}\r\n").encode()


def expected(tag: str, kind: str) -> bytes:
    wire = message(tag).replace(b"Bcc: hidden@example.net\r\n", b"")
    return wire if kind == "file" else wire.replace(b"\r\n", b"\n")


_WRITER = """
import sys, threading
sys.path.insert(0, sys.argv[4])
from test_transport_file_edges import KINDS, message
kind, path, proc = sys.argv[1], sys.argv[2], sys.argv[3]

def work(thread):
    t = KINDS[kind](path)
    for i in range(15):
        t.send(message(f"{proc}-{thread}-{i}"))

threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
for th in threads:
    th.start()
for th in threads:
    th.join()
"""


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_processes_and_threads_writing_at_once_lose_and_mix_nothing(
        tmp_path: Path, kind: str) -> None:
    """3 processes x 3 threads x 15 messages into one folder / Maildir / mbox: every
    message is there once, byte for byte, with its envelope (Bcc included), and the
    Bcc header is stored nowhere."""
    target = tmp_path / ("out.mbox" if kind == "mbox" else "out")
    here = str(Path(__file__).resolve().parent)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, kind, str(target), f"p{n}", here])
             for n in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    stored = KINDS[kind](target).read()  # type: ignore[attr-defined]
    tags = [s.message.message_id.split("@")[0] for s in stored]
    want = sorted(f"p{p}-{t}-{i}" for p in range(3) for t in range(3) for i in range(15))
    assert sorted(tags) == want
    for tag, item in zip(tags, stored):
        assert item.data == expected(tag, kind)
        assert item.envelope == Envelope("a@example.org", ("b@example.net",
                                                            "hidden@example.net"))
    if kind == "mbox":
        assert len(stdlib_mailbox.mbox(str(target), create=False)) == len(want)
        assert sorted(m.message_id.split("@")[0] for m in read_mbox(target)) == want
        assert not Path(f"{target}.lock").exists()
    else:
        names = os.listdir(target / "tmp") if kind == "maildir" else [
            n for n in os.listdir(target) if n.startswith(".")]
        assert names == []  # no temporary file left behind


_KILLED = """
import sys
from mimekit.transports import FileTransport, MaildirTransport
kind, path = sys.argv[1], sys.argv[2]
t = (FileTransport if kind == "file" else MaildirTransport)(path)
big = (b"From: a@example.org\\r\\nTo: b@example.net\\r\\nSubject: big\\r\\n\\r\\n"
       + (b"y" * 76 + b"\\r\\n") * 40000)
while True:
    t.send(big)
"""


@pytest.mark.parametrize("kind", ["file", "maildir"])
def test_a_writer_killed_mid_write_leaves_only_complete_messages(
        tmp_path: Path, kind: str) -> None:
    """SIGKILL at an arbitrary moment (while a 3 MB message is being written): every
    visible .eml / new/ file is a complete message; the only leftover is a hidden
    temporary file (".tmp-*" or in tmp/), never a partial message under its name."""
    target = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, kind, str(target)])
    visible = (lambda: [p for p in target.glob("*.eml")]) if kind == "file" else (
        lambda: list((target / "new").glob("*")))
    deadline = time.monotonic() + 120
    try:
        while len(visible()) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    files = visible()
    assert len(files) >= 3
    size = len(b"From: a@example.org\r\nTo: b@example.net\r\nSubject: big\r\n\r\n"
               ) + 78 * 40000
    for path in files:
        data = path.read_bytes()
        assert len(data) == (size if kind == "file" else size - 40000 - 4 + len(
            delivery_headers(Envelope("a@example.org", ("b@example.net",)))))
    if kind == "file":
        assert {p.name[: -len(".eml")] for p in files} <= {
            p.name[: -len(".envelope.json")] for p in target.glob("*.envelope.json")}
        assert len(FileTransport(target).read()) == len(files)


_FULL = """
import resource, sys
from mimekit.transports import FileTransport, MaildirTransport, MboxTransport
kind, path = sys.argv[1], sys.argv[2]
t = {"file": FileTransport, "maildir": MaildirTransport, "mbox": MboxTransport}[kind](path)
t.send(b"From: a@example.org\\r\\nTo: b@example.net\\r\\nSubject: small\\r\\n\\r\\nhi\\r\\n")
used = sum(len(open(p, "rb").read()) for p in sys.argv[3:]) if kind == "mbox" else 0
resource.setrlimit(resource.RLIMIT_FSIZE, (used + 50000, used + 50000))
try:
    t.send(b"From: a@example.org\\r\\nTo: b@example.net\\r\\nSubject: big\\r\\n\\r\\n"
           + (b"y" * 76 + b"\\r\\n") * 3000)
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_write_that_runs_out_of_room_leaves_nothing(tmp_path: Path, kind: str) -> None:
    """The second message hits a file size limit halfway (as a full disk would): a
    TransportError naming the cause, and storage holds exactly the first message (no
    partial file, no temporary file, no orphan envelope, the mbox cut back, unlocked)."""
    target = tmp_path / ("out.mbox" if kind == "mbox" else "out")
    args = [sys.executable, "-c", _FULL, kind, str(target)]
    proc = subprocess.run(args + ([str(target)] if kind == "mbox" else []),
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.stdout.startswith("TransportError ") and "File too large" in proc.stdout, (
        proc.stdout + proc.stderr)
    stored = KINDS[kind](target).read()  # type: ignore[attr-defined]
    assert [s.message.subject for s in stored] == ["small"]
    if kind == "file":
        assert sorted(p.name.split("-", 2)[2] for p in target.iterdir()) == [
            "small.eml", "small.envelope.json"]
    elif kind == "maildir":
        assert os.listdir(target / "tmp") == [] and len(os.listdir(target / "new")) == 1
    else:
        assert target.read_bytes().endswith(b"\nhi\n\n")
        assert sorted(os.listdir(tmp_path)) == ["out.mbox"]  # no dot-lock left


_PIECES = st.sampled_from([b"From ", b">From ", b">>From x", b"From", b"from me", b"", b"x",
                           b" From ", b"From: y", b"From - Mon Jan  1 00:00:00 2024",
                           b"Content-Length: 5", b">", b"\xc3\xa9"])
_LINES = st.lists(st.lists(_PIECES, min_size=1, max_size=3).map(b"".join), max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(_LINES, min_size=1, max_size=4), blank_tail=st.booleans())
def test_mbox_reads_back_exactly_what_was_written(
        tmp_path_factory: pytest.TempPathFactory, bodies: list[list[bytes]],
        blank_tail: bool) -> None:
    """Property: lines starting with "From " or ">From " (and other look-alikes) survive
    the mboxrd quoting; the transport, mimekit's reader and the stdlib see the same
    number of messages, and each reads back as its LF wire form."""
    path = tmp_path_factory.mktemp("mb") / "out.mbox"
    t = MboxTransport(path)
    sent = []
    for lines in bodies:
        body = b"\r\n".join(lines) + (b"\r\n\r\n" if blank_tail else b"")
        raw = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\n\r\n" + body
        t.send(raw)
        sent.append(prepare_wire(raw, None)[1].replace(b"\r\n", b"\n"))
    assert [s.data for s in t.read()] == sent
    assert len(list(read_mbox(path))) == len(sent)
    assert len(stdlib_mailbox.mbox(str(path), create=False)) == len(sent)


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_a_message_starting_with_its_own_x_original_to_reads_back_unchanged(
        tmp_path: Path, kind: str) -> None:
    """Regression: a copy taken from a mailbox (``X-Original-To: old@...`` first) gave
    back the envelope plus "old@example.net", and lost that field from the message."""
    raw = (b"X-Original-To: old@example.net\r\nDelivered-To: old@example.net\r\n"
           b"From: a@example.org\r\nTo: b@example.net\r\nCc: c@example.net\r\n\r\nhi\r\n")
    t = KINDS[kind](tmp_path / "out")
    t.send(raw)
    (stored,) = t.read()  # type: ignore[attr-defined]
    assert stored.envelope == Envelope("a@example.org", ("b@example.net", "c@example.net"))
    assert stored.data == raw.replace(b"\r\n", b"\n")


def test_the_count_comment_is_written_only_when_needed() -> None:
    env = Envelope("a@example.org", ("b@example.net",))
    assert delivery_headers(env) == (b"Return-Path: <a@example.org>\n"
                                     b"X-Original-To: b@example.net\n")
    counted = delivery_headers(env, count=True)
    assert counted.startswith(b"Return-Path: <a@example.org> (1 recipient)\n")
    tail = b"X-Original-To: old@example.net\nFrom: a@example.org\n\nx\n"
    assert split_delivery_headers(counted + tail) == (env, tail)
    # a count that does not match the fields that follow: not our block
    wrong = b"Return-Path: <a@example.org> (3 recipients)\nX-Original-To: b@example.net\n"
    assert split_delivery_headers(wrong + b"\nx\n") == (None, wrong + b"\nx\n")


def test_an_outbox_path_that_is_a_file_is_named(tmp_path: Path) -> None:
    """Regression: "cannot create outbox directory 'mb': [Errno 17] File exists"."""
    (tmp_path / "mb").write_bytes(b"")
    with pytest.raises(TransportError, match=r"outbox '.*mb' is not a folder"):
        FileTransport(tmp_path / "mb").send(message("x"))
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(TransportError, match="is not a folder"):
        FileTransport(tmp_path / "dangling").send(message("x"))


def test_a_dotlock_left_by_a_killed_writer_is_broken_at_once(tmp_path: Path) -> None:
    """Regression: a ``mimekit send --transport mbox:`` killed while appending left
    ``FILE.lock``, and every later send waited ``lock_timeout`` and failed for the next
    500 s. A lock of ours (``PID NODE``) whose process is gone is stale at once; one
    whose process lives, or from another machine or program, is still respected."""
    from mimekit.mboxwrite import MailboxLockError, _node, append_mbox

    path = tmp_path / "box"
    lock = tmp_path / "box.lock"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    lock.write_bytes(f"{dead} {_node()}\n".encode())
    append_mbox(path, b"Subject: s\n\nx\n", "a@example.org", lock_timeout=0)
    assert not lock.exists() and [m.subject for m in read_mbox(path)] == ["s"]

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for content in (f"{alive.pid} {_node()}\n", f"{dead} other-host.example\n",
                        "0\n", ""):
            lock.write_text(content)
            with pytest.raises(MailboxLockError, match="dot-lock"):
                append_mbox(path, b"Subject: t\n\nx\n", "a@example.org", lock_timeout=0)
            assert lock.read_text() == content
    finally:
        alive.kill()
        alive.wait()
    lock.unlink()
    assert [m.subject for m in read_mbox(path)] == ["s"]


def test_our_dotlock_names_its_process_and_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mimekit import mboxwrite as mb

    seen: list[bytes] = []
    real = mb._append_locked

    def spy(fd: int, message: bytes, mbox: Any = None) -> None:
        seen.append((tmp_path / "box.lock").read_bytes())  # read while it is held
        real(fd, message, mbox)

    monkeypatch.setattr(mb, "_append_locked", spy)
    mb.append_mbox(tmp_path / "box", b"Subject: s\n\nx\n", "a@example.org")
    assert seen == [f"{os.getpid()} {mb._node()}\n".encode()]
    assert not (tmp_path / "box.lock").exists()


def test_a_sidecar_with_the_wrong_shape_gives_no_envelope(tmp_path: Path) -> None:
    """A hand-edited ``.envelope.json`` with ``"rcpt_to": "bo@example.net"`` read back as
    the recipients ("b", "o", "@", ...); now as no envelope."""
    import json

    t = FileTransport(tmp_path)
    name = str(t.send(message("x")).queue_id)
    sidecar = tmp_path / (name[: -len(".eml")] + ".envelope.json")
    sidecar.write_text(json.dumps({"mail_from": "a@example.org", "rcpt_to": "bo@example.net"}))
    (stored,) = t.read()
    assert stored.envelope is None


def _dead_pid() -> int:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True).stdout
    return int(out)


def _killed_writer(path: Path, payload: bytes, written: int) -> Path:
    """What a writer leaves when it is killed after ``written`` bytes of ``payload``:
    its journal (made by the real journal code) and the torn bytes at the mbox's end."""
    from mimekit import mboxwrite as mb

    start = path.stat().st_size
    assert mb._write_journal(str(path), mb._span_of(start, payload))
    with open(path, "ab") as fh:
        fh.write(payload[:written])
    return Path(str(path) + ".mimekit-append")


TORN = (b"From a@example.org Thu Dec  3 10:00:00 2026\nSubject: two\n\n"
        + b"".join(b"line %06d of the message body\n" % i for i in range(8000)) + b"\n")


@pytest.mark.parametrize("written", [20, 3000, 70_000, 200_000])
def test_a_writer_killed_mid_append_leaves_no_half_message(tmp_path: Path,
                                                           written: int) -> None:
    """Regression: an mbox writer killed during its write left the first part of its
    message at the end of the mbox (seen: 13 MB of a 15 MB message), which every reader
    took for a whole, broken message. What it was writing is in its journal; the next
    writer moves those bytes to ``box.torn-*`` and cuts the mbox back. Torn within the
    recorded first bytes, within the first block, and after whole blocks."""
    from mimekit.mailbox import append_mbox

    path = tmp_path / "box"
    append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    whole = path.read_bytes()
    journal = _killed_writer(path, TORN, written)
    append_mbox(path, b"Subject: three\n\nthird\n", "a@example.org", lock_timeout=0)
    assert [m.subject for m in read_mbox(path)] == ["one", "three"]
    assert path.read_bytes().startswith(whole)
    (kept,) = tmp_path.glob("box.torn-*")
    assert kept.read_bytes() == TORN[:written]
    assert not journal.exists() and not (tmp_path / "box.lock").exists()


OTHER = b"From b@example.org Thu Dec  3 10:00:01 2026\nSubject: B\n\nB delivered\n\n"


@pytest.mark.parametrize("case", ["complete", "appended-after", "glued", "glued-late",
                                  "not-ours", "another-message", "block-changed"])
def test_a_torn_tail_is_only_taken_out_when_it_is_that_message(tmp_path: Path,
                                                               case: str) -> None:
    """What is not exactly the dead writer's half message stays: a write that completed
    before the kill; a message another program appended since, after a newline or
    (review finding) glued to the torn bytes, early or late in the last block; a tail
    that is not its data; a message another program put at the span's start; a whole
    block whose checksum differs. The journal is gone after the next append."""
    from mimekit.mailbox import append_mbox

    path = tmp_path / "box"
    append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    start = path.stat().st_size
    if case == "complete":
        journal = _killed_writer(path, TORN, len(TORN))
    elif case in ("not-ours", "another-message"):
        journal = _killed_writer(path, TORN, 0)
        with open(path, "ab") as fh:
            fh.write(b"Subject: two\n\nbody\n" if case == "not-ours" else OTHER)
    elif case == "block-changed":
        journal = _killed_writer(path, TORN, 70_000)
        with open(path, "r+b") as fh:
            fh.seek(start + 1000)
            fh.write(b"X")
    else:
        written = {"appended-after": 3000, "glued": 3000, "glued-late": 100_000}[case]
        journal = _killed_writer(path, TORN, written)
        with open(path, "ab") as fh:
            fh.write((b"\n" if case == "appended-after" else b"") + OTHER)
    before = path.read_bytes()
    assert start < len(before)
    append_mbox(path, b"Subject: three\n\nthird\n", "a@example.org", lock_timeout=0)
    assert path.read_bytes().startswith(before)
    assert not list(tmp_path.glob("box.torn-*")) and not journal.exists()


def test_two_writers_after_a_killed_one_repair_once(tmp_path: Path) -> None:
    """Review finding: with the span in the dead writer's dot-lock, two writers breaking
    that lock could both get it; the second then "repaired" the message the first had
    just delivered. The journal is read and removed under all the locks: whoever comes
    first repairs, the next finds nothing to do."""
    from mimekit.mailbox import append_mbox

    path = tmp_path / "box"
    append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    _killed_writer(path, TORN, 3000)
    append_mbox(path, b"Subject: B\n\nB delivered\n", "b@example.org", lock_timeout=0)
    append_mbox(path, b"Subject: C\n\nC delivered\n", "c@example.org", lock_timeout=0)
    assert [m.subject for m in read_mbox(path)] == ["one", "B", "C"]
    assert len(list(tmp_path.glob("box.torn-*"))) == 1


def test_a_link_planted_as_the_journal_is_never_followed(tmp_path: Path) -> None:
    """Review finding: the journal was opened with O_TRUNC, following links: anyone who
    can write the mbox's folder could make the appending process overwrite a file of
    its choice. A link in its place is removed, never written through or read."""
    from mimekit.mailbox import append_mbox

    path, victim = tmp_path / "box", tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "box.mimekit-append").symlink_to(victim)
    append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    assert victim.read_bytes() == b"precious"
    assert [m.subject for m in read_mbox(path)] == ["one"]
    assert not (tmp_path / "box.mimekit-append").exists()
    journal = _killed_writer(path, TORN, 3000)
    target = tmp_path / "journal-copy"
    target.write_bytes(journal.read_bytes())
    journal.unlink()
    journal.symlink_to(target)  # a link to a journal-shaped file is not our journal
    append_mbox(path, b"Subject: three\n\nthird\n", "a@example.org", lock_timeout=0)
    assert not list(tmp_path.glob("box.torn-*")) and target.exists()


def test_a_full_disk_during_the_repair_keeps_everything_for_the_next_try(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: a short write or ENOSPC while copying the torn bytes out either
    lost bytes (cut back anyway) or dropped the journal (the half message stayed for
    good). Now the copy is complete or removed, the journal stays, nothing is appended,
    and the next append repairs."""
    from mimekit import mboxwrite as mb

    path = tmp_path / "box"
    mb.append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    journal = _killed_writer(path, TORN, 100_000)
    before = path.read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def nearly_full(fd: int, data: bytes | memoryview) -> int:
        if os.fstat(fd).st_ino != os.stat(path).st_ino and b"mimekit-append" not in bytes(
                data[:20]):
            calls["n"] += 1
            if calls["n"] == 1:
                return real_write(fd, bytes(data[:1000]))  # a short write first
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(mb.os, "write", nearly_full)
    with pytest.raises(OSError, match="No space left"):
        mb.append_mbox(path, b"Subject: three\n\nthird\n", "a@example.org", lock_timeout=0)
    monkeypatch.undo()
    assert path.read_bytes() == before and journal.exists()
    assert not list(tmp_path.glob("box.torn-*"))
    mb.append_mbox(path, b"Subject: three\n\nthird\n", "a@example.org", lock_timeout=0)
    assert [m.subject for m in read_mbox(path)] == ["one", "three"]
    (kept,) = tmp_path.glob("box.torn-*")
    assert kept.read_bytes() == TORN[:100_000]


def test_a_journal_that_cannot_be_removed_does_not_stop_appends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Review finding: a leftover journal in a folder that became read-only (or owned
    by another user in a sticky folder) made every append fail with PermissionError."""
    from mimekit import mboxwrite as mb

    path = tmp_path / "box"
    journal = Path(str(path) + ".mimekit-append")
    journal.write_bytes(b"not a journal\n")
    real_unlink = os.unlink

    def refuse(name: Any, *args: Any, **kw: Any) -> None:
        if str(name) == str(journal):
            raise PermissionError(13, "Permission denied")
        real_unlink(name, *args, **kw)

    monkeypatch.setattr(mb.os, "unlink", refuse)
    mb.append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    mb.append_mbox(path, b"Subject: two\n\nsecond\n", "a@example.org")
    assert [m.subject for m in read_mbox(path)] == ["one", "two"]
    assert "cannot remove" in caplog.text


def test_a_fresh_lock_taken_while_the_dead_one_is_broken_is_put_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: two writers breaking one dead dot-lock; the first took a fresh
    lock between the second's look and its removal, and the second removed that fresh
    lock. Now the lock is renamed, found not to be the one judged stale, and put back."""
    from mimekit import mboxwrite as mb

    path, lock = tmp_path / "box", tmp_path / "box.lock"
    mb.append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    before = path.read_bytes()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        fresh = f"{alive.pid} {mb._node()}\n".encode()
        lock.write_bytes(f"{dead} {mb._node()}\n".encode())
        real_rename = os.rename
        renames: list[str] = []

        def another_writer_gets_in_first(src: str, dst: str) -> None:
            if src == str(lock) and not renames:  # B breaks the lock and takes its own
                lock.unlink()
                lock.write_bytes(fresh)
            renames.append(src)
            real_rename(src, dst)

        monkeypatch.setattr(mb.os, "rename", another_writer_gets_in_first)
        with pytest.raises(mb.MailboxLockError, match="dot-lock"):
            mb.append_mbox(path, b"Subject: two\n\nx\n", "a@example.org", lock_timeout=0)
        assert lock.read_bytes() == fresh  # B's lock is back under its name
        assert path.read_bytes() == before
        assert not list(tmp_path.glob("box.lock.broken-*"))
    finally:
        alive.kill()
        alive.wait()


def test_the_journal_records_what_is_being_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import zlib

    from mimekit import mboxwrite as mb

    seen: list[bytes] = []
    real_write = os.write
    journal = tmp_path / "box.mimekit-append"

    def spy(fd: int, data: bytes | memoryview) -> int:
        if b"Subject: s" in bytes(data) and b"mimekit-append" not in bytes(data):
            seen.append(journal.read_bytes())
        return real_write(fd, data)

    mb.append_mbox(tmp_path / "box", b"Subject: r\n\nx\n", "a@example.org")
    start = (tmp_path / "box").stat().st_size
    monkeypatch.setattr(mb.os, "write", spy)
    mb.append_mbox(tmp_path / "box", b"Subject: s\n\n" + b"y" * 70_000 + b"\n",
                   "a@example.org")
    end = (tmp_path / "box").stat().st_size
    written = (tmp_path / "box").read_bytes()[start:end]
    crcs = (zlib.crc32(written[:65536]), zlib.crc32(written[65536:]))
    assert seen == [f"mimekit-append 2 {start} {end} ".encode()
                    + base64.b64encode(written[:1024])
                    + b" %08x %08x\n" % crcs]
    assert not journal.exists()


def test_sigkill_mid_append_then_the_next_send_repairs_the_mbox(tmp_path: Path) -> None:
    """End to end: a process sending through ``MboxTransport`` is killed (SIGKILL) after
    writing part of its message; the next send takes the half message out."""
    path = tmp_path / "box"
    child = textwrap.dedent(f"""
        import os, signal
        import mimekit
        from mimekit import mailbox
        from mimekit.transports import MboxTransport

        real_write = os.write
        def write_half_then_die(fd, data):
            if len(data) > 100_000:
                real_write(fd, bytes(data[: len(data) // 2]))
                os.kill(os.getpid(), signal.SIGKILL)
            return real_write(fd, data)
        mailbox.os.write = write_half_then_die
        msg = (mimekit.compose().from_("a@example.org").to("b@example.org")
               .subject("big").text("see attached").attach(b"z" * 300_000, filename="z.bin")
               .build())
        MboxTransport({str(path)!r}).send(msg)
    """)
    MboxTransport(path).send(message("before"))
    size_before = path.stat().st_size
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == -9, done.stderr
    assert path.stat().st_size > size_before + 100_000  # the half message is there
    assert (tmp_path / "box.lock").exists() and (tmp_path / "box.mimekit-append").exists()
    MboxTransport(path, lock_timeout=0).send(message("after"))
    assert [m.subject for m in read_mbox(path)] == ["before", "after"]
    assert len(list(tmp_path.glob("box.torn-*"))) == 1


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_an_outbox_folder_another_process_creates_meanwhile_is_fine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Regression (seen in the many-process test): two processes creating one new outbox
    at once; the second looked (no folder), the first created it, and the second then
    said "is not a folder" because something now existed there."""
    from mimekit.transports import MemoryTransport

    out = tmp_path / "out"
    out.mkdir()  # the other process has just made it ...
    real_is_dir = Path.is_dir
    looks: list[Path] = []

    def first_look_misses(self: Path) -> bool:
        if self == out and not looks:
            looks.append(self)
            return False  # ... right after this process looked
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", first_look_misses)
    if kind == "file":
        FileTransport(out).send(message("x"))
        assert len(list(out.glob("*.eml"))) == 1
    else:
        MemoryTransport(path=out).send(message("x"))
    assert looks == [out]


def test_mbox_and_maildir_say_which_path_is_not_a_folder(tmp_path: Path) -> None:
    """Review finding: MboxTransport('f/box') with f a file said "[Errno 17] File
    exists: 'f'", MaildirTransport('f') "[Errno 20] Not a directory: 'f/tmp'"."""
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(TransportError) as info:
        MboxTransport(tmp_path / "f" / "box").send(message("x"))
    assert str(info.value) == (f"mbox {str(tmp_path / 'f' / 'box')!r}: its folder "
                               f"{str(tmp_path / 'f')!r} is not a folder")
    with pytest.raises(TransportError) as info:
        MaildirTransport(tmp_path / "f").send(message("x"))
    assert str(info.value) == f"Maildir {str(tmp_path / 'f')!r} is not a folder"
    (tmp_path / "md").mkdir()
    (tmp_path / "md" / "new").write_bytes(b"")
    with pytest.raises(TransportError) as info:
        MaildirTransport(tmp_path / "md").send(message("x"))
    assert str(info.value) == f"Maildir {str(tmp_path / 'md' / 'new')!r} is not a folder"


def test_a_writer_never_removes_the_lock_that_replaced_its_own(tmp_path: Path) -> None:
    """Review finding: the dot-lock was known by (device, inode) alone; the file system
    reuses the inode for the next lock, so a writer whose stale lock was broken and
    retaken removed its successor's lock when it finished."""
    from mimekit import mboxwrite as mb

    lock = str(tmp_path / "box.lock")
    mine = mb._take_dotlock(lock, str(tmp_path / "box"), time.monotonic(), 0, 500)
    os.unlink(lock)  # broken as stale by another writer ...
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # ... who takes it
    os.write(fd, b"12345 other\n")
    os.close(fd)
    st = os.stat(lock)
    os.utime(lock, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))  # made at another moment
    mb._drop_dotlock(lock, mine)
    assert Path(lock).read_bytes() == b"12345 other\n"
