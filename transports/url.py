"""Build a transport from one string (12-factor configuration).

Accepted forms (``docs/cli.md``)::

    smtp://[user[:pass]@]host[:port]            STARTTLS if offered (opportunistic), port 25
    smtp+starttls://[user[:pass]@]host[:port]   STARTTLS required, port 587
    smtps://[user[:pass]@]host[:port]           implicit TLS, port 465
    file:DIR                                     one .eml per message (FileTransport)
    maildir:DIR                                  MaildirTransport
    mbox:FILE                                    MboxTransport
    memory:  memory:DIR                          MemoryTransport (DIR: shared between processes)

``maildir:`` and ``mbox:`` take ``?envelope_headers=0``: do not record the envelope in
``Return-Path``/``X-Original-To`` header fields on top of each message; ``mbox:`` also
takes ``?dotlock=0``: no ``FILE.lock`` dot-lock (for an mbox in a folder this process
cannot write; the fcntl and flock locks are still taken).

DIR may be relative (``file:./outbox``) or absolute (``file:/var/out``). The RFC
8089 forms ``file:///var/out`` and ``file://localhost/var/out`` are the absolute
path ``/var/out`` (for every path scheme); any other host (``file://server/x``,
``file://./x``) is an :class:`InvalidURL` naming the host, since these transports
only write local files.

SMTP query options: ``timeout`` and ``connect_timeout`` (seconds), ``pool_size``, ``insecure`` (``1``/``0``,
``true``/``false``, ``yes``/``no``), ``cafile``, ``local_hostname``, ``security``
(``starttls``, ``starttls-opportunistic``, ``tls`` or ``none``: replaces the
scheme's mode, the default port still comes from the scheme) and
``allow_plaintext_auth`` (a boolean: AUTH over an unencrypted connection). Credentials and
paths are percent-decoded; IPv6 hosts are written ``[::1]``, with a zone as RFC 6874
says (``[fe80::1%25eth0]`` is the host ``fe80::1%eth0``). Anything else is an
:class:`InvalidURL` error naming the problem. :func:`parse_url` gives the parsed,
frozen :class:`TransportURL` (its repr never shows the password);
:func:`from_url` builds the transport, :func:`from_url_async` the asyncio one.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import attrs
from mimekit.transports.base import (
    AsyncTransport,
    Envelope,
    SendResult,
    Transport,
    check_message_type,
)
from mimekit.transports.errors import TransportError

if TYPE_CHECKING:
    from mimekit.model import Message

__all__ = [
    "InvalidURL",
    "ThreadedAsyncTransport",
    "TransportURL",
    "from_url",
    "from_url_async",
    "parse_url",
    "redact_url",
    "smtp_kwargs",
]


class InvalidURL(TransportError, ValueError):
    """A transport URL could not be understood (unknown scheme or option, bad port, ...)."""


SMTP_SCHEMES: dict[str, tuple[str, int]] = {
    # scheme -> (security, default port). RFC 8314 §3.3 (465 implicit TLS),
    # RFC 6409 §3.1 (587 submission), RFC 5321 §4.5.4.2 (25).
    "smtp": ("starttls-opportunistic", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
PATH_SCHEMES = ("file", "maildir", "mbox", "memory")
SMTP_OPTIONS = (
    "timeout",
    "connect_timeout",
    "pool_size",
    "insecure",
    "cafile",
    "local_hostname",
    "security",
    "allow_plaintext_auth",
)
#: the values of ``?security=`` (SMTPTransport's ``security``; kept in step with
#: mimekit.transports.smtp.common.SECURITY_MODES, which this module does not import)
URL_SECURITY_MODES = ("starttls", "starttls-opportunistic", "tls", "none")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_BAD_TEXT = re.compile(r"[\x00-\x1f\x7f]")
# RFC 1123 §2.1 host names (letters, digits, hyphens, dots); IDNA labels are
# accepted in Unicode and converted by the socket layer.
_HOSTNAME = re.compile(r"[^\s/\\@?#\[\]<>\"']+\Z")


@attrs.frozen
class TransportURL:
    """A parsed transport URL.

    ``scheme`` is the URL scheme as written (lower case); ``kind`` one of
    ``smtp``, ``file``, ``maildir``, ``mbox``, ``memory``. SMTP fields:
    ``security`` (``starttls-opportunistic``, ``starttls``, ``tls``), ``host``,
    ``port``, ``username``, ``password`` (hidden from repr), ``timeout``,
    ``pool_size``, ``insecure``, ``cafile``, ``local_hostname``,
    ``allow_plaintext_auth``. Path kinds:
    ``path`` (``None`` for ``memory:``); ``envelope_headers`` for ``maildir:``
    and ``mbox:``.
    """

    scheme: str
    kind: str
    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = attrs.field(
        default=None, repr=lambda v: "None" if v is None else "'***'"
    )
    timeout: float | None = None
    connect_timeout: float | None = None
    pool_size: int | None = None
    insecure: bool = False
    cafile: str | None = None
    local_hostname: str | None = None
    #: ``?allow_plaintext_auth=1``: SMTPTransport(allow_plaintext_auth=True)
    allow_plaintext_auth: bool = False
    path: str | None = None
    #: maildir: and mbox: only: record the envelope in Return-Path/X-Original-To
    #: header fields (``?envelope_headers=0`` turns it off).
    envelope_headers: bool = True
    #: mbox: only: take the ``FILE.lock`` dot-lock (``?dotlock=0`` skips it, for an
    #: mbox in a folder this process cannot write; fcntl and flock are still taken).
    dotlock: bool = True

    def redacted(self) -> str:
        """The URL with the password replaced by ``***`` (safe to log). The user name
        is percent-encoded as RFC 3986 §3.2.1 userinfo needs (``@``, ``:``, ``%``, ``/``
        and non-ASCII), so the result parses back to the same user name."""
        if self.kind != "smtp":
            off = [f"{name}=0" for name, on in (("envelope_headers", self.envelope_headers),
                                                ("dotlock", self.dotlock)) if not on]
            query = "?" + "&".join(off) if off else ""
            return f"{self.scheme}:{self.path or ''}{query}"
        auth = ""
        if self.username is not None:
            user = quote(self.username, safe="!$&'()*+,;=-._~")
            auth = user + (":***" if self.password is not None else "") + "@"
        # An IPv6 literal in brackets, its zone's "%" written "%25" (RFC 6874 §2).
        host = (f"[{self.host.replace('%', '%25')}]" if self.host and ":" in self.host
                else (self.host or ""))
        # the options that change what is safe to send (shown so a log tells them apart)
        shown: list[str] = []
        if self.scheme in SMTP_SCHEMES and self.security != SMTP_SCHEMES[self.scheme][0]:
            shown.append(f"security={self.security}")
        if self.allow_plaintext_auth:
            shown.append("allow_plaintext_auth=1")
        tail = "?" + "&".join(shown) if shown else ""
        return f"{self.scheme}://{auth}{host}:{self.port}{tail}"


_SCHEME_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, even when it does not parse
    (for error messages that name the URL). The user information is everything
    between the scheme (with or without ``//``, however many slashes) and the *last*
    ``@``, so a password with an unencoded ``@``, ``/``, ``?`` or ``#`` is hidden
    whole; the user name (up to the first ``:``) stays. Anything that does not start
    with one of the transport schemes but holds ``@`` is shown with everything before
    the last ``@`` hidden."""
    m = _SCHEME_PREFIX.match(url)
    at = url.rfind("@")
    if at < 0:
        if m is None or m.group()[:-1].lower() not in SMTP_SCHEMES:
            return url
        # No "@": "smtp://user:password" with the host forgotten looks like a host and
        # a port. Whatever follows the first ":" of the authority that is no port
        # number is hidden (a typo'd port is hidden too: safe).
        start = m.end()
        while start < len(url) and url[start] == "/":
            start += 1
        stop = min((i for i in (url.find(c, start) for c in "/?#") if i >= 0),
                   default=len(url))
        host, colon, rest = url[start:stop].partition(":")
        if colon and not rest.isdigit():
            return f"{url[:start]}{host}:***{url[stop:]}"
        return url
    if m is None or m.group()[:-1].lower() not in (*SMTP_SCHEMES, *PATH_SCHEMES):
        return "***" + url[at:]  # not one of ours: "user:" could be a scheme or a user
    start = m.end()
    while start < at and url[start] == "/":
        start += 1
    user, colon, _ = url[start:at].partition(":")
    return f"{url[:start]}{user}{':***' if colon else ''}{url[at:]}"


def _unquote(text: str, what: str) -> str:
    """Percent-decode ``text`` as UTF-8; bytes that are not UTF-8 are an
    :class:`InvalidURL` naming ``what`` (never the text: it may be a password,
    and a UnicodeDecodeError would carry it in its repr)."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        pass  # raised outside the handler, so the error keeps no __context__ either
    raise InvalidURL(f"the {what} in the transport URL is not percent-encoded UTF-8")


def _parse_bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidURL(f"option {name}={value!r} must be 1/0, true/false or yes/no")


def _clean_text(name: str, value: str) -> str:
    # Values end up in EHLO or file paths: no control characters (RFC 5321 §2.3.8).
    if _BAD_TEXT.search(value):
        raise InvalidURL(f"option {name} contains control characters")
    if not value:
        raise InvalidURL(f"option {name} is empty")
    return value


def _smtp_options(query: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    problem = None
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query),
                          errors="strict")
    except UnicodeDecodeError:
        problem = "the query string in the transport URL is not percent-encoded UTF-8"
    except ValueError:
        problem = ("malformed query string in the transport URL (percent-encode "
                   "'?', '/', '@' and ':' in a password)")
    if problem is not None:
        # Raised outside the handler: the parser's error quotes the query, which may
        # hold pieces of a password with an unescaped "?"; no __cause__/__context__.
        raise InvalidURL(problem)
    for name, value in pairs:
        if name not in SMTP_OPTIONS:
            raise InvalidURL(
                f"unknown option {name!r} in transport URL; known: {', '.join(SMTP_OPTIONS)}"
            )
        if name in out:
            raise InvalidURL(f"option {name!r} given twice")
        if name in ("timeout", "connect_timeout"):
            try:
                seconds = float(value)
            except ValueError:
                raise InvalidURL(f"option {name}={value!r} is not a number of seconds") from None
            if not seconds > 0 or seconds == float("inf"):
                raise InvalidURL(f"option {name}={value!r} must be a positive number")
            out[name] = seconds
        elif name == "pool_size":
            # ASCII digits only: str.isdigit() is also true for "²", which int() refuses.
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                raise InvalidURL(f"option pool_size={value!r} must be a positive integer")
            out[name] = int(value)
        elif name in ("insecure", "allow_plaintext_auth"):
            out[name] = _parse_bool(name, value)
        elif name == "security":
            if value not in URL_SECURITY_MODES:
                raise InvalidURL(
                    f"option security={value!r} must be one of {', '.join(URL_SECURITY_MODES)}"
                )
            out[name] = value
        elif name == "cafile":
            out[name] = _clean_text(name, value)
        else:  # local_hostname
            out[name] = _clean_text(name, value)
            if any(c.isspace() for c in value):
                raise InvalidURL("option local_hostname must not contain white space")
    return out


def _parse_smtp(url: str, scheme: str) -> TransportURL:
    security, default_port = SMTP_SCHEMES[scheme]
    if _BAD_TEXT.search(url):
        raise InvalidURL("transport URL contains control characters (CR, LF, NUL, ...)")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "Invalid IPv6 URL" for an unclosed or bad [literal]
        raise InvalidURL("invalid transport URL (an IPv6 host must be a [literal]; "
                         "percent-encode special characters in a password)") from None
    if parts.fragment:
        raise InvalidURL("a transport URL has no #fragment")
    if "@" in parts.query:
        # No option value holds an "@" unencoded: this is a password with an unencoded
        # "?" (the text after it would otherwise be echoed in an "unknown option" error).
        raise InvalidURL("an '@' after '?' in the transport URL (percent-encode '?' and "
                         "'@' in a password as %3F and %40)")
    if parts.path not in ("", "/"):
        raise InvalidURL("an SMTP URL has no path (percent-encode '/' in a password)")
    netloc = parts.netloc
    if not netloc:
        raise InvalidURL(f"no host in {scheme}:// URL")
    userinfo, at, hostport = netloc.rpartition("@")
    if at and not userinfo:
        raise InvalidURL("empty user name before '@'")
    try:
        port = parts.port
    except ValueError:
        raise InvalidURL(f"invalid port in {scheme}:// URL (missing '@host', or a ':' in "
                         "the password that is not percent-encoded)") from None
    host = parts.hostname
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidURL("unclosed '[' in an IPv6 host")
        host = hostport[1:end]
        import ipaddress

        address, pct, zone = host.partition("%")
        if pct:
            # RFC 6874 §2: a zone id is written "%25" + the percent-encoded zone
            # ("[fe80::1%25eth0]"); the socket layer wants it as "fe80::1%eth0".
            if not zone.startswith("25") or len(zone) == 2:
                raise InvalidURL(f"invalid IPv6 zone in {host!r} (write it as "
                                 "[fe80::1%25eth0], RFC 6874)")
            zone = _unquote(zone[2:], "IPv6 zone")
            if _BAD_TEXT.search(zone) or any(c.isspace() or c in "%/" for c in zone):
                raise InvalidURL(f"invalid IPv6 zone {zone!r}")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address {host!r}") from None
        host = f"{address}%{zone}" if pct else address
    elif host is not None:
        host = _unquote(host, "host")
        if _BAD_TEXT.search(host):
            # "%00" or "%0A" in the host: it would reach getaddrinfo, the TLS server
            # name and log lines (RFC 1123 §2.1 names hold letters, digits, "-", ".").
            raise InvalidURL("the host in the transport URL contains control characters")
    if not host or not _HOSTNAME.match(host) and not hostport.startswith("["):
        raise InvalidURL(f"invalid host in transport URL: {hostport!r}")
    if not hostport.startswith("[") and any(
        not label or label[0] == "-" or label[-1] == "-"
        for label in host.removesuffix(".").split(".")
    ):
        # RFC 1123 §2.1 / RFC 952: no empty label, none starting or ending with "-".
        raise InvalidURL(f"invalid host name in transport URL: {host!r}")
    if port is not None and port == 0:
        raise InvalidURL("port 0 is not a usable port")
    username: str | None = None
    password: str | None = None
    if at:
        user_raw, colon, pass_raw = userinfo.partition(":")
        username = _unquote(user_raw, "user name")
        if not username:
            raise InvalidURL("empty user name in transport URL")
        if not colon:
            raise InvalidURL(
                "a user name without a password; write user:password@ (percent-encode "
                "special characters such as @ : / as %40 %3A %2F)"
            )
        password = _unquote(pass_raw, "password")
        for label, value in (("user name", username), ("password", password)):
            if "\x00" in value or "\r" in value or "\n" in value:
                raise InvalidURL(f"the {label} contains CR, LF or NUL")
    options = _smtp_options(parts.query)
    security = options.pop("security", security)
    return TransportURL(
        scheme=scheme,
        kind="smtp",
        host=host,
        port=port if port is not None else default_port,
        security=security,
        username=username,
        password=password,
        **options,
    )


def _parse_path(url: str, scheme: str) -> TransportURL:
    rest = url[len(scheme) + 1 :]
    if "#" in rest:
        raise InvalidURL("a transport URL has no #fragment")
    if rest.startswith("//") and "@" in rest[2:].partition("/")[0]:
        # user information (RFC 3986 §3.2.1) before anything else is parsed: it may
        # hold a password, even one with an unencoded "?", never to be echoed
        raise InvalidURL(f"a {scheme}: URL names a local file and takes no user or "
                         f"password (write {scheme}:PATH)")
    rest, qmark, query = rest.partition("?")
    # The path options: ?envelope_headers=0 for maildir: and mbox: (do not record the
    # envelope on top of each message), ?dotlock=0 for mbox: (MboxTransport's
    # dotlock=False: an mbox in a folder this process cannot write).
    allowed = {"maildir": ("envelope_headers",),
               "mbox": ("envelope_headers", "dotlock")}.get(scheme, ())
    flags: dict[str, bool] = {}
    if qmark:
        if not allowed:
            raise InvalidURL(f"{scheme}: URLs take no options (got ?{query})")
        for name, eq, value in (piece.partition("=") for piece in query.split("&")):
            if name not in allowed or not eq:
                shown = "an empty option" if not name else repr(name)
                raise InvalidURL(
                    f"{scheme}: URLs take only "
                    + " and ".join(f"?{a}=0 or =1" for a in allowed)
                    + f" (got {shown} in ?{query})")
            if name in flags:
                raise InvalidURL(f"option {name!r} given twice")
            flags[name] = _parse_bool(name, _unquote(value, "query"))
    envelope_headers = flags.get("envelope_headers", True)
    dotlock = flags.get("dotlock", True)
    if rest.startswith("//"):
        # RFC 8089 §2: "//" starts an authority; the path after it is absolute.
        # An empty host or "localhost" (§3) is this machine; any other host is a
        # remote file that a local transport cannot write, never a relative path.
        host, slash, tail = rest[2:].partition("/")
        # user information (RFC 3986 §3.2.1) is never quoted: it may hold a password
        had_userinfo = "@" in host
        host_name = _unquote(host.rpartition("@")[2], "host")
        if had_userinfo or (host_name and host_name.lower() != "localhost"):
            shown = f"{'***@' if had_userinfo else ''}{host_name}"
            raise InvalidURL(
                f"the host {shown!r} in a {scheme}:// URL is not this machine (only "
                f"{scheme}:///path and {scheme}://localhost/path name a local file); "
                f"write {scheme}:DIR for a relative path, e.g. {scheme}:./outbox"
            )
        rest = slash + tail
    path = _unquote(rest, "path")
    if "\x00" in path:
        raise InvalidURL("the path contains NUL")
    if not path:
        if scheme == "memory":
            return TransportURL(scheme=scheme, kind=scheme, path=None)
        # An mbox is one file, the others are folders.
        example = "./sent.mbox" if scheme == "mbox" else "./outbox"
        raise InvalidURL(f"{scheme}: needs a path, e.g. {scheme}:{example}")
    path = os.path.expanduser(path)
    return TransportURL(scheme=scheme, kind=scheme, path=path, envelope_headers=envelope_headers,
                        dotlock=dotlock)


def parse_url(url: str) -> TransportURL:
    """Parse a transport URL without building anything (see the module docstring)."""
    if not isinstance(url, str):
        raise InvalidURL(f"a transport URL must be a string, not {type(url).__name__}")
    url = url.strip()
    scheme, colon, _ = url.partition(":")
    scheme = scheme.lower()
    if not colon or not scheme:
        raise InvalidURL(
            f"{url!r} is not a transport URL (expected smtp://, smtps://, smtp+starttls://, "
            "file:, maildir:, mbox: or memory:)"
        )
    if scheme in SMTP_SCHEMES:
        if not url[len(scheme) + 1 :].startswith("//"):
            raise InvalidURL(f"write {scheme}://host[:port]")
        return _parse_smtp(url, scheme)
    if scheme in PATH_SCHEMES:
        return _parse_path(url, scheme)
    raise InvalidURL(
        f"unknown transport scheme {scheme!r}; use smtp, smtp+starttls, smtps, file, "
        "maildir, mbox or memory"
    )


def smtp_kwargs(config: TransportURL) -> dict[str, Any]:
    """Keyword arguments for ``SMTPTransport(host, port, **kwargs)`` (options not
    set in the URL are left out, so the constructor's defaults apply)."""
    kw: dict[str, Any] = {"security": config.security}
    if config.username is not None:
        kw["username"] = config.username
        kw["password"] = config.password
    for name in SMTP_OPTIONS:
        value = getattr(config, name)
        if name in ("insecure", "allow_plaintext_auth"):
            if value:
                kw[name] = True
        elif value is not None:
            kw[name] = value
    return kw


def _constructor_kwargs(cls: Any, config: TransportURL) -> dict[str, Any]:
    """``smtp_kwargs`` limited to what ``cls`` accepts (everything when it
    takes ``**options``). Both SMTP transports have a connection pool, so
    ``pool_size`` reaches the synchronous one too."""
    kw = smtp_kwargs(config)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return kw
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kw
    return {k: v for k, v in kw.items() if k in params}


def _override(name: str, value: object) -> Any:
    """An override of ``from_url`` checked as strictly as the same option in a URL,
    so ``insecure="no"`` (a truthy string) can never turn verification off and a
    ``local_hostname`` with CR/LF never reaches EHLO. Strings are read as in a URL
    query (``insecure="0"`` is False); anything else of the wrong type is an
    :class:`InvalidURL`."""
    if isinstance(value, str):
        return _smtp_options(f"{name}={quote(value, safe='')}")[name]
    if name in ("insecure", "allow_plaintext_auth"):
        if not isinstance(value, bool):
            raise InvalidURL(f"option {name} must be True or False, not {type(value).__name__}")
        return value
    if name in ("timeout", "connect_timeout"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidURL(f"option {name} must be a number of seconds, "
                             f"not {type(value).__name__}")
        return _smtp_options(f"{name}={value!r}")[name]
    if name == "pool_size":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidURL(f"option pool_size must be an int, not {type(value).__name__}")
        return _smtp_options(f"pool_size={value}")[name]
    if name == "cafile" and isinstance(value, os.PathLike):
        return _override(name, os.fspath(value))
    raise InvalidURL(f"option {name} must be a string, not {type(value).__name__}")


def _resolve(url: str | TransportURL, overrides: dict[str, Any]) -> TransportURL:
    config = url if isinstance(url, TransportURL) else parse_url(url)
    unknown = [k for k in overrides if k not in SMTP_OPTIONS]
    if unknown:
        raise InvalidURL(f"unknown transport option(s): {', '.join(sorted(unknown))}")
    if config.kind == "smtp" and overrides:
        config = attrs.evolve(
            config, **{k: _override(k, v) for k, v in overrides.items() if v is not None}
        )
    return config


def from_url(url: str | TransportURL, **overrides: Any) -> Transport:
    """Build the (synchronous) transport a URL describes.

    ``overrides`` (``timeout``, ``pool_size``, ``insecure``, ``cafile``,
    ``local_hostname``, ``security``, ``allow_plaintext_auth``) replace the
    URL's options for SMTP, as the CLI's ``--cafile``/``--insecure`` flags do;
    ``None`` values are ignored. Each is checked as the same option in a URL is
    (a string is read as a query value, so ``insecure="no"`` is False; a value of
    another wrong type is an :class:`InvalidURL`). They do not apply to the file, Maildir, mbox and memory transports, which have
    no network, and are ignored there. An unknown override is an
    :class:`InvalidURL` error. Nothing connects until the first send.
    """
    config = _resolve(url, overrides)
    if config.kind == "smtp":
        from mimekit.transports.smtp import SMTPTransport

        assert config.host is not None and config.port is not None
        transport: Transport = SMTPTransport(
            config.host, config.port, **_constructor_kwargs(SMTPTransport, config)
        )
        return transport
    if config.kind == "file":
        from mimekit.transports.file import FileTransport

        assert config.path is not None
        return FileTransport(Path(config.path))
    if config.kind == "maildir":
        from mimekit.transports.file import MaildirTransport

        assert config.path is not None
        return MaildirTransport(Path(config.path), envelope_headers=config.envelope_headers)
    if config.kind == "mbox":
        from mimekit.transports.file import MboxTransport

        assert config.path is not None
        return MboxTransport(Path(config.path), envelope_headers=config.envelope_headers,
                             dotlock=config.dotlock)
    from mimekit.transports.memory import MemoryTransport

    return MemoryTransport(path=config.path)


class ThreadedAsyncTransport(AsyncTransport):
    """An asyncio face for a synchronous local transport (file, Maildir, mbox):
    each send runs in a worker thread (``asyncio.to_thread``), so disk writes
    and fsync never block the event loop."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"<ThreadedAsyncTransport {self.inner!r}>"

    async def asend(
        self, message: Message | bytes, *, envelope: Envelope | None = None
    ) -> SendResult:
        """``inner.send`` in a worker thread."""
        check_message_type(message, "asend()")
        import asyncio

        return await asyncio.to_thread(self.inner.send, message, envelope=envelope)

    async def aclose(self) -> None:
        """``inner.close`` in a worker thread."""
        import asyncio

        await asyncio.to_thread(self.inner.close)


def from_url_async(url: str | TransportURL, **overrides: Any) -> AsyncTransport:
    """Build the asyncio transport a URL describes: ``AsyncSMTPTransport`` for the
    SMTP schemes (``pool_size`` applies), :class:`MemoryTransport` for
    ``memory:``, and the file, Maildir and mbox transports run in a worker
    thread (``asyncio.to_thread``) so disk writes never block the event loop."""
    config = _resolve(url, overrides)
    if config.kind == "smtp":
        from mimekit.transports.smtp import AsyncSMTPTransport

        assert config.host is not None and config.port is not None
        transport: AsyncTransport = AsyncSMTPTransport(
            config.host, config.port, **_constructor_kwargs(AsyncSMTPTransport, config)
        )
        return transport
    if config.kind == "memory":
        from mimekit.transports.memory import MemoryTransport

        return MemoryTransport(path=config.path)
    return ThreadedAsyncTransport(from_url(config))
