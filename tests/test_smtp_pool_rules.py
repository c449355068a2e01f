"""One pool behaviour for both drivers (``common.PoolRules``): the verdicts,
sans I/O, then the idle timeout and the per-connection message limit on real
connections with each driver. Idle time is let pass with short timeouts; no
assertion is about how long anything took."""

from __future__ import annotations

import pytest
from mimekit.transports.smtp.common import PoolRules, make_settings
from smtp_server import DRIVERS, ENV, MSG, FakeSMTPServer, client


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def rules(**kw: object) -> PoolRules:
    idle = float(kw.pop("idle_timeout", 60.0))  # type: ignore[arg-type]
    return PoolRules(make_settings("127.0.0.1", 25, security="none", **kw), idle)  # type: ignore[arg-type]


def test_take_verdicts() -> None:
    r = rules(noop_after=30.0)
    assert r.on_take(closed=False, quiet=True, idle_for=1.0) == "use"
    assert r.on_take(closed=False, quiet=True, idle_for=31.0) == "noop"  # RFC 5321 §4.1.1.9
    assert r.on_take(closed=False, quiet=True, idle_for=61.0) == "quit"
    assert r.on_take(closed=False, quiet=False, idle_for=1.0) == "drop"  # a 421 or EOF came
    assert r.on_take(closed=True, quiet=True, idle_for=1.0) == "drop"
    assert rules(idle_timeout=5.0).on_take(closed=False, quiet=True, idle_for=6.0) == "quit"


def test_release_verdicts() -> None:
    r = rules(max_messages_per_connection=3)
    assert r.on_release(closed=False, messages=2, shutting_down=False) == "keep"
    assert r.on_release(closed=False, messages=3, shutting_down=False) == "quit"
    assert r.on_release(closed=False, messages=0, shutting_down=True) == "quit"
    assert r.on_release(closed=True, messages=0, shutting_down=False) == "drop"
    unlimited = rules(max_messages_per_connection=None)
    assert unlimited.on_release(closed=False, messages=10**6, shutting_down=False) == "keep"
    assert rules().settings.max_messages_per_connection == 1000  # the one default


def test_idle_timeout_quits_and_reconnects(kind: str) -> None:
    with FakeSMTPServer() as srv:
        with client(kind, srv, idle_timeout=0.1) as t:
            assert t.send_raw(MSG, ENV).ok
            assert t.send_raw(MSG, ENV).ok  # at once: the same connection
            assert t.connections_opened == 1
            t.pause(0.4)
            assert t.send_raw(MSG, ENV).ok  # idle too long: a new one
            assert t.connections_opened == 2
        assert len(srv.sessions) == 2 and len(srv.deliveries) == 3
        # the idle connection was closed politely, not dropped
        assert srv.sessions[0].commands[-1] == "QUIT"
        assert sum(c.startswith("MAIL") for c in srv.sessions[0].commands) == 2


def test_idle_connections_reaped(kind: str) -> None:
    """Several idle connections past the timeout are all closed (QUIT), not only
    the one the next send takes."""
    with FakeSMTPServer() as srv, client(kind, srv, idle_timeout=0.1, pool_size=3) as t:
        if kind == "sync":
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(3) as ex:
                list(ex.map(lambda _: t.send_raw(MSG, ENV), range(6)))
        else:
            import asyncio

            async def burst() -> None:
                await asyncio.gather(*(t.t.asend_raw(MSG, ENV) for _ in range(6)))  # type: ignore[union-attr]

            t._run(burst())
        opened = t.connections_opened
        assert 1 <= opened <= 3
        t.pause(0.4)
        t.send_raw(MSG, ENV)
        assert t.connections_opened == opened + 1
        # every old session ended with QUIT before the transport was closed
        assert all(s.commands[-1] == "QUIT" for s in srv.sessions[:opened])


def test_default_max_messages_per_connection(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv) as t:
        assert t.settings.max_messages_per_connection == 1000


def test_max_messages_per_connection_both_drivers(kind: str) -> None:
    with FakeSMTPServer() as srv, client(kind, srv, max_messages_per_connection=3) as t:
        for _ in range(7):
            t.send_raw(MSG, ENV)
        assert t.connections_opened == 3
    assert [sum(c.startswith("MAIL") for c in s.commands) for s in srv.sessions] == [3, 3, 1]
    assert all(s.commands[-1] == "QUIT" for s in srv.sessions)
