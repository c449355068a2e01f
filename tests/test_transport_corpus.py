"""prepare() on every real-world corpus message: Bcc removed, every other byte kept.

The corpus is found through MIMEKIT_CORPUS or ``<repo>/../shared/corpus`` and never
copied into the repository; without it these tests skip.
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest
from mimekit.transports import InvalidEnvelope, MemoryTransport, prepare

import mimekit

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))
_META = {"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"}

pytestmark = pytest.mark.corpus


def _files() -> list[pathlib.Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in _META)


FILES = _files()
_BLANK = re.compile(rb"\r?\n\r?\n")
_FIELD = re.compile(rb"([^\s:]+)[ \t]*:")


def without_bcc(data: bytes) -> bytes:
    """An independent reference: drop Bcc/Resent-Bcc fields (with their continuation
    lines) from the header section, keep every other byte."""
    m = _BLANK.search(data)
    head_end = m.start() + 1 if m else len(data)  # keep the line end of the last field
    head, rest = data[:head_end], data[head_end:]
    out: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                out.append(line)
            continue
        field = _FIELD.match(line)
        dropping = bool(field and field.group(1).lower() in (b"bcc", b"resent-bcc"))
        if not dropping:
            out.append(line)
    return b"".join(out) + rest


def _ids(path: pathlib.Path) -> str:
    return str(path.relative_to(CORPUS))


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
@pytest.mark.parametrize("path", FILES, ids=_ids)
def test_prepare_keeps_every_byte_but_bcc(path: pathlib.Path) -> None:
    data = path.read_bytes()
    try:
        wire, env, _ = prepare(data, None)
    except InvalidEnvelope:
        return  # no usable From/To in this sample: refused cleanly, which is the contract
    # An mbox "From " line or a byte order mark before the headers never goes on the wire.
    prefix = mimekit.parse(data).prefix or b""
    expected = without_bcc(data[len(prefix):])
    same = wire == expected  # a bool: pytest's diff of megabytes would take minutes
    assert same, f"{path.name}: first difference at byte " + str(
        next((i for i, (a, b) in enumerate(zip(wire, expected)) if a != b),
             min(len(wire), len(expected))))
    assert env.mail_from and env.rcpt_to
    for addr in (env.mail_from, *env.rcpt_to):
        assert not re.search(r"[\r\n\x00<>]", addr)
        assert addr.isascii() or "@" in addr  # domains are A-labels; UTF-8 only in local parts
        if "@" in addr:
            assert addr.rsplit("@", 1)[1].isascii()


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
def test_memory_transport_takes_the_whole_corpus() -> None:
    t = MemoryTransport()
    sent = 0
    for path in FILES:
        try:
            t.send(path.read_bytes())
        except InvalidEnvelope:
            continue
        sent += 1
    assert sent == len(t.outbox) > 0
    for item in t.outbox:
        m = _BLANK.search(item.data)
        head = item.data[: m.start() if m else len(item.data)].lower()
        assert not re.search(rb"(?m)^(resent-)?bcc[ \t]*:", head)
        assert item.message.headers.get("bcc") is None
