"""SMTPTransport(pool_size=N): N threads really send over N concurrent
connections (a barrier in the server proves they are open at once), the
connections are reused afterwards, and ``from_url(...?pool_size=N)`` reaches
the pool. No wall-clock assertions: concurrency is shown by the barrier."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from mimekit.transports import from_url
from mimekit.transports.smtp import SMTPTransport
from smtp_server import ENV, MSG, FakeSMTPServer, Session, plain

N = 4


def _barrier_server(parties: int) -> tuple[FakeSMTPServer, threading.Barrier]:
    """A fake server whose first MAIL on each connection waits until
    ``parties`` connections have sent theirs: it only gets past the barrier
    if that many sessions are in a transaction at the same time."""
    barrier = threading.Barrier(parties, timeout=10)

    def on_command(session: Session, line: str) -> object:
        if line.startswith("MAIL") and sum(c.startswith("MAIL") for c in session.commands) == 1:
            barrier.wait()
        return None

    return FakeSMTPServer(on_command=on_command), barrier


def _send_concurrently(t: SMTPTransport, count: int, threads: int) -> list[str | None]:
    with ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(lambda i: t.send_raw(MSG + b"%d\r\n" % i, ENV), range(count)))
    assert all(r.ok and r.accepted == ENV.rcpt_to for r in results)
    return [r.queue_id for r in results]


def test_sync_pool_uses_n_connections_at_once_then_reuses_them() -> None:
    srv, barrier = _barrier_server(N)
    with srv, plain(srv, pool_size=N) as t:
        first = _send_concurrently(t, N, N)  # N threads, one message each
        assert len(srv.sessions) == N and t.connections_opened == N
        assert not barrier.broken
        second = _send_concurrently(t, 3 * N, 2 * N)  # more threads than connections
        assert len(srv.sessions) == N and t.connections_opened == N  # all reused
        assert len(t._idle) == N
    assert srv.errors == []
    assert sorted(q for q in first + second if q) == sorted(f"Q{i}" for i in range(1, 4 * N + 1))
    assert sorted(d.content for d in srv.deliveries) == sorted(
        [MSG + b"%d\r\n" % i for i in range(N)] + [MSG + b"%d\r\n" % i for i in range(3 * N)]
    )
    assert all(s.commands[-1] == "QUIT" for s in srv.sessions)  # close() QUITs every one


def test_pool_size_one_serializes_threads() -> None:
    with FakeSMTPServer() as srv, plain(srv) as t:
        _send_concurrently(t, 8, 4)
        assert t.pool_size == 1 and t.connections_opened == 1
    assert len(srv.sessions) == 1 and len(srv.deliveries) == 8


def test_from_url_pool_size_reaches_the_sync_pool() -> None:
    srv, barrier = _barrier_server(N)
    with srv:
        t = from_url(f"smtp://127.0.0.1:{srv.port}?pool_size={N}&timeout=5")
        assert isinstance(t, SMTPTransport) and t.pool_size == N
        with t:
            _send_concurrently(t, N, N)
            assert t.connections_opened == N
        assert len(srv.sessions) == N and not barrier.broken and srv.errors == []
        t2 = from_url(f"smtp://127.0.0.1:{srv.port}", pool_size=2)
        assert isinstance(t2, SMTPTransport) and t2.pool_size == 2
        assert isinstance(from_url(f"smtp://127.0.0.1:{srv.port}"), SMTPTransport)
        assert from_url(f"smtp://127.0.0.1:{srv.port}").pool_size == 1  # type: ignore[attr-defined]
