"""SMTP transport (RFC 5321): a sans-I/O protocol core with a synchronous
(``socket``/``ssl``) and an asyncio driver.

``SMTPTransport`` and ``AsyncSMTPTransport`` are the public names; the rest
(:mod:`.protocol`, :mod:`.sasl`) is importable for advanced use and tests.
"""

from __future__ import annotations

from mimekit.transports.smtp.aio import AsyncSMTPTransport
from mimekit.transports.smtp.protocol import DeliveryStatusUnknown, DSNOptions
from mimekit.transports.smtp.sync import SMTPTransport

__all__ = ["AsyncSMTPTransport", "DSNOptions", "DeliveryStatusUnknown", "SMTPTransport"]
