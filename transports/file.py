"""File transports: one ``.eml`` per message, a Maildir, or an mbox file.

``FileTransport`` is the CLI's default (``file:./outbox``): each message is
written as exactly the bytes SMTP would transmit (CRLF line ends, no Bcc, no
dot-stuffing), with its envelope beside it in ``NAME.envelope.json``. Writes
are atomic: a temporary file in the same directory is written, fsynced and
hard-linked to its final name (which never replaces an existing file), so a
reader never sees a half-written ``.eml`` even if the process dies mid-write.

Maildir and mbox are Unix mailbox formats whose files use LF line ends, so
those two transports store the message with CRLF turned into LF (what Postfix
and every local delivery agent do); the writing itself is
:mod:`mimekit.mailbox`'s (``maildir_deliver``, ``append_mbox``). They record
the envelope the way a delivering MTA does, in header fields on top of the
message (``Return-Path:`` and one ``X-Original-To:`` per recipient, see
:func:`delivery_headers`), so Bcc recipients are not lost; each transport's
``read()`` gives the envelope back (:func:`split_delivery_headers`).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import secrets
import sys
import tempfile
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from mimekit.transports.base import (
    Envelope,
    SendResult,
    Transport,
    accepted_result,
    check_message_type,
    prepare_wire,
)
from mimekit.transports.errors import InvalidEnvelope, TransportError

if TYPE_CHECKING:
    from mimekit.model import Message

__all__ = [
    "FileTransport",
    "MaildirTransport",
    "MboxTransport",
    "StoredMessage",
    "atomic_write",
    "delivery_headers",
    "split_delivery_headers",
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


def ensure_folder(path: Path, *, create: bool = True, what: str = "outbox") -> None:
    """Make sure ``path`` is a folder (created with its parents, mode 0700: mail is
    private, when ``create``), or raise :class:`TransportError` saying what is wrong:
    "is not a folder" for a file or dangling link there, "does not exist", or why it
    cannot be created. Safe when several processes create the same folder at once:
    the final ``is_dir()`` decides, not a look before ``mkdir``."""
    if path.is_dir():
        return
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:
            pass  # something that is not a folder is there (said below)
        except OSError as exc:
            raise TransportError(f"cannot create {what} directory {str(path)!r}: {exc}") from exc
    if path.is_dir():
        return
    if path.exists() or path.is_symlink():
        # A file (or a dangling link) where the folder should be: say so, rather
        # than mkdir's "File exists", which reads as if the folder were fine.
        raise TransportError(f"{what} {str(path)!r} is not a folder")
    raise TransportError(f"{what} directory {str(path)!r} does not exist")


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent or complete, and
    never replace a file that is already there.

    A hidden temporary file in the same directory (so the link cannot cross file
    systems) is written, flushed, fsynced, then hard-linked to ``path`` and removed
    (:func:`mimekit.mailbox.link_no_replace`, the Maildir delivery method): if
    ``path`` exists, :class:`FileExistsError` is raised and the existing file is
    untouched, so a caller that picked a "unique" name retries with another instead
    of overwriting a message. Where the file system has no hard links a rename is
    used instead. On any error the temporary file is removed and the error
    re-raised. Files are private (``0600``) by default: mail is personal data.
    ``durable=False`` skips the fsyncs (still atomic, not crash-durable); the
    caller fsyncs the directory itself when it writes several files.
    """
    from mimekit.mailbox import link_no_replace

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
        link_no_replace(tmp, path)
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


# Characters that may not stand in a header field value written here: C0 controls
# (CR and LF above all: they would end the field and start another, RFC 5322 §2.2),
# DEL, and the Unicode line separators some readers split lines at.
_NOT_IN_HEADER = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_MAX_LINE = 998  # RFC 5322 §2.1.1: a line is at most 998 characters before CRLF


def delivery_headers(envelope: Envelope, *, count: bool = False) -> bytes:
    """The header fields that record ``envelope`` on top of a delivered message (LF).

    As Postfix local(8)/virtual(8), qmail and dovecot-lda do on final delivery
    (RFC 5321 §4.4: the delivery agent records the reverse-path in ``Return-Path``):
    ``Return-Path: <sender>`` first (``<>`` for the null reverse-path, RFC 5322
    §3.6.7 ``path``), then one ``X-Original-To: <recipient>`` line per envelope
    recipient, in envelope order, so recipients that no header names (Bcc) survive.

    Why ``X-Original-To`` and not ``Delivered-To``: Postfix writes ``X-Original-To``
    with each recipient address exactly as given in RCPT TO (what this envelope
    holds), while ``Delivered-To`` (RFC 9228) names the mailbox a copy was finally
    delivered to and is used for mail-loop detection: Postfix local(8) bounces a
    message that already carries ``Delivered-To: <its recipient>`` ("mail forwarding
    loop"), so a copy from this outbox later delivered to one of its recipients would
    bounce. Dovecot can be told to read the recipient from it
    (``lda_original_recipient_header = X-Original-To``).

    The addresses were checked by :meth:`Envelope.check` (no CR, LF, NUL, ``<``,
    ``>`` or other control character); this checks again that nothing in them can
    break a header line (also U+0085, U+2028, U+2029, which a quoted SMTPUTF8 local
    part may hold), so the fields are injection-safe whatever built the envelope:
    :class:`InvalidEnvelope` otherwise, as for a line over 998 characters.

    ``count=True`` adds a comment to ``Return-Path`` saying how many ``X-Original-To``
    lines are ours (``Return-Path: <a@example.org> (2 recipients)``; RFC 5322 §3.6.7
    ``path`` allows a trailing CFWS). The transports ask for it only when the message
    itself starts with an ``X-Original-To`` field (a copy taken from a mailbox), where
    :func:`split_delivery_headers` could not tell where our block ends otherwise.
    """
    n = len(envelope.rcpt_to)
    tail = f" ({n} recipient{'' if n == 1 else 's'})" if count else ""
    lines = [f"Return-Path: <{envelope.mail_from}>{tail}"]
    lines.extend(f"X-Original-To: {rcpt}" for rcpt in envelope.rcpt_to)
    for address, line in zip((envelope.mail_from, *envelope.rcpt_to), lines):
        if _NOT_IN_HEADER.search(address):
            # InvalidEnvelope (a TransportError, like every refusal of a transport).
            raise InvalidEnvelope(
                f"envelope address {address!r} holds a control or line-break character "
                "and cannot go into a header field (header injection)"
            )
        if len(line.encode("utf-8")) > _MAX_LINE:
            raise InvalidEnvelope(
                f"envelope address {address[:40]!r}... is too long for a header line "
                "(RFC 5322 §2.1.1: at most 998 characters)"
            )
    return "".join(line + "\n" for line in lines).encode("utf-8")


# One unfolded field each (a continuation line after it means another writer's field).
_RETURN_PATH = re.compile(
    rb"(?i)Return-Path:[ \t]*<([^\r\n<>]*)>[ \t]*(?:\(([0-9]{1,6}) recipients?\)[ \t]*)?"
    rb"\r?\n(?![ \t])"
)
# Whether a message's own header starts with an X-Original-To field (any spelling).
_STARTS_WITH_ORIGINAL_TO = re.compile(rb"(?i)X-Original-To[ \t]*:")


def _top_block(envelope: Envelope, wire: bytes) -> bytes:
    """The delivery header fields for ``envelope`` on top of ``wire`` (see
    :func:`delivery_headers`), counted when the message starts with its own
    ``X-Original-To``."""
    return delivery_headers(envelope, count=_STARTS_WITH_ORIGINAL_TO.match(wire) is not None)
_ORIGINAL_TO = re.compile(rb"(?i)X-Original-To:[ \t]*([^\s<>][^\r\n<>]*?)[ \t]*\r?\n(?![ \t])")


def split_delivery_headers(data: bytes) -> tuple[Envelope | None, bytes]:
    """Undo :func:`delivery_headers`: ``(envelope, the message as it was sent)``.

    The envelope is recovered only from a block at the very top of ``data``: one
    ``Return-Path`` field followed by one or more ``X-Original-To`` fields (unfolded,
    as written here); the block is removed from the returned bytes. Fields of the
    same names further down are the message's own (from an earlier delivery) and
    are left alone. Without such a block (a message stored with
    ``envelope_headers=False``, or by another program) the result is
    ``(None, data)``. When ``Return-Path`` carries the count comment that
    :func:`delivery_headers` writes with ``count=True``, exactly that many
    ``X-Original-To`` fields are taken (the message's own follow them).
    """
    top = _RETURN_PATH.match(data)
    if top is None:
        return None, data
    wanted = int(top.group(2)) if top.group(2) is not None else None
    rcpts: list[bytes] = []
    pos = top.end()
    while (wanted is None or len(rcpts) < wanted) and (
        m := _ORIGINAL_TO.match(data, pos)
    ) is not None:
        rcpts.append(m.group(1))
        pos = m.end()
    if not rcpts or (wanted is not None and len(rcpts) != wanted):
        return None, data
    try:
        mail_from = top.group(1).strip().decode("utf-8")
        rcpt_to = tuple(r.decode("utf-8") for r in rcpts)
    except UnicodeDecodeError:
        return None, data
    return Envelope(mail_from, rcpt_to, null_sender=not mail_from), data[pos:]


def _parse_message(data: bytes) -> Message:
    from mimekit.parser import parse

    return parse(data)


@attrs.frozen
class StoredMessage:
    """One message read back from a file, Maildir or mbox transport's storage.

    ``envelope`` is the envelope it was sent with (from ``.envelope.json``, or from
    the delivery header fields of a Maildir or mbox message; None when none was
    recorded), ``data`` the message bytes as sent (without those fields; LF line
    ends in a Maildir or mbox), ``source`` the file it was read from.
    """

    envelope: Envelope | None
    data: bytes
    source: str

    @property
    def message(self) -> Message:
        """``data`` parsed."""
        return _parse_message(self.data)


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
        ensure_folder(self.directory, create=self._create)

    def _unique_name(self, subject: str | None) -> str:
        """A fresh candidate name (time, 48 random bits, slug). Whether it is free is
        decided by the exclusive link in :func:`atomic_write`, not by a look first."""
        now = datetime.now(timezone.utc)
        stamp = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond:06d}Z"
        return f"{stamp}-{secrets.token_hex(6)}-{_slug(subject)}.eml"

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Write the message (see the class docstring). A name that turns out to be
        taken (by another writer or an older file) is never overwritten: the message
        is written under a new name instead."""
        check_message_type(message)
        parsed, wire, env, message_id = prepare_wire(message, envelope)
        self._ensure_dir()
        subject = _subject(parsed)
        record = {**env.to_dict(), "message_id": message_id}
        meta_bytes = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        for _ in range(100):
            name = self._unique_name(subject)
            eml = self.directory / name
            meta = self.directory / (name[: -len(".eml")] + ".envelope.json")
            try:
                atomic_write(meta, meta_bytes, durable=self.durable)
            except FileExistsError:
                continue
            except OSError as exc:
                raise TransportError(f"cannot write {str(meta)!r}: {exc}") from exc
            try:
                atomic_write(eml, wire, durable=self.durable)
            except BaseException as exc:
                try:
                    meta.unlink()  # ours: written just above
                except OSError:
                    pass
                if isinstance(exc, FileExistsError):
                    continue
                if isinstance(exc, OSError):
                    raise TransportError(f"cannot write {str(eml)!r}: {exc}") from exc
                raise
            break
        else:  # pragma: no cover - 100 random names all taken
            raise TransportError(f"could not find an unused file name in {str(self.directory)!r}")
        if self.durable:
            _fsync_dir(self.directory)  # both links reach the disk
        return accepted_result(env, message_id, queue_id=name, text="written to outbox")

    def read(self) -> list[StoredMessage]:
        """Every ``.eml`` in the directory, oldest name first, with the envelope from
        its ``.envelope.json`` (None if that is missing or unreadable)."""
        try:
            names = sorted(
                p.name for p in self.directory.iterdir()
                if p.name.endswith(".eml") and not p.name.startswith(".")
            )
        except FileNotFoundError:
            return []
        out: list[StoredMessage] = []
        for name in names:
            eml = self.directory / name
            envelope: Envelope | None = None
            try:
                record = json.loads(
                    (self.directory / (name[: -len(".eml")] + ".envelope.json")).read_text("utf-8")
                )
                mail_from = record["mail_from"]
                rcpt_to = record["rcpt_to"]
                if not isinstance(mail_from, str) or not isinstance(rcpt_to, list):
                    raise TypeError("not an envelope record")  # "abc" is not ("a", "b", "c")
                envelope = Envelope(
                    mail_from, tuple(str(r) for r in rcpt_to), null_sender=not mail_from
                )
            except (OSError, ValueError, KeyError, TypeError):
                pass
            try:
                data = eml.read_bytes()
            except FileNotFoundError:
                continue
            out.append(StoredMessage(envelope, data, str(eml)))
        return out


class MaildirTransport(Transport):
    """Deliver into a Maildir (``tmp/`` -> ``new/``), the qmail/Dovecot layout.

    Delivery is :func:`mimekit.mailbox.maildir_deliver`: a unique name is
    written in ``tmp/``, fsynced and linked into ``new/`` (never over an existing
    file), so readers never see a partial message. Line ends are LF, as local
    delivery agents store them. The envelope is recorded on top of the message
    (``Return-Path`` and one ``X-Original-To`` per recipient, see
    :func:`delivery_headers`) unless ``envelope_headers=False``; :meth:`read` gives
    it back. The ``tmp``, ``new`` and ``cur`` subdirectories are created if missing.
    ``queue_id`` is the file name in ``new/``.
    """

    def __init__(self, directory: str | os.PathLike[str], *, envelope_headers: bool = True) -> None:
        self.directory = Path(directory)
        self.envelope_headers = envelope_headers

    def __repr__(self) -> str:
        return f"MaildirTransport({str(self.directory)!r})"

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Deliver the message to ``new/`` (see the class docstring)."""
        check_message_type(message)
        from mimekit.mailbox import maildir_deliver

        _, wire, env, message_id = prepare_wire(message, envelope)
        top = _top_block(env, wire) if self.envelope_headers else b""
        try:
            final = maildir_deliver(self.directory, top + _to_lf(wire))
        except OSError as exc:
            # which path is wrong, in words (not "[Errno 20] Not a directory: 'x/tmp'");
            # looked at only on failure: delivery itself creates the folders
            for folder in (self.directory, *(self.directory / s for s in ("tmp", "new", "cur"))):
                ensure_folder(folder, what="Maildir")
            raise TransportError(
                f"cannot deliver to Maildir {str(self.directory)!r}: {exc}"
            ) from exc
        name = os.path.basename(final)
        return accepted_result(env, message_id, queue_id=name, text="delivered to Maildir")

    def read(self) -> list[StoredMessage]:
        """Every message in ``cur/`` then ``new/`` (by file name), with the envelope
        recovered from its delivery header fields (:func:`split_delivery_headers`)."""
        out: list[StoredMessage] = []
        for sub in ("cur", "new"):
            folder = self.directory / sub
            try:
                names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
            except FileNotFoundError:
                continue
            for name in names:
                try:
                    raw = (folder / name).read_bytes()
                except (FileNotFoundError, IsADirectoryError):
                    continue  # moved to cur/ meanwhile
                env, data = split_delivery_headers(raw)
                out.append(StoredMessage(env, data, str(folder / name)))
        return out


class MboxTransport(Transport):
    """Append messages to an mbox file (mboxrd flavour, RFC 4155).

    Appending is :func:`mimekit.mailbox.append_mbox`: each message starts with
    ``From <envelope sender> <asctime date>`` (``MAILER-DAEMON`` for the null
    sender), body lines matching ``^>*From `` get one more ``>``, a blank line
    ends the message. While appending, the file is locked the ways other mail
    programs lock it (``<path>.lock`` dot-lock, ``fcntl`` and ``flock``), each
    waited for at most ``lock_timeout`` seconds in all (then a
    :class:`TransportError` and nothing written); ``dotlock=False`` skips the
    dot-lock (for an mbox in a directory you cannot write). Line ends are LF.
    The envelope is recorded below the ``From `` line as ``Return-Path`` and one
    ``X-Original-To`` per recipient (see :func:`delivery_headers`) unless
    ``envelope_headers=False``; :meth:`read` gives it back. ``queue_id`` is the
    file name.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        envelope_headers: bool = True,
        lock_timeout: float | None = None,
        dotlock: bool = True,
    ) -> None:
        from mimekit.mailbox import LOCK_TIMEOUT

        self.path = Path(path)
        self.envelope_headers = envelope_headers
        self.lock_timeout = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        self.dotlock = dotlock

    def __repr__(self) -> str:
        return f"MboxTransport({str(self.path)!r})"

    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Append the message (see the class docstring)."""
        check_message_type(message)
        from mimekit.mailbox import append_mbox

        _, wire, env, message_id = prepare_wire(message, envelope)
        top = _top_block(env, wire) if self.envelope_headers else b""
        ensure_folder(self.path.parent, what=f"mbox {str(self.path)!r}: its folder")
        try:
            append_mbox(
                self.path,
                top + _to_lf(wire),
                env.mail_from or None,
                lock_timeout=self.lock_timeout,
                dotlock=self.dotlock,
            )
        except (OSError, ValueError) as exc:  # ValueError: a sender the From line cannot carry
            raise TransportError(f"cannot append to mbox {str(self.path)!r}: {exc}") from exc
        return accepted_result(env, message_id, queue_id=self.path.name, text="appended to mbox")

    def read(self) -> list[StoredMessage]:
        """Every message in the mbox, in order, quoting undone, with the envelope
        recovered from its delivery header fields (:func:`split_delivery_headers`)."""
        from mimekit.mailbox import iter_mbox_raw

        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out: list[StoredMessage] = []
        for _line, raw in iter_mbox_raw(data):
            env, body = split_delivery_headers(raw)
            out.append(StoredMessage(env, body, str(self.path)))
        return out
