"""SMTP transport options: the one list both drivers accept (:class:`SMTPOptions`),
validated into :class:`Settings` with the defaults filled in.

Secure defaults are decided here: implicit TLS on port 465, else STARTTLS required; a
verifying TLS context (only ``insecure=True`` turns verification off); credentials
never with ``security='none'`` unless plain-text AUTH is allowed explicitly. No I/O;
``ssl`` is imported only to build the default context.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

import attrs
from mimekit.transports.smtp.protocol import PLAINTEXT_AUTH_HINT, check_local_hostname
from mimekit.transports.smtp.sasl import Credentials
from mimekit.transports.smtp.wire import DSNOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "SECURITY_MODES",
    "SMTPOptions",
    "Settings",
    "checked_pool_size",
    "default_local_hostname",
    "make_settings",
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
    #: seconds to open the connection (TCP, plus the handshake with implicit TLS)
    connect_timeout: float
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
        """The name the certificate must match (an IP literal is checked against IP SANs).
        An IPv6 zone (``fe80::1%eth0``, RFC 6874) names our interface, not the server:
        it is no part of the server's identity and never in a certificate."""
        if ":" in self.host:
            return self.host.partition("%")[0]
        return self.host


class SMTPOptions(TypedDict, total=False):
    """The keyword options both drivers accept, besides ``host``, ``port``
    and their pool options (one list, so the drivers' signatures cannot drift
    apart). Defaults are applied by :func:`make_settings`; see
    :class:`~mimekit.transports.smtp.SMTPTransport` for their meaning."""

    security: str | None
    username: str | None
    password: str | None
    oauth_token: Callable[[], str] | None
    ssl_context: ssl.SSLContext | None
    cafile: str | None
    insecure: bool
    timeout: float
    connect_timeout: float
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
    chunking: bool


def make_settings(host: str, port: int | None, **options: Unpack[SMTPOptions]) -> Settings:
    """Validate the options shared by :class:`SMTPTransport` and
    :class:`AsyncSMTPTransport` and fill in defaults: security ``tls`` on port
    465, else ``starttls`` (required); the port from the security mode; a
    verifying TLS context (``insecure=True`` is the only way to turn
    verification off). An unknown option is a :class:`TypeError`, as a
    misspelt keyword argument would be."""
    unknown = sorted(set(options) - set(SMTPOptions.__annotations__))
    if unknown:
        raise TypeError(f"unknown SMTP transport option(s): {', '.join(unknown)}")
    o = options
    security = o.get("security")
    username, password = o.get("username"), o.get("password")
    oauth_token = o.get("oauth_token")
    ssl_context, cafile, insecure = o.get("ssl_context"), o.get("cafile"), o.get("insecure", False)
    timeout, data_timeout = o.get("timeout", 30.0), o.get("data_timeout", 600.0)
    connect_timeout = o.get("connect_timeout", timeout)
    allow_plaintext_auth = o.get("allow_plaintext_auth", False)
    retries = o.get("retries", 2)
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
            f"use TLS, or {PLAINTEXT_AUTH_HINT}"
        )
    if security != "none":
        if ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=cafile)
            if insecure:
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
        elif cafile is not None or insecure:
            raise ValueError("cafile/insecure cannot be combined with ssl_context")
    if timeout <= 0 or data_timeout <= 0 or connect_timeout <= 0:
        raise ValueError("timeouts must be positive")
    if retries < 0:
        raise ValueError("retries must be >= 0")
    local_hostname = o.get("local_hostname")
    if local_hostname:  # "" (like None) means the default name
        check_local_hostname(local_hostname)  # refused here, not at the first send
    return Settings(
        host=host,
        port=port,
        security=security,
        ssl_context=ssl_context,
        credentials=credentials,
        timeout=timeout,
        connect_timeout=connect_timeout,
        data_timeout=data_timeout,
        local_hostname=local_hostname,
        source_address=o.get("source_address"),
        allow_plaintext_auth=allow_plaintext_auth,
        auth_mechanism=o.get("auth_mechanism"),
        retries=retries,
        retry_backoff=o.get("retry_backoff", 0.5),
        noop_after=o.get("noop_after", 30.0),
        dsn=o.get("dsn"),
        downgrade_8bit=o.get("downgrade_8bit", True),
        max_messages_per_connection=o.get("max_messages_per_connection", 1000),
        chunking=o.get("chunking", True),
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


def checked_pool_size(pool_size: int) -> int:
    """``pool_size`` if it is a usable number of connections (at least one)."""
    if pool_size < 1:
        raise ValueError("pool_size must be >= 1")
    return pool_size
