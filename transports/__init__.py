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
from mimekit.transports.file import FileTransport, MaildirTransport, MboxTransport
from mimekit.transports.memory import MemoryTransport, Outbox, SentMessage
from mimekit.transports.url import InvalidURL, TransportURL, from_url, parse_url

__all__ = [
    "AsyncTransport",
    "AuthenticationError",
    "ConnectionLost",
    "Envelope",
    "FileTransport",
    "InvalidEnvelope",
    "InvalidURL",
    "MaildirTransport",
    "MboxTransport",
    "MemoryTransport",
    "MessageTooLarge",
    "Outbox",
    "RecipientResult",
    "RecipientsRefused",
    "SMTPResponseError",
    "SendResult",
    "SentMessage",
    "TLSError",
    "Transport",
    "TransportError",
    "TransportURL",
    "from_url",
    "parse_url",
    "prepare",
]
