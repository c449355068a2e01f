"""Errors raised by transports.

Every transport failure is a :class:`TransportError` (itself a
:class:`~mimekit.errors.MimekitError`), so ``except MimekitError`` catches
everything mimekit raises. Server replies are carried as values (``code``,
``enhanced``, ``text``) so callers and the CLI can report them exactly, e.g.
``535 5.7.8 authentication failed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimekit.errors import MimekitError

if TYPE_CHECKING:
    from mimekit.transports.base import SendResult

__all__ = [
    "AuthenticationError",
    "ConnectionLost",
    "InvalidEnvelope",
    "MessageTooLarge",
    "RecipientsRefused",
    "SMTPResponseError",
    "TLSError",
    "TransportError",
]


class TransportError(MimekitError):
    """A message could not be delivered (or was refused before anything was sent)."""


class InvalidEnvelope(TransportError, ValueError):
    """The envelope is unusable: no sender, no recipient, or an address that would
    corrupt an SMTP command (CR, LF, NUL, an unquoted space, ``<`` or ``>``).

    Raised before any byte goes to a server or a file.
    """


def _format_reply(code: int, enhanced: str | None, text: str) -> str:
    # code 0: no reply was read (the client's own refusal, or a timeout): no "0 " prefix
    parts = [str(code)] if code else []
    if enhanced:
        parts.append(enhanced)
    if text:
        parts.append(text)
    return " ".join(parts)


class SMTPResponseError(TransportError):
    """The server answered with an error reply.

    ``code`` is the three-digit reply code (RFC 5321 §4.2), ``enhanced`` the
    enhanced status code (RFC 3463, e.g. ``"5.7.8"``) when the server sent one,
    ``text`` the reply text (lines joined with a space). ``str(error)`` is
    ``"535 5.7.8 authentication failed"``. ``code`` is 0 when no reply was read (the
    client refused on its own, or the server did not answer): ``str(error)`` is then
    the text alone.
    """

    def __init__(self, code: int, enhanced: str | None, text: str) -> None:
        self.code = code
        self.enhanced = enhanced
        self.text = text
        super().__init__(_format_reply(code, enhanced, text))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.code, self.enhanced, self.text))

    @property
    def is_permanent(self) -> bool:
        """True for 5xx replies (RFC 5321 §4.2.1: do not retry as is)."""
        return 500 <= self.code < 600

    @property
    def is_transient(self) -> bool:
        """True for 4xx replies (RFC 5321 §4.2.1: a later retry may succeed)."""
        return 400 <= self.code < 500


class AuthenticationError(SMTPResponseError):
    """AUTH failed (typically ``535 5.7.8``) or no acceptable mechanism was offered."""


class TLSError(TransportError):
    """TLS could not be set up: handshake or certificate verification failed, or
    STARTTLS was required and not offered (never a silent fall back to plain text)."""


class ConnectionLost(TransportError):
    """The connection closed or timed out in the middle of a transaction."""


class MessageTooLarge(TransportError):
    """The message exceeds the size the server declared (RFC 1870 ``SIZE``).

    Raised before DATA, so nothing was transmitted. ``size`` and ``limit`` are
    in octets when known.
    """

    def __init__(self, message: str, *, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class RecipientsRefused(SMTPResponseError):
    """Every recipient was refused, so nothing was delivered.

    ``result`` is the full :class:`~mimekit.transports.base.SendResult` (each
    recipient with its reply); ``replies`` maps each refused address to
    ``(code, enhanced, text)``. The exception's own code/enhanced/text are the
    first refusal's.
    """

    def __init__(self, result: SendResult) -> None:
        self.result = result
        self.replies: dict[str, tuple[int, str | None, str]] = {
            r.address: (r.code, r.enhanced, r.text) for r in result.recipients if not r.accepted
        }
        first = next(iter(self.replies.values()), (550, None, "all recipients refused"))
        super().__init__(*first)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result,))

    #: ``str()`` names at most this many recipients with their replies
    SHOWN = 10

    def __str__(self) -> str:
        if len(self.replies) <= 1:
            return f"recipient refused: {_format_reply(self.code, self.enhanced, self.text)}"
        shown = [
            f"<{address}>: {_format_reply(*reply)}"
            for address, reply in list(self.replies.items())[: self.SHOWN]
        ]
        extra = len(self.replies) - len(shown)
        more = f"; and {extra} more" if extra > 0 else ""
        return "all recipients refused: " + "; ".join(shown) + more
