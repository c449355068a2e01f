"""AsyncSMTPTransport: the asyncio driver and its connection pool, against
aiosmtpd and the scripted fake server on 127.0.0.1 (asyncio.run, no plugin).
The fault and retry behaviour both drivers share is tested once, for both,
in tests/test_smtp_transport.py (parametrized over ``smtp_server.DRIVERS``)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from mimekit.transports.errors import (
    AuthenticationError,
    TLSError,
)
from mimekit.transports.smtp import AsyncSMTPTransport
from smtp_server import (
    ENV,
    MSG,
    PASSWORD,
    USER,
    FakeSMTPServer,
    aiosmtpd_server,
    make_cert,
    tls_pair,
)
from smtp_server import aplain as plain


def test_starttls_auth_exact_bytes(tmp_path: Path) -> None:
    async def main() -> None:
        with aiosmtpd_server(tmp_path) as srv:
            for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
                async with AsyncSMTPTransport(
                    "127.0.0.1",
                    srv.port,
                    username=USER,
                    password=PASSWORD,
                    cafile=srv.cafile,
                    auth_mechanism=mech,
                ) as t:
                    result = await t.asend_raw(MSG, ENV)
                    assert result.ok and result.queue_id == "QID42"
            assert [m.content for m in srv.handler.messages] == [MSG] * 3
            assert {m.login for m in srv.handler.messages} == {USER.encode()}

    asyncio.run(main())


def test_implicit_tls_and_wrong_password(tmp_path: Path) -> None:
    async def main() -> None:
        with aiosmtpd_server(tmp_path, implicit_tls=True) as srv:
            async with AsyncSMTPTransport(
                "127.0.0.1",
                srv.port,
                security="tls",
                username=USER,
                password=PASSWORD,
                cafile=srv.cafile,
            ) as t:
                await t.asend_raw(MSG, ENV)
            assert srv.handler.messages[0].content == MSG
            async with AsyncSMTPTransport(
                "127.0.0.1",
                srv.port,
                security="tls",
                username=USER,
                password="nope",
                cafile=srv.cafile,
            ) as t:
                with pytest.raises(AuthenticationError) as info:
                    await t.asend_raw(MSG, ENV)
                assert info.value.code == 535
            assert len(srv.handler.messages) == 1

    asyncio.run(main())


def test_wrong_ca(tmp_path: Path) -> None:
    other, _ = make_cert(tmp_path / "other", "other.test")

    async def main() -> None:
        with aiosmtpd_server(tmp_path) as srv:
            t = AsyncSMTPTransport(
                "127.0.0.1", srv.port, username=USER, password=PASSWORD, cafile=other
            )
            with pytest.raises(TLSError):
                await t.asend_raw(MSG, ENV)
            await t.aclose()
            assert srv.handler.messages == []

    asyncio.run(main())


def test_c22_async(tmp_path: Path) -> None:
    ctx, cert = tls_pair(tmp_path)

    async def main() -> None:
        with FakeSMTPServer(
            extensions=("8BITMIME",),
            tls_context=ctx,
            after_starttls_220=b"250-mx\r\n250 AUTH PLAIN\r\n",
        ) as srv:
            async with AsyncSMTPTransport("127.0.0.1", srv.port, cafile=cert, retries=0) as t:
                try:
                    await t.asend_raw(MSG, ENV)
                except TLSError:
                    pass  # injected bytes broke the handshake: acceptable
                else:
                    assert set(t._idle[0].proto.capabilities) == {"8BITMIME"}
                    assert len(srv.deliveries) == 1
            assert not any(c.startswith("AUTH") for s in srv.sessions for c in s.commands)

    asyncio.run(main())


def test_pool_concurrency_and_reuse() -> None:
    async def main() -> None:
        with FakeSMTPServer(reply_delay=0.005) as srv:
            async with plain(srv, pool_size=3) as t:
                results = await asyncio.gather(
                    *(t.asend_raw(MSG + b"%d\r\n" % i, ENV) for i in range(12))
                )
                assert all(r.ok for r in results)
                assert t.connections_opened <= 3
            assert len(srv.sessions) <= 3 and len(srv.sessions) >= 2
            assert sorted(d.content for d in srv.deliveries) == sorted(
                MSG + b"%d\r\n" % i for i in range(12)
            )

    asyncio.run(main())


def test_pool_idle_timeout_closes() -> None:
    async def main() -> None:
        with FakeSMTPServer() as srv:
            t = plain(srv, idle_timeout=0.05)
            await t.asend_raw(MSG, ENV)
            await asyncio.sleep(0.2)
            assert t._idle == []
            await t.asend_raw(MSG, ENV)
            await t.aclose()
            assert len(srv.sessions) == 2 and srv.sessions[0].commands[-1] == "QUIT"

    asyncio.run(main())


def test_async_starttls_stripped(tmp_path: Path) -> None:
    ctx, cert = tls_pair(tmp_path)

    async def main() -> None:
        with FakeSMTPServer(
            tls_context=ctx, strip_starttls=True, auth_mechanisms=("PLAIN",)
        ) as srv:
            t = AsyncSMTPTransport(
                "127.0.0.1", srv.port, cafile=cert, username=USER, password=PASSWORD
            )
            with pytest.raises(TLSError):
                await t.asend_raw(MSG, ENV)
            await t.aclose()
            await asyncio.sleep(0.01)  # let the loop close the aborted socket
            assert [c.split()[0] for s in srv.sessions for c in s.commands] == ["EHLO"]

    asyncio.run(main())


def test_ssl_default_context_verifies() -> None:
    t = AsyncSMTPTransport("127.0.0.1", 2525)
    assert t.settings.ssl_context is not None
    assert t.settings.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert t.settings.ssl_context.check_hostname


def test_aconnect_checks_login_early(tmp_path: Path) -> None:
    async def main() -> None:
        with aiosmtpd_server(tmp_path) as srv:
            async with AsyncSMTPTransport(
                "127.0.0.1", srv.port, username=USER, password=PASSWORD, cafile=srv.cafile
            ) as t:
                await t.aconnect()
                assert t.connections_opened == 1 and len(t._idle) == 1
                await t.asend_raw(MSG, ENV)
                assert t.connections_opened == 1
            bad = AsyncSMTPTransport(
                "127.0.0.1", srv.port, username=USER, password="x", cafile=srv.cafile
            )
            with pytest.raises(AuthenticationError):
                await bad.aconnect()
            await bad.aclose()

    asyncio.run(main())
