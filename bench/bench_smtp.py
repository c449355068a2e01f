"""Benchmark: mimekit's SMTP transports vs smtplib and aiosmtplib.

    /work/venv/bin/python bench/bench_smtp.py [-n 2000]

A fast sink SMTP server (asyncio, PIPELINING + 8BITMIME + SIZE, accepts
everything) runs in a *separate process* on 127.0.0.1, so the client CPU time
(``time.process_time()`` of this process) is the client's own. Every client
sends the same small messages over reused connections in the same run:

- sync, one connection: mimekit ``SMTPTransport.send_raw`` (pipelining) and
  ``send`` (parses the message, strips Bcc) vs ``smtplib.SMTP.sendmail``;
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
    def __init__(self) -> None:
        self.buf = bytearray()
        self.in_data = False
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
            del self.buf[: nl + 2]
            if verb in (b"EHLO",):
                out.append(b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                           b"250 SIZE 10000000\r\n")
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
            self.transport.write(b"".join(out))


def run_sink() -> None:
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

    env = Envelope(FROM, tuple(TO))
    res: dict[str, tuple[float, float]] = {}

    def stdlib() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test") as s:
            for _ in range(n):
                s.sendmail(FROM, TO, MSG)

    def mk_raw() -> None:
        with SMTPTransport("127.0.0.1", port, security="none",
                           local_hostname="client.test") as t:
            for _ in range(n):
                t.send_raw(MSG, env)

    def mk_send() -> None:
        with SMTPTransport("127.0.0.1", port, security="none",
                           local_hostname="client.test") as t:
            for _ in range(n):
                t.send(MSG)

    stdlib()  # warm up (imports, caches)
    mk_raw()
    res["smtplib sendmail (1 conn)"] = measure(stdlib)
    res["mimekit send_raw (1 conn, pipelining)"] = measure(mk_raw)
    res["mimekit send (1 conn, parse + Bcc strip)"] = measure(mk_send)
    return res


def bench_async(port: int, n: int, conns: int) -> dict[str, tuple[float, float]]:
    from mimekit.transports.base import Envelope
    from mimekit.transports.smtp import AsyncSMTPTransport

    env = Envelope(FROM, tuple(TO))
    res: dict[str, tuple[float, float]] = {}

    async def mk() -> None:
        async with AsyncSMTPTransport("127.0.0.1", port, security="none", pool_size=conns,
                                      local_hostname="client.test",
                                      max_messages_per_connection=None) as t:
            await asyncio.gather(*(t.asend_raw(MSG, env) for _ in range(n)))

    res[f"mimekit AsyncSMTPTransport (pool {conns})"] = measure(lambda: asyncio.run(mk()))
    try:
        import aiosmtplib
    except ImportError:
        return res

    async def aio() -> None:
        async def worker(count: int) -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, use_tls=False,
                                     start_tls=False, local_hostname="client.test")
            await client.connect()
            for _ in range(count):
                await client.sendmail(FROM, TO, MSG)
            await client.quit()

        share = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
        await asyncio.gather(*(worker(k) for k in share))

    asyncio.run(aio())  # warm up
    res[f"aiosmtplib ({conns} conns)"] = measure(lambda: asyncio.run(aio()))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        run_sink()
        return
    global REPEATS
    REPEATS = args.repeats
    sink = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        sync = bench_sync(port, args.n)
        aio = bench_async(port, args.n, args.conns)
    finally:
        sink.terminate()
        sink.wait()
    n = args.n
    print(f"\n{n} messages of {len(MSG)} bytes, sink in a separate process, "
          f"Python {sys.version.split()[0]}, best of {REPEATS} runs\n")
    print("| client | wall s | msg/s | client CPU µs/msg | wall vs baseline | CPU vs baseline |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base_sync = sync["smtplib sendmail (1 conn)"]
    base_aio = next((v for k, v in aio.items() if k.startswith("aiosmtplib")), None)
    for name, (wall, cpu) in [*sync.items(), *aio.items()]:
        base = base_sync if name in sync else base_aio
        ratio_w = f"{base[0] / wall:.2f}x" if base else "-"
        ratio_c = f"{base[1] / cpu:.2f}x" if base else "-"
        print(f"| {name} | {wall:.3f} | {n / wall:,.0f} | {cpu / n * 1e6:.0f} | "
              f"{ratio_w} | {ratio_c} |")
    print("\nratios > 1 mean mimekit is faster / uses less CPU than the baseline "
          "(smtplib for sync rows, aiosmtplib for async rows)")


if __name__ == "__main__":
    main()
