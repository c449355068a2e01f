"""What the synchronous and asyncio SMTP drivers share: settings, the retry
rule, and turning a protocol :class:`~.protocol.Transaction` into a
:class:`~mimekit.transports.base.SendResult`.

No I/O here either; ``ssl`` is imported only to build the default context.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable

import attrs
from mimekit.transports.base import Envelope, RecipientResult, SendResult
from mimekit.transports.errors import (
    AuthenticationError,
    ConnectionLost,
    RecipientsRefused,
    SMTPResponseError,
)
from mimekit.transports.smtp.protocol import (
    DeliveryStatusUnknown,
    DSNOptions,
    Transaction,
    parse_queue_id,
)
from mimekit.transports.smtp.sasl import Credentials

__all__ = [
    "SECURITY_MODES",
    "Settings",
    "backoff",
    "default_local_hostname",
    "is_retriable",
    "make_settings",
    "to_result",
]

#: ``starttls``: STARTTLS required (RFC 3207; TLSError if missing or failing);
#: ``starttls-opportunistic``: used when offered; ``tls``: implicit TLS
#: (RFC 8314 §3.3, port 465); ``none``: plain text.
SECURITY_MODES = ("starttls", "starttls-opportunistic", "tls", "none")
_DEFAULT_PORTS = {"tls": 465, "starttls": 587, "starttls-opportunistic": 587, "none": 25}


@attrs.frozen
class Settings:
    """Everything a driver needs to open and use a connection (validated)."""

    host: str
    port: int
    security: str
    ssl_context: ssl.SSLContext | None = attrs.field(eq=False)
    credentials: Credentials | None
    timeout: float
    data_timeout: float
    local_hostname: str | None
    source_address: tuple[str, int] | None
    allow_plaintext_auth: bool
    auth_mechanism: str | None
    retries: int
    retry_backoff: float
    noop_after: float
    dsn: DSNOptions | None
    downgrade_8bit: bool
    max_messages_per_connection: int | None
    chunking: bool = True

    @property
    def tls_server_name(self) -> str:
        """The name the certificate must match (an IP literal is checked against IP SANs)."""
        return self.host


def make_settings(
    host: str,
    port: int | None,
    *,
    security: str | None,
    username: str | None,
    password: str | None,
    oauth_token: Callable[[], str] | None,
    ssl_context: ssl.SSLContext | None,
    cafile: str | None,
    insecure: bool,
    timeout: float,
    data_timeout: float,
    local_hostname: str | None,
    source_address: tuple[str, int] | None,
    allow_plaintext_auth: bool,
    auth_mechanism: str | None,
    retries: int,
    retry_backoff: float,
    noop_after: float,
    dsn: DSNOptions | None,
    downgrade_8bit: bool,
    max_messages_per_connection: int | None,
    chunking: bool = True,
) -> Settings:
    """Validate the options shared by :class:`SMTPTransport` and
    :class:`AsyncSMTPTransport` and fill in defaults: security ``tls`` on port
    465, else ``starttls`` (required); the port from the security mode; a
    verifying TLS context (``insecure=True`` is the only way to turn
    verification off)."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # "[::1]" -> "::1"
    if not host:
        raise ValueError("host is empty")
    if security is None:
        security = "tls" if port == 465 else "starttls"
    if security not in SECURITY_MODES:
        raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
    if port is None:
        port = _DEFAULT_PORTS[security]
    if not 0 < port < 65536:
        raise ValueError(f"invalid port {port}")
    if password is not None and oauth_token is not None:
        raise ValueError("give either password or oauth_token, not both")
    credentials = None
    if password is not None or oauth_token is not None:
        if not username:
            raise ValueError("a username is needed with password or oauth_token")
        credentials = Credentials(username, password, oauth_token, host, port)
    elif username:
        raise ValueError("username given without password or oauth_token")
    if credentials is not None and security == "none" and not allow_plaintext_auth:
        raise ValueError(
            "credentials with security='none' would be sent in the clear; "
            "use TLS or pass allow_plaintext_auth=True"
        )
    if security != "none":
        if ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=cafile)
            if insecure:
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
        elif cafile is not None or insecure:
            raise ValueError("cafile/insecure cannot be combined with ssl_context")
    if timeout <= 0 or data_timeout <= 0:
        raise ValueError("timeouts must be positive")
    if retries < 0:
        raise ValueError("retries must be >= 0")
    return Settings(
        host=host,
        port=port,
        security=security,
        ssl_context=ssl_context,
        credentials=credentials,
        timeout=timeout,
        data_timeout=data_timeout,
        local_hostname=local_hostname,
        source_address=source_address,
        allow_plaintext_auth=allow_plaintext_auth,
        auth_mechanism=auth_mechanism,
        retries=retries,
        retry_backoff=retry_backoff,
        noop_after=noop_after,
        dsn=dsn,
        downgrade_8bit=downgrade_8bit,
        max_messages_per_connection=max_messages_per_connection,
        chunking=chunking,
    )


def default_local_hostname(local_address: str) -> str:
    """The EHLO name when none is configured, without any DNS lookup: the host
    name if it is fully qualified, else the address literal of our end of the
    connection (RFC 5321 §4.1.4: "SHOULD use an address literal")."""
    name = socket.gethostname()
    if "." in name and name.isascii() and all(c.isalnum() or c in ".-" for c in name):
        return name
    try:
        ip = ipaddress.ip_address(local_address.split("%")[0])
    except ValueError:
        return "localhost"
    # RFC 5321 §4.1.3 address literals
    return f"[IPv6:{ip}]" if ip.version == 6 else f"[{ip}]"


def is_retriable(exc: BaseException, committed: bool) -> bool:
    """Retry only what cannot have delivered the message: connection failures
    and 4xx replies before the end of the data was sent (never after: the
    server may have accepted it, and a resend would duplicate it)."""
    if committed or isinstance(exc, DeliveryStatusUnknown):
        return False
    if isinstance(exc, AuthenticationError):
        return False  # retrying a failed login locks accounts; never automatic
    if isinstance(exc, SMTPResponseError):
        return exc.is_transient
    return isinstance(exc, ConnectionLost)


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential."""
    return float(settings.retry_backoff * (2**attempt))


def to_result(tx: Transaction, envelope: Envelope, message_id: str | None) -> SendResult:
    """The :class:`SendResult` for a transaction; raises
    :class:`RecipientsRefused` (carrying every reply) when nobody was accepted."""
    recipients = tuple(
        RecipientResult(r.address, r.reply.ok, r.reply.code, r.reply.enhanced, r.reply.text)
        for r in tx.recipients
    )
    final = tx.final
    result = SendResult(
        message_id,
        envelope,
        recipients,
        queue_id=parse_queue_id(final.text) if final is not None else None,
        response=str(final) if final is not None else "",
    )
    if final is None:
        raise RecipientsRefused(result)
    return result


def all_transient(tx: Transaction) -> bool:
    """True when every recipient was refused with a 4xx reply (worth a retry)."""
    return tx.final is None and all(400 <= r.reply.code < 500 for r in tx.recipients)
