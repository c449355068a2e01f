"""Compose + serialize: mimekit against the standard library, in the same run.

Prints a Markdown table with the ratio (stdlib time / mimekit time; above 1 means
mimekit is faster). Deterministic inputs, best-of-N timings. Not a test: nothing
here asserts a time.

    python bench/bench_compose.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as std_default

import mimekit

ATTACH = bytes((i * 131 + 7) % 256 for i in range(200 * 1024))
BIG = bytes((i * 2654435761) % 251 for i in range(1 << 20)) * 20  # 20 MiB, not compressible
TEXT = "Hello Bo,\n\nthe quarterly report is attached. Grüße aus Köln!\n\n-- \nAna\n" * 3
HTML = "<html><body><p>Hello Bo,</p><p>the quarterly report is attached.</p></body></html>"


def best_of(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Seconds per call: the best of `repeat` runs of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def mk_plain() -> bytes:
    return (mimekit.compose().from_("Ana Lima <ana@example.org>").to("Bo Chen <bo@example.net>")
            .subject("Quarterly report").text(TEXT).build().to_bytes())


def std_plain() -> bytes:
    m = EmailMessage(policy=std_default)
    m["From"] = "Ana Lima <ana@example.org>"
    m["To"] = "Bo Chen <bo@example.net>"
    m["Subject"] = "Quarterly report"
    m["Date"] = "Thu, 03 Dec 2026 12:00:00 +0000"
    m["Message-ID"] = "<x@example.org>"
    m.set_content(TEXT)
    return m.as_bytes()


def mk_rich() -> bytes:
    return (mimekit.compose().from_("Ana Lima <ana@example.org>").to("Bo Chen <bo@example.net>")
            .subject("Quarterly report").text(TEXT).html(HTML)
            .attach(ATTACH, filename="a.bin", content_type="application/octet-stream")
            .attach(ATTACH, filename="b.bin", content_type="application/octet-stream")
            .build().to_bytes())


def std_rich() -> bytes:
    m = EmailMessage(policy=std_default)
    m["From"] = "Ana Lima <ana@example.org>"
    m["To"] = "Bo Chen <bo@example.net>"
    m["Subject"] = "Quarterly report"
    m.set_content(TEXT)
    m.add_alternative(HTML, subtype="html")
    m.add_attachment(ATTACH, maintype="application", subtype="octet-stream", filename="a.bin")
    m.add_attachment(ATTACH, maintype="application", subtype="octet-stream", filename="b.bin")
    return m.as_bytes()


def mk_big() -> bytes:
    return (mimekit.compose().from_("ana@example.org").to("bo@example.net").subject("big")
            .text("see attachment").attach(BIG, filename="big.bin",
                                           content_type="application/octet-stream")
            .build().to_bytes())


def std_big() -> bytes:
    m = EmailMessage(policy=std_default)
    m["From"] = "ana@example.org"
    m["To"] = "bo@example.net"
    m["Subject"] = "big"
    m.set_content("see attachment")
    m.add_attachment(BIG, maintype="application", subtype="octet-stream", filename="big.bin")
    return m.as_bytes()


def peak_memory(fn: Callable[[], bytes]) -> tuple[int, int]:
    """(peak bytes allocated while fn runs, size of its output)."""
    gc.collect()
    tracemalloc.start()
    out = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, len(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    rep = 3 if args.quick else 5
    rows = []
    for label, mk, std, n in (
        ("plain text message", mk_plain, std_plain, 200),
        ("text + html + 2 x 200 KB attachments", mk_rich, std_rich, 10),
        ("20 MB attachment", mk_big, std_big, 1),
    ):
        t_mk = best_of(mk, n, rep)
        t_std = best_of(std, n, 1 if n == 1 else rep)
        rows.append((label, t_std, t_mk))
    print("## Compose + serialize (mimekit vs email.message.EmailMessage, policy=default)\n")
    print("| case | stdlib | mimekit | ratio (stdlib/mimekit) |")
    print("| --- | ---: | ---: | ---: |")
    for label, t_std, t_mk in rows:
        print(f"| {label} | {t_std * 1e3:.3f} ms | {t_mk * 1e3:.3f} ms | {t_std / t_mk:.1f}x |")
    out_len = len(mk_big())
    t_big = rows[-1][2]
    peak, size = peak_memory(mk_big)
    print(f"\n20 MB attachment: {out_len / t_big / 1e6:.0f} MB/s of output "
          f"(stdlib {len(std_big()) / rows[-1][1] / 1e6:.0f} MB/s); peak traced memory "
          f"{peak / 1e6:.0f} MB = {peak / size:.2f}x the output size (input held outside)")


if __name__ == "__main__":
    main()
