"""Benchmark: mimekit's SMTP transports vs smtplib and aiosmtplib.

    .venv/bin/python bench/bench_smtp.py [-n 2000] [--repeats 5]
    .venv/bin/python bench/bench_smtp.py --instructions   # + valgrind counts

A fast sink SMTP server (asyncio; advertises what Postfix 3.x does:
PIPELINING, 8BITMIME, CHUNKING, SIZE; accepts everything) runs in a
*separate process* on 127.0.0.1, so the client CPU time
(``time.process_time()`` of this process) is the client's own. Every client
sends the same small messages over reused connections in the same run:

- sync, one connection: smtplib ``SMTP.sendmail`` (the baseline);
  mimekit ``SMTPTransport.send_many`` of ``(bytes, envelope)`` pairs
  (pipelined across messages, RFC 2920 §3.1: one round trip per message with
  BDAT and with DATA) and of bytes alone (the envelope parsed from the headers),
  ``send_raw`` one message at a time (BDAT: one round trip; DATA: two),
  ``send`` of raw bytes (parsed for the envelope and Bcc), of raw bytes with
  an explicit envelope (not parsed) and of a parsed ``Message``;
- asyncio, 8 connections: ``AsyncSMTPTransport(pool_size=8)`` vs 8
  ``aiosmtplib.SMTP`` clients (skipped if aiosmtplib is not installed).

Trustworthy numbers on a shared machine: every row runs ``--repeats`` times,
*interleaved* with its baseline (all rows once per repeat, the order reversed
every other repeat, so a slow phase of the machine hits baseline and mimekit
alike), after one warm-up pass; the table gives the best and the median of
the repeats, and the load average before and after.

Client CPU per message of this ping-pong workload depends on *where* the
scheduler puts the client and the sink: on one CPU every reply is a direct
hand-off between two runnable processes; on two CPUs each process sleeps on
every round trip and is woken on an idle vCPU (in a VM: an exit to the host
and back), which costs the client several times the CPU and the wall time.
smtplib makes 4 round trips per message, ``send_many`` 1, so the placement
moves the ratios; unpinned, the scheduler picks either, run by run (that is
the 59 vs 166 µs/msg smtplib "anomaly"). ``--placement`` measures both
placements side by side; ``--pin CPU`` runs everything on one CPU (the
stable, least favourable case for mimekit); ``--instructions`` counts the
client's user-space instructions per message under valgrind, which the
scheduler cannot change (the kernel's share is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import smtplib
import statistics
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
EXTENSIONS = "PIPELINING 8BITMIME CHUNKING SIZE"


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


class Sink:
    """The sink in its own process (optionally pinned to a CPU)."""

    def __init__(self, delay: float = 0.0, cpu: int | None = None) -> None:
        cmd = [sys.executable, __file__, "--sink", "--delay", str(delay)]
        if cpu is not None:
            cmd += ["--sink-cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


# ------------------------------------------------------------------ clients

# A row: (name, baseline name or None for a baseline, the client: runs n messages)
Row = tuple[str, "str | None", Callable[[], None]]
SMTPLIB = "smtplib sendmail (1 conn)"


def sync_rows(port: int, n: int, data: bytes = MSG, *, large: bool = False) -> list[Row]:
    from mimekit.transports.base import Envelope
    from mimekit.transports.smtp import SMTPTransport

    from mimekit.parser import parse

    env = Envelope(FROM, tuple(TO))

    def transport(chunking: bool = True) -> SMTPTransport:
        # one connection for all n messages (the default rotates every 1000)
        return SMTPTransport(
            "127.0.0.1",
            port,
            security="none",
            chunking=chunking,
            local_hostname="client.test",
            max_messages_per_connection=None,
        )

    def stdlib() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test") as s:
            for _ in range(n):
                s.sendmail(FROM, TO, data)

    def many(chunking: bool, pairs: bool = True) -> Callable[[], None]:
        batch: list[object] = [(data, env) if pairs else data] * n

        def run() -> None:
            with transport(chunking) as t:
                t.send_many(batch)  # type: ignore[arg-type]

        return run

    def each(call: Callable[[SMTPTransport], object], chunking: bool = True) -> Callable[[], None]:
        def run() -> None:
            with transport(chunking) as t:
                for _ in range(n):
                    call(t)

        return run

    rows: list[Row] = [
        (SMTPLIB, None, stdlib),
        ("mimekit send_many (PIPELINING+BDAT: 1 round trip/msg)", SMTPLIB, many(True)),
        ("mimekit send_many (PIPELINING+DATA: 1 round trip/msg)", SMTPLIB, many(False)),
        ("mimekit send_many(bytes) (BDAT; envelope parsed from headers)", SMTPLIB,
         many(True, pairs=False)),
        ("mimekit send_raw (PIPELINING+BDAT: 1 round trip)", SMTPLIB,
         each(lambda t: t.send_raw(data, env))),
        ("mimekit send_raw (PIPELINING+DATA: 2 round trips)", SMTPLIB,
         each(lambda t: t.send_raw(data, env), chunking=False)),
        ("mimekit send(bytes, envelope=) (no Bcc: no parse)", SMTPLIB,
         each(lambda t: t.send(data, envelope=env))),
        ("mimekit send(bytes) (parse: envelope from headers, Bcc strip)", SMTPLIB,
         each(lambda t: t.send(data))),
    ]
    if not large:
        message = parse(data)
        rows.append(("mimekit send(Message) (serialize without Bcc)", SMTPLIB,
                     each(lambda t: t.send(message))))
    return rows


def async_rows(port: int, n: int, conns: int) -> list[Row]:
    from mimekit.transports.base import Envelope
    from mimekit.transports.smtp import AsyncSMTPTransport

    env = Envelope(FROM, tuple(TO))
    base = f"aiosmtplib ({conns} conns)"

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

    rows: list[Row] = []
    try:
        import aiosmtplib
    except ImportError:
        return [(f"mimekit AsyncSMTPTransport (pool {conns})", None, lambda: asyncio.run(mk()))]

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

    rows.append((base, None, lambda: asyncio.run(aio())))
    rows.append((f"mimekit AsyncSMTPTransport (pool {conns})", base, lambda: asyncio.run(mk())))
    return rows


# ------------------------------------------------------------------ measuring

Samples = dict[str, list[tuple[float, float]]]  # row -> [(wall s, CPU s)] per repeat


def measure(rows: list[Row], repeats: int) -> Samples:
    """Every row ``repeats`` times after one warm-up pass, interleaved: one
    pass over all rows per repeat, in reverse order every other repeat."""
    for _, _, fn in rows:
        fn()  # warm-up: imports, caches, the sink's first connections
    samples: Samples = {name: [] for name, _, _ in rows}
    for r in range(repeats):
        for name, _, fn in rows if r % 2 == 0 else rows[::-1]:
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - w0, time.process_time() - c0))
    return samples


def report(title: str, n: int, rows: list[Row], samples: Samples, size: int) -> None:
    print(f"\n### {title}: {n} messages of {size} bytes\n")
    print(
        "| client | wall s best | wall s median | msg/s (best) | CPU µs/msg best "
        "| CPU µs/msg median | wall vs baseline best / median | CPU vs baseline best / median |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def stats(name: str) -> tuple[float, float, float, float]:
        walls = [w for w, _ in samples[name]]
        cpus = [c for _, c in samples[name]]
        return min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)

    for name, base, _ in rows:
        wb, wm, cb, cm = stats(name)
        if base is None:
            ratio_w = ratio_c = "(baseline)"
        else:
            bwb, bwm, bcb, bcm = stats(base)
            ratio_w = f"{bwb / wb:.2f}x / {bwm / wm:.2f}x"
            ratio_c = f"{bcb / cb:.2f}x / {bcm / cm:.2f}x"
        print(
            f"| {name} | {wb:.3f} | {wm:.3f} | {n / wb:,.0f} | {cb / n * 1e6:.0f} "
            f"| {cm / n * 1e6:.0f} | {ratio_w} | {ratio_c} |"
        )


# ------------------------------------------------------------------ instruction counts


def count_instructions(port: int, names: list[str], n1: int, n2: int) -> dict[str, float]:
    """User-space instructions per message of each named sync row, under
    valgrind (cachegrind without cache simulation): ``(I(n2) - I(n1)) /
    (n2 - n1)``, which cancels start-up and imports. Stable to a few percent
    from run to run, whatever the scheduler and the machine's load do; the
    kernel's share (syscalls, wake-ups) is not counted."""
    out: dict[str, float] = {}
    for name in names:
        counts = []
        for n in (n1, n2):
            cmd = [
                "valgrind", "--tool=cachegrind", "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                sys.executable, __file__, "--client", name, "--port", str(port), "-n", str(n),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            m = re.search(r"I\s+refs:\s+([\d,]+)", res.stderr)
            assert m is not None, res.stderr[-500:]
            counts.append(int(m.group(1).replace(",", "")))
        out[name] = (counts[1] - counts[0]) / (n2 - n1)
    return out


def run_one_client(name: str, port: int, n: int) -> None:
    """``--client``: run one sync row once (what valgrind measures)."""
    for row_name, _, fn in sync_rows(port, n):
        if row_name == name:
            fn()
            return
    raise SystemExit(f"no such row: {name}")


def placement_rows(sink: Sink, n: int) -> list[Row]:
    """smtplib and ``send_many`` (DATA, BDAT) with the client and the sink on
    one CPU, then on two: the affinities are set before each run (so the
    rows interleave in :func:`measure` like any others)."""
    wanted = [SMTPLIB, "mimekit send_many (PIPELINING+DATA: 1 round trip/msg)",
              "mimekit send_many (PIPELINING+BDAT: 1 round trip/msg)"]
    base = {name: fn for name, _, fn in sync_rows(sink.port, n) if name in wanted}
    rows: list[Row] = []
    for label, (client_cpu, sink_cpu) in (("one CPU", (0, 0)), ("two CPUs", (0, 1))):

        def placed(fn: Callable[[], None], c: int = client_cpu, k: int = sink_cpu) -> None:
            os.sched_setaffinity(sink.proc.pid, {k})
            os.sched_setaffinity(0, {c})
            fn()

        for name in wanted:
            rows.append((
                f"{name} [{label}]",
                None if name == SMTPLIB else f"{SMTPLIB} [{label}]",
                lambda fn=base[name], placed=placed: placed(fn),  # type: ignore[misc]
            ))
    return rows


# ------------------------------------------------------------------ main


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
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
    ap.add_argument("--pin", type=int, default=None, metavar="CPU",
                    help="run the client and the sink on this one CPU")
    ap.add_argument("--instructions", action="store_true",
                    help="also count user-space instructions per message under valgrind")
    ap.add_argument("--placement", action="store_true",
                    help="only compare client and sink on one CPU vs on two")
    ap.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sink-cpu", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--client", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        if args.sink_cpu is not None:
            os.sched_setaffinity(0, {args.sink_cpu})
        run_sink(args.delay)
        return
    if args.client:
        run_one_client(args.client, args.port, args.n)
        return
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    print(
        f"Python {sys.version.split()[0]} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, "
        f"load average before: {loadavg()}"
    )
    print(
        f"sink: asyncio server in a separate process on 127.0.0.1 (TCP_NODELAY, as asyncio "
        f"sets it), EHLO {EXTENSIONS} (10000000), accepts everything, replies to a "
        f"pipelined group in one write; client and sink "
        + (f"pinned to CPU {args.pin}" if args.pin is not None else "not pinned")
        + f"; {args.repeats} interleaved repeats after a warm-up pass"
    )
    if args.placement:
        if (os.cpu_count() or 1) < 2:
            raise SystemExit("--placement needs two CPUs")
        sink = Sink()
        try:
            rows = placement_rows(sink, args.n)
            samples = measure(rows, args.repeats)
        finally:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            sink.close()
        report("placement: client and sink on one CPU vs two", args.n, rows, samples, len(MSG))
        print(f"\nload average after: {loadavg()}")
        return
    sections = [("no added latency", 0.0, args.n)]
    if args.latency_ms > 0:
        # fewer messages: each round trip now costs the latency
        sections.append(
            (f"{args.latency_ms:g} ms reply latency", args.latency_ms / 1000, max(args.n // 8, 50))
        )
    for title, delay, n in sections:
        sink = Sink(delay, args.pin)
        try:
            rows = sync_rows(sink.port, n) + async_rows(sink.port, n, args.conns)
            samples = measure(rows, args.repeats)
        finally:
            sink.close()
        report(f"{title} (sink reply delay {delay * 1000:g} ms)", n, rows, samples, len(MSG))
    if args.large_kb > 0:
        data = large_message(args.large_kb * 1024)
        n = max(args.n // 100, 5)
        sink = Sink(0.0, args.pin)
        try:
            rows = sync_rows(sink.port, n, data, large=True)
            samples = measure(rows, args.repeats)
        finally:
            sink.close()
        report("large message", n, rows, samples, len(data))
    if args.instructions:
        if shutil.which("valgrind") is None:
            print("\n(valgrind not found: no instruction counts)")
        else:
            sink = Sink(0.0, args.pin)
            try:
                names = [name for name, _, _ in sync_rows(sink.port, 1)]
                counts = count_instructions(sink.port, names, 100, 300)
            finally:
                sink.close()
            print("\n### client user-space instructions per message (valgrind, 300 - 100 msgs)\n")
            print("| client | instructions/msg | vs smtplib |")
            print("| --- | ---: | ---: |")
            for name, count in counts.items():
                print(f"| {name} | {count:,.0f} | {counts[SMTPLIB] / count:.2f}x |")
    print(f"\nload average after: {loadavg()}")
    print(
        "ratios > 1 mean mimekit is faster / uses less CPU than the baseline "
        "(smtplib for sync rows, aiosmtplib for async rows); best / median of the repeats"
    )


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



if __name__ == "__main__":
    main()
