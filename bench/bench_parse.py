"""Parse: mimekit against the standard library, in the same run.

Generates its own deterministic corpus (small 1-4 KB messages of several shapes, a
100 KB newsletter, a message with a 20 MB base64 attachment, a 200-part multipart) and
prints a Markdown table: seconds per message for ``mimekit.parser.parse``,
``email.message_from_bytes`` with ``policy.default`` and with ``compat32``, and the
ratios (stdlib time / mimekit time; above 1 means mimekit is faster). Best-of-N timings.
A second table takes the 20 MB case further: parse + decode of the attachment against
``binascii.a2b_base64`` alone, and peak memory above the input (tracemalloc).
Not a test: nothing here asserts a time.

    python bench/bench_parse.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email
import email.message
import email.policy
import gc
import random
import time
import tracemalloc
from collections.abc import Callable

from mimekit.parser import parse


def best_of(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Seconds per call: the best of ``repeat`` runs of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def interleaved(fns: list[Callable[[], object]], number: int, repeat: int) -> list[float]:
    """Best seconds per call for each function, timed in turns (one run of each per
    round) so that load from other processes hits them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], best_of(fn, number, 1))
    return best


def _headers(rng: random.Random, i: int) -> bytes:
    received = b"".join(
        b"Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\r\n"
        b"\tby mail.example.org with ESMTPS id %08x\r\n"
        b"\tfor <bo@example.org>; Fri, 01 Mar 2024 01:47:%02d +0000\r\n"
        % (n, n, n, rng.getrandbits(32), n)
        for n in range(rng.randint(1, 4))
    )
    return received + (
        b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n"
        b"\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
        b"\tb=" + base64.b64encode(rng.randbytes(128)) + b"\r\n"
        b"From: =?utf-8?q?Ana_L=C3=ADma?= <ana@example.com>\r\n"
        b"To: Bo Chen <bo@example.org>, carol@example.net\r\n"
        b"Subject: =?utf-8?b?" + base64.b64encode("Grüße Nr. %d" .encode() % i) + b"?=\r\n"
        b"Date: Fri, 01 Mar 2024 01:47:09 +0000\r\n"
        b"Message-ID: <%d.%d@example.com>\r\n" % (i, rng.getrandbits(40)) +
        b"MIME-Version: 1.0\r\n"
    )


def _text(rng: random.Random, n: int) -> bytes:
    words = [b"lorem", b"ipsum", b"dolor", b"sit", b"amet", b"mail", b"parser", b"K\xc3\xb6ln"]
    lines = []
    for _ in range(n):
        lines.append(b" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))))
    return b"\r\n".join(lines) + b"\r\n"


def small_message(i: int) -> bytes:
    """A 1-4 KB message: plain, alternative, or mixed with a small attachment."""
    rng = random.Random(i)
    head = _headers(rng, i)
    shape = i % 3
    if shape == 0:
        return (head + b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: 8bit\r\n\r\n" + _text(rng, rng.randint(5, 30)))
    text = _text(rng, rng.randint(3, 12))
    html = b"<html><body><p>" + _text(rng, rng.randint(3, 10)) + b"</p></body></html>\r\n"
    alt = (b"Content-Type: multipart/alternative; boundary=\"alt-%d\"\r\n\r\n" % i
           + b"--alt-%d\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" % i + text
           + b"--alt-%d\r\nContent-Type: text/html; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" % i + html
           + b"--alt-%d--\r\n" % i)
    if shape == 1:
        return head + alt
    attachment = base64.encodebytes(rng.randbytes(rng.randint(300, 1200))).replace(b"\n", b"\r\n")
    return (head + b"Content-Type: multipart/mixed; boundary=\"mix-%d\"\r\n\r\n" % i
            + b"This is a multi-part message in MIME format.\r\n"
            + b"--mix-%d\r\n" % i + alt
            + b"--mix-%d\r\nContent-Type: application/pdf; name=\"r%d.pdf\"\r\n" % (i, i)
            + b"Content-Disposition: attachment; filename=\"r%d.pdf\"\r\n" % i
            + b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment
            + b"--mix-%d--\r\n" % i)


def big_attachment(size: int) -> bytes:
    rng = random.Random(20)
    payload = base64.encodebytes(rng.randbytes(size)).replace(b"\n", b"\r\n")
    return (_headers(rng, 0)
            + b"Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n"
            + b"--big\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            + b"--big\r\nContent-Type: application/octet-stream; name=\"blob.bin\"\r\n"
            + b"Content-Disposition: attachment; filename=\"blob.bin\"\r\n"
            + b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"--big--\r\n")


def many_parts(n: int) -> bytes:
    rng = random.Random(n)
    body = b"".join(
        b"--many\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + _text(rng, 3)
        for _ in range(n)
    )
    return (_headers(rng, 0) + b"Content-Type: multipart/mixed; boundary=\"many\"\r\n\r\n"
            + body + b"--many--\r\n")


def newsletter() -> bytes:
    rng = random.Random(7)
    html = b"<html><body>" + b"".join(
        b"<p>" + _text(rng, 4) + b"</p>\r\n" for _ in range(300)) + b"</body></html>\r\n"
    return (_headers(rng, 1) + b"Content-Type: text/html; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + html)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    default = email.policy.default
    compat = email.policy.compat32

    smalls = [small_message(i) for i in range(300)]
    sizes = sorted(len(m) for m in smalls)
    cases: list[tuple[str, list[bytes], int]] = [
        (f"small ({sizes[0]}-{sizes[-1]} B, 300 msgs)", smalls, 1),
        (f"newsletter ({len(newsletter()) // 1024} KB html)", [newsletter()], 20),
        ("200-part multipart", [many_parts(200)], 5),
        ("20 MB base64 attachment", [big_attachment(15 * 1024 * 1024)], 1),
    ]
    print("| input | mimekit parse | stdlib default | stdlib compat32 | x default | x compat32 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, msgs, number in cases:
        def ours(msgs: list[bytes] = msgs) -> None:
            for m in msgs:
                parse(m)

        def std_default(msgs: list[bytes] = msgs) -> None:
            for m in msgs:
                email.message_from_bytes(m, policy=default)

        def std_compat(msgs: list[bytes] = msgs) -> None:
            for m in msgs:
                email.message_from_bytes(m, policy=compat)

        heavy = sum(map(len, msgs)) > 1 << 20
        r = 2 if heavy and args.quick else (3 if heavy else repeat)
        t_ours, t_def, t_com = (t / len(msgs) for t in interleaved(
            [ours, std_default, std_compat], number, r))
        print(f"| {name} | {t_ours * 1e6:,.1f} µs | {t_def * 1e6:,.1f} µs | "
              f"{t_com * 1e6:,.1f} µs | {t_def / t_ours:,.1f}x | {t_com / t_ours:,.1f}x |")

    # Parse plus what a client reads first (subject, sender, plain text): still lazy.
    def ours_read() -> None:
        for m in smalls:
            msg = parse(m)
            _ = (msg.subject, msg.from_, msg.text)

    def std_read() -> None:
        for m in smalls:
            msg = email.message_from_bytes(m, policy=default)
            body = msg.get_body(("plain",))
            _ = (msg["subject"], msg["from"], body.get_content() if body else None)

    t_ours, t_std = (t / len(smalls) for t in interleaved([ours_read, std_read], 1, repeat))
    print(f"| small: parse + subject/from/text | {t_ours * 1e6:,.1f} µs | {t_std * 1e6:,.1f} µs "
          f"| n/a | {t_std / t_ours:,.1f}x | n/a |")

    # Everything decoded: every header of every part, every leaf's content
    # (mimekit: the whole inspect JSON object; stdlib: str() of every header value
    # through the policy's parsers and get_content() of every leaf).
    def ours_all() -> None:
        for m in smalls:
            parse(m).to_dict()

    def std_all() -> None:
        for m in smalls:
            msg = email.message_from_bytes(m, policy=default)
            for part in msg.walk():
                for value in part.values():
                    str(value)
                if not part.is_multipart():
                    try:
                        part.get_content()
                    except (LookupError, KeyError, ValueError):
                        part.get_payload(decode=True)

    t_ours, t_std = (t / len(smalls) for t in interleaved([ours_all, std_all], 1, repeat))
    print(f"| small: parse + decode every header and leaf (to_dict) | {t_ours * 1e6:,.1f} µs | "
          f"{t_std * 1e6:,.1f} µs | n/a | {t_std / t_ours:,.1f}x | n/a |")

    big_decode(big_attachment(15 * 1024 * 1024), 3 if args.quick else 5)


def big_decode(data: bytes, repeat: int) -> None:
    """The 20 MB case in depth: parse + decode of the attachment against
    ``binascii.a2b_base64`` alone on the same body (target: within 1.5x), and the
    peak memory that parse + decode allocate on top of the input (target: <= 2x the
    message size), measured with tracemalloc."""
    body = parse(data).attachments[0].body

    def ours() -> None:
        parse(data).attachments[0].get_content()

    def stdlib_parse() -> None:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        payload = msg.get_payload()
        assert isinstance(payload, list)
        attachment = payload[1]
        assert isinstance(attachment, email.message.Message)
        attachment.get_payload(decode=True)

    def raw() -> None:
        binascii.a2b_base64(body)

    t_ours, t_raw, t_std = interleaved([ours, raw, stdlib_parse], 1, repeat)

    def peak(fn: Callable[[], object]) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    p_ours = peak(lambda: parse(data).attachments[0].get_content())
    p_std = peak(stdlib_parse)
    mb = len(data) / 1e6
    print()
    print(f"| 20 MB base64 attachment ({mb:.1f} MB message) | time | x a2b_base64 "
          "| peak memory above input | x message size |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| binascii.a2b_base64(body) alone | {t_raw * 1e3:,.1f} ms | 1.00x | n/a | n/a |")
    print(f"| mimekit parse + get_content() | {t_ours * 1e3:,.1f} ms | {t_ours / t_raw:.2f}x "
          f"| {p_ours / 1e6:,.1f} MB | {p_ours / len(data):.2f}x |")
    print(f"| stdlib compat32 parse + get_payload(decode=True) | {t_std * 1e3:,.1f} ms "
          f"| {t_std / t_raw:.2f}x | {p_std / 1e6:,.1f} MB | {p_std / len(data):.2f}x |")


if __name__ == "__main__":
    main()
