"""Issue 6, connection options, on both drivers against loopback servers:
STARTTLS refused with 454 (required: TLSError, nothing sent after it;
opportunistic: plain text), a caller-made ``ssl.SSLContext`` (trust, TLS
version, client certificates), ``source_address`` and ``connect_timeout``.

No timing is asserted: attempts are counted, exceptions checked by type and
message; a connect timeout is produced by a listener whose accept queue is
full (Linux drops the next SYN)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mimekit.transports.errors import ConnectionLost, TLSError
from mimekit.transports.smtp import SMTPTransport, aio, sync
from mimekit.transports.smtp.common import make_settings
from smtp_server import (
    DRIVERS,
    ENV,
    MSG,
    PASSWORD,
    USER,
    Driver,
    FakeSMTPServer,
    Session,
    client,
    make_cert,
    server_context,
)

REFUSE_TLS = "454 4.7.0 TLS not available due to temporary reason"


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def certs(tmp_path: Path) -> tuple[str, str]:
    """(server certificate = its CA file, key)."""
    return make_cert(tmp_path / "srv")


def _ended(srv: FakeSMTPServer) -> list[Session]:
    """The sessions, once the server has finished each (nothing more can arrive)."""
    for s in srv.sessions:
        assert s.ended.wait(10), "the client did not close the connection"
    return srv.sessions


def _verbs(session: Session) -> list[str]:
    return [c.split()[0].upper() for c in session.commands]


def _refuse_starttls(session: Session, line: str) -> str | None:
    return REFUSE_TLS if line.upper() == "STARTTLS" else None


# ------------------------------------------------------------------ STARTTLS refused (454)


def test_starttls_refused_454_required_nothing_after(kind: str, certs: tuple[str, str]) -> None:
    """security='starttls' (the default): a 454 to STARTTLS is a TLSError,
    not retried, and the client sends nothing after STARTTLS (no AUTH, no
    MAIL, not even QUIT: the session is not trusted)."""
    with FakeSMTPServer(
        tls_context=server_context(*certs),
        auth_mechanisms=("PLAIN", "LOGIN"),
        on_command=_refuse_starttls,
    ) as srv:
        d = Driver(
            kind,
            srv.host,
            srv.port,
            cafile=certs[0],
            username=USER,
            password=PASSWORD,
            local_hostname="client.test",
            retries=3,
            retry_backoff=0.0,
        )
        with d, pytest.raises(TLSError, match="refused STARTTLS: 454 4.7.0"):
            d.send_raw(MSG, ENV)
        sessions = _ended(srv)
        assert len(sessions) == 1  # not retried
        assert sessions[0].commands == ["EHLO client.test", "STARTTLS"]
        assert bytes(sessions[0].received) == b"EHLO client.test\r\nSTARTTLS\r\n"
        assert srv.auth_log == [] and srv.deliveries == []


def test_starttls_refused_454_opportunistic_goes_plain(kind: str, certs: tuple[str, str]) -> None:
    with FakeSMTPServer(tls_context=server_context(*certs), on_command=_refuse_starttls) as srv:
        with client(kind, srv, security="starttls-opportunistic", cafile=certs[0]) as d:
            assert d.send_raw(MSG, ENV).ok
        (session,) = _ended(srv)
        assert _verbs(session)[:5] == ["EHLO", "STARTTLS", "MAIL", "RCPT", "DATA"]
        assert not session.tls and len(srv.deliveries) == 1


def test_starttls_refused_454_opportunistic_keeps_credentials(
    kind: str, certs: tuple[str, str]
) -> None:
    """Opportunistic TLS refused: the credentials still never go out in clear."""
    with FakeSMTPServer(
        tls_context=server_context(*certs), auth_mechanisms=("PLAIN",), on_command=_refuse_starttls
    ) as srv:
        d = client(
            kind,
            srv,
            security="starttls-opportunistic",
            cafile=certs[0],
            username=USER,
            password=PASSWORD,
        )
        with d, pytest.raises(TLSError, match="unencrypted"):
            d.send_raw(MSG, ENV)
        sessions = _ended(srv)
        assert all(_verbs(s) == ["EHLO", "STARTTLS"] for s in sessions)
        assert PASSWORD.encode() not in srv.all_received and srv.deliveries == []


# ------------------------------------------------------------------ custom SSLContext


def _server(security: str, ctx: ssl.SSLContext) -> FakeSMTPServer:
    return FakeSMTPServer(tls_context=ctx, implicit_tls=security == "tls")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_custom_context_trusting_the_ca_delivers(
    kind: str, certs: tuple[str, str], security: str
) -> None:
    """The caller's context is the one used: it trusts the test CA (no
    cafile given) and its TLS 1.2 ceiling shows in the server's session."""
    ctx = ssl.create_default_context(cafile=certs[0])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with _server(security, server_context(*certs)) as srv:
        with client(kind, srv, security=security, ssl_context=ctx) as d:
            assert d.settings.ssl_context is ctx
            assert d.send_raw(MSG, ENV).ok
        (session,) = _ended(srv)
        assert session.tls and session.tls_version == "TLSv1.2"
        assert len(srv.deliveries) == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_custom_context_not_trusting_the_ca_fails(
    kind: str, certs: tuple[str, str], security: str, tmp_path: Path
) -> None:
    other, _ = make_cert(tmp_path / "other", "other.test")
    ctx = ssl.create_default_context(cafile=other)  # verifies, but not against our CA
    with _server(security, server_context(*certs)) as srv:
        d = client(kind, srv, security=security, ssl_context=ctx, retries=2)
        with d, pytest.raises(TLSError, match="certificate verify failed"):
            d.send_raw(MSG, ENV)
        sessions = _ended(srv)
        assert len(sessions) == 1  # a certificate problem is not retried
        assert _verbs(sessions[0]) == ([] if security == "tls" else ["EHLO", "STARTTLS"])
        assert srv.deliveries == []


# ------------------------------------------------------------------ client certificates


@pytest.fixture
def mtls(tmp_path: Path, certs: tuple[str, str]) -> tuple[ssl.SSLContext, str, str]:
    """(a server context that requires a client certificate issued by the
    client CA, client certificate, client key)."""
    client_cert, client_key = make_cert(tmp_path / "client", "client.example.test", client=True)
    ctx = server_context(*certs)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(client_cert)
    return ctx, client_cert, client_key


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_client_certificate_delivers(
    kind: str,
    certs: tuple[str, str],
    mtls: tuple[ssl.SSLContext, str, str],
    security: str,
) -> None:
    server_ctx, client_cert, client_key = mtls
    ctx = ssl.create_default_context(cafile=certs[0])
    ctx.load_cert_chain(client_cert, client_key)
    with _server(security, server_ctx) as srv:
        with client(kind, srv, security=security, ssl_context=ctx) as d:
            assert d.send_raw(MSG, ENV).ok
        (session,) = _ended(srv)
        assert session.client_cn == "client.example.test"
        assert len(srv.deliveries) == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_client_certificate_missing_fails(
    kind: str,
    certs: tuple[str, str],
    mtls: tuple[ssl.SSLContext, str, str],
    security: str,
) -> None:
    """Without the client certificate the server ends the TLS session (TLS
    1.3 tells the client after the client's side of the handshake completed:
    an alert or a bare EOF at the first read, whichever the client sees): a
    TLSError that names the likely cause, not retried; nothing delivered."""
    server_ctx, _, _ = mtls
    ctx = ssl.create_default_context(cafile=certs[0])
    with _server(security, server_ctx) as srv:
        d = client(kind, srv, security=security, ssl_context=ctx, retries=2)
        with d, pytest.raises(TLSError, match="require a client certificate") as info:
            d.send_raw(MSG, ENV)
        assert f"127.0.0.1:{srv.port}" in str(info.value)
        sessions = _ended(srv)
        assert len(sessions) == 1  # not retried
        assert sessions[0].client_cn is None
        assert _verbs(sessions[0]) in ([], ["EHLO", "STARTTLS"])
        assert srv.deliveries == []


# ------------------------------------------------------------------ source_address


def _can_bind(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


def test_source_address_is_the_peer_the_server_sees(kind: str) -> None:
    if not _can_bind("127.0.0.2"):
        pytest.skip("127.0.0.2 is not a local address here")
    with FakeSMTPServer() as srv:
        with client(kind, srv, source_address=("127.0.0.2", 0)) as d:
            assert d.send_raw(MSG, ENV).ok
        (session,) = _ended(srv)
    assert session.peer[0] == "127.0.0.2"
    assert srv.host == "127.0.0.1"  # a different loopback address than the server's


def test_source_address_default_is_chosen_by_the_os(kind: str) -> None:
    with FakeSMTPServer() as srv:
        with client(kind, srv) as d:
            assert d.send_raw(MSG, ENV).ok
        (session,) = _ended(srv)
    assert session.peer[0] == "127.0.0.1"


def test_source_address_ipv6(kind: str) -> None:
    if not _can_bind("::1"):
        pytest.skip("no IPv6 loopback")
    with FakeSMTPServer(host="::1") as srv:
        with Driver(
            kind, "[::1]", srv.port, security="none", source_address=("::1", 0), retry_backoff=0.0
        ) as d:
            assert d.send_raw(MSG, ENV).ok
        (session,) = _ended(srv)
    assert session.peer[0] == "::1"
    assert session.commands[0].startswith("EHLO ")


def test_source_address_not_local_fails_without_retry_storm(kind: str) -> None:
    """An address this host does not have: a clear connection error (EADDRNOTAVAIL)."""
    with FakeSMTPServer() as srv:
        d = client(kind, srv, source_address=("192.0.2.1", 0), retries=0)  # RFC 5737 TEST-NET-1
        with d, pytest.raises(ConnectionLost, match=f"connect to 127.0.0.1:{srv.port}"):
            d.send_raw(MSG, ENV)
        assert srv.sessions == []


# ------------------------------------------------------------------ connect_timeout


def test_connect_timeout_defaults_to_timeout_and_is_validated() -> None:
    assert make_settings("h", 25, security="none").connect_timeout == 30.0
    assert make_settings("h", 25, security="none", timeout=7.0).connect_timeout == 7.0
    s = make_settings("h", 25, security="none", timeout=7.0, connect_timeout=2.5)
    assert (s.connect_timeout, s.timeout) == (2.5, 7.0)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="timeouts must be positive"):
            make_settings("h", 25, security="none", connect_timeout=bad)


def test_connect_timeout_reaches_create_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync driver: connect_timeout for socket.create_connection, then
    ``timeout`` on the connected socket for the commands."""
    seen: list[Any] = []
    real = socket.create_connection

    def spy(address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        seen.append(timeout)
        return real(address, timeout=timeout, source_address=source_address)

    monkeypatch.setattr(sync.socket, "create_connection", spy)
    with FakeSMTPServer() as srv, SMTPTransport(
        srv.host, srv.port, security="none", timeout=4.0, connect_timeout=1.5
    ) as t:
        t.connect()
        assert seen == [1.5]
        assert t._idle[0].sock.gettimeout() == 4.0


def test_connect_timeout_reaches_wait_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The asyncio driver: connect_timeout for the wait_for around
    create_connection (the first wait_for of a send)."""
    seen: list[float | None] = []
    real = asyncio.wait_for

    async def spy(aw: Any, timeout: float | None) -> Any:
        seen.append(timeout)
        return await real(aw, timeout)

    monkeypatch.setattr(aio.asyncio, "wait_for", spy)
    with FakeSMTPServer() as srv, Driver(
        "async", srv.host, srv.port, security="none", timeout=4.0, connect_timeout=1.5
    ) as d:
        assert d.send_raw(MSG, ENV).ok
    assert seen[0] == 1.5


@contextlib.contextmanager
def full_backlog() -> Iterator[tuple[str, int]]:
    """A listener that never accepts, its accept queue filled, so that Linux
    drops the next SYN and a connect to it times out. Skips the test when the
    kernel keeps accepting (then no connect attempt can be made to hang)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(16):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(s)
            s.settimeout(0.2)
            try:
                s.connect(address)
            except TimeoutError:
                break  # the queue is full: the next SYN is dropped too
        else:
            pytest.skip("this kernel completes every connection: cannot make connect() hang")
        yield address
    finally:
        for s in fillers:
            s.close()
        listener.close()


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection attempt of either driver, in order."""
    calls: list[str] = []
    real_sync, real_aio = sync.connect, aio.aconnect

    def counting(settings: Any) -> Any:
        calls.append("sync")
        return real_sync(settings)

    async def acounting(settings: Any) -> Any:
        calls.append("async")
        return await real_aio(settings)

    monkeypatch.setattr(sync, "connect", counting)
    monkeypatch.setattr(aio, "aconnect", acounting)
    return calls


@pytest.mark.parametrize("retries", [0, 1])
def test_connect_timeout_fires_and_is_retried(
    kind: str, attempts: list[str], retries: int
) -> None:
    """A SYN that is never answered: "could not connect ... within 0.2 s" after
    connect_timeout, not after ``timeout`` (30 s here); a ConnectionLost that
    is retried as any connection failure before the data is."""
    with full_backlog() as (host, port):
        d = Driver(
            kind,
            host,
            port,
            security="none",
            timeout=30.0,
            connect_timeout=0.2,
            retries=retries,
            retry_backoff=0.0,
        )
        with d, pytest.raises(ConnectionLost) as info:
            d.send_raw(MSG, ENV)
    assert type(info.value) is ConnectionLost
    assert str(info.value) == (
        f"could not connect to {host}:{port} within 0.2 s (connect_timeout)"
    )
    assert isinstance(info.value.__cause__, (TimeoutError, asyncio.TimeoutError))
    assert attempts == [kind] * (retries + 1)


def test_connect_timeout_does_not_shorten_commands(kind: str) -> None:
    """A short connect_timeout does not apply to the replies: a server that
    answers each command after a pause (longer than connect_timeout, within
    timeout) still delivers."""
    with (
        FakeSMTPServer(reply_delay=0.3) as srv,
        client(kind, srv, timeout=10.0, connect_timeout=0.05) as d,
    ):
        assert d.send_raw(MSG, ENV).ok
    assert len(srv.deliveries) == 1


def test_the_tls_server_name_of_a_zoned_ipv6_address_has_no_zone() -> None:
    """Review finding: 'smtps://[fe80::1%25eth0]' gave the host 'fe80::1%eth0', used
    as is as the TLS server name, which no certificate can match (the zone names our
    interface, RFC 6874 §1)."""
    assert make_settings("fe80::1%eth0", 465).tls_server_name == "fe80::1"
    assert make_settings("::1", 465).tls_server_name == "::1"
    assert make_settings("mail.example.org", 465).tls_server_name == "mail.example.org"
