"""mimekit.transports: deliver messages (SMTP, files, memory).

Every transport has one verb, ``send(message, *, envelope=None) -> SendResult``
(``asend`` for the asyncio ones), runs the same preparation (Bcc removed, the
envelope derived from the headers and checked) and raises
:class:`TransportError` subclasses. :func:`from_url` builds one from a string.
"""

from __future__ import annotations

from mimekit.transports.base import (
    AsyncTransport,
    Envelope,
    RecipientResult,
    SendResult,
    Transport,
    prepare,
)
from mimekit.transports.errors import (
    AuthenticationError,
    ConnectionLost,
    InvalidEnvelope,
    MessageTooLarge,
    RecipientsRefused,
    SMTPResponseError,
    TLSError,
    TransportError,
)

__all__ = [
    "AsyncTransport",
    "AuthenticationError",
    "ConnectionLost",
    "Envelope",
    "InvalidEnvelope",
    "MessageTooLarge",
    "RecipientResult",
    "RecipientsRefused",
    "SMTPResponseError",
    "SendResult",
    "TLSError",
    "Transport",
    "TransportError",
    "prepare",
]
