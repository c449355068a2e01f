"""Mutation fuzzer for the lenient parser: no input may crash it, break the exact
round trip, or take over a second.

    python fuzz/fuzz_parser.py --count 1000000 --workers 2

Seeds: the builder's own messages, hand-written hostile shapes, and (when
present, never copied) the shared corpus in $MIMEKIT_CORPUS or ../shared/corpus.
Each input is parsed, serialized back (must equal the input), turned into the
inspect dict and JSON. Deterministic for a given --seed. Exit status 1 on any
finding; findings are written to --out for reproduction.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mimekit

TOKENS = [
    b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\n\n", b"--", b"--b", b"--b--", b"\n--b\n",
    b"Content-Type: multipart/mixed; boundary=b\n", b"Content-Type: message/rfc822\n",
    b"Content-Type: multipart/digest; boundary=\"b\"\n", b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n", b"Content-Transfer-Encoding: x-uuencode\n",
    b"=?utf-8?q?", b"=?utf-8?b?", b"?=", b"=?x-unknown?Q?a?=", b"filename*0*=utf-8''%C3%A4;",
    b"filename*1=x;", b"name*", b"charset=\"uft-8\"", b"begin 644 a.txt\n", b"\nend\n",
    b"=\r\n", b"=ZZ", b"====", b"\x00", b"\xff\xfe", b"\xc3", b"(((((", b"\"", b"\\", b"<>",
    b"From: a@b\n", b"To: (x):\n", b": \n", b" \t\n", b"From x Mon Jan 1 00:00:00 2024\n",
]


def seeds() -> list[bytes]:
    out = [
        b"", b"\n", b"Subject: x\n\nbody\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n",
        (b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative;"
         b" boundary=b\n\n--b\n\nx\n--a--\n"),
        b"Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/plain\n\nhi\n",
    ]
    b = (mimekit.compose().from_("Zoë <z@example.org>").to("a@example.org", "b@exämple.org")
         .subject("Grüße " * 12).text("Hello\n.\nworld " * 20).html("<p>hi <img src=cid:x></p>")
         .inline(b"\x89PNG\r\n\x1a\n" + bytes(40), cid="x").attach(bytes(range(256)),
                                                                   filename="Übersicht.bin"))
    out.append(b.build().to_bytes())
    for folder in (ROOT / ".." / "shared" / "cases",):
        if folder.is_dir():
            out.extend(p.read_bytes() for p in sorted(folder.glob("*.eml")))
    corpus = Path(os.environ.get("MIMEKIT_CORPUS", ROOT / ".." / "shared" / "corpus"))
    if corpus.is_dir():
        for p in sorted(corpus.rglob("*")):
            if p.is_file() and p.suffix not in (".md", ".tsv") and p.stat().st_size < 64_000:
                out.append(p.read_bytes())
    return out


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and buf:
            end = min(len(buf), pos + rng.randint(1, 64))
            del buf[pos:end]
        elif op == 3 and buf:
            end = min(len(buf), pos + rng.randint(1, 256))
            buf[pos:pos] = buf[pos:end] * rng.randint(1, 8)
        elif op == 4:
            other = rng.choice(pool)
            if other:
                a = rng.randrange(len(other))
                buf[pos:pos] = other[a:a + rng.randint(1, 512)]
        elif op == 5:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 6 and buf:
            buf = buf.replace(b"\r\n", b"\n") if rng.random() < 0.5 else \
                buf.replace(b"\n", b"\r\n")
    return bytes(buf[:200_000])


def check(data: bytes) -> str | None:
    """None if the input is handled; otherwise what went wrong."""
    try:
        msg = mimekit.parse(data)
        if msg.to_bytes() != data:
            return "round trip changed the bytes"
        json.dumps(msg.to_dict())
        for part in msg.walk():
            if not part.is_multipart:
                part.get_content()
    except Exception:  # noqa: BLE001 - every exception is a finding
        return traceback.format_exc(limit=8)
    return None


def worker(args: tuple[int, int, str]) -> tuple[int, float, list[tuple[str, bytes]]]:
    seed, count, out_dir = args
    rng = random.Random(seed)
    pool = seeds()
    findings: list[tuple[str, bytes]] = []
    slowest = 0.0
    for _ in range(count):
        data = mutate(rng, rng.choice(pool), pool)
        t0 = time.perf_counter()
        problem = check(data)
        took = time.perf_counter() - t0
        slowest = max(slowest, took)
        if took > 1.0:
            problem = (problem or "") + f"took {took:.2f} s"
        if problem is not None:
            findings.append((problem, data))
            name = Path(out_dir) / f"finding-{seed}-{len(findings)}.eml"
            name.parent.mkdir(parents=True, exist_ok=True)
            name.write_bytes(data)
        if rng.random() < 0.01 and len(pool) < 5000:
            pool.append(data)
    return count, slowest, findings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="fuzz-findings")
    args = ap.parse_args()
    chunks = max(args.workers * 8, 1)
    per = -(-args.count // chunks)
    jobs = [(args.seed * 100_000 + i, per, args.out) for i in range(chunks)]
    t0 = time.time()
    total, slowest, findings = 0, 0.0, []
    with multiprocessing.Pool(args.workers) as pool:
        for n, slow, found in pool.imap_unordered(worker, jobs):
            total += n
            slowest = max(slowest, slow)
            findings.extend(found)
            print(f"\r{total:,} inputs, {len(findings)} findings, slowest {slowest * 1e3:.1f} ms",
                  end="", flush=True)
    print(f"\n{total:,} inputs in {time.time() - t0:.0f} s: {len(findings)} findings, "
          f"slowest input {slowest * 1e3:.1f} ms")
    for problem, _ in findings[:5]:
        print("---\n" + problem)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
