"""mbox and Maildir: reading them into messages, and writing them for the file transport.

mbox (RFC 4155): messages follow a ``From `` envelope line at a line start. Reading
splits on those lines, honours ``Content-Length`` when it points exactly at the next
``From `` line (mboxcl2), and otherwise undoes mboxrd quoting (``>From `` -> ``From ``,
``>>From `` -> ``>From ``, which also reads mboxo correctly for the single level).
Writing quotes mboxrd-style while holding the three locks other mail programs use (a
``<mbox>.lock`` dot-lock, an ``fcntl`` record lock and an ``flock`` lock), each waited
for at most a bounded time.

Maildir (https://cr.yp.to/proto/maildir.html): one file per message in ``new/`` or
``cur/``; delivery writes to ``tmp/`` with a unique name, fsyncs, then moves the file
into ``new/`` atomically (a reader never sees a partial message) with ``link(2)``, which
never replaces an existing file.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator

from mimekit.errors import HeaderInjectionError, MimekitError
from mimekit.model import Message
from mimekit.parser import parse, parse_file
from mimekit.policy import DEFAULT, Policy

__all__ = [
    "MailboxLockError",
    "append_mbox",
    "iter_mbox_raw",
    "link_no_replace",
    "maildir_deliver",
    "mbox_escape",
    "mbox_unescape",
    "read_maildir",
    "read_mbox",
]

# RFC 4155 §2: "From " sender SP date (asctime). Readers in the wild also see "From -".
_ENVELOPE = re.compile(rb"^From [^ \t\r\n]+([^\n]*)$", re.MULTILINE)
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_TIME = re.compile(rb"\d\d?:\d\d")
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_NEEDS_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)
_CONTENT_LENGTH = re.compile(rb"(?im)^Content-Length:[ \t]*([0-9]{1,15})[ \t]*\r?$")
_BLANK = re.compile(rb"\r?\n\r?\n")

_counter_lock = threading.Lock()
_counter = 0


def mbox_escape(data: bytes) -> bytes:
    """mboxrd quoting: one more ``>`` before every line that matches ``>*From ``."""
    return _NEEDS_QUOTE.sub(rb">\1", data)


def mbox_unescape(data: bytes) -> bytes:
    """Undo mboxrd quoting: one ``>`` less before every line that matches ``>+From ``."""
    return _QUOTED_FROM.sub(rb"\1", data)


def _content_length_end(data: bytes, start: int) -> int | None:
    """End of the message at ``start`` per its Content-Length, if that lands exactly on
    the next ``From `` line (or the end of the data), else None."""
    blank = _BLANK.search(data, start)
    if blank is None:
        return None
    m = _CONTENT_LENGTH.search(data, start, blank.start() + 1)
    if m is None:
        return None
    stop = blank.end() + int(m.group(1))
    if stop > len(data):
        return None
    for candidate in (stop, stop + 1):
        if candidate == len(data) or (
            data.startswith(b"From ", candidate) and data[candidate - 1 : candidate] == b"\n"
        ):
            return candidate
    return None


def _is_envelope(data: bytes, m: re.Match[bytes], offset: int) -> bool:
    """Whether a ``From `` line starts a message: at the start; or carrying a date with a
    time (RFC 4155 §2); or bare (``From -``) and followed by a header field line. An
    unquoted body line such as ``From Russia with love`` is none of these."""
    start = m.start()
    if start == offset:
        return True
    if _TIME.search(m.group(1)):
        return True
    if m.group(1).strip():
        return False
    return _FIELD_LINE.match(data, m.end() + 1) is not None


def iter_mbox_raw(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(envelope ``From `` line, message bytes with quoting undone) for each message."""
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
        data = data[3:]
    offset = 0
    starts = [m.start() for m in _ENVELOPE.finditer(data, offset) if _is_envelope(data, m, offset)]
    if not starts:
        if data.strip():
            yield b"", data
        return
    if data[offset : starts[0]].strip():
        # Data before the first envelope line: still a message, leniently.
        yield b"", data[offset : starts[0]]
    index = 0
    pos = starts[0]
    while pos < len(data):
        nl = data.find(b"\n", pos)
        body_start = len(data) if nl < 0 else nl + 1
        envelope = data[pos:body_start]
        # The next envelope line after this one.
        while index < len(starts) and starts[index] <= pos:
            index += 1
        natural = starts[index] if index < len(starts) else len(data)
        by_length = _content_length_end(data, body_start)
        if by_length is not None and by_length > natural:
            # mboxcl2: the length skips unquoted "From " lines inside the message.
            stop, quoted = by_length, False
        else:
            stop, quoted = natural, True
        raw = data[body_start:stop]
        # The blank line the writer put before the next envelope line is not message data.
        if raw.endswith(b"\r\n\r\n"):
            raw = raw[:-2]
        elif raw.endswith(b"\n\n"):
            raw = raw[:-1]
        yield envelope, mbox_unescape(raw) if quoted else raw
        pos = stop
        while pos < len(data) and (index >= len(starts) or pos < starts[index]) and not (
            data.startswith(b"From ", pos)
        ):
            # Content-Length pointed one line early (blank line): skip to the envelope.
            nxt = data.find(b"\n", pos)
            pos = len(data) if nxt < 0 else nxt + 1


def read_mbox(source: str | os.PathLike[str] | bytes, policy: Policy = DEFAULT) -> Iterator[Message]:
    """Parse every message of an mbox file (a path) or of mbox bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        with open(source, "rb") as fh:
            data = fh.read()
    for _envelope, raw in iter_mbox_raw(data):
        yield parse(raw, policy)


def read_maildir(path: str | os.PathLike[str], policy: Policy = DEFAULT) -> Iterator[Message]:
    """Parse every message in a Maildir's ``cur/`` and ``new/`` (sorted by file name).

    A folder with none of ``cur/``, ``new/`` and ``tmp/`` is not a Maildir: that raises
    :class:`NotADirectoryError` (as ``mimekit inspect`` reports it) rather than reading
    as an empty mailbox, which would hide a wrong path.
    """
    if not any(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new", "tmp")):
        raise NotADirectoryError(f"not a Maildir (no cur/, new/ or tmp/): {os.fspath(path)!r}")
    for sub in ("cur", "new"):
        folder = os.path.join(path, sub)
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            continue
        for name in names:
            if name.startswith("."):
                continue
            full = os.path.join(folder, name)
            if os.path.isfile(full):
                yield parse_file(full, policy)


def _envelope_line(envelope_from: str | None) -> bytes:
    sender = envelope_from or "MAILER-DAEMON"
    if any(ch in sender for ch in "\r\n\x00"):
        raise HeaderInjectionError("CR, LF or NUL in the mbox envelope sender")
    if any(ch.isspace() for ch in sender):
        raise ValueError(f"white space in the mbox envelope sender {sender!r}")
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    return f"From {sender} {stamp}\n".encode()


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


def _node() -> str:
    """This machine's node name, as written into our dot-locks (no DNS lookup)."""
    uname = getattr(os, "uname", None)
    return (uname().nodename if uname is not None else "") or "localhost"


# "PID NODE", then " START END" once the append's span is known (see _note_span).
_OUR_DOTLOCK = re.compile(rb"([0-9]{1,10}) (\S{1,255})(?: ([0-9]{1,20}) ([0-9]{1,20}))?\n\Z")


def _dead_writer_span(lock_path: str) -> tuple[int, int] | None | bool:
    """What a dot-lock says of its writer: False unless it was written by this module on
    this machine (``PID NODE``) for a process that no longer exists (a ``mimekit``
    killed while appending); else the ``(start, end)`` byte span that writer was
    appending to the mbox, or None when it died before it knew the span. A lock from
    another program, another machine (an NFS-shared mbox) or a live (or unknown)
    process is left to the age rule. A live writer also holds the fcntl and flock
    locks, which are still waited for."""
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
        return (int(m.group(3)), int(m.group(4))) if m.group(3) else None
    except OSError:  # PermissionError: it exists (another user's process)
        return False
    return False


def _break_stale_dotlock(lock_path: str, stale_after: float) -> tuple[bool, tuple[int, int] | None]:
    """Remove ``lock_path`` if it is older than ``stale_after`` seconds, or if it is
    one of ours whose process is gone (:func:`_dead_writer_span`): its writer died.
    Returns whether the lock is gone now, and the span that a dead writer of ours was
    appending (for :func:`_repair_torn_tail`). The file is stat'ed again just before the
    unlink and left alone if it changed meanwhile (another writer broke it and took a
    fresh one)."""
    try:
        st = os.stat(lock_path)
    except FileNotFoundError:
        return True, None
    dead = _dead_writer_span(lock_path)
    if time.time() - st.st_mtime <= stale_after and dead is False:
        return False, None
    try:
        again = os.stat(lock_path)
        if (again.st_ino, again.st_mtime_ns) != (st.st_ino, st.st_mtime_ns):
            return False, None
        os.unlink(lock_path)
    except FileNotFoundError:
        pass
    return True, dead if isinstance(dead, tuple) else None


def _take_dotlock(
    lock_path: str, mbox: str, deadline: float, timeout: float, stale_after: float
) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """Create ``<mbox>.lock`` with ``O_CREAT|O_EXCL`` (the dot-lock of Postfix local(8),
    procmail and mutt; exclusive creation works on local file systems and NFSv3+),
    waiting while another program holds it. Returns the lock's (device, inode), and the
    span a dead writer of ours left unfinished when its lock was broken on the way."""
    attempt = 0
    torn: tuple[int, int] | None = None
    while True:
        try:
            fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            gone, span = _break_stale_dotlock(lock_path, stale_after)
            torn = span or torn
            if gone:
                continue
        except OSError as exc:  # e.g. no write permission on the mbox's directory
            raise OSError(
                exc.errno,
                f"cannot create the dot-lock {lock_path!r} ({exc.strerror}); an mbox in "
                "a directory you cannot write needs dotlock=False",
            ) from None
        else:
            try:
                # "PID NODE": for people, and for _dead_writer_span after a crash
                os.write(fd, _lock_text().encode("utf-8", "replace"))
                st = os.fstat(fd)
            except BaseException:
                os.close(fd)
                os.unlink(lock_path)
                raise
            os.close(fd)
            return (st.st_dev, st.st_ino), torn
        if not _pause(deadline, attempt):
            raise _lock_error(mbox, "dotlock", timeout, f"dot-lock {lock_path!r} exists")
        attempt += 1


def _lock_text(span: tuple[int, int] | None = None) -> str:
    extra = "" if span is None else f" {span[0]} {span[1]}"
    return f"{os.getpid()} {_node()}{extra}\n"


def _note_span(lock_path: str, ident: tuple[int, int], start: int, end: int) -> None:
    """Write the span about to be appended into our dot-lock (``PID NODE START END``),
    so that if this process dies mid-write, the next writer can take the torn tail out."""
    try:
        fd = os.open(lock_path, os.O_WRONLY)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == ident:
            os.ftruncate(fd, 0)
            os.write(fd, _lock_text((start, end)).encode("utf-8", "replace"))
    finally:
        os.close(fd)


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
    with _counter_lock:
        return _path_locks.setdefault(key, threading.Lock())


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
    on every path out (success, error, interrupt). A write that fails is cut back; a
    writer killed mid-write (SIGKILL, power loss) leaves its span in the dot-lock, and
    the next writer that breaks that lock moves the half message out of the mbox into
    ``<path>.torn-<time>-<pid>`` (see :func:`_repair_torn_tail`). Threads of one process take turns
    (POSIX record locks belong to the process), but another part of this process that
    opens and closes the mbox while a message is appended drops the ``fcntl`` lock.
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
        ident, torn = (_take_dotlock(lock_path, mbox, deadline, lock_timeout, stale_after)
                       if dotlock else (None, None))
        try:
            fd = os.open(mbox, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                _take_kernel_locks(fd, mbox, deadline, lock_timeout)
                try:
                    if torn is not None:
                        _repair_torn_tail(fd, mbox, *torn)
                    note = None
                    if ident is not None:
                        lock_ident = ident

                        def note(start: int, end: int) -> None:
                            _note_span(lock_path, lock_ident, start, end)

                    _append_locked(fd, line + body, note)
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


def _append_locked(fd: int, message: bytes,
                   note: Callable[[int, int], None] | None = None) -> None:
    """Write ``message`` (From line and quoted body) at the end of the locked mbox;
    ``note(start, end)`` is told the span first (it goes into the dot-lock)."""
    size = os.fstat(fd).st_size
    lead = b""
    if size:
        # Make sure the previous message ends with a blank line.
        tail = os.pread(fd, 2, max(0, size - 2))
        lead = b"" if tail.endswith(b"\n\n") else (b"\n" if tail.endswith(b"\n") else b"\n\n")
    payload = lead + message + b"\n"
    if note is not None:
        note(size, size + len(payload))
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


_TORN_START = re.compile(rb"\n{0,2}From ")


def _repair_torn_tail(fd: int, mbox: str, start: int, end: int) -> str | None:
    """Take out the half message a killed writer of ours left at the end of the mbox.

    Its dot-lock said it was writing bytes ``start`` to ``end``. When the mbox now ends
    between the two, and what follows ``start`` is that one message (a ``From `` line
    first, and no other ``From `` line, which mboxrd quoting keeps out of a body), those
    bytes are the torn write: they are moved to ``<mbox>.torn-<time>-<pid>`` (nothing
    is thrown away) and the mbox is cut back to ``start``. Anything else (the write
    completed, or another program appended since) is left as it is. Returns the name
    of the file the torn bytes went to, or None.
    """
    size = os.fstat(fd).st_size
    if not start < size < end:
        return None
    chunk = 1 << 20
    head = os.pread(fd, min(chunk, size - start), start)
    m = _TORN_START.match(head)
    if m is None:
        return None
    pos, prev = start + m.end(), b""
    while pos < size:  # no second envelope line in the tail
        block = os.pread(fd, min(chunk, size - pos), pos)
        if not block:
            return None
        if (prev + block).find(b"\nFrom ") >= 0:
            return None
        prev, pos = block[-6:], pos + len(block)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    keep = f"{mbox}.torn-{stamp}-{os.getpid()}"
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
    import logging

    logging.getLogger("mimekit.mailbox").warning(
        "mbox %r: took out the %d bytes of a message whose writer was killed mid-append "
        "(kept in %r)", mbox, size - start, keep)
    return keep


def _unique_name() -> str:
    global _counter
    with _counter_lock:
        _counter += 1
        count = _counter
    now = time.time()
    seconds = int(now)
    micros = int((now - seconds) * 1_000_000)
    # The local node name (no DNS lookup; no socket import in the core package).
    host = os.uname().nodename.replace("/", r"\057").replace(":", r"\072") or "localhost"
    return f"{seconds}.M{micros}P{os.getpid()}Q{count}R{secrets.token_hex(8)}.{host}"


# link(2) errors that mean "no hard links on this file system" (FAT/exFAT, some FUSE,
# SMB and Android storage): only then is a rename used instead.
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS,
                       errno.EINVAL, errno.EXDEV})


def link_no_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` to ``dst`` atomically, never replacing an existing ``dst``.

    ``link(2)`` then unlinking ``src`` (the Maildir delivery method): ``link`` fails with
    :class:`FileExistsError` when ``dst`` exists, where ``rename``/``os.replace`` would
    silently overwrite it. Only where the file system has no hard links (the error
    says so) is ``os.rename`` used (on Windows it refuses an existing ``dst``; on POSIX
    ``dst`` is checked first, leaving a narrow race on such file systems only). A
    ``src`` that cannot be removed after a successful link is left behind (the
    message is delivered; the temporary name is junk, as in Maildir ``tmp/``).
    """
    link = getattr(os, "link", None)
    try:
        if link is None:
            raise OSError(errno.ENOSYS, "no os.link on this platform")
        link(src, dst)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.name != "nt" and os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(dst)) from None
        os.rename(src, dst)
        return
    try:
        os.unlink(src)
    except OSError:
        pass


def maildir_deliver(directory: str | os.PathLike[str], data: bytes) -> str:
    """Deliver ``data`` into the Maildir at ``directory`` (created if missing) and return
    the path of the new file in ``new/``: written to ``tmp/``, fsynced, then linked into
    ``new/`` atomically; a name already taken in ``new/`` is never overwritten (a new
    unique name is tried instead)."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(directory, sub), mode=0o700, exist_ok=True)
    while True:
        name = _unique_name()
        tmp = os.path.join(directory, "tmp", name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        break
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        for _ in range(100):
            final = os.path.join(directory, "new", name)
            try:
                link_no_replace(tmp, final)
                break
            except FileExistsError:
                name = _unique_name()
        else:  # pragma: no cover - 100 unique names all taken
            raise FileExistsError(errno.EEXIST, "no unused file name in new/", directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(os.path.join(directory, "new"), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final
