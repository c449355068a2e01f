"""SMTP transport (RFC 5321): a sans-I/O protocol core with a synchronous
(``socket``/``ssl``) and an asyncio driver.

``SMTPTransport`` and ``AsyncSMTPTransport`` are the public names; the rest
(:mod:`.protocol`, :mod:`.sasl`) is importable for advanced use and tests.
The drivers are loaded lazily (PEP 562) so that importing
``mimekit.transports.smtp.protocol`` pulls in no ``socket``, ``ssl`` or
``asyncio``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimekit.transports.smtp.aio import AsyncSMTPTransport
    from mimekit.transports.smtp.protocol import DeliveryStatusUnknown, DSNOptions
    from mimekit.transports.smtp.sync import SMTPTransport
    from mimekit.transports.smtp.wire import ConnectionRefused, GreetingTimeout, NotSMTPServer

__all__ = [
    "AsyncSMTPTransport",
    "ConnectionRefused",
    "DSNOptions",
    "DeliveryStatusUnknown",
    "GreetingTimeout",
    "NotSMTPServer",
    "SMTPTransport",
]

_WHERE = {
    "AsyncSMTPTransport": "mimekit.transports.smtp.aio",
    "SMTPTransport": "mimekit.transports.smtp.sync",
    "DSNOptions": "mimekit.transports.smtp.protocol",
    "DeliveryStatusUnknown": "mimekit.transports.smtp.protocol",
    "ConnectionRefused": "mimekit.transports.smtp.wire",
    "GreetingTimeout": "mimekit.transports.smtp.wire",
    "NotSMTPServer": "mimekit.transports.smtp.wire",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
