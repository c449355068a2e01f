"""asyncio SMTP transport: a thin driver for the sans-I/O protocol, with a
connection pool.

The driver uses its own :class:`asyncio.Protocol` rather than streams so that,
at STARTTLS, every byte received before the handshake is provably dropped
(RFC 3207 §4.2, case c22) and so it works the same on Python 3.10 (no
``StreamWriter.start_tls``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, TypeVar, cast

from mimekit.transports.base import AsyncTransport, Envelope, SendResult, check_message_type
from mimekit.transports.errors import ConnectionLost, SMTPResponseError, TLSError
from mimekit.transports.smtp.common import (
    Acquire,
    Pause,
    PoolOp,
    PoolRules,
    Quit,
    Release,
    SendJob,
    Settings,
    Transact,
    check_raw,
    checked_pool_size,
    connect_timed_out,
    default_local_hostname,
    implicit_tls_failed,
    io_failure,
    make_jobs,
    make_settings,
    prepare_send,
    receive_wait,
    send_flow,
    send_many_flow,
)
from mimekit.transports.smtp.protocol import (
    ConnectionRefused,
    DSNOptions,
    Receive,
    Send,
    SMTPClientProtocol,
    Step,
)

if TYPE_CHECKING:
    from mimekit.transports.smtp.common import SMTPOptions
    from typing_extensions import Unpack

    from mimekit.model import Message

log = logging.getLogger("mimekit.smtp")

__all__ = ["AsyncSMTPTransport"]

T = TypeVar("T")

#: Stop reading from the socket while this much is buffered and unread: a
#: server that floods an idle pooled connection (or answers a command with an
#: endless stream) must not grow the client's memory without bound.
_READ_LIMIT = 256 * 1024
#: Large writes are handed to the transport in pieces of this size, each of
#: which must drain within ``timeout`` (progress, not the whole message, is
#: what is timed: RFC 5321 §4.5.3.2.5; as the sync driver's ``_send_all``).
_WRITE_PIECE = 128 * 1024


class _Wire(asyncio.Protocol):
    """Bytes in, bytes out, with flow control both ways; no parsing."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        self.reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= _READ_LIMIT and not self.reading_paused:
            self.reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self, timeout: float) -> bytes:
        """Whatever the server sent, waiting up to ``timeout`` seconds for
        something (a timer on one future: no task per read, unlike ``wait_for``)."""
        if not self.buffer and not self.eof:
            await self._wait("_waiter", timeout)
        data = bytes(self.buffer)
        self.buffer.clear()
        if self.reading_paused:
            self.reading_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        return data

    async def write(self, data: bytes, timeout: float) -> None:
        """Write, waiting up to ``timeout`` seconds while the transport is
        paused: for each :data:`_WRITE_PIECE` of a large ``data``, so a slow
        but working link is not timed out on the total."""
        if len(data) <= _WRITE_PIECE:
            self._write_piece(data)
            if self._paused and not self.eof:
                await self._wait("_drain", timeout)
            return
        with memoryview(data) as view:
            for start in range(0, len(data), _WRITE_PIECE):
                self._write_piece(view[start : start + _WRITE_PIECE])
                if self._paused and not self.eof:
                    await self._wait("_drain", timeout)

    def _write_piece(self, data: bytes | memoryview) -> None:
        if self.transport is None or self.transport.is_closing() or self.eof:
            raise ConnectionResetError("the connection is closed")
        self.transport.write(data)

    async def _wait(self, slot: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._paused if slot == "_drain" else not self.buffer) and not self.eof:
            fut: asyncio.Future[None] = loop.create_future()
            setattr(self, slot, fut)
            handle = loop.call_at(deadline, _expire, fut)
            try:
                await fut
            finally:
                handle.cancel()
                setattr(self, slot, None)


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(asyncio.TimeoutError())


class _AConnection:
    """One asyncio connection and its protocol state."""

    def __init__(self, settings: Settings, wire: _Wire, proto: SMTPClientProtocol) -> None:
        self.settings = settings
        self.wire = wire
        self.proto = proto
        self.messages = 0
        self.last_used = time.monotonic()

    async def run(self, gen: Step[T]) -> T:
        """Pump one protocol operation; the timeouts are those of the sync
        driver's ``_Connection.run`` (a whole reply within the timeout)."""
        s = self.settings
        value = b""
        deadline = 0.0
        try:
            action = next(gen)
            while True:
                if isinstance(action, Send):
                    await self.wire.write(action.data, s.timeout)
                    value = b""
                elif isinstance(action, Receive):
                    wait, deadline = receive_wait(action, s, deadline, time.monotonic())
                    if wait <= 0:
                        raise asyncio.TimeoutError()
                    value = await self.wire.read(wait)
                else:
                    await self._start_tls()
                    value = b""
                action = gen.send(value)
        except StopIteration as stop:
            self.last_used = time.monotonic()
            result: T = stop.value
            return result
        except (asyncio.TimeoutError, OSError, ConnectionLost) as exc:
            timed_out = isinstance(exc, asyncio.TimeoutError)
            error = io_failure(self.proto, s, exc, timed_out=timed_out)
            if error is exc:
                raise
            raise error from exc
        finally:
            gen.close()

    async def _start_tls(self) -> None:
        s = self.settings
        assert s.ssl_context is not None and self.wire.transport is not None
        self.wire.buffer.clear()  # RFC 3207 §4.2: nothing from before TLS survives (c22)
        if self.wire.reading_paused:  # start_tls pauses and resumes the transport itself
            self.wire.reading_paused = False
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self.wire.transport,
                self.wire,
                s.ssl_context,
                server_hostname=s.tls_server_name,
                ssl_handshake_timeout=s.timeout,
            )
        except (ssl.SSLError, ssl.CertificateError, OSError, asyncio.TimeoutError) as exc:
            self.proto.closed = True
            self.abort()
            raise TLSError(f"TLS handshake with {s.host}:{s.port} failed: {exc}") from exc
        if transport is None:
            raise TLSError("TLS upgrade failed")
        assert isinstance(transport, asyncio.Transport)
        self.wire.transport = transport

    def abort(self) -> None:
        self.proto.closed = True
        if self.wire.transport is not None:
            self.wire.transport.abort()

    async def close(self, *, polite: bool) -> None:
        if polite and not self.proto.closed:
            try:
                await asyncio.wait_for(self.run(self.proto.quit()), min(self.settings.timeout, 5))
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.debug("QUIT failed while closing: %r", exc)
        self.proto.closed = True
        if self.wire.transport is not None:
            self.wire.transport.close()


async def aconnect(settings: Settings) -> _AConnection:
    """Open a connection and run the session setup (greeting, EHLO, TLS, AUTH)."""
    s = settings
    loop = asyncio.get_running_loop()
    wire = _Wire()
    implicit = s.security == "tls"
    try:
        # connect_timeout bounds opening the connection (with implicit TLS, the
        # handshake too, as in the sync driver); timeout, every command after it
        transport, _ = await asyncio.wait_for(
            loop.create_connection(
                lambda: wire,
                s.host,
                s.port,
                ssl=s.ssl_context if implicit else None,
                server_hostname=s.tls_server_name if implicit else None,
                local_addr=s.source_address,
            ),
            s.connect_timeout,
        )
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise implicit_tls_failed(s, exc) from exc
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise connect_timed_out(s) from exc
    except OSError as exc:
        if _refused(exc):
            raise ConnectionRefused(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        raise ConnectionLost(f"cannot connect to {s.host}:{s.port}: {exc!r}") from exc
    _limit_unsent(transport)
    sockname = transport.get_extra_info("sockname")
    local = s.local_hostname or default_local_hostname(sockname[0] if sockname else "")
    conn = _AConnection(s, wire, SMTPClientProtocol(local, tls_active=implicit))
    try:
        await conn.run(
            conn.proto.open_session(
                security=s.security,
                credentials=s.credentials,
                allow_plaintext_auth=s.allow_plaintext_auth,
                auth_mechanism=s.auth_mechanism,
            )
        )
    except BaseException:
        conn.abort()
        raise
    return conn


def _limit_unsent(transport: asyncio.BaseTransport) -> None:
    """Ask the kernel to report the socket writable while less than
    :data:`_WRITE_PIECE` octets wait unsent (``TCP_NOTSENT_LOWAT``, where the
    platform has it). Otherwise a socket with a large send buffer (4 MiB on
    Linux loopback) signals writability only once about half of it drained,
    so a slow but working link would show no progress within ``timeout``
    and a large message would be timed out while the server is reading it."""
    option = getattr(socket, "TCP_NOTSENT_LOWAT", None)
    sock = transport.get_extra_info("socket")
    if option is None or sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, option, _WRITE_PIECE)


def _refused(exc: BaseException) -> bool:
    """True if every address of the host refused the connection. asyncio raises
    the one ``ConnectionRefusedError``, or for several addresses (``localhost``:
    ::1 and 127.0.0.1) one ``OSError("Multiple exceptions: ...")`` that keeps
    only the messages."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    text = str(exc)
    if not isinstance(exc, OSError) or not text.startswith("Multiple exceptions:"):
        return False
    codes = re.findall(r"\[Errno (\d+)\]", text)
    return bool(codes) and all(int(c) == errno.ECONNREFUSED for c in codes)


class AsyncSMTPTransport(AsyncTransport):
    """The asyncio twin of :class:`~mimekit.transports.smtp.SMTPTransport`
    (the same keyword options, :class:`~mimekit.transports.smtp.common.SMTPOptions`,
    and the same pool rules, :class:`~mimekit.transports.smtp.common.PoolRules`),
    with a pool of up to ``pool_size`` connections.

    Concurrent :meth:`asend` calls use separate connections; a connection is
    replaced after ``max_messages_per_connection`` (default 1000) messages and
    closed after ``idle_timeout`` (default 60) idle seconds, by a timer. Use
    ``async with`` or :meth:`aclose`.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        pool_size: int = 1,
        idle_timeout: float = 60.0,
        **options: Unpack[SMTPOptions],
    ) -> None:
        self.settings = make_settings(host, port, **options)
        self.pool_size = checked_pool_size(pool_size)
        self.idle_timeout = idle_timeout
        self._rules = PoolRules(self.settings, idle_timeout)
        self._idle: list[_AConnection] = []
        self._busy: set[_AConnection] = set()
        self._closing: set[asyncio.Task[None]] = set()  # QUITs of reaped connections
        self._sem: asyncio.Semaphore | None = None
        self._closed = False
        #: replaced in tests; the pause between retries
        self._sleep: Callable[[float], object] = asyncio.sleep
        self.connections_opened = 0

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"AsyncSMTPTransport({s.host!r}, {s.port}, security={s.security!r}, "
            f"pool_size={self.pool_size})"
        )

    # -- pool ------------------------------------------------------------------------

    async def _acquire(self) -> _AConnection:
        while self._idle:
            conn = self._idle.pop()
            closed = conn.proto.closed
            verdict = self._rules.on_take(
                closed=closed,
                # EOF or unsolicited data (a 421 before an idle disconnect)
                quiet=not closed and not conn.wire.eof and not conn.wire.buffer,
                idle_for=time.monotonic() - conn.last_used,
            )
            if verdict == "noop":
                try:
                    await conn.run(conn.proto.noop())  # RFC 5321 §4.1.1.9 health check
                except (ConnectionLost, SMTPResponseError):
                    verdict = "drop"
            if verdict == "drop":
                conn.abort()
            elif verdict == "quit":
                await conn.close(polite=True)
            else:
                self._busy.add(conn)
                return conn
        conn = await aconnect(self.settings)
        self.connections_opened += 1
        self._busy.add(conn)
        return conn

    async def _release(self, conn: _AConnection) -> None:
        self._busy.discard(conn)
        verdict = self._rules.on_release(
            closed=conn.proto.closed, messages=conn.messages, shutting_down=self._closed
        )
        if verdict == "drop":
            conn.abort()
        elif verdict == "quit":
            await conn.close(polite=True)
        else:
            conn.last_used = time.monotonic()
            self._idle.append(conn)
            asyncio.get_running_loop().call_later(self.idle_timeout + 0.01, self._reap)

    def _reap(self) -> None:
        now = time.monotonic()
        keep = []
        for conn in self._idle:
            if self._rules.expired(now - conn.last_used):
                task = asyncio.ensure_future(conn.close(polite=True))
                self._closing.add(task)  # keep a reference until it is done
                task.add_done_callback(self._closing.discard)
            else:
                keep.append(conn)
        self._idle = keep

    async def aconnect(self) -> None:
        """Open a connection now (greeting, TLS, AUTH) and keep it in the pool:
        checks the settings and credentials before the first send."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.pool_size)
        async with self._sem:
            await self._release(await self._acquire())

    async def aclose(self) -> None:
        """QUIT and close every idle connection; busy ones close when released."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(c.close(polite=True) for c in idle), *self._closing)

    # -- sending ---------------------------------------------------------------------

    async def asend(
        self,
        message: Message | bytes,
        *,
        envelope: Envelope | None = None,
        dsn: DSNOptions | None = None,
    ) -> SendResult:
        """Deliver one message (see :meth:`SMTPTransport.send`)."""
        check_message_type(message, "asend()")
        data, env, message_id = prepare_send(message, envelope)
        return await self._deliver(SendJob(self.settings, data, env, dsn, message_id, crlf=True))

    async def asend_raw(
        self,
        data: bytes,
        envelope: Envelope,
        *,
        dsn: DSNOptions | None = None,
        message_id: str | None = None,
    ) -> SendResult:
        """Send ``data`` as given (CRLF-normalized, dot-stuffed) to ``envelope``;
        no parsing or Bcc removal (see :meth:`SMTPTransport.send_raw`)."""
        check_raw(data, "asend_raw()")
        if self._closed:
            raise ConnectionLost("the transport is closed")
        return await self._deliver(SendJob(self.settings, data, envelope, dsn, message_id))

    async def asend_many(
        self, messages: Iterable[Message | bytes | tuple[Message | bytes, Envelope]]
    ) -> list[SendResult]:
        """Deliver several messages (or ``(message, envelope)`` pairs) in order
        over one connection, pipelined across messages (see
        :meth:`SMTPTransport.send_many`)."""
        if self._closed:
            raise ConnectionLost("the transport is closed")
        jobs, error = make_jobs(self.settings, messages, "asend_many()")
        results = await self._run_flow(send_many_flow(jobs)) if jobs else []
        if error is not None:
            raise error
        return results

    async def _deliver(self, job: SendJob) -> SendResult:
        """Run the send loop for ``job`` on a pool slot (final after :meth:`aclose`)."""
        if self._closed:
            raise ConnectionLost("the transport is closed")
        return await self._run_flow(send_flow(job))

    async def _run_flow(self, flow: Generator[PoolOp, object, T]) -> T:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.pool_size)
        async with self._sem:
            return await self._pump(flow)

    async def _pump(self, flow: Generator[PoolOp, object, T]) -> T:
        """Perform the operations of a :func:`~.common.send_flow` (which makes
        every decision): the I/O half of the send loop."""
        value: object = None
        error: BaseException | None = None
        while True:
            try:
                op = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value, error = None, None
            try:
                if isinstance(op, Acquire):
                    value = await self._acquire()
                elif isinstance(op, Pause):
                    await self._pause(op.seconds)
                else:
                    conn = cast(_AConnection, op.conn)
                    if isinstance(op, Transact):
                        value = await conn.run(op.step)
                    elif isinstance(op, Release):
                        await self._release(conn)
                    elif isinstance(op, Quit):
                        await conn.close(polite=True)
                    else:  # Abort
                        conn.abort()
                        self._busy.discard(conn)
            except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
                error = exc

    async def _pause(self, delay: float) -> None:
        result = self._sleep(delay)
        if asyncio.iscoroutine(result):
            await result
