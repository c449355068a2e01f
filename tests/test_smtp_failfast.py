"""Failures that must not be retried, both drivers: a refused TCP connection
(ECONNREFUSED: one attempt, no back-off) and an AUTH exchange that gets no
reply (the credentials would be sent again). Attempts are counted, never timed."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from mimekit.transports.errors import AuthenticationError, ConnectionLost
from mimekit.transports.smtp import aio, sync
from mimekit.transports.smtp.protocol import ConnectionRefused
from smtp_server import DRIVERS, DROP, ENV, MSG, PASSWORD, USER, Driver, FakeSMTPServer, Session


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


class Attempts:
    """Counts connection attempts (the driver's ``connect``/``aconnect``) and pauses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, t: Driver) -> None:
        self.connects = 0
        self.pauses: list[float] = []
        real_sync, real_aio = sync.connect, aio.aconnect

        def counting(settings: Any) -> Any:
            self.connects += 1
            return real_sync(settings)

        async def acounting(settings: Any) -> Any:
            self.connects += 1
            return await real_aio(settings)

        monkeypatch.setattr(sync, "connect", counting)
        monkeypatch.setattr(aio, "aconnect", acounting)
        t.t._sleep = self.pauses.append  # type: ignore[assignment]


def test_refused_connection_is_one_attempt(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    with Driver(kind, "127.0.0.1", port, security="none", retries=2, retry_backoff=5.0) as t:
        seen = Attempts(monkeypatch, t)
        with pytest.raises(ConnectionRefused, match=f"127.0.0.1:{port}"):
            t.send_raw(MSG, ENV)
    assert seen.connects == 1 and seen.pauses == []


def test_refused_connection_send_many_is_one_attempt(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Driver(kind, "127.0.0.1", closed_port(), security="none") as t:
        seen = Attempts(monkeypatch, t)
        with pytest.raises(ConnectionRefused):
            t.send_many([MSG, MSG])
    assert seen.connects == 1 and seen.pauses == []


def test_other_connection_failures_are_still_retried(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the server accepts and closes at once: transient, retried (retries=2: 3 attempts)
    with FakeSMTPServer(on_command=lambda s, line: DROP) as srv, \
            Driver(kind, srv.host, srv.port, security="none", retries=2, timeout=5) as t:
        seen = Attempts(monkeypatch, t)
        with pytest.raises(ConnectionLost) as info:
            t.send_raw(MSG, ENV)
        assert not isinstance(info.value, ConnectionRefused)
    assert seen.connects == 3 and seen.pauses == [0.5, 1.0]


def test_async_multiple_refusals_are_recognized() -> None:
    import errno

    text = (f"Multiple exceptions: [Errno {errno.ECONNREFUSED}] Connect call failed ('::1', 25), "
            f"[Errno {errno.ECONNREFUSED}] Connect call failed ('127.0.0.1', 25)")
    assert aio._refused(OSError(text))
    assert not aio._refused(OSError(text.replace(f"{errno.ECONNREFUSED}]", "113]", 1)))
    assert aio._refused(ConnectionRefusedError())
    assert not aio._refused(TimeoutError())


def test_auth_without_a_reply_is_not_retried(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def on_command(session: Session, line: str) -> object:
        if line.upper().startswith("AUTH"):
            release.wait(5)  # no answer until the client gave up
            return DROP
        return None

    with FakeSMTPServer(auth_mechanisms=("PLAIN",), on_command=on_command) as srv:
        with Driver(kind, srv.host, srv.port, security="none", allow_plaintext_auth=True,
                    username=USER, password=PASSWORD, timeout=0.3, retries=2) as t:
            seen = Attempts(monkeypatch, t)
            with pytest.raises(AuthenticationError, match="no reply to AUTH.*timed out.*not retried"):
                t.send_raw(MSG, ENV)
            release.set()
        assert seen.connects == 1 and seen.pauses == []
        assert sum(c.upper().startswith("AUTH") for s in srv.sessions for c in s.commands) == 1
        assert srv.deliveries == []


def test_auth_connection_dropped_is_not_retried(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def on_command(session: Session, line: str) -> object:
        return DROP if line.upper().startswith("AUTH") else None

    with FakeSMTPServer(auth_mechanisms=("PLAIN",), on_command=on_command) as srv:
        with Driver(kind, srv.host, srv.port, security="none", allow_plaintext_auth=True,
                    username=USER, password=PASSWORD, timeout=5, retries=2) as t:
            seen = Attempts(monkeypatch, t)
            with pytest.raises(AuthenticationError, match="no reply to AUTH"):
                t.send_raw(MSG, ENV)
        assert seen.connects == 1 and len(srv.sessions) == 1
