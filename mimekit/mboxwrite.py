"""Appending to an mbox the way mail programs do: under their locks, never half a message.

Other programs that write an mbox (Postfix local(8), procmail, mutt, Dovecot) use one of
three locks: a ``<mbox>.lock`` dot-lock, an ``fcntl`` record lock or an ``flock`` lock.
:func:`append_mbox` takes all three, each waited for a bounded time, then writes the
message in mboxrd form (RFC 4155) and fsyncs it.

A write that fails (a full disk, an interrupt) is cut back at once. A writer that is
killed mid-write (SIGKILL, power loss) cannot cut anything back, so before writing it
records what it is about to write in a journal beside the mbox
(``<mbox>.mimekit-append``: where the message starts and ends, and its first bytes),
removed once the data is on disk. The next :func:`append_mbox` finds a journal left
behind while it holds the locks (so its writer is gone: a live writer holds them all
the time it writes), and moves the torn tail out of the mbox, into
``<mbox>.torn-<time>-<pid>``, when the mbox still ends inside that span with exactly
those bytes. Anything else there (another program appended since) is left alone.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import logging
import os
import re
import secrets
import threading
import time
from typing import NamedTuple

from mimekit.errors import HeaderInjectionError, MimekitError

__all__ = ["LOCK_TIMEOUT", "STALE_DOTLOCK", "MailboxLockError", "append_mbox", "mbox_escape"]

log = logging.getLogger("mimekit.mailbox")

_NEEDS_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)

# Lock waits poll (never block forever). Module-level so tests can drive the clock
# without sleeping; mbox code uses nothing else for waiting.
_monotonic = time.monotonic
_sleep = time.sleep

#: Seconds ``append_mbox`` waits, in all, for the locks another program holds.
LOCK_TIMEOUT = 30.0
#: A ``<mbox>.lock`` older than this many seconds is stale and removed: its writer died
#: (Postfix's default ``stale_lock_time`` is 500 s; procmail and mutt use similar ages).
STALE_DOTLOCK = 500.0

# Per mbox path, for the threads of this process. POSIX record locks belong to the
# process, not the file descriptor: a second thread's lockf() would "succeed" and its
# close() would drop the first thread's lock. Threads of one process take turns here.
_path_locks: dict[str, threading.Lock] = {}
_path_locks_guard = threading.Lock()


def mbox_escape(data: bytes) -> bytes:
    """mboxrd quoting: one more ``>`` before every line that matches ``>*From ``."""
    return _NEEDS_QUOTE.sub(rb">\1", data)


class MailboxLockError(MimekitError, TimeoutError):
    """Another program kept the mbox locked longer than the bounded wait.

    ``path`` is the mbox, ``kind`` the lock that could not be taken (``"dotlock"``,
    ``"fcntl"``, ``"flock"`` or ``"thread"``). Nothing was written.
    """

    def __init__(self, message: str, *, path: str, kind: str) -> None:
        super().__init__(message)
        self.path = path
        self.kind = kind

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_lock_error, (str(self), self.path, self.kind))


def _rebuild_lock_error(message: str, path: str, kind: str) -> MailboxLockError:
    return MailboxLockError(message, path=path, kind=kind)


def _pause(deadline: float, attempt: int) -> bool:
    """Sleep before the next try (10 ms doubling up to 250 ms); False once the
    deadline has passed, so every wait is bounded."""
    now = _monotonic()
    if now >= deadline:
        return False
    _sleep(min(0.01 * 2 ** min(attempt, 5), 0.25, deadline - now))
    return True


def _lock_error(path: str, kind: str, timeout: float, detail: str) -> MailboxLockError:
    return MailboxLockError(
        f"mbox {path!r} is locked by another program ({detail}); gave up after "
        f"{timeout:g} s",
        path=path,
        kind=kind,
    )


def _envelope_line(envelope_from: str | None) -> bytes:
    sender = envelope_from or "MAILER-DAEMON"
    if any(ch in sender for ch in "\r\n\x00"):
        raise HeaderInjectionError("CR, LF or NUL in the mbox envelope sender")
    if any(ch.isspace() for ch in sender):
        raise ValueError(f"white space in the mbox envelope sender {sender!r}")
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    return f"From {sender} {stamp}\n".encode()


# ------------------------------------------------------------------------- the dot-lock


def _node() -> str:
    """This machine's node name, as written into our dot-locks (no DNS lookup)."""
    uname = getattr(os, "uname", None)
    return (uname().nodename if uname is not None else "") or "localhost"


_OUR_DOTLOCK = re.compile(rb"([0-9]{1,10}) (\S{1,255})\n\Z")


def _writer_is_dead(lock_path: str) -> bool:
    """Whether the dot-lock was written by this module on this machine (``PID NODE``)
    for a process that no longer exists: a ``mimekit`` killed while appending. Only
    then is the lock stale before ``stale_after``; a lock from another program, another
    machine (an NFS-shared mbox) or a live (or unknown) process is left to the age rule.
    A live writer also holds the fcntl and flock locks, which are still waited for."""
    try:
        with open(lock_path, "rb") as fh:
            content = fh.read(300)
    except OSError:
        return False
    m = _OUR_DOTLOCK.match(content)
    if m is None or m.group(2).decode("utf-8", "replace") != _node():
        return False
    pid = int(m.group(1))
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists (another user's process)
        return False
    return False


def _break_stale_dotlock(lock_path: str, stale_after: float) -> bool:
    """Remove ``lock_path`` if it is older than ``stale_after`` seconds, or if it is
    one of ours whose process is gone (:func:`_writer_is_dead`); True if the lock is
    gone now.

    The lock is first renamed to a private name (atomic: of several writers breaking it
    at once, one gets it) and then checked to be the very file judged stale; when it is
    not (another writer broke the stale one and took a fresh lock meanwhile), it is put
    back under its name, never removed."""
    try:
        st = os.stat(lock_path)
    except FileNotFoundError:
        return True
    if time.time() - st.st_mtime <= stale_after and not _writer_is_dead(lock_path):
        return False
    private = f"{lock_path}.broken-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.rename(lock_path, private)
    except FileNotFoundError:
        return True  # another writer broke it first: try to take it now
    try:
        got = os.stat(private)
        if (got.st_ino, got.st_mtime_ns) != (st.st_ino, st.st_mtime_ns):
            # a fresh lock of a live writer: put it back (unless the name is taken again)
            with contextlib.suppress(FileExistsError):
                os.link(private, lock_path)
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(private)


def _take_dotlock(
    lock_path: str, mbox: str, deadline: float, timeout: float, stale_after: float
) -> tuple[int, int]:
    """Create ``<mbox>.lock`` with ``O_CREAT|O_EXCL`` (the dot-lock of Postfix local(8),
    procmail and mutt; exclusive creation works on local file systems and NFSv3+),
    waiting while another program holds it. Returns the lock's (device, inode)."""
    attempt = 0
    while True:
        try:
            fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if _break_stale_dotlock(lock_path, stale_after):
                continue
        except OSError as exc:  # e.g. no write permission on the mbox's directory
            raise OSError(
                exc.errno,
                f"cannot create the dot-lock {lock_path!r} ({exc.strerror}); an mbox in "
                "a directory you cannot write needs dotlock=False",
            ) from None
        else:
            try:
                # "PID NODE": for people, and for _writer_is_dead after a crash
                os.write(fd, f"{os.getpid()} {_node()}\n".encode("utf-8", "replace"))
                st = os.fstat(fd)
            except BaseException:
                os.close(fd)
                os.unlink(lock_path)
                raise
            os.close(fd)
            return (st.st_dev, st.st_ino)
        if not _pause(deadline, attempt):
            raise _lock_error(mbox, "dotlock", timeout, f"dot-lock {lock_path!r} exists")
        attempt += 1


def _drop_dotlock(lock_path: str, ident: tuple[int, int]) -> None:
    """Remove our dot-lock, unless it is no longer ours (broken as stale and retaken)."""
    try:
        st = os.stat(lock_path)
        if (st.st_dev, st.st_ino) == ident:
            os.unlink(lock_path)
    except FileNotFoundError:
        pass


def _take_kernel_locks(fd: int, mbox: str, deadline: float, timeout: float) -> None:
    """An exclusive ``fcntl`` (POSIX record) lock on the whole file, then an ``flock``:
    programs use one or the other (Postfix and procmail fcntl, mutt and Dovecot either,
    others flock) and on Linux they do not exclude each other. Both or neither are held
    after each try, so two programs that take them in the other order cannot deadlock."""
    import fcntl

    attempt = 0
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            busy = "fcntl"
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                fcntl.lockf(fd, fcntl.LOCK_UN)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                busy = "flock"
            except BaseException:
                fcntl.lockf(fd, fcntl.LOCK_UN)
                raise
        if not _pause(deadline, attempt):
            raise _lock_error(mbox, busy, timeout, f"an {busy} lock is held on it")
        attempt += 1


def _path_lock(path: str) -> threading.Lock:
    key = os.path.realpath(path)
    with _path_locks_guard:
        return _path_locks.setdefault(key, threading.Lock())


# ------------------------------------------------------------------------- appending


def append_mbox(
    path: str | os.PathLike[str],
    data: bytes,
    envelope_from: str | None = None,
    *,
    lock_timeout: float = LOCK_TIMEOUT,
    dotlock: bool = True,
    stale_after: float = STALE_DOTLOCK,
) -> None:
    """Append one message to an mbox file (mboxrd quoting) under exclusive locks.

    The ``From `` line carries ``envelope_from`` (``MAILER-DAEMON`` when None) and the
    current UTC time; the message is followed by a blank line (RFC 4155).

    Locking excludes the other programs that write or rewrite mboxes, whichever lock
    they use: first the dot-lock ``<path>.lock`` (created with ``O_EXCL``, holding
    ``PID NODE``; one older than ``stale_after`` seconds, or one of ours whose process
    on this machine is gone, is removed as stale; ``dotlock=False`` skips it, for
    an mbox in a directory you cannot write), then an ``fcntl`` lock and an ``flock``
    lock on the file. Each is waited for, in all at most ``lock_timeout`` seconds, then
    :class:`MailboxLockError` is raised and nothing is written. Every lock is released
    on every path out (success, error, interrupt). Threads of one process take turns
    (POSIX record locks belong to the process), but another part of this process that
    opens and closes the mbox while a message is appended drops the ``fcntl`` lock.

    Never half a message: a write that fails is cut back, and the torn write of a
    writer killed mid-append is moved out by the next append (see the module's
    docstring).
    """
    import fcntl

    line = _envelope_line(envelope_from)
    body = mbox_escape(data)
    if not body.endswith(b"\n"):
        body += b"\n"
    mbox = os.fspath(path)
    deadline = _monotonic() + lock_timeout
    in_process = _path_lock(mbox)
    # threading's limit (an infinite lock_timeout means: wait as long as it takes).
    wait = -1 if lock_timeout >= threading.TIMEOUT_MAX else max(0.0, lock_timeout)
    if not in_process.acquire(timeout=wait):
        raise _lock_error(mbox, "thread", lock_timeout, "another thread is appending")
    try:
        lock_path = mbox + ".lock"
        ident = _take_dotlock(lock_path, mbox, deadline, lock_timeout, stale_after) if dotlock else None
        try:
            fd = os.open(mbox, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                _take_kernel_locks(fd, mbox, deadline, lock_timeout)
                try:
                    _repair_torn_tail(fd, mbox)
                    _append_locked(fd, line + body, mbox)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    fcntl.lockf(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            if ident is not None:
                _drop_dotlock(lock_path, ident)
    finally:
        in_process.release()


# ------------------------------------------------------------------------- the journal

#: How many of the payload's first bytes the journal keeps, to recognise a torn write.
_JOURNAL_HEAD = 1024
_JOURNAL = re.compile(rb"mimekit-append 1 ([0-9]{1,20}) ([0-9]{1,20}) ([A-Za-z0-9+/=]{4,2000})\n\Z")


class _Span(NamedTuple):
    """What a writer was appending: bytes ``start`` to ``end`` of the mbox, the first
    of which are ``head`` (at most :data:`_JOURNAL_HEAD`)."""

    start: int
    end: int
    head: bytes


def _journal_path(mbox: str) -> str:
    return mbox + ".mimekit-append"


def _write_journal(mbox: str, span: _Span) -> bool:
    """Record ``span`` before it is written; False when the folder cannot take the
    journal (an mbox in a folder this process cannot write: appended without one)."""
    text = (f"mimekit-append 1 {span.start} {span.end} ".encode()
            + base64.b64encode(span.head) + b"\n")
    try:
        fd = os.open(_journal_path(mbox), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return False
    try:
        os.write(fd, text)
        os.fsync(fd)  # on disk before the data: a power loss mid-write is repaired too
    finally:
        os.close(fd)
    return True


def _read_journal(mbox: str) -> _Span | None:
    try:
        with open(_journal_path(mbox), "rb") as fh:
            content = fh.read(4096)
    except OSError:
        return None
    m = _JOURNAL.match(content)
    if m is None:
        return None
    try:
        head = base64.b64decode(m.group(3), validate=True)
    except ValueError:
        return None
    return _Span(int(m.group(1)), int(m.group(2)), head)


def _drop_journal(mbox: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_journal_path(mbox))


def _append_locked(fd: int, message: bytes, mbox: str | None = None) -> None:
    """Write ``message`` (From line and quoted body) at the end of the locked mbox,
    journalled (see the module's docstring) when ``mbox`` names it."""
    size = os.fstat(fd).st_size
    lead = b""
    if size:
        # Make sure the previous message ends with a blank line.
        tail = os.pread(fd, 2, max(0, size - 2))
        lead = b"" if tail.endswith(b"\n\n") else (b"\n" if tail.endswith(b"\n") else b"\n\n")
    payload = lead + message + b"\n"
    journalled = mbox is not None and _write_journal(
        mbox, _Span(size, size + len(payload), payload[:_JOURNAL_HEAD]))
    view = memoryview(payload)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        # A full disk or an interrupt mid-write: cut the file back, so the mbox
        # never holds half a message (readers would see a broken last one).
        os.ftruncate(fd, size)
        raise
    finally:
        if journalled and mbox is not None:
            _drop_journal(mbox)


def _repair_torn_tail(fd: int, mbox: str) -> str | None:
    """Take out the half message a killed writer left at the end of the locked mbox.

    Called with every lock held, so a journal found here was left by a writer that is
    gone. When the mbox ends inside the journal's span and what follows its start is
    exactly that writer's data (the first bytes as recorded, and no other ``From `` line
    after its own, which mboxrd quoting keeps out of a body), those bytes are moved to
    ``<mbox>.torn-<time>-<pid>`` (nothing is thrown away) and the mbox is cut back.
    Anything else (the write completed, another program appended since) is left as it
    is. The journal is removed either way. Returns where the torn bytes went, or None.
    """
    span = _read_journal(mbox)
    if span is None:
        if os.path.lexists(_journal_path(mbox)):
            _drop_journal(mbox)  # unreadable: nothing can be checked against it
        return None
    try:
        return _move_torn_tail(fd, mbox, span)
    finally:
        _drop_journal(mbox)


def _move_torn_tail(fd: int, mbox: str, span: _Span) -> str | None:
    start, end = span.start, span.end
    size = os.fstat(fd).st_size
    if not start < size < end or b"From " not in span.head[:8]:
        return None
    seen = os.pread(fd, min(len(span.head), size - start), start)
    if seen != span.head[: len(seen)]:
        return None
    chunk = 1 << 20
    pos, prev = start + len(seen), seen[-6:]
    while pos < size:  # no second envelope line in the tail
        block = os.pread(fd, min(chunk, size - pos), pos)
        if not block:
            return None
        if (prev + block).find(b"\nFrom ") >= 0:
            return None
        prev, pos = block[-6:], pos + len(block)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    keep = f"{mbox}.torn-{stamp}-{os.getpid()}-{secrets.token_hex(2)}"
    out = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        pos = start
        while pos < size:
            block = os.pread(fd, min(chunk, size - pos), pos)
            if not block:
                break
            os.write(out, block)
            pos += len(block)
        os.fsync(out)
    finally:
        os.close(out)
    os.ftruncate(fd, start)
    os.fsync(fd)
    log.warning("mbox %r: took out the %d bytes of a message whose writer was killed "
                "mid-append (kept in %r)", mbox, size - start, keep)
    return keep
