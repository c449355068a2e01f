"""A server that never greets (an implicit-TLS port reached in plain text) or
answers with something that is not SMTP (a TLS record, an HTTP reply), and
hints that name both the keyword and the URL form of the fix.

Attempts are counted at the server (:class:`SilentServer`), never timed."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mimekit.transports.errors import ConnectionLost, TLSError
from mimekit.transports.smtp import sasl
from mimekit.transports.smtp.protocol import (
    GreetingTimeout,
    NotSMTPServer,
    SMTPClientProtocol,
    SMTPProtocolError,
)
from mimekit.transports.url import from_url, from_url_async
from smtp_server import (
    DRIVERS,
    ENV,
    MSG,
    PASSWORD,
    USER,
    Driver,
    FakeSMTPServer,
    SilentServer,
    make_cert,
    server_context,
)

TLS_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"  # RFC 8446 §6: a fatal alert record
TLS_HANDSHAKE = b"\x16\x03\x03\x00\x31\x02\x00\x00\x2d\x03\x03"  # a ServerHello's start
HTTP_REPLY = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
IMPLICIT_TLS_HINT = "(an implicit-TLS port? use smtps:// / security='tls')"


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as srv:
        yield srv


def _driver(kind: str, srv: Any, **kw: Any) -> Driver:
    kw.setdefault("retry_backoff", 0.0)
    kw.setdefault("local_hostname", "client.test")
    return Driver(kind, srv.host, srv.port, **kw)


@pytest.mark.parametrize("kind", DRIVERS)
@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (1, 2), (2, 2), (5, 2)])
def test_no_greeting_is_retried_at_most_once(
    silent: SilentServer, kind: str, retries: int, attempts: int
) -> None:
    """A plain connection to a port that never sends its 220 (RFC 5321 §4.3.1):
    at most one retry, whatever ``retries`` says, and a message naming the fix."""
    with _driver(kind, silent, timeout=0.25, retries=retries, security="starttls") as d:
        with pytest.raises(GreetingTimeout) as info:
            d.send(MSG, envelope=ENV)
        assert d.connections_opened == 0
    assert silent.attempts() == attempts
    assert str(info.value) == (
        f"no SMTP greeting from 127.0.0.1:{silent.port} within 0.25 s {IMPLICIT_TLS_HINT}"
    )
    assert isinstance(info.value, ConnectionLost)  # still a connection failure for callers


@pytest.mark.parametrize("kind", DRIVERS)
def test_no_greeting_from_url_names_the_timeout(silent: SilentServer, kind: str) -> None:
    """The trial's case: smtp://127.0.0.1:PORT?timeout=3 at a silent port (here
    0.25 s) with the default retries (2): two connections, not three, and the
    pause between them is the configured back-off (recorded, not waited for)."""
    url = f"smtp://127.0.0.1:{silent.port}?timeout=0.25&local_hostname=client.test"
    pauses: list[float] = []
    if kind == "sync":
        t = from_url(url)
        t._sleep = pauses.append  # type: ignore[attr-defined]
        with t, pytest.raises(GreetingTimeout) as info:
            t.send(MSG, envelope=ENV)
    else:
        at = from_url_async(url)

        async def fake_sleep(seconds: float) -> None:
            pauses.append(seconds)

        at._sleep = fake_sleep  # type: ignore[attr-defined]

        async def go() -> None:
            async with at:
                await at.asend(MSG, envelope=ENV)

        with pytest.raises(GreetingTimeout) as info:
            asyncio.run(go())
    assert silent.attempts() == 2
    assert pauses == [0.5]
    assert str(info.value) == (
        f"no SMTP greeting from 127.0.0.1:{silent.port} within 0.25 s {IMPLICIT_TLS_HINT}"
    )


@pytest.mark.parametrize("kind", DRIVERS)
def test_no_greeting_with_implicit_tls_does_not_suggest_tls(kind: str, tmp_path: Any) -> None:
    """With security='tls' the hint asks whether it is an SMTP server at all."""
    cert, key = make_cert(tmp_path)
    ctx = server_context(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    held: list[Any] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                held.append(ctx.wrap_socket(conn, server_side=True))  # TLS, then silence
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        d = Driver(kind, "127.0.0.1", port, security="tls", cafile=cert, timeout=0.5,
                   retries=0, local_hostname="client.test")
        with d, pytest.raises(GreetingTimeout) as info:
            d.send(MSG, envelope=ENV)
        assert str(info.value) == (
            f"no SMTP greeting from 127.0.0.1:{port} within 0.5 s (is it an SMTP server?)"
        )
    finally:
        listener.close()
        thread.join(2)
        for s in held:
            s.close()


@pytest.mark.parametrize("kind", DRIVERS)
@pytest.mark.parametrize(
    ("first", "what"),
    [
        (TLS_ALERT, "a TLS record"),
        (TLS_HANDSHAKE, "a TLS record"),
        (HTTP_REPLY, "an HTTP reply"),
    ],
)
def test_not_smtp_bytes_are_named_and_not_retried(kind: str, first: bytes, what: str) -> None:
    with SilentServer(first) as srv:
        d = _driver(kind, srv, timeout=5.0, retries=2, security="starttls")
        with d, pytest.raises(NotSMTPServer) as info:
            d.send(MSG, envelope=ENV)
        assert srv.attempts() == 1
    text = str(info.value)
    assert text.startswith(f"127.0.0.1:{srv.port} sent {what} instead of an SMTP greeting (")
    if what == "a TLS record":
        assert text.endswith(IMPLICIT_TLS_HINT)
    else:
        assert text.endswith("(an HTTP port, not an SMTP server: check the host and port)")


# -- sans-I/O: the greeting check itself


def _greet(*chunks: bytes, tls_active: bool = False) -> tuple[SMTPClientProtocol, int]:
    """Feed ``chunks`` to read_greeting; returns the protocol and the number of reads."""
    proto = SMTPClientProtocol("c", tls_active=tls_active)
    gen = proto.read_greeting()
    reads = 0
    action = next(gen)
    it = iter(chunks)
    try:
        while True:
            reads += 1
            action = gen.send(next(it))
    except StopIteration:
        pass
    del action
    return proto, reads


def test_tls_record_split_over_reads_is_recognised() -> None:
    with pytest.raises(NotSMTPServer, match="a TLS record"):
        _greet(b"\x16", b"\x03\x01\x00")


def test_greeting_after_check_still_parses() -> None:
    proto, reads = _greet(b"2", b"20 mx ESMTP\r\n")
    assert proto.greeting is not None and proto.greeting.code == 220
    assert reads == 2


def test_tls_bytes_inside_tls_are_just_malformed() -> None:
    """Inside implicit TLS the bytes are decrypted data: no TLS-record verdict."""
    with pytest.raises(SMTPProtocolError) as info:
        _greet(b"\x16\x03 garbage\r\n", tls_active=True)
    assert not isinstance(info.value, NotSMTPServer)


def test_not_smtp_only_before_the_greeting() -> None:
    """After the 220 a reply that starts like HTTP is a malformed reply, as before."""
    proto = SMTPClientProtocol("c")
    gen = proto.ehlo()
    next(gen)
    proto.greeting = object()  # type: ignore[assignment]  # greeted
    gen.send(b"")
    with pytest.raises(SMTPProtocolError) as info:
        gen.send(b"HTTP/1.1 200 OK\r\n")
    assert not isinstance(info.value, NotSMTPServer)


# -- hints name the keyword and the URL option


def test_starttls_missing_hint_names_keyword_and_url() -> None:
    with FakeSMTPServer() as srv:
        d = _driver("sync", srv, security="starttls", timeout=5.0)
        with d, pytest.raises(TLSError) as info:
            d.send(MSG, envelope=ENV)
    assert str(info.value) == (
        "the server does not offer STARTTLS and security='starttls' requires it (nothing was "
        "sent; to allow plain text use security='starttls-opportunistic', or "
        "smtp://...?security=starttls-opportunistic in a URL)"
    )


def test_hinted_url_security_option_works() -> None:
    """The URL form the hint names does what it says: plain text is allowed."""
    with FakeSMTPServer() as srv:
        url = (f"smtp+starttls://127.0.0.1:{srv.port}"
               "?security=starttls-opportunistic&local_hostname=client.test")
        with from_url(url) as t:
            assert t.settings.security == "starttls-opportunistic"  # type: ignore[attr-defined]
            result = t.send(MSG, envelope=ENV)
        assert result.accepted == ("b@example.test",)
        assert len(srv.deliveries) == 1


def test_plaintext_auth_hint_names_keyword_and_url() -> None:
    proto = SMTPClientProtocol("c")
    with pytest.raises(TLSError) as info:
        next(proto.authenticate(sasl.Credentials("u", "p")))
    assert str(info.value) == (
        "refusing to send credentials over an unencrypted connection (use TLS, or "
        "allow_plaintext_auth=True, or smtp://...?allow_plaintext_auth=1 in a URL)"
    )
    with pytest.raises(ValueError) as settings_info:
        from_url("smtp://u:p@127.0.0.1:2525?security=none")
    assert str(settings_info.value) == (
        "credentials with security='none' would be sent in the clear; use TLS, or "
        "allow_plaintext_auth=True, or smtp://...?allow_plaintext_auth=1 in a URL"
    )


def test_hinted_url_allow_plaintext_auth_option_works() -> None:
    with FakeSMTPServer(auth_mechanisms=("PLAIN",)) as srv:
        url = (f"smtp://{USER.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{srv.port}"
               "?security=none&allow_plaintext_auth=1&local_hostname=client.test")
        with from_url(url) as t:
            assert t.settings.allow_plaintext_auth  # type: ignore[attr-defined]
            t.send(MSG, envelope=ENV)
        assert len(srv.deliveries) == 1
        assert len(srv.auth_log) >= 1


@pytest.mark.parametrize("kind", DRIVERS)
def test_implicit_tls_to_a_plain_port_names_the_fix(kind: str) -> None:
    """security='tls' against a plain SMTP port: its "220" is no TLS record; the
    TLSError says which setting fits, and the attempt is not repeated."""
    with FakeSMTPServer() as srv:
        d = _driver(kind, srv, timeout=5.0, retries=2, security="tls")
        with d, pytest.raises(TLSError) as info:
            d.send(MSG, envelope=ENV)
        assert len(srv.sessions) == 1
    text = str(info.value)
    assert text.startswith(f"TLS handshake with 127.0.0.1:{srv.port} failed: ")
    assert text.endswith(" (a plain-text or STARTTLS port? use security='starttls', or "
                         "smtp+starttls:// in a URL)")


@pytest.mark.parametrize("kind", DRIVERS)
def test_certificate_failure_gets_no_port_hint(kind: str, tmp_path: Any) -> None:
    cert, key = make_cert(tmp_path)
    with FakeSMTPServer(tls_context=server_context(cert, key), implicit_tls=True) as srv:
        d = _driver(kind, srv, timeout=5.0, retries=2, security="tls")  # cert not trusted
        with d, pytest.raises(TLSError) as info:
            d.send(MSG, envelope=ENV)
        assert len(srv.sessions) == 1
    assert "certificate verify failed" in str(info.value)
    assert "STARTTLS port" not in str(info.value)
