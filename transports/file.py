"""File transports: one ``.eml`` per message, a Maildir, or an mbox file.

``FileTransport`` is the CLI's default (``file:./outbox``): each message is
written as exactly the bytes SMTP would transmit (CRLF line ends, no Bcc, no
dot-stuffing), with its envelope beside it in ``NAME.envelope.json``. Writes
are atomic: a temporary file in the same directory is written, fsynced and
renamed, so a reader never sees a half-written ``.eml`` even if the process
dies mid-write.

Maildir and mbox are Unix mailbox formats whose files use LF line ends, so
those two transports store the message with CRLF turned into LF (what Postfix
and every local delivery agent do); the writing itself is
:mod:`mimekit.mailbox`'s (``maildir_deliver``, ``append_mbox``).
"""

from __future__ import annotations

import codecs
import json
import os
import secrets
import sys
import tempfile
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from mimekit.transports.base import (
    Envelope,
    SendResult,
    Transport,
    accepted_result,
    prepare_wire,
)
from mimekit.transports.errors import TransportError

if TYPE_CHECKING:
    from mimekit.model import Message

__all__ = [
    "FileTransport",
    "MaildirTransport",
    "MboxTransport",
    "atomic_write",
]


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX: the directory entry lives in the directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete.

    A hidden temporary file in the same directory (so the rename cannot cross
    file systems) is written, flushed, fsynced, then ``os.replace``d onto
    ``path``; on any error the temporary file is removed and the error
    re-raised. Files are private (``0600``) by default: mail is personal data.
    ``durable=False`` skips the fsyncs (still atomic, not crash-durable); the
    caller fsyncs the directory itself when it writes several files.
    """
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


# Letters that NFKD does not decompose into ASCII, spelled as their languages do
# (German, Danish/Norwegian, Icelandic, Old English, Polish, Croatian, Turkish, Maltese).
_ASCII_LETTERS = str.maketrans({
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L",
    "ı": "i", "ħ": "h", "Ħ": "H", "ŋ": "ng", "Ŋ": "NG", "ĸ": "k", "ŧ": "t", "Ŧ": "T",
})
SLUG_CHARS = 40  # characters kept from the subject
SLUG_BYTES = 80  # and at most this many UTF-8 bytes (names stay far below NAME_MAX 255)


def _unicode_names() -> bool:
    """Whether file names may hold any Unicode letter: the file-system encoding is
    UTF-8 (Linux and macOS in practice; Windows since Python 3.6, PEP 529)."""
    return codecs.lookup(sys.getfilesystemencoding()).name == "utf-8"


def _slug(text: str | None, limit: int = SLUG_CHARS) -> str:
    """A readable, file-name-safe slug of a subject.

    Letters and digits of every script are kept (lower-cased, NFKC so look-alike
    compatibility forms such as "ﬁ" or full-width "Ａ" become plain letters), with
    their combining marks; every run of anything else (spaces, punctuation,
    symbols, dots, separators, control and bidi format characters) becomes one
    "-". So "Grüße aus Köln" gives "grüße-aus-köln" and "日本語" stays "日本語":
    dropping letters (as an ASCII-only slug must for ß, CJK, Cyrillic, Greek)
    makes the outbox unreadable for most languages, and every current file
    system and Python (whose file names are Unicode) stores these names. Where
    the file-system encoding is not UTF-8 the slug is ASCII instead: NFKD
    folding plus the spellings in ``_ASCII_LETTERS`` (ß -> ss, ø -> o, ...).

    Safe by construction: no "/", "\\", ".", control or format characters, so no
    traversal, no hidden file and no spoofed extension; at most ``limit``
    characters and ``SLUG_BYTES`` bytes; "message" when nothing is left.
    """
    if not text:
        return "message"
    if _unicode_names():
        folded = unicodedata.normalize("NFKC", text).lower()
    else:
        ascii_text = unicodedata.normalize("NFKD", text.translate(_ASCII_LETTERS))
        folded = ascii_text.encode("ascii", "ignore").decode("ascii").lower()
    pieces: list[str] = []
    chars = size = 0
    dash = False  # a run of dropped characters since the last kept one
    for ch in folded:
        kind = unicodedata.category(ch)[0]
        # Marks only right after a kept letter (no mark starts a word or follows "-").
        if not (kind in "LN" or (kind == "M" and pieces and not dash)):
            dash = bool(pieces)
            continue
        piece = "-" + ch if dash else ch
        width = len(piece.encode("utf-8"))
        if chars + len(piece) > limit or size + width > SLUG_BYTES:
            break
        pieces.append(piece)
        chars += len(piece)
        size += width
        dash = False
    return "".join(pieces) or "message"


def _subject(message: Message) -> str | None:
    value = message.headers.get("subject")
    return value if isinstance(value, str) else None


def _to_lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


class FileTransport(Transport):
    """Write each message to ``DIRECTORY/<UTC time>-<random>-<slug>.eml``.

    The ``.eml`` holds exactly the bytes SMTP would send (CRLF, Bcc removed,
    no dot-stuffing). ``<same name>.envelope.json`` holds the envelope
    (``mail_from``, ``rcpt_to``) and ``message_id``; it is written first, so
    once an ``.eml`` is visible its envelope is too. The directory is created
    if missing. Every recipient is reported accepted (250); ``queue_id`` is the
    ``.eml`` file name. ``durable=False`` skips the fsyncs (writes stay atomic
    but may be lost on power failure): for tests and throwaway outboxes.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, create: bool = True, durable: bool = True
    ) -> None:
        self.directory = Path(directory)
        self._create = create
        self.durable = durable

    def __repr__(self) -> str:
        return f"FileTransport({str(self.directory)!r})"

    def _ensure_dir(self) -> None:
        if self.directory.is_dir():
            return
        if not self._create:
            raise TransportError(f"outbox directory {str(self.directory)!r} does not exist")
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)  # mail is private
        except OSError as exc:
            raise TransportError(
                f"cannot create outbox directory {str(self.directory)!r}: {exc}"
            ) from exc

    def _unique_name(self, subject: str | None) -> str:
        now = datetime.now(timezone.utc)
        stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond:06d}Z"
        for _ in range(100):
            name = f"{stamp}-{secrets.token_hex(6)}-{_slug(subject)}.eml"
            if not (self.directory / name).exists():
                return name
        raise TransportError("could not find an unused file name")  # pragma: no cover

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Write the message (see the class docstring)."""
        parsed, wire, env, message_id = prepare_wire(message, envelope)
        self._ensure_dir()
        subject = _subject(parsed)
        name = self._unique_name(subject)
        eml = self.directory / name
        meta = self.directory / (name[: -len(".eml")] + ".envelope.json")
        record = {**env.to_dict(), "message_id": message_id}
        try:
            meta_bytes = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
            atomic_write(meta, meta_bytes, durable=self.durable)
            atomic_write(eml, wire, durable=self.durable)
        except OSError as exc:
            try:
                meta.unlink()
            except OSError:
                pass
            raise TransportError(f"cannot write {str(eml)!r}: {exc}") from exc
        if self.durable:
            _fsync_dir(self.directory)  # both renames reach the disk
        return accepted_result(env, message_id, queue_id=name, text=f"written to {name}")


class MaildirTransport(Transport):
    """Deliver into a Maildir (``tmp/`` -> ``new/``), the qmail/Dovecot layout.

    Delivery is :func:`mimekit.mailbox.maildir_deliver`: a unique name is
    written in ``tmp/``, fsynced and moved into ``new/``, so readers never see
    a partial message. Line ends are LF, as local delivery agents store them.
    The ``tmp``, ``new`` and ``cur`` subdirectories are created if missing.
    ``queue_id`` is the file name in ``new/``.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"MaildirTransport({str(self.directory)!r})"

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Deliver the message to ``new/`` (see the class docstring)."""
        from mimekit.mailbox import maildir_deliver

        _, wire, env, message_id = prepare_wire(message, envelope)
        try:
            final = maildir_deliver(self.directory, _to_lf(wire))
        except OSError as exc:
            raise TransportError(
                f"cannot deliver to Maildir {str(self.directory)!r}: {exc}"
            ) from exc
        name = os.path.basename(final)
        return accepted_result(env, message_id, queue_id=name, text="delivered to Maildir")


class MboxTransport(Transport):
    """Append messages to an mbox file (mboxrd flavour, RFC 4155).

    Appending is :func:`mimekit.mailbox.append_mbox`: each message starts with
    ``From <envelope sender> <asctime date>``, body lines matching ``^>*From ``
    get one more ``>``, a blank line ends the message, and the file is locked
    with ``flock`` while appending, so concurrent writers (threads or
    processes) never interleave. Line ends are LF. ``queue_id`` is the file
    name.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"MboxTransport({str(self.path)!r})"

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Append the message (see the class docstring)."""
        from mimekit.mailbox import append_mbox

        _, wire, env, message_id = prepare_wire(message, envelope)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            append_mbox(self.path, _to_lf(wire), env.mail_from or None)
        except (OSError, ValueError) as exc:  # ValueError: a sender the From line cannot carry
            raise TransportError(f"cannot append to mbox {str(self.path)!r}: {exc}") from exc
        return accepted_result(env, message_id, queue_id=self.path.name, text="appended to mbox")
