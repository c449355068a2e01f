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


def test_read_maildir_missing_subfolders(tmp_path: pathlib.Path) -> None:
    assert list(read_maildir(tmp_path)) == []


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

    from mimekit import mailbox as mb

    path = tmp_path / "box.mbox"
    mb.append_mbox(path, b"Subject: one\n\nfirst\n", "a@example.org")
    before = path.read_bytes()
    real_write = _os.write
    calls = {"n": 0}

    def flaky_write(fd: int, data: object) -> int:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data)[:10])  # type: ignore[call-overload]

    monkeypatch.setattr(mb.os, "write", flaky_write)
    with pytest.raises(OSError):
        mb.append_mbox(path, b"Subject: two\n\n" + b"x" * 5000 + b"\n", "a@example.org")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [m.subject for m in mb.read_mbox(path)] == ["one"]
