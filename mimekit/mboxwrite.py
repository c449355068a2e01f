"""Appending to an mbox the way mail programs do: under their locks, never half a message.

Other programs that write an mbox (Postfix local(8), procmail, mutt, Dovecot) use one of
three locks: a ``<mbox>.lock`` dot-lock, an ``fcntl`` record lock or an ``flock`` lock.
:func:`append_mbox` takes all three, each waited for a bounded time, then writes the
message in mboxrd form (RFC 4155) and fsyncs it.

A write that fails (a full disk, an interrupt) is cut back at once. A writer that is
killed mid-write (SIGKILL, power loss) cannot cut anything back, so before writing it
records what it is about to write in a journal beside the mbox
(``<mbox>.mimekit-append``: where the message starts and ends, its first bytes and a
CRC-32 of each 64 KiB block), removed once the data is on disk. The next
:func:`append_mbox` finds a journal left behind while it holds the locks (so its
writer is gone: a live writer holds them all the time it writes), and moves the torn
tail out of the mbox, into ``<mbox>.torn-<time>-<pid>``, when every byte after the
span's start is provably that writer's. Anything else there (another program
appended since) is left alone.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import logging
import os
import re
import secrets
import stat
import threading
import time
import zlib
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
) -> tuple[int, int, int]:
    """Create ``<mbox>.lock`` with ``O_CREAT|O_EXCL`` (the dot-lock of Postfix local(8),
    procmail and mutt; exclusive creation works on local file systems and NFSv3+),
    waiting while another program holds it. Returns the lock's (device, inode,
    mtime in ns): an inode number alone is soon reused for the next writer's lock."""
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
                "a directory you cannot write needs dotlock=False (mbox:FILE?dotlock=0 "
                "in a transport URL)",
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
            return (st.st_dev, st.st_ino, st.st_mtime_ns)
        if not _pause(deadline, attempt):
            raise _lock_error(mbox, "dotlock", timeout, f"dot-lock {lock_path!r} exists")
        attempt += 1


def _drop_dotlock(lock_path: str, ident: tuple[int, int, int]) -> None:
    """Remove our dot-lock, unless it is no longer ours (broken as stale and retaken,
    perhaps under the same inode number)."""
    try:
        st = os.stat(lock_path)
        if (st.st_dev, st.st_ino, st.st_mtime_ns) == ident:
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

#: The journal keeps a CRC-32 of each block of this size of the payload, so every
#: byte of a torn tail can be checked to be the dead writer's (its last, partial block
#: must hold no "From " at all: nothing of another program's message).
_BLOCK = 64 * 1024
#: A journal larger than this is not ours (a 1 GB message takes 16,384 checksums).
_JOURNAL_MAX = 256 * 1024
#: ... and the payload's first bytes as they are, to recognise a tail shorter than a block.
_HEAD = 1024
_JOURNAL = re.compile(rb"mimekit-append 2 ([0-9]{1,20}) ([0-9]{1,20}) ([A-Za-z0-9+/=]{4,1400})"
                      rb"((?: [0-9a-f]{8})*)\n\Z")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class _Span(NamedTuple):
    """What a writer was appending: bytes ``start`` to ``end`` of the mbox, the first
    of them (up to :data:`_HEAD`) and the CRC-32 of each :data:`_BLOCK` of them (the
    last block may be shorter)."""

    start: int
    end: int
    head: bytes
    crcs: tuple[int, ...]


def _journal_path(mbox: str) -> str:
    return mbox + ".mimekit-append"


def _span_of(start: int, payload: bytes) -> _Span:
    view = memoryview(payload)
    crcs = tuple(zlib.crc32(view[i : i + _BLOCK]) for i in range(0, len(payload), _BLOCK))
    return _Span(start, start + len(payload), payload[:_HEAD], crcs)


def _write_journal(mbox: str, span: _Span) -> bool:
    """Record ``span`` before it is written; False when the folder cannot take the
    journal (an mbox in a folder this process cannot write: appended without one).
    Created anew with ``O_EXCL | O_NOFOLLOW``: a link planted under its name by
    someone who can write the folder is never followed (it would be truncated and
    overwritten)."""
    text = (f"mimekit-append 2 {span.start} {span.end} ".encode()
            + base64.b64encode(span.head) + b"".join(b" %08x" % c for c in span.crcs)
            + b"\n")
    path = _journal_path(mbox)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
            break
        except FileExistsError:
            if not _drop_journal(mbox):
                return False
        except OSError:
            return False
    else:
        return False
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)  # on disk before the data: a power loss mid-write is repaired too
    except OSError:
        os.close(fd)
        _drop_journal(mbox)
        return False
    os.close(fd)
    return True


def _read_journal(mbox: str) -> _Span | None:
    """The journal's span, or None when there is none or it is not one of ours (not
    a regular file with one link, too large, or not in the journal's form)."""
    try:
        fd = os.open(_journal_path(mbox), os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > _JOURNAL_MAX:
            return None
        content = os.read(fd, _JOURNAL_MAX + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    m = _JOURNAL.match(content)
    if m is None:
        return None
    try:
        head = base64.b64decode(m.group(3), validate=True)
    except ValueError:
        return None
    crcs = tuple(int(c, 16) for c in m.group(4).split())
    start, end = int(m.group(1)), int(m.group(2))
    if len(crcs) != -(-(end - start) // _BLOCK) or not head.lstrip(b"\n").startswith(b"From "):
        return None
    return _Span(start, end, head, crcs)


def _drop_journal(mbox: str) -> bool:
    """Remove the journal; False (logged) when it cannot be removed, e.g. the folder
    became read-only, or it belongs to another user in a sticky folder: the append
    then goes on without one rather than fail every time."""
    try:
        os.unlink(_journal_path(mbox))
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("mbox %r: cannot remove %r (%s); appending without a journal",
                    mbox, _journal_path(mbox), exc.strerror)
        return False
    return True


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
    journalled = mbox is not None and _write_journal(mbox, _span_of(size, payload))
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
    gone. When the mbox ends inside the journal's span and every byte after its start
    is that writer's (each whole block matches its recorded checksum; the last, partial
    one holds no ``From `` at all, so no other program's message), those bytes are
    moved to ``<mbox>.torn-<time>-<pid>`` (nothing is thrown away) and the mbox is cut
    back. Anything else (the write completed, another program appended since) is left
    as it is. The journal is removed once that is decided; when the move fails (a full
    disk) it stays, the error is raised and nothing is appended, so the next append
    tries again. Returns where the torn bytes went, or None.
    """
    span = _read_journal(mbox)
    if span is None:
        if os.path.lexists(_journal_path(mbox)):
            _drop_journal(mbox)  # not ours, or unreadable: nothing to check against
        return None
    kept = _move_torn_tail(fd, mbox, span)  # raises (journal kept) when it cannot
    _drop_journal(mbox)
    return kept


def _is_torn_tail(fd: int, span: _Span, size: int) -> bool:
    """Whether bytes ``span.start`` to ``size`` are exactly the start of that span:
    the recorded first bytes, each whole block's checksum, and in the last, partial
    block (which no checksum covers) no ``From `` at all past the recorded first bytes,
    so no other program's message (one that does not start on a new line glues its
    envelope line to the torn bytes)."""
    seen = os.pread(fd, min(len(span.head), size - span.start), span.start)
    if seen != span.head[: len(seen)]:
        return False
    for n, crc in enumerate(span.crcs):
        lo = span.start + n * _BLOCK
        if lo >= size:
            return True
        hi = min(lo + _BLOCK, span.end)
        if hi <= size:
            if zlib.crc32(os.pread(fd, hi - lo, lo)) != crc:
                return False
            continue
        checked = max(lo, span.start + len(seen) - 4)  # a "From " across the head's end
        partial = os.pread(fd, size - checked, checked)
        return len(partial) == size - checked and b"From " not in partial
    return False


def _move_torn_tail(fd: int, mbox: str, span: _Span) -> str | None:
    start, end = span.start, span.end
    size = os.fstat(fd).st_size
    if not start < size < end or not _is_torn_tail(fd, span, size):
        return None
    chunk = 1 << 20
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    keep = f"{mbox}.torn-{stamp}-{os.getpid()}-{secrets.token_hex(2)}"
    out = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        pos = start
        while pos < size:
            block = os.pread(fd, min(chunk, size - pos), pos)
            if not block:
                raise OSError(errno.EIO, "the mbox got shorter while it was read")
            view = memoryview(block)
            while view:  # a short write (a nearly full disk) writes the rest next
                view = view[os.write(out, view):]
            pos += len(block)
        os.fsync(out)
    except BaseException:
        os.close(out)
        with contextlib.suppress(OSError):
            os.unlink(keep)  # a partial copy is no copy: the torn bytes stay in the mbox
        raise
    os.close(out)
    os.ftruncate(fd, start)
    os.fsync(fd)
    log.warning("mbox %r: took out the %d bytes of a message whose writer was killed "
                "mid-append (kept in %r)", mbox, size - start, keep)
    return keep
