"""Transport base: envelopes, results, the Transport ABCs and :func:`prepare`.

Every transport (SMTP, file, Maildir, mbox, memory) runs the same
:func:`prepare` step, so a test that swaps a real transport for the in-memory
one sees the same behaviour: the Bcc header is never transmitted, an unusable
envelope is refused before anything is written or sent, and the envelope
defaults from the headers the same way.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import attrs
from mimekit.transports.errors import InvalidEnvelope, TransportError

if TYPE_CHECKING:
    from mimekit.address import Address
    from mimekit.model import Message

__all__ = [
    "AsyncTransport",
    "Envelope",
    "RecipientResult",
    "SendResult",
    "Transport",
    "check_address",
    "check_message_type",
    "prepare",
    "prepare_message",
]

_T = TypeVar("_T", bound="Transport")
_AT = TypeVar("_AT", bound="AsyncTransport")

# Bcc must never reach the wire (RFC 5322 §3.6.3: "the Bcc: line is removed").
BCC_HEADERS: tuple[str, ...] = ("bcc", "resent-bcc")

# RFC 5321 §4.1.2 Dot-string: atext separated by single dots.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\U0010ffff-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")
# RFC 5321 §4.1.2 Quoted-string: DQUOTE *(qtextSMTP / "\" %d32-126) DQUOTE.
_QUOTED_LOCAL = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]|\\[\x20-\x7e])*"\Z')
# Never allowed anywhere in a path: they would end or corrupt the SMTP command line.
_FORBIDDEN = re.compile(r"[\r\n\x00<>]")
# No other control character is in RFC 5321 §4.1.2 atext, qtextSMTP or a domain either;
# they are refused too (and so can never reach a header line such as Return-Path).
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _smtp_local(local: str) -> str:
    """The local part as RFC 5321 §4.1.2 wants it: a dot-string as is, else a quoted string."""
    if _DOT_ATOM.match(local) or _QUOTED_LOCAL.match(local):
        return local
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _split_path(address: str) -> tuple[str, str | None]:
    """Split at the ``@`` that separates local part and domain (quoted parts respected)."""
    if address.startswith('"'):
        i = 1
        while i < len(address):
            if address[i] == "\\":
                i += 2
                continue
            if address[i] == '"':
                break
            i += 1
        rest = address[i + 1 :]
        if rest.startswith("@"):
            return address[: i + 1], rest[1:]
        return address, None
    local, at, domain = address.rpartition("@")
    if not at:
        return address, None
    return local, domain


# White space as str.isspace() defines it (the regex \s class for str patterns is the
# same Unicode set), found without a per-character Python loop.
_SPACE = re.compile(r"\s")


def check_address(address: str, *, what: str = "address") -> str:
    """Return ``address`` if it can go into ``MAIL FROM:<...>``/``RCPT TO:<...>``.

    Refuses CR, LF, NUL, ``<``, ``>`` anywhere and white space outside a quoted
    local part: each would end the command line or inject another command
    (RFC 5321 §4.1.1.2, §4.1.2 Path syntax; §2.3.8 lines end only with CRLF).
    Also refuses other control characters (in no §4.1.2 production) and an ``@``
    in an unquoted local part (``a@b@c``): §4.1.2 ``Mailbox = Local-part "@"
    ( Domain / address-literal )`` has exactly one ``@`` outside a quoted string,
    and servers split such an address differently (the first or the last ``@``),
    so it could reach another domain than the one meant. Raises
    :class:`InvalidEnvelope`.
    """
    if not isinstance(address, str):
        raise InvalidEnvelope(f"envelope {what} must be a string, not {type(address).__name__}")
    if not address:
        raise InvalidEnvelope(f"envelope {what} is empty")
    if _FORBIDDEN.search(address):
        raise InvalidEnvelope(f"envelope {what} {address!r} contains CR, LF, NUL, '<' or '>'")
    if _CONTROL.search(address):
        raise InvalidEnvelope(f"envelope {what} {address!r} contains a control character")
    local, domain = _split_path(address)
    if domain is not None and (not domain or _SPACE.search(domain)):
        raise InvalidEnvelope(f"envelope {what} {address!r} has an invalid domain")
    if local.startswith('"'):
        if not _QUOTED_LOCAL.match(local):
            raise InvalidEnvelope(f"envelope {what} {address!r} has a malformed quoted local part")
    elif _SPACE.search(local):
        raise InvalidEnvelope(f"envelope {what} {address!r} contains white space")
    elif "@" in local:
        raise InvalidEnvelope(
            f"envelope {what} {address!r} has more than one '@' (RFC 5321 §4.1.2: an '@' "
            'in the local part must be inside a quoted string, e.g. "a@b"@example.org)'
        )
    if domain is not None and not domain.isascii() and not domain.startswith("["):
        _ascii_domain(domain, f"envelope {what} {address!r}")  # IDNA-convertible
    return address


def _ascii_domain(domain: str, what: str) -> str:
    """``domain`` with IDNA A-labels (RFC 5890 §2.3.2.1), or InvalidEnvelope naming ``what``."""
    from mimekit.address import _to_ascii_domain

    try:
        return _to_ascii_domain(domain)
    except Exception as exc:  # AddressError or a codec error: an envelope problem here
        raise InvalidEnvelope(
            f"{what}: domain {domain!r} cannot be converted to ASCII (IDNA): {exc}"
        ) from exc


def _idna_path(address: str) -> str:
    """``address`` with its domain in IDNA A-labels, as :meth:`Envelope.from_message`
    writes it, so an explicit envelope needs SMTPUTF8 (RFC 6531) only for a non-ASCII
    local part, never for the domain. Anything :func:`check_address` would refuse, or
    a domain that cannot be converted, is left as given for :meth:`Envelope.check`
    to report (a constructor that raised here would hide the clearer error)."""
    if not isinstance(address, str) or address.isascii():
        return address
    local, domain = _split_path(address)
    if domain is None or domain.isascii() or domain.startswith("["):
        return address
    try:
        check_address(address)
        return f"{local}@{_ascii_domain(domain, 'address')}"
    except InvalidEnvelope:
        return address


def _idna_paths(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(_idna_path(a) for a in _to_tuple(value))


def _to_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class Envelope:
    """The SMTP envelope: ``MAIL FROM`` (``mail_from``) and ``RCPT TO`` (``rcpt_to``).

    It is separate from the headers on purpose: Bcc recipients are in the
    envelope but not in the transmitted headers, and a resent or forwarded
    message goes to people not named in To/Cc. Domains are ASCII (IDNA
    A-labels, RFC 5890) so a server without SMTPUTF8 can take them: in an
    envelope derived from headers and in one given explicitly alike
    (``Envelope("a@bücher.example", ...)`` holds ``a@xn--bcher-kva.example``).
    A non-ASCII local part stays as it is (only SMTPUTF8 can carry it).
    """

    mail_from: str = attrs.field(converter=_idna_path)
    rcpt_to: tuple[str, ...] = attrs.field(converter=_idna_paths)
    #: An empty ``mail_from`` on purpose: the null reverse-path ``MAIL FROM:<>`` of
    #: bounces and other notifications (RFC 5321 §4.5.5, §6.1). Only
    #: :meth:`null_sender_for` sets it; an envelope derived from headers never has it.
    null_sender: bool = attrs.field(default=False, kw_only=True)

    @classmethod
    def null_sender_for(cls, rcpt_to: Iterable[str]) -> Envelope:
        """An envelope with the null reverse-path, for bounces and DSNs that must not
        themselves be answered (RFC 5321 §4.5.5)."""
        return cls("", rcpt_to, null_sender=True)

    @classmethod
    def from_message(cls, message: Message) -> Envelope:
        """The envelope a message's headers imply.

        Sender: the first mailbox of Sender, else of From (RFC 5322 §3.6.2).
        Recipients: To + Cc + Bcc (§3.6.3), or, when the message carries a
        resent block, that block's Resent-To/-Cc/-Bcc and Resent-Sender/-From
        (§3.6.6: the most recent block is the topmost one). Groups are
        flattened, duplicates dropped case-insensitively in order. Either part
        may come out empty; :func:`prepare` refuses that.
        """
        from mimekit.address import mailboxes

        resent = _first_resent_block(message)
        found: list[Address]
        if resent:
            senders = _mailboxes(resent, "resent-sender") or _mailboxes(resent, "resent-from")
            found = [box for name in ("resent-to", "resent-cc", "resent-bcc")
                     for box in _mailboxes(resent, name)]
        else:
            senders = []
            # The message's own accessors: parsed once per header and cached there.
            found = mailboxes([*message.to, *message.cc, *message.bcc])
        if not senders:
            senders = mailboxes(message.sender) or mailboxes(message.from_)
        mail_from = _envelope_address(senders[0]) if senders else ""
        seen: set[str] = set()
        rcpts: list[str] = []
        for mailbox in found:
            addr = _envelope_address(mailbox)
            key = addr.lower()
            if key not in seen:
                seen.add(key)
                rcpts.append(addr)
        return cls(mail_from, tuple(rcpts))

    def check(self) -> Envelope:
        """Return self if usable for sending, else raise :class:`InvalidEnvelope`.

        A sender and at least one recipient are required; each address must be
        safe in an SMTP command (see :func:`check_address`).
        """
        if self.null_sender and self.mail_from:
            raise InvalidEnvelope("a null-sender envelope has an empty mail_from")
        if not self.mail_from and not self.null_sender:
            raise InvalidEnvelope(
                "the envelope has no sender: the message has no Sender or From header "
                "and no envelope was given"
            )
        if not self.rcpt_to:
            raise InvalidEnvelope(
                "the envelope has no recipients: the message has no To, Cc or Bcc "
                "header and no envelope was given"
            )
        if self.mail_from:
            check_address(self.mail_from, what="sender")
        for rcpt in self.rcpt_to:
            check_address(rcpt, what="recipient")
        return self

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (used by the file transport's ``.envelope.json``)."""
        return {"mail_from": self.mail_from, "rcpt_to": list(self.rcpt_to)}


_TRACE = frozenset({"received", "return-path"})


def _first_resent_block(message: Message) -> list[tuple[str, str]]:
    """The topmost block of Resent-* fields (RFC 5322 §3.6.6), trace fields skipped.

    A block ends at the first non-trace, non-resent field, or where a field
    name repeats (each block has one Resent-Date, one Resent-From, ...).
    Only blocks with a recipient field count.
    """
    block: list[tuple[str, str]] = []
    started = False
    names: set[str] = set()
    for header in message.headers:
        name = header.name.lower()
        if name.startswith("resent-"):
            if name in names:
                break
            started = True
            names.add(name)
            block.append((name, header.unfolded))
        elif started and name not in _TRACE:
            break
    if not any(n in ("resent-to", "resent-cc", "resent-bcc") for n, _ in block):
        return []
    return block


def _mailboxes(headers: Sequence[tuple[str, str]], name: str) -> list[Address]:
    from mimekit.address import mailboxes, parse_address_list

    found: list[Address] = []
    for hname, value in headers:
        if hname == name:
            found.extend(mailboxes(parse_address_list(value)))
    return found


def _envelope_address(mailbox: Address) -> str:
    """``local@ascii-domain`` (RFC 5321 §4.1.2; IDNA A-label per RFC 5890)."""
    local = _smtp_local(mailbox.local)
    if not mailbox.domain:
        return local
    try:
        domain = mailbox.ascii_domain
    except Exception as exc:  # an IDNA failure: report it as an envelope problem
        raise InvalidEnvelope(
            f"domain {mailbox.domain!r} cannot be converted to ASCII (IDNA): {exc}"
        ) from exc
    return f"{local}@{domain}"


@attrs.frozen
class RecipientResult:
    """What the server said about one recipient (``RCPT TO`` reply, RFC 5321 §4.2)."""

    address: str
    accepted: bool
    code: int
    enhanced: str | None = None
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "address": self.address,
            "accepted": self.accepted,
            "code": self.code,
            "enhanced": self.enhanced,
            "text": self.text,
        }


def _recipients_tuple(value: Iterable[RecipientResult]) -> tuple[RecipientResult, ...]:
    return tuple(value)


@attrs.frozen
class SendResult:
    """The outcome of one send.

    ``recipients`` holds one :class:`RecipientResult` per envelope recipient;
    a send with some refusals still returns (check :attr:`refused`), a send
    where every recipient was refused raises
    :class:`~mimekit.transports.errors.RecipientsRefused`. ``queue_id`` is the
    server's queue id (SMTP) or the file name (file transports); ``response``
    the final reply text.
    """

    message_id: str | None
    envelope: Envelope
    recipients: tuple[RecipientResult, ...] = attrs.field(converter=_recipients_tuple)
    queue_id: str | None = None
    response: str = ""

    @property
    def accepted(self) -> tuple[str, ...]:
        """Addresses the server accepted."""
        return tuple(r.address for r in self.recipients if r.accepted)

    @property
    def refused(self) -> tuple[str, ...]:
        """Addresses the server refused."""
        return tuple(r.address for r in self.recipients if not r.accepted)

    @property
    def ok(self) -> bool:
        """True when at least one recipient exists and none was refused."""
        return bool(self.recipients) and all(r.accepted for r in self.recipients)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (envelope, each recipient's reply, ids)."""
        return {
            "message_id": self.message_id,
            "queue_id": self.queue_id,
            "response": self.response,
            "envelope": self.envelope.to_dict(),
            "recipients": [r.to_dict() for r in self.recipients],
        }


def _parse_bytes(data: bytes) -> Message:
    from mimekit.parser import parse

    return parse(data)


def _message_id(message: Message) -> str | None:
    """The Message-ID without angle brackets (as ``Message.message_id`` gives it)."""
    value = message.headers.get("message-id")
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value or None


#: What ``send``/``asend`` accept, as the TypeError for anything else names it.
ACCEPTED_MESSAGE_TYPES = "a mimekit Message, bytes, bytearray or memoryview"


def check_message_type(message: object, where: str = "send()") -> None:
    """Raise :class:`TypeError` unless ``message`` is something a transport
    can send: a :class:`~mimekit.model.Message` or the raw bytes of one. Every
    transport calls it first, before any I/O, so a ``str`` (or a stdlib
    ``email.message.Message``) is a clear error, not an AttributeError from
    deep inside."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return
    from mimekit.model import Message as _Message

    if isinstance(message, _Message):
        return
    kind = type(message)
    name = kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}"  # e.g. email.message.Message
    )
    hint = ""
    if isinstance(message, str):
        hint = " (encode text first, e.g. text.encode('utf-8'), or parse it into a Message)"
    raise TypeError(
        f"{where} takes {ACCEPTED_MESSAGE_TYPES}, not {name}{hint}"
    )


def prepare(
    message: Message | bytes | bytearray | memoryview, envelope: Envelope | None
) -> tuple[bytes, Envelope, str | None]:
    """Turn what the caller gave into ``(wire bytes, envelope, Message-ID)``.

    Raw bytes are parsed first (so the envelope can be derived and Bcc
    removed). The wire bytes are the message without its Bcc/Resent-Bcc
    headers (RFC 5322 §3.6.3), every other byte as the message serializes.
    The envelope is the given one, else :meth:`Envelope.from_message`; it is
    checked (sender, recipients, safe characters) so a bad one raises
    :class:`InvalidEnvelope` before anything is sent. The Message-ID is
    given without angle brackets, like ``Message.message_id``.
    """
    _, wire, env, message_id = prepare_message(message, envelope)
    return wire, env, message_id


def prepare_message(
    message: Message | bytes | bytearray | memoryview, envelope: Envelope | None
) -> tuple[Message, bytes, Envelope, str | None]:
    """:func:`prepare`, also returning the (parsed) message itself."""
    check_message_type(message)
    if isinstance(message, (bytes, bytearray, memoryview)):
        parsed = _parse_bytes(bytes(message))
    else:
        parsed = message
    if envelope is None:
        envelope = Envelope.from_message(parsed)
    elif not isinstance(envelope, Envelope):
        raise TransportError(f"envelope must be an Envelope, not {type(envelope).__name__}")
    envelope.check()
    # An mbox "From " line or a byte order mark in front of the headers is not part of
    # the message (RFC 5322 §2.1): it never goes on the wire.
    wire = parsed.to_bytes(exclude_headers=BCC_HEADERS, strip_prefix=True)
    return parsed, wire, envelope, _message_id(parsed)


def prepare_wire(
    message: Message | bytes | bytearray | memoryview, envelope: Envelope | None
) -> tuple[Message, bytes, Envelope, str | None]:
    """:func:`prepare_message`, with the bytes in the form SMTP puts on the wire:
    CRLF line ends only, ending in CRLF (RFC 5321 §2.3.8). Line ends are fixed
    *before* the last look for Bcc: a bare CR or LF inside a field becomes a line end
    on the wire and could start a Bcc line the parser never saw. Every transport that
    keeps or hands on the bytes (file, Maildir, mbox, memory) uses this, so what it
    stores is what SMTP would send."""
    from mimekit.transports.smtp.wire import normalize_line_endings  # pure bytes code

    parsed, wire, env, message_id = prepare_message(message, envelope)
    normalized = normalize_line_endings(wire)
    if normalized is not wire:
        _, normalized, _, _ = prepare_message(normalized, env)
    return parsed, normalized, env, message_id


def accepted_result(
    envelope: Envelope,
    message_id: str | None,
    *,
    queue_id: str | None = None,
    text: str = "OK",
) -> SendResult:
    """A :class:`SendResult` where every recipient was accepted with 250
    (the file and memory transports deliver to all or raise)."""
    recipients = tuple(RecipientResult(r, True, 250, "2.0.0", text) for r in envelope.rcpt_to)
    return SendResult(message_id, envelope, recipients, queue_id=queue_id, response=f"250 {text}")


class Transport(abc.ABC):
    """A synchronous way to deliver messages. Use as a context manager so
    connections and files are closed: ``with from_url(url) as t: t.send(msg)``."""

    @abc.abstractmethod
    def send(self, message: Message | bytes, *, envelope: Envelope | None = None) -> SendResult:
        """Deliver one message. Raises a :class:`TransportError` subclass on failure,
        :class:`RecipientsRefused` when every recipient was refused."""

    def send_many(self, messages: Iterable[Message | bytes]) -> list[SendResult]:
        """Deliver several messages in order (over one connection where that applies).

        Stops at the first failure (the exception propagates; messages before it
        were delivered)."""
        return [self.send(m) for m in messages]

    def close(self) -> None:
        """Release connections and files. Idempotent; the default does nothing."""

    def __enter__(self: _T) -> _T:  # noqa: PYI019 - typing.Self needs Python 3.11
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncTransport(abc.ABC):
    """The asyncio twin of :class:`Transport`:
    ``async with t: await t.asend(msg)``."""

    @abc.abstractmethod
    async def asend(
        self, message: Message | bytes, *, envelope: Envelope | None = None
    ) -> SendResult:
        """Deliver one message (see :meth:`Transport.send`)."""

    async def asend_many(self, messages: Iterable[Message | bytes]) -> list[SendResult]:
        """Deliver several messages in order; stops at the first failure."""
        return [await self.asend(m) for m in messages]

    async def aclose(self) -> None:
        """Release connections. Idempotent; the default does nothing."""

    async def __aenter__(self: _AT) -> _AT:  # noqa: PYI019 - typing.Self needs Python 3.11
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
