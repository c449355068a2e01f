"""mimekit.transports: deliver messages (SMTP, files, memory).

Every transport has one verb, ``send(message, *, envelope=None) -> SendResult``
(``asend`` for the asyncio ones), runs the same preparation (Bcc removed, the
envelope derived from the headers and checked) and raises
:class:`TransportError` subclasses. :func:`from_url` builds one from a string.

Only the base classes and errors are imported eagerly; the transports
themselves load on first use (PEP 562 ``__getattr__``), so importing the
sans-I/O SMTP state machine, or the error classes, pulls in no ``socket``,
``ssl`` or ``asyncio``.
"""


import importlib as _importlib
import typing as _typing

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

if _typing.TYPE_CHECKING:
    from mimekit.transports.file import (
        FileTransport,
        MaildirTransport,
        MboxTransport,
        StoredMessage,
    )
    from mimekit.transports.memory import MemoryTransport, Outbox, SentMessage
    from mimekit.transports.smtp import AsyncSMTPTransport, SMTPTransport
    from mimekit.transports.url import (
        InvalidURL,
        TransportURL,
        from_url,
        from_url_async,
        parse_url,
    )

_LAZY: dict[str, str] = {
    "AsyncSMTPTransport": "mimekit.transports.smtp",
    "FileTransport": "mimekit.transports.file",
    "InvalidURL": "mimekit.transports.url",
    "MaildirTransport": "mimekit.transports.file",
    "MboxTransport": "mimekit.transports.file",
    "MemoryTransport": "mimekit.transports.memory",
    "Outbox": "mimekit.transports.memory",
    "SMTPTransport": "mimekit.transports.smtp",
    "SentMessage": "mimekit.transports.memory",
    "StoredMessage": "mimekit.transports.file",
    "TransportURL": "mimekit.transports.url",
    "from_url": "mimekit.transports.url",
    "from_url_async": "mimekit.transports.url",
    "parse_url": "mimekit.transports.url",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AsyncSMTPTransport",
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
    "SMTPTransport",
    "SendResult",
    "SentMessage",
    "StoredMessage",
    "TLSError",
    "Transport",
    "TransportError",
    "TransportURL",
    "from_url",
    "from_url_async",
    "parse_url",
    "prepare",
]
