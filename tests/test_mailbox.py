"""mbox and Maildir reading and writing."""

from __future__ import annotations

import os
import pathlib
import threading

import pytest

from mimekit.errors import HeaderInjectionError
from mimekit.mailbox import (
    append_mbox,
    iter_mbox_raw,
    maildir_deliver,
    mbox_escape,
    mbox_unescape,
    read_maildir,
    read_mbox,
)


def test_escape_and_unescape_are_inverse() -> None:
    data = b"From here\n>From there\nnot From\n>>From x\nFrom"
    escaped = mbox_escape(data)
    assert escaped == b">From here\n>>From there\nnot From\n>>>From x\nFrom"  # "From" without a space is no envelope line
    assert mbox_unescape(escaped) == data


def test_read_mbox_splits_and_unescapes() -> None:
    mbox = (
        b"From a@example.com Thu Jan  1 00:00:00 2024\n"
        b"Subject: one\n\n>From the start\nbody one\n\n"
        b"From b@example.com Thu Jan  1 00:00:01 2024\n"
        b"Subject: two\n\nbody two\n"
    )
    msgs = list(read_mbox(mbox))
    assert [m.subject for m in msgs] == ["one", "two"]
    assert msgs[0].body == b"From the start\nbody one\n"
    assert msgs[1].body == b"body two\n"
    envelopes = [e for e, _ in iter_mbox_raw(mbox)]
    assert envelopes[1] == b"From b@example.com Thu Jan  1 00:00:01 2024\n"


def test_content_length_honoured_when_exact() -> None:
    body = b"line\nFrom inside@example.com Thu Jan  1 00:00:00 2024\n"
    mbox = (
        b"From a Thu Jan  1 00:00:00 2024\n"
        b"Subject: cl\nContent-Length: %d\n\n" % len(body) + body + b"\n"
        b"From b Thu Jan  1 00:00:00 2024\nSubject: next\n\nx\n"
    )
    msgs = list(read_mbox(mbox))
    assert [m.subject for m in msgs] == ["cl", "next"]
    assert msgs[0].body == body
    # A wrong Content-Length is ignored: split at "From " lines.
    wrong = mbox.replace(b"Content-Length: %d" % len(body), b"Content-Length: 3")
    assert [m.subject for m in read_mbox(wrong)] == ["cl", None, "next"]


def test_unquoted_from_lines_in_bodies_do_not_split() -> None:
    mbox = (
        b"From -\nSubject: one\n\nFrom Russia with love\n\nFrom -\nSubject: two\n\nx\n"
    )
    msgs = list(read_mbox(b"\xef\xbb\xbf" + mbox))
    assert [m.subject for m in msgs] == ["one", "two"]
    assert msgs[0].body == b"From Russia with love\n"


def test_append_and_read_back(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "box"
    first = b"Subject: one\r\n\r\nFrom me\r\n>From you\r\n"
    second = b"Subject: two\r\n\r\nno newline"
    append_mbox(path, first, "a@example.com")
    append_mbox(path, second, None)
    raw = path.read_bytes()
    assert raw.startswith(b"From a@example.com ")
    assert b"\n>From me\r\n>>From you\r\n" in raw
    assert b"\nFrom MAILER-DAEMON " in raw
    msgs = list(read_mbox(path))
    assert [m.to_bytes() for m in msgs] == [first, second + b"\n"]
    with pytest.raises(HeaderInjectionError):
        append_mbox(path, first, "a@example.com\nFrom: x")
    with pytest.raises(ValueError):
        append_mbox(path, first, "a b@example.com")


def test_append_is_safe_across_threads(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "box"

    def worker(n: int) -> None:
        for i in range(10):
            append_mbox(path, b"Subject: %d-%d\n\nbody\n" % (n, i), "x@example.com")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    subjects = sorted(m.subject or "" for m in read_mbox(path))
    assert subjects == sorted(f"{n}-{i}" for n in range(4) for i in range(10))


def test_maildir_deliver_and_read(tmp_path: pathlib.Path) -> None:
    box = tmp_path / "Maildir"
    paths = [maildir_deliver(box, b"Subject: %d\r\n\r\nbody\r\n" % i) for i in range(3)]
    assert len(set(paths)) == 3
    for p in paths:
        assert os.path.dirname(p) == str(box / "new")
        assert oct(os.stat(p).st_mode & 0o777) == oct(0o600)
    assert os.listdir(box / "tmp") == []
    (box / "cur" / "old:2,S").write_bytes(b"Subject: cur\n\nx")
    (box / "new" / ".hidden").write_bytes(b"Subject: hidden\n\nx")
    subjects = [m.subject or "" for m in read_maildir(box)]
    assert subjects[0] == "cur" and sorted(subjects[1:]) == ["0", "1", "2"]
    assert pathlib.Path(paths[0]).read_bytes() == b"Subject: 0\r\n\r\nbody\r\n"


def test_corpus_mboxes_read() -> None:
    repo = pathlib.Path(__file__).resolve().parent.parent
    corpus = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", repo.parent / "shared" / "corpus"))
    folder = corpus / "jstedfast-MimeKit" / "mbox"
    if not folder.is_dir():
        pytest.skip(f"corpus mbox folder not found at {folder}")
    for path in sorted(folder.iterdir()):
        msgs = list(read_mbox(path))
        assert msgs, path
        for m in msgs:
            m.to_dict()


def test_append_mbox_leaves_no_half_message_when_a_write_fails(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Regression (new-user review): a full disk left a truncated message in the mbox."""
    import os as _os

    from mimekit import mboxwrite as mb

    path = tmp_path / "box.mbox"
    mb.append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    before = path.read_bytes()
    real_write = _os.write
    calls = {"n": 0}

    def flaky_write(fd: int, data: object) -> int:
        if bytes(data).startswith(b"mimekit-append"):  # type: ignore[call-overload]
            return real_write(fd, data)  # type: ignore[arg-type]  # the journal
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data)[:10])  # type: ignore[call-overload]

    monkeypatch.setattr(mb.os, "write", flaky_write)
    with pytest.raises(OSError):
        mb.append_mbox(path, b"Subject: two\n\n" + b"x" * 5000 + b"\n", "a@example.org")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [m.subject for m in read_mbox(path)] == ["one"]
    assert not (tmp_path / "box.mbox.mimekit-append").exists()


# ---------------------------------------------------------------- mbox locking
# A second process holding one kind of lock on an mbox, as another mail program would:
# it prints "held", waits for a line on stdin, releases, prints "released".
HOLDER = r"""
import fcntl, os, sys
kind, path = sys.argv[1], sys.argv[2]
if kind == "dotlock":
    os.close(os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
else:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    (fcntl.lockf if kind == "fcntl" else fcntl.flock)(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
if kind == "dotlock":
    os.unlink(path + ".lock")
else:
    os.close(fd)
print("released", flush=True)
"""

# Another process checking that nobody holds an fcntl or flock lock on the file.
PROBE = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("free")
"""

LOCK_KINDS = ["dotlock", "fcntl", "flock"]


class Holder:
    def __init__(self, kind: str, path: pathlib.Path) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, kind, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        assert self.proc.stdout.readline() == "held\n"

    def release(self) -> None:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "released\n"
        assert self.proc.wait(60) == 0


def nobody_holds_kernel_locks(path: pathlib.Path) -> bool:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PROBE, str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    return done.stdout == "free\n"


@pytest.mark.parametrize("kind", LOCK_KINDS)
def test_append_waits_while_another_process_holds_a_lock(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from mimekit import mboxwrite as mb

    path = tmp_path / "box"
    path.write_bytes(b"")
    holder = Holder(kind, path)
    events: list[str] = []
    waiting = threading.Event()
    real_sleep = mb._sleep

    def sleep(seconds: float) -> None:
        if not waiting.is_set():
            events.append(f"waiting, mbox holds {path.stat().st_size} bytes")
            waiting.set()
        real_sleep(seconds)

    monkeypatch.setattr(mb, "_sleep", sleep)
    writer = threading.Thread(
        target=lambda: (append_mbox(path, b"Subject: w\n\nx\n", "a@example.org",
                                    lock_timeout=3600), events.append("written"))
    )
    writer.start()
    assert waiting.wait(120)  # the writer found the lock taken (not a timing assertion)
    events.append("released")
    holder.release()
    writer.join(120)
    assert not writer.is_alive()
    assert events == ["waiting, mbox holds 0 bytes", "released", "written"]
    assert [m.subject for m in read_mbox(path)] == ["w"]
    assert not (tmp_path / "box.lock").exists()
    assert nobody_holds_kernel_locks(path)


@pytest.mark.parametrize("kind", LOCK_KINDS)
def test_append_gives_up_after_the_bounded_wait_with_a_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from mimekit import mboxwrite as mb

    path = tmp_path / "box"
    path.write_bytes(b"")
    holder = Holder(kind, path)
    clock = [1000.0]  # a fake clock: the wait is counted, never slept
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(mb, "_monotonic", lambda: clock[0])
    monkeypatch.setattr(mb, "_sleep", sleep)
    try:
        with pytest.raises(mb.MailboxLockError) as info:
            append_mbox(path, b"Subject: w\n\nx\n", "a@example.org", lock_timeout=5)
        detail = {
            "dotlock": f"dot-lock {str(path) + '.lock'!r} exists",
            "fcntl": "an fcntl lock is held on it",
            "flock": "an flock lock is held on it",
        }[kind]
        assert str(info.value) == (
            f"mbox {str(path)!r} is locked by another program ({detail}); gave up after 5 s"
        )
        assert info.value.kind == kind and info.value.path == str(path)
        assert isinstance(info.value, TimeoutError)
        assert sum(slept) == pytest.approx(5.0)  # exactly the bound, then no more tries
        assert max(slept) == 0.25  # polled with growing, capped pauses
        assert path.read_bytes() == b""  # nothing written
        # Our own dot-lock is gone again; the other program's is untouched.
        assert (tmp_path / "box.lock").exists() == (kind == "dotlock")
    finally:
        holder.release()
    assert nobody_holds_kernel_locks(path)  # we kept no fcntl/flock lock either
    append_mbox(path, b"Subject: later\n\nx\n", "a@example.org", lock_timeout=0)
    assert [m.subject for m in read_mbox(path)] == ["later"]


def test_a_stale_dotlock_is_removed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "box"
    lock = tmp_path / "box.lock"
    lock.write_bytes(b"99999\n")
    os.utime(lock, (0, 0))  # written in 1970: its writer is long gone
    append_mbox(path, b"Subject: s\n\nx\n", "a@example.org", lock_timeout=0, stale_after=500)
    assert [m.subject for m in read_mbox(path)] == ["s"]
    assert not lock.exists()


def test_all_locks_are_released_when_the_write_fails(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mimekit import mboxwrite as mb

    path = tmp_path / "box"
    seen: list[bool] = []
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if not seen or bytes(data).startswith(b"mimekit-append"):
            seen.append(True)
            return real_write(fd, data)  # the dot-lock's pid line, the journal
        seen.append((tmp_path / "box.lock").exists())  # the dot-lock is held while writing
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mb.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        append_mbox(path, b"Subject: s\n\nx\n", "a@example.org")
    monkeypatch.undo()
    assert seen == [True, True, True]
    assert not (tmp_path / "box.lock").exists()
    assert not (tmp_path / "box.mimekit-append").exists()
    assert nobody_holds_kernel_locks(path)
    assert path.read_bytes() == b""


def test_dotlock_in_a_directory_that_cannot_be_written(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mimekit import mboxwrite as mb

    path = tmp_path / "box"
    real_open = os.open

    def no_write_permission(name: str, flags: int, mode: int = 0o777) -> int:
        if str(name).endswith(".lock"):  # as in a directory we may not write
            raise PermissionError(13, "Permission denied")
        return real_open(name, flags, mode)

    monkeypatch.setattr(mb.os, "open", no_write_permission)
    with pytest.raises(OSError, match=r"cannot create the dot-lock .*Permission denied.*dotlock=False"):
        append_mbox(path, b"Subject: s\n\nx\n", "a@example.org")
    assert not path.exists()  # refused before the mbox was even opened
    append_mbox(path, b"Subject: s\n\nx\n", "a@example.org", dotlock=False)
    monkeypatch.undo()
    assert [m.subject for m in read_mbox(path)] == ["s"]


def test_lock_error_pickles() -> None:
    import pickle

    from mimekit.mailbox import MailboxLockError

    err = MailboxLockError("locked", path="/x/box", kind="flock")
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.path, back.kind) == ("locked", "/x/box", "flock")


def test_link_no_replace(tmp_path: pathlib.Path) -> None:
    from mimekit.mailbox import link_no_replace

    (tmp_path / "a").write_bytes(b"new")
    (tmp_path / "b").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        link_no_replace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"old" and (tmp_path / "a").exists()
    link_no_replace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == b"new" and not (tmp_path / "a").exists()


def test_an_unbounded_lock_timeout_is_accepted(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "box"
    append_mbox(path, b"Subject: s\n\nx\n", "a@example.org", lock_timeout=float("inf"))
    assert [m.subject for m in read_mbox(path)] == ["s"]


def test_read_maildir_refuses_a_folder_that_is_not_a_maildir(tmp_path: pathlib.Path) -> None:
    """A folder without cur/, new/ and tmp/ is an error (it used to read as empty,
    hiding a wrong path); one of them is enough for an empty Maildir."""
    (tmp_path / "x.eml").write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    with pytest.raises(NotADirectoryError, match="not a Maildir"):
        list(read_maildir(tmp_path))
    (tmp_path / "new").mkdir()
    assert list(read_maildir(tmp_path)) == []
