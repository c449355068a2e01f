"""mbox and Maildir: reading them into messages, and writing them for the file transport.

mbox (RFC 4155): messages follow a ``From `` envelope line at a line start. Reading
splits on those lines, honours ``Content-Length`` when it points exactly at the next
``From `` line (mboxcl2), and otherwise undoes mboxrd quoting (``>From `` -> ``From ``,
``>>From `` -> ``>From ``, which also reads mboxo correctly for the single level).
Writing quotes mboxrd-style under an exclusive ``fcntl`` lock.

Maildir (https://cr.yp.to/proto/maildir.html): one file per message in ``new/`` or
``cur/``; delivery writes to ``tmp/`` with a unique name, fsyncs, then moves the file
into ``new/`` atomically (a reader never sees a partial message).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Iterator

from mimekit.errors import HeaderInjectionError
from mimekit.model import Message
from mimekit.parser import parse, parse_file
from mimekit.policy import DEFAULT, Policy

__all__ = [
    "append_mbox",
    "iter_mbox_raw",
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
    """Parse every message in a Maildir's ``cur/`` and ``new/`` (sorted by file name)."""
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


def append_mbox(path: str | os.PathLike[str], data: bytes, envelope_from: str | None = None) -> None:
    """Append one message to an mbox file (mboxrd quoting), under an exclusive lock.

    The ``From `` line carries ``envelope_from`` (``MAILER-DAEMON`` when None) and the
    current UTC time; the message is followed by a blank line (RFC 4155).
    """
    import fcntl

    line = _envelope_line(envelope_from)
    body = mbox_escape(data)
    if not body.endswith(b"\n"):
        body += b"\n"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            lead = b""
            if size:
                # Make sure the previous message ends with a blank line.
                tail = os.pread(fd, 2, max(0, size - 2))
                lead = b"" if tail.endswith(b"\n\n") else (b"\n" if tail.endswith(b"\n") else b"\n\n")
            payload = lead + line + body + b"\n"
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
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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


def maildir_deliver(directory: str | os.PathLike[str], data: bytes) -> str:
    """Deliver ``data`` into the Maildir at ``directory`` (created if missing) and return
    the path of the new file in ``new/``: written to ``tmp/``, fsynced, then linked into
    ``new/`` atomically."""
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
    final = os.path.join(directory, "new", name)
    try:
        os.link(tmp, final)  # never overwrites an existing file
        os.unlink(tmp)
    except OSError:
        os.replace(tmp, final)
    dir_fd = os.open(os.path.join(directory, "new"), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final
