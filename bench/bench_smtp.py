"""Benchmark: mimekit's SMTP transports vs smtplib and aiosmtplib.

    /work/venv/bin/python bench/bench_smtp.py [-n 2000]

A fast sink SMTP server (asyncio, PIPELINING + 8BITMIME + SIZE, accepts
everything) runs in a *separate process* on 127.0.0.1, so the client CPU time
(``time.process_time()`` of this process) is the client's own. Every client
sends the same small messages over reused connections in the same run:

The sink advertises what Postfix 3.x does: PIPELINING, 8BITMIME, CHUNKING, SIZE.

- sync, one connection: mimekit ``SMTPTransport.send_raw`` (pipelining, with
  BDAT and with DATA) and ``send`` of raw bytes (parsed to derive the
  envelope and strip Bcc), of raw bytes with an explicit envelope (no Bcc
  header: not parsed) and of a parsed ``Message``, vs ``smtplib.SMTP.sendmail``;
- asyncio, 8 connections: ``AsyncSMTPTransport(pool_size=8)`` vs 8
  ``aiosmtplib.SMTP`` clients (skipped if aiosmtplib is not installed).

Prints a Markdown table with wall time, messages/s, client CPU per message
and the ratios against the stdlib/aiosmtplib baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable

MSG = (
    b"From: Sender <sender@example.test>\r\nTo: Rcpt <rcpt@example.test>\r\n"
    b"Subject: benchmark message\r\nDate: Thu, 03 Dec 2026 16:00:00 +0000\r\n"
    b"Message-ID: <bench@example.test>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    + b"Hello, this is a small benchmark message body line.\r\n" * 8
    + b".a line starting with a dot\r\nbye\r\n"
)
FROM, TO = "sender@example.test", ["rcpt@example.test"]


# ------------------------------------------------------------------ sink (child process)


class _Sink(asyncio.Protocol):
    delay = 0.0  # seconds before each reply write: simulated network/server latency

    def __init__(self) -> None:
        self.buf = bytearray()
        self.in_data = False
        self.bdat = 0  # octets of a BDAT chunk still to skip
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink.test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buf += data
        out = []
        while True:
            if self.bdat:
                take = min(self.bdat, len(self.buf))
                del self.buf[:take]
                self.bdat -= take
                if self.bdat:
                    break
                out.append(b"250 2.0.0 Ok: queued as Q1\r\n")
                continue
            if self.in_data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    break
                del self.buf[: end + 5]
                self.in_data = False
                out.append(b"250 2.0.0 Ok: queued as Q1\r\n")
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                break
            verb = bytes(self.buf[:4]).upper()
            line = bytes(self.buf[:nl])
            del self.buf[: nl + 2]
            if verb == b"BDAT":
                self.bdat = int(line.split()[1])
                if not self.bdat:
                    out.append(b"250 2.0.0 Ok: queued as Q1\r\n")
            elif verb in (b"EHLO",):
                # what Postfix 3.x advertises (minus AUTH/STARTTLS)
                out.append(
                    b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                    b"250-CHUNKING\r\n250 SIZE 10000000\r\n"
                )
            elif verb == b"DATA":
                out.append(b"354 go\r\n")
                self.in_data = True
                self.buf[:0] = b"\r\n"  # so a message starting with "." still matches
            elif verb == b"QUIT":
                out.append(b"221 bye\r\n")
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            else:
                out.append(b"250 2.0.0 Ok\r\n")
        if out:
            if self.delay:
                asyncio.get_running_loop().call_later(
                    self.delay, self.transport.write, b"".join(out)
                )
            else:
                self.transport.write(b"".join(out))


def run_sink(delay: float = 0.0) -> None:
    _Sink.delay = delay

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Sink, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


# ------------------------------------------------------------------ clients


REPEATS = 3


def measure(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, client CPU seconds): the best of ``REPEATS`` runs each
    (the machine may be shared; the minimum is the least disturbed run)."""
    walls, cpus = [], []
    for _ in range(REPEATS):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def bench_sync(port: int, n: int) -> dict[str, tuple[float, float]]:
    from mimekit.transports.base import Envelope
    from mimekit.transports.smtp import SMTPTransport

    from mimekit.parser import parse

    env = Envelope(FROM, tuple(TO))
    res: dict[str, tuple[float, float]] = {}

    def stdlib() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test") as s:
            for _ in range(n):
                s.sendmail(FROM, TO, MSG)

    def mk_raw() -> None:
        with SMTPTransport("127.0.0.1", port, security="none", local_hostname="client.test") as t:
            for _ in range(n):
                t.send_raw(MSG, env)

    def mk_data() -> None:
        with SMTPTransport(
            "127.0.0.1", port, security="none", chunking=False, local_hostname="client.test"
        ) as t:
            for _ in range(n):
                t.send_raw(MSG, env)

    def mk_send() -> None:
        with SMTPTransport("127.0.0.1", port, security="none", local_hostname="client.test") as t:
            for _ in range(n):
                t.send(MSG)

    def mk_send_env() -> None:
        with SMTPTransport("127.0.0.1", port, security="none", local_hostname="client.test") as t:
            for _ in range(n):
                t.send(MSG, envelope=env)

    message = parse(MSG)

    def mk_send_msg() -> None:
        with SMTPTransport("127.0.0.1", port, security="none", local_hostname="client.test") as t:
            for _ in range(n):
                t.send(message)

    stdlib()  # warm up (imports, caches)
    mk_raw()
    res["smtplib sendmail (1 conn)"] = measure(stdlib)
    res["mimekit send_raw (1 conn, PIPELINING+BDAT: 1 round trip)"] = measure(mk_raw)
    res["mimekit send_raw (1 conn, PIPELINING+DATA: 2 round trips)"] = measure(mk_data)
    res["mimekit send(bytes) (1 conn, parse: envelope from headers, Bcc strip)"] = measure(mk_send)
    res["mimekit send(bytes, envelope=) (1 conn, no Bcc: no parse)"] = measure(mk_send_env)
    res["mimekit send(Message) (1 conn, serialize without Bcc)"] = measure(mk_send_msg)
    return res


def bench_async(port: int, n: int, conns: int) -> dict[str, tuple[float, float]]:
    from mimekit.transports.base import Envelope
    from mimekit.transports.smtp import AsyncSMTPTransport

    env = Envelope(FROM, tuple(TO))
    res: dict[str, tuple[float, float]] = {}

    async def mk() -> None:
        async with AsyncSMTPTransport(
            "127.0.0.1",
            port,
            security="none",
            pool_size=conns,
            local_hostname="client.test",
            max_messages_per_connection=None,
        ) as t:
            await asyncio.gather(*(t.asend_raw(MSG, env) for _ in range(n)))

    res[f"mimekit AsyncSMTPTransport (pool {conns})"] = measure(lambda: asyncio.run(mk()))
    try:
        import aiosmtplib
    except ImportError:
        return res

    async def aio() -> None:
        async def worker(count: int) -> None:
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1",
                port=port,
                use_tls=False,
                start_tls=False,
                local_hostname="client.test",
            )
            await client.connect()
            for _ in range(count):
                await client.sendmail(FROM, TO, MSG)
            await client.quit()

        share = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
        await asyncio.gather(*(worker(k) for k in share))

    asyncio.run(aio())  # warm up
    res[f"aiosmtplib ({conns} conns)"] = measure(lambda: asyncio.run(aio()))
    return res


def large_message(size: int) -> bytes:
    """A multipart message with a base64 attachment of about ``size`` bytes."""
    import base64
    import os

    att = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        b"From: Sender <sender@example.test>\r\nTo: Rcpt <rcpt@example.test>\r\n"
        b"Subject: large benchmark message\r\nMessage-ID: <large@example.test>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        b"--BB\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n--BB\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + att
        + b"--BB--\r\n"
    )


def bench_large(port: int, n: int, data: bytes) -> dict[str, tuple[float, float]]:
    """smtplib vs mimekit for a large message (the per-octet costs: line-end
    normalization, the 998-octet line check, dot-stuffing, copies)."""
    from mimekit.transports.base import Envelope
    from mimekit.transports.smtp import SMTPTransport

    env = Envelope(FROM, tuple(TO))
    res: dict[str, tuple[float, float]] = {}

    def stdlib() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test") as s:
            for _ in range(n):
                s.sendmail(FROM, TO, data)

    def mk(call: Callable[[SMTPTransport], object], chunking: bool = True) -> Callable[[], None]:
        def run() -> None:
            with SMTPTransport(
                "127.0.0.1",
                port,
                security="none",
                chunking=chunking,
                local_hostname="client.test",
            ) as t:
                for _ in range(n):
                    call(t)

        return run

    stdlib()
    res["smtplib sendmail (1 conn)"] = measure(stdlib)
    res["mimekit send_raw (BDAT)"] = measure(mk(lambda t: t.send_raw(data, env)))
    res["mimekit send_raw (DATA, dot-stuffed)"] = measure(
        mk(lambda t: t.send_raw(data, env), chunking=False)
    )
    res["mimekit send(bytes, envelope=)"] = measure(mk(lambda t: t.send(data, envelope=env)))
    res["mimekit send(bytes)"] = measure(mk(lambda t: t.send(data)))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--latency-ms",
        type=float,
        default=1.0,
        help="reply latency of the second sink (0 to skip those rows)",
    )
    ap.add_argument(
        "--large-kb",
        type=int,
        default=2048,
        help="size of the large-message rows (0 to skip them)",
    )
    ap.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        run_sink(args.delay)
        return
    global REPEATS
    REPEATS = args.repeats
    sections = [("no added latency", 0.0, args.n)]
    if args.latency_ms > 0:
        # fewer messages: each round trip now costs the latency
        sections.append(
            (f"{args.latency_ms:g} ms reply latency", args.latency_ms / 1000, max(args.n // 8, 50))
        )
    for title, delay, n in sections:
        sink = subprocess.Popen(
            [sys.executable, __file__, "--sink", "--delay", str(delay)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert sink.stdout is not None
            port = int(sink.stdout.readline())
            sync = bench_sync(port, n)
            aio = bench_async(port, n, args.conns)
        finally:
            sink.terminate()
            sink.wait()
        report(title, n, sync, aio)
    if args.large_kb > 0:
        data = large_message(args.large_kb * 1024)
        n = max(args.n // 100, 5)
        sink = subprocess.Popen(
            [sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert sink.stdout is not None
            large = bench_large(int(sink.stdout.readline()), n, data)
        finally:
            sink.terminate()
            sink.wait()
        report("large message", n, large, {}, size=len(data))
    print(
        "\nratios > 1 mean mimekit is faster / uses less CPU than the baseline "
        "(smtplib for sync rows, aiosmtplib for async rows)"
    )


def report(
    title: str,
    n: int,
    sync: dict[str, tuple[float, float]],
    aio: dict[str, tuple[float, float]],
    size: int = len(MSG),
) -> None:
    print(
        f"\n### {title}: {n} messages of {size} bytes, sink in a separate process, "
        f"Python {sys.version.split()[0]}, best of {REPEATS} runs\n"
    )
    print("| client | wall s | msg/s | client CPU µs/msg | wall vs baseline | CPU vs baseline |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base_sync = sync["smtplib sendmail (1 conn)"]
    base_aio = next((v for k, v in aio.items() if k.startswith("aiosmtplib")), None)
    for name, (wall, cpu) in [*sync.items(), *aio.items()]:
        base = base_sync if name in sync else base_aio
        ratio_w = f"{base[0] / wall:.2f}x" if base else "-"
        ratio_c = f"{base[1] / cpu:.2f}x" if base else "-"
        print(
            f"| {name} | {wall:.3f} | {n / wall:,.0f} | {cpu / n * 1e6:.0f} | "
            f"{ratio_w} | {ratio_c} |"
        )


if __name__ == "__main__":
    main()
