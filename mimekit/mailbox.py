"""mbox and Maildir: reading them into messages, and writing them for the file transport.

mbox (RFC 4155): messages follow a ``From `` envelope line at a line start. Reading
splits on those lines, honours ``Content-Length`` when it points exactly at the next
``From `` line (mboxcl2), and otherwise undoes mboxrd quoting (``>From `` -> ``From ``,
``>>From `` -> ``>From ``, which also reads mboxo correctly for the single level).
Writing (:mod:`mimekit.mboxwrite`, re-exported here) quotes mboxrd-style while holding
the three locks other mail programs use (a ``<mbox>.lock`` dot-lock, an ``fcntl``
record lock and an ``flock`` lock), each waited for at most a bounded time, and never
leaves half a message.

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
from collections.abc import Iterator

from mimekit.mboxwrite import (
    LOCK_TIMEOUT,
    STALE_DOTLOCK,
    MailboxLockError,
    append_mbox,
    mbox_escape,
)
from mimekit.model import Message
from mimekit.parser import parse, parse_file
from mimekit.policy import DEFAULT, Policy

__all__ = [
    "LOCK_TIMEOUT",
    "STALE_DOTLOCK",
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
_CONTENT_LENGTH = re.compile(rb"(?im)^Content-Length:[ \t]*([0-9]{1,15})[ \t]*\r?$")
_BLANK = re.compile(rb"\r?\n\r?\n")

_counter_lock = threading.Lock()
_counter = 0


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
