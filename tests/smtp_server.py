"""Test SMTP servers on 127.0.0.1 for the SMTP transport tests.

- :func:`aiosmtpd_server`: a real in-process aiosmtpd (>= 1.4.6) with STARTTLS
  or implicit TLS, AUTH PLAIN/LOGIN (+ a CRAM-MD5 handler) and a handler that
  stores the exact DATA bytes (``envelope.original_content``).
- :class:`FakeSMTPServer`: a small scripted threaded server for dialogues
  aiosmtpd cannot produce: injected bytes after the STARTTLS 220 (c22), raw
  AUTH capture (c24), 421 mid-session, dropped connections, slow replies,
  per-recipient 4xx/5xx, stripped STARTTLS. It records every byte received.
- :func:`make_cert`: a self-signed EC certificate (the cert file is its own CA).
- What the sync and asyncio transport tests share: :data:`MSG`, :data:`ENV`,
  :func:`plain` / :func:`aplain` (a transport to a fake server, no TLS, no
  retry pause), :func:`tls_pair`, and :class:`Driver` / :func:`client`: one
  blocking API over both drivers for tests parametrized over :data:`DRIVERS`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mimekit.transports.base import Envelope, SendResult
from mimekit.transports.smtp import AsyncSMTPTransport, SMTPTransport

if TYPE_CHECKING:  # typing.Self is 3.11+; only the type checker reads it here
    from typing_extensions import Self

logging.getLogger("mail.log").setLevel(logging.ERROR)

USER, PASSWORD = "tester@example.test", "s3cret-pass"
SERVER_NAME = "mx.example.test"


def make_cert(
    directory: Path, name: str = SERVER_NAME, *, client: bool = False
) -> tuple[str, str]:
    """A self-signed CA-capable certificate for localhost/127.0.0.1/::1 and
    ``name``: a server certificate, or with ``client`` a TLS client
    certificate (extended key usage clientAuth, RFC 5280 §4.2.1.12)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(name),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def tls_pair(directory: Path) -> tuple[ssl.SSLContext, str]:
    """(server TLS context, CA file for the client) for a fresh certificate."""
    cert, key = make_cert(directory)
    return server_context(cert, key), cert


# ------------------------------------------------------------------ shared client side

MSG = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nline\r\n.dot line\r\n"
ENV = Envelope("a@example.test", ("b@example.test",))


def _plain_options(kw: dict[str, Any]) -> dict[str, Any]:
    kw.setdefault("retry_backoff", 0.0)
    kw.setdefault("timeout", 5.0)
    kw.setdefault("security", "none")
    kw.setdefault("local_hostname", "client.test")
    return kw


def plain(srv: FakeSMTPServer, **kw: Any) -> SMTPTransport:
    """A sync transport to the fake server without TLS and without retry pauses."""
    return SMTPTransport(srv.host, srv.port, **_plain_options(kw))


def aplain(srv: FakeSMTPServer, **kw: Any) -> AsyncSMTPTransport:
    """The asyncio twin of :func:`plain`."""
    return AsyncSMTPTransport(srv.host, srv.port, **_plain_options(kw))


DRIVERS = ("sync", "async")


class Driver:
    """One blocking API over :class:`SMTPTransport` (``kind="sync"``) and
    :class:`AsyncSMTPTransport` (``"async"``, run on a private event loop),
    for the behaviour both drivers must share: those tests are written once
    and parametrized over :data:`DRIVERS`."""

    def __init__(self, kind: str, host: str, port: int, **kw: Any) -> None:
        self.kind = kind
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t: SMTPTransport | AsyncSMTPTransport
        if kind == "sync":
            self.t = SMTPTransport(host, port, **kw)
        else:
            self.loop = asyncio.new_event_loop()
            self.t = AsyncSMTPTransport(host, port, **kw)

    def _run(self, coro: Any) -> Any:
        assert self.loop is not None
        return self.loop.run_until_complete(coro)

    def send_raw(self, data: bytes, envelope: Envelope, **kw: Any) -> SendResult:
        if isinstance(self.t, SMTPTransport):
            return self.t.send_raw(data, envelope, **kw)
        result: SendResult = self._run(self.t.asend_raw(data, envelope, **kw))
        return result

    def send(self, message: Any, **kw: Any) -> SendResult:
        if isinstance(self.t, SMTPTransport):
            return self.t.send(message, **kw)
        result: SendResult = self._run(self.t.asend(message, **kw))
        return result

    def send_many(self, messages: list[Any]) -> list[SendResult]:
        if isinstance(self.t, SMTPTransport):
            return self.t.send_many(messages)
        results: list[SendResult] = self._run(self.t.asend_many(messages))
        return results

    def pause(self, seconds: float) -> None:
        """Let time pass (the asyncio driver's loop runs: it sees a server's
        close or its unsolicited 421 only then)."""
        if self.loop is None:
            time.sleep(seconds)
        else:
            self._run(asyncio.sleep(seconds))

    @property
    def settings(self) -> Any:
        return self.t.settings

    @property
    def connections_opened(self) -> int:
        return self.t.connections_opened

    def close(self) -> None:
        if isinstance(self.t, SMTPTransport):
            self.t.close()
            return
        assert self.loop is not None
        if not self.loop.is_closed():
            self._run(self.t.aclose())
            self._run(asyncio.sleep(0.01))  # let aborted sockets close
            self.loop.close()

    def __enter__(self) -> Driver:  # noqa: PYI034 - final in practice
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def client(kind: str, srv: FakeSMTPServer, **kw: Any) -> Driver:
    """:func:`plain` or :func:`aplain` behind a :class:`Driver`."""
    return Driver(kind, srv.host, srv.port, **_plain_options(kw))


# ------------------------------------------------------------------ aiosmtpd


@dataclass
class Stored:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes  # exact DATA bytes, dot-unstuffed, CRLF kept
    mail_options: list[str]
    login: bytes | None


@dataclass
class StoringHandler:
    messages: list[Stored] = field(default_factory=list)
    pipelining: bool = False

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = getattr(session.auth_data, "login", None)
        self.messages.append(
            Stored(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                list(envelope.mail_options),
                login,
            )
        )
        return "250 2.0.0 Ok: queued as QID42"

    async def auth_CRAM__MD5(self, server: Any, args: Any) -> AuthResult:
        challenge = f"<{secrets.token_hex(8)}@{SERVER_NAME}>".encode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes) or b" " not in answer:
            return AuthResult(success=False, handled=False)
        user, digest = answer.rsplit(b" ", 1)
        good = hmac.new(PASSWORD.encode(), challenge, "md5").hexdigest().encode()
        ok = user == USER.encode() and hmac.compare_digest(digest, good)
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(user, b""))


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False on failure, or aiosmtpd sends no reply at all
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _EphemeralController(Controller):
    cafile = ""

    def _trigger_server(self) -> None:
        # port=0: read back the port the OS chose before aiosmtpd probes it
        server: Any = self.server
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def aiosmtpd_server(
    tmpdir: Path,
    *,
    implicit_tls: bool = False,
    auth: bool = True,
    pipelining: bool = False,
    size_limit: int = 1 << 20,
    smtputf8: bool = True,
) -> Iterator[Any]:
    """A running aiosmtpd on 127.0.0.1: STARTTLS required (or implicit TLS),
    AUTH required when ``auth``, SMTPUTF8 offered when ``smtputf8``. Yields
    the controller with ``.port``, ``.cafile`` and ``.handler.messages``."""
    cert, key = make_cert(tmpdir)
    handler = StoringHandler(pipelining=pipelining)
    common: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": 0,
        "server_hostname": SERVER_NAME,
        "data_size_limit": size_limit,
        "authenticator": _authenticator,
        "auth_required": auth,
        "enable_SMTPUTF8": smtputf8,
    }
    if implicit_tls:
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
        ctl = _EphemeralController(
            handler, ssl_context=server_context(cert, key), auth_require_tls=False, **common
        )
    else:
        ctl = _EphemeralController(
            handler,
            tls_context=server_context(cert, key),
            require_starttls=True,
            auth_require_tls=True,
            **common,
        )
    ctl.start()
    try:
        ctl.cafile = cert
        yield ctl
    finally:
        ctl.stop()


# ------------------------------------------------------------------ scripted fake server

DROP = object()  # a hook result: close the connection without replying


@dataclass
class Delivery:
    mail_from: str
    rcpt_to: list[str]
    raw: bytes  # the DATA stream as received, dot-stuffed, terminator included
    content: bytes  # dot-unstuffed, terminator removed


@dataclass
class Session:
    number: int
    #: the client's address as the server saw it (``getpeername()``)
    peer: tuple[Any, ...] = ()
    received: bytearray = field(default_factory=bytearray)
    commands: list[str] = field(default_factory=list)
    tls: bool = False
    #: after the TLS handshake: the protocol version and the client
    #: certificate's subject commonName (None when the client sent none)
    tls_version: str | None = None
    client_cn: str | None = None
    mail_from: str | None = None
    rcpts: list[str] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    #: set when the server is done with the connection (the client closed it,
    #: or QUIT, DROP, 421): nothing more can arrive in ``received``
    ended: threading.Event = field(default_factory=threading.Event)


class FakeSMTPServer:
    """A threaded SMTP server on 127.0.0.1 driven by hooks.

    ``extensions``: EHLO keywords (``STARTTLS`` is added when ``tls_context``
    is given and TLS is not yet active, unless ``strip_starttls``).
    Hooks return a reply line (``"451 4.3.0 later"``), ``DROP`` or ``None``
    (default behaviour): ``on_command(session, line)`` for every command,
    ``on_rcpt(session, address)``, ``on_data_end(session, delivery)``
    (after the whole data arrived), ``on_data_start(session)`` (after DATA
    before 354). ``after_starttls_220`` bytes are sent in the same write as
    the 220 to STARTTLS (c22). ``reply_delay`` sleeps before each reply.

    AUTH (``auth_mechanisms``): PLAIN, LOGIN, CRAM-MD5 (RFC 2195),
    SCRAM-SHA-256 (RFC 7677; ``scram_lie`` sends a wrong server signature),
    XOAUTH2 and OAUTHBEARER (RFC 7628; ``oauth_token`` is the token it
    accepts; any other gets the JSON error challenge of §3.2.2, and the
    client's answer to it is recorded in ``auth_log``), all checked against
    ``credentials`` with UTF-8 encoding.

    ``data_read_delay`` sleeps before each read of message data (DATA or
    BDAT) and ``rcvbuf`` sets the receive buffer (``SO_RCVBUF``): a server
    that reads a large message slowly but steadily.
    """

    def __init__(
        self,
        *,
        extensions: tuple[str, ...] = ("PIPELINING", "8BITMIME", "SIZE 10000000"),
        post_tls_extensions: tuple[str, ...] | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        strip_starttls: bool = False,
        auth_mechanisms: tuple[str, ...] = (),
        credentials: tuple[str, str] = (USER, PASSWORD),
        after_starttls_220: bytes = b"",
        on_command: Callable[[Session, str], object] | None = None,
        on_rcpt: Callable[[Session, str], object] | None = None,
        on_data_start: Callable[[Session], object] | None = None,
        on_data_end: Callable[[Session, Delivery], object] | None = None,
        reply_delay: float = 0.0,
        greeting: str = f"220 {SERVER_NAME} ESMTP fake",
        host: str = "127.0.0.1",
        oauth_token: str = "ya29.good-token",
        scram_lie: bool = False,
        data_read_delay: float = 0.0,
        rcvbuf: int | None = None,
    ) -> None:
        self.extensions = extensions
        self.post_tls_extensions = post_tls_extensions
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.strip_starttls = strip_starttls
        self.auth_mechanisms = auth_mechanisms
        self.credentials = credentials
        self.after_starttls_220 = after_starttls_220
        self.on_command = on_command
        self.on_rcpt = on_rcpt
        self.on_data_start = on_data_start
        self.on_data_end = on_data_end
        self.reply_delay = reply_delay
        self.greeting = greeting
        self.oauth_token = oauth_token
        self.scram_lie = scram_lie
        self.data_read_delay = data_read_delay
        self.deliveries: list[Delivery] = []
        self.sessions: list[Session] = []
        self.auth_log: list[bytes] = []  # decoded SASL client data, in order
        self.challenges: list[bytes] = []  # decoded SASL challenges we sent, in order
        self.errors: list[BaseException] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:  # inherited by the accepted sockets
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._ios: list[_LineIO] = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # -- lifecycle

    def close(self) -> None:
        self._stop = True
        try:
            self._sock.close()
        except OSError:
            pass
        for c in list(self._conns):
            with contextlib.suppress(OSError):
                c.close()
        for t in self._threads:
            t.join(2)

    def __enter__(self) -> FakeSMTPServer:  # noqa: PYI034 - final in practice
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def all_received(self) -> bytes:
        return b"".join(bytes(s.received) for s in self.sessions)

    def _accept_loop(self) -> None:
        while not self._stop:
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            session = Session(len(self.sessions), peer=tuple(peer))
            self.sessions.append(session)
            t = threading.Thread(target=self._serve, args=(conn, session), daemon=True)
            self._threads.append(t)
            t.start()

    # -- one connection

    def kill_sessions(self, farewell: bytes = b"") -> None:
        """Send ``farewell`` (e.g. an idle-timeout 421) and/or close every open
        connection from the server side, as an MTA's idle timeout does."""
        for io in list(self._ios):
            with contextlib.suppress(OSError):
                if farewell:
                    io.send(farewell)
                else:
                    io.sock.shutdown(socket.SHUT_RDWR)

    def _serve(self, conn: socket.socket, session: Session) -> None:
        io = _LineIO(conn, session)
        self._ios.append(io)
        try:
            if self.implicit_tls:
                assert self.tls_context is not None
                io.wrap(self.tls_context)
                session.tls = True
            io.send((self.greeting + "\r\n").encode())
            self._loop(io, session)
        except (OSError, ssl.SSLError, _Closed):
            pass
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                io.sock.close()
            session.ended.set()

    def _reply(self, io: _LineIO, text: str) -> None:
        if self.reply_delay:
            time.sleep(self.reply_delay)
        io.send(text.encode() + b"\r\n")

    def _hook(self, io: _LineIO, result: object) -> bool:
        """Apply a hook result; True if it answered (or dropped)."""
        if result is None:
            return False
        if result is DROP:
            raise _Closed()
        assert isinstance(result, str)
        self._reply(io, result)
        if result.startswith("421"):
            raise _Closed()
        return True

    def _ehlo_lines(self, session: Session) -> list[str]:
        exts = list(self.extensions)
        if session.tls and self.post_tls_extensions is not None:
            exts = list(self.post_tls_extensions)
        if self.tls_context is not None and not session.tls and not self.strip_starttls:
            exts.append("STARTTLS")
        if self.auth_mechanisms:
            exts.append("AUTH " + " ".join(self.auth_mechanisms))
        return [SERVER_NAME, *exts]

    def _loop(self, io: _LineIO, session: Session) -> None:
        while True:
            raw = io.readline()
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            session.commands.append(line)
            if self.on_command and self._hook(io, self.on_command(session, line)):
                continue
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb) :].strip()
            if verb in ("EHLO", "HELO"):
                lines = self._ehlo_lines(session) if verb == "EHLO" else [SERVER_NAME]
                text = "".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}"
                self._reply(io, text)
            elif verb == "STARTTLS" and self.tls_context is not None and not session.tls:
                io.send(b"220 2.0.0 go ahead\r\n" + self.after_starttls_220)
                io.wrap(self.tls_context)
                session.tls = True
            elif verb == "AUTH":
                self._auth(io, arg)
            elif verb == "MAIL":
                session.mail_from = arg.split("<", 1)[1].split(">", 1)[0]
                session.rcpts = []
                self._reply(io, "250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = arg.split("<", 1)[1].split(">", 1)[0]
                if self.on_rcpt and self._hook(io, self.on_rcpt(session, addr)):
                    continue
                session.rcpts.append(addr)
                self._reply(io, "250 2.1.5 Ok")
            elif verb == "DATA":
                if session.mail_from is None or not session.rcpts:
                    self._reply(io, "554 5.5.1 Error: no valid recipients")
                    continue
                if self.on_data_start and self._hook(io, self.on_data_start(session)):
                    continue
                self._reply(io, "354 End data with <CR><LF>.<CR><LF>")
                delivery = self._read_data(io, session)
                if self.on_data_end and self._hook(io, self.on_data_end(session, delivery)):
                    continue
                self.deliveries.append(delivery)
                session.mail_from, session.rcpts = None, []
                self._reply(io, f"250 2.0.0 Ok: queued as Q{len(self.deliveries)}")
            elif verb == "BDAT":
                size_s, _, last = arg.partition(" ")
                io.pace = self.data_read_delay
                try:
                    chunk = io.read_exact(int(size_s))
                finally:
                    io.pace = 0.0
                session.chunks.append(chunk)
                if session.mail_from is None or not session.rcpts:
                    session.chunks = []
                    self._reply(io, "554 5.5.1 Error: no valid recipients")
                    continue
                if last.strip().upper() != "LAST":
                    self._reply(io, f"250 2.0.0 {len(chunk)} octets received")
                    continue
                content = b"".join(session.chunks)
                session.chunks = []
                delivery = Delivery(session.mail_from, list(session.rcpts), content, content)
                if self.on_data_end and self._hook(io, self.on_data_end(session, delivery)):
                    continue
                self.deliveries.append(delivery)
                session.mail_from, session.rcpts = None, []
                self._reply(io, f"250 2.0.0 Ok: queued as Q{len(self.deliveries)}")
            elif verb == "RSET":
                session.mail_from, session.rcpts = None, []
                self._reply(io, "250 2.0.0 Ok")
            elif verb == "NOOP":
                self._reply(io, "250 2.0.0 Ok")
            elif verb == "QUIT":
                self._reply(io, "221 2.0.0 Bye")
                return
            else:
                self._reply(io, "502 5.5.2 Error: command not recognized")

    def _read_data(self, io: _LineIO, session: Session) -> Delivery:
        raw = bytearray()
        lines = []
        io.pace = self.data_read_delay
        try:
            while True:
                line = io.readline()
                raw += line
                if line == b".\r\n":
                    break
                lines.append(line[1:] if line.startswith(b".") else line)
        finally:
            io.pace = 0.0
        assert session.mail_from is not None
        return Delivery(session.mail_from, list(session.rcpts), bytes(raw), b"".join(lines))

    def _auth(self, io: _LineIO, arg: str) -> None:
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        user, password = self.credentials
        if mech == "PLAIN":
            if not initial:
                self._reply(io, "334 ")
                initial = io.readline().strip().decode()
            data = base64.b64decode(initial)
            self.auth_log.append(data)
            ok = data == b"\0" + user.encode() + b"\0" + password.encode()
        elif mech == "LOGIN":
            self._reply(io, "334 VXNlcm5hbWU6")
            u = base64.b64decode(io.readline().strip())
            self._reply(io, "334 UGFzc3dvcmQ6")
            p = base64.b64decode(io.readline().strip())
            self.auth_log += [u, p]
            ok = (u, p) == (user.encode(), password.encode())
        elif mech == "CRAM-MD5":
            challenge = f"<{secrets.token_hex(8)}@{SERVER_NAME}>".encode()
            self.challenges.append(challenge)
            self._reply(io, "334 " + base64.b64encode(challenge).decode())
            answer = base64.b64decode(io.readline().strip())
            self.auth_log.append(answer)
            good = hmac.new(password.encode(), challenge, "md5").hexdigest().encode()
            ok = answer == user.encode() + b" " + good
        elif mech == "SCRAM-SHA-256":
            ok = self._scram(io, initial, user, password)
            if ok is None:
                return
        elif mech in ("XOAUTH2", "OAUTHBEARER"):
            data = base64.b64decode(initial or self._ask(io))
            self.auth_log.append(data)
            if mech == "XOAUTH2":
                good = f"user={user}\x01auth=Bearer {self.oauth_token}\x01\x01".encode()
                ok = data == good
            else:
                gs2, _, rest = data.partition(b"\x01")
                fields = dict(f.split(b"=", 1) for f in rest.split(b"\x01") if b"=" in f)
                ok = (
                    gs2 == b"n,a=" + user.encode() + b","
                    and fields.get(b"auth") == b"Bearer " + self.oauth_token.encode()
                    and rest.endswith(b"\x01\x01")
                )
            if not ok:
                # RFC 7628 §3.2.2: the error as a JSON challenge; the client answers
                # (OAUTHBEARER: a dummy ^A, §3.2.3) and then gets the failure
                error = {"status": "invalid_token", "scope": "https://mail.example.test/"}
                self._reply(io, "334 " + base64.b64encode(json.dumps(error).encode()).decode())
                self.auth_log.append(base64.b64decode(io.readline().strip()))
        else:
            self._reply(io, "504 5.5.4 Unrecognized authentication type")
            return
        self._reply(
            io,
            "235 2.7.0 Authentication successful"
            if ok
            else "535 5.7.8 Error: authentication failed",
        )

    def _ask(self, io: _LineIO) -> bytes:
        """An empty 334 challenge (no initial response was given); the answer."""
        self._reply(io, "334 ")
        return io.readline().strip()

    def _scram(self, io: _LineIO, initial: str, user: str, password: str) -> bool | None:
        """The server side of SCRAM-SHA-256 (RFC 5802 §3, RFC 7677), written
        from the RFC independently of the client: True/False for the final
        reply, None when the exchange was cancelled ("*") or refused."""
        client_first = base64.b64decode(initial or self._ask(io)).decode("utf-8")
        self.auth_log.append(client_first.encode())
        gs2, _, bare = client_first.partition(",,")
        attrs_ = dict(a.split("=", 1) for a in bare.split(","))
        if gs2 != "n" or attrs_["n"] != user.replace("=", "=3D").replace(",", "=2C"):
            self._reply(io, "535 5.7.8 Error: authentication failed")
            return None
        salt, iterations = b"mimekit-salt", 4096
        nonce = attrs_["r"] + secrets.token_hex(8)
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        self._reply(io, "334 " + base64.b64encode(server_first.encode()).decode())
        line = io.readline().strip()
        if line == b"*":
            self._reply(io, "501 5.7.0 Authentication cancelled")
            return None
        client_final = base64.b64decode(line).decode("utf-8")
        self.auth_log.append(client_final.encode())
        without_proof, _, proof_b64 = client_final.rpartition(",p=")
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, "sha256").digest()
        proof = base64.b64decode(proof_b64)
        recovered = bytes(a ^ b for a, b in zip(proof, signature))
        if without_proof != f"c=biws,r={nonce}" or hashlib.sha256(recovered).digest() != stored_key:
            return False
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        server_sig = hmac.new(server_key, auth_message, "sha256").digest()
        if self.scram_lie:
            server_sig = bytes(b ^ 1 for b in server_sig)
        self._reply(io, "334 " + base64.b64encode(b"v=" + base64.b64encode(server_sig)).decode())
        answer = io.readline().strip()
        if answer == b"*":
            self._reply(io, "501 5.7.0 Authentication cancelled")
            return None
        self.auth_log.append(base64.b64decode(answer))
        return True


class _Closed(Exception):
    pass


class _LineIO:
    """Line reading over a socket that can be upgraded to TLS. Never reads
    past what it returns, except within its own buffer, which it empties at
    the TLS upgrade only after asserting the client sent nothing extra."""

    def __init__(self, sock: socket.socket, session: Session) -> None:
        self.sock = sock
        self.sock.settimeout(10)
        self.session = session
        self.buf = bytearray()
        self.pace = 0.0  # seconds to sleep before each read (a slow reader)

    def _fill(self) -> None:
        if self.pace:
            time.sleep(self.pace)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed()
        self.session.received += chunk
        self.buf += chunk

    def readline(self) -> bytes:
        start = 0
        while True:
            nl = self.buf.find(b"\n", start)
            if nl >= 0:
                line = bytes(self.buf[: nl + 1])
                del self.buf[: nl + 1]
                return line
            start = len(self.buf)
            self._fill()

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wrap(self, ctx: ssl.SSLContext) -> None:
        self.buf.clear()
        tls = ctx.wrap_socket(self.sock, server_side=True)
        self.sock = tls
        self.session.tls_version = tls.version()
        peer_cert = tls.getpeercert()
        if peer_cert:
            subject = dict(x[0] for x in peer_cert["subject"])
            self.session.client_cn = subject.get("commonName")


# ------------------------------------------------------------------ not SMTP


class _Listener:
    """A TCP listener on 127.0.0.1 (an OS-chosen port) that keeps every connection it
    accepted until :meth:`close`; an accept thread runs ``_on_connection`` for each."""

    def __init__(self, backlog: int) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self.host = "127.0.0.1"
        self.port: int = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            self._on_connection(conn)

    def _on_connection(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        if self._thread is not None:
            self._thread.join(2)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class SilentServer(_Listener):
    """A TCP listener on 127.0.0.1 that is no SMTP server: what a plain client
    meets on an implicit-TLS port (the server waits for a TLS ClientHello and
    never sends a greeting) or on an HTTP port.

    Without ``first_bytes`` nothing runs in the background: the kernel
    completes each TCP handshake into the listen backlog, and :meth:`attempts`
    accepts what is pending (keeping it open, never writing) and returns how
    many connections were made in all: an exact count, no timing involved.
    With ``first_bytes`` a thread accepts each connection, counts it, writes
    those bytes (a TLS record, an HTTP reply) and keeps it open; the count is
    exact once the client has read them."""

    def __init__(self, first_bytes: bytes = b"") -> None:
        super().__init__(64)
        self.first_bytes = first_bytes
        self._count = 0
        if first_bytes:
            self._start()

    def _on_connection(self, conn: socket.socket) -> None:
        self._count += 1
        with contextlib.suppress(OSError):
            conn.sendall(self.first_bytes)

    def attempts(self) -> int:
        """How many connections clients made so far."""
        if self._thread is None:
            self._sock.setblocking(False)
            while True:
                try:
                    conn, _ = self._sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                self._conns.append(conn)
                self._count += 1
            self._sock.setblocking(True)
        return self._count


class RawServer(_Listener):
    """A TCP listener on 127.0.0.1 that runs ``handler(sock)`` in a thread for
    each connection: for hostile servers no SMTP state machine would play
    (replies dripped a line at a time, floods). ``connections`` counts them."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        super().__init__(16)
        self.handler = handler
        self.connections = 0
        self._start()

    def _on_connection(self, conn: socket.socket) -> None:
        self.connections += 1
        threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn)
