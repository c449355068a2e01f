"""The cheap path of ``send()`` (``common.prepare_send``): raw bytes with
nothing to strip go out as given, without a parse when an envelope is given,
else with only the header section parsed; anything else (Bcc, Resent-Bcc,
an mbox line, a BOM, no empty line) takes
:func:`~mimekit.transports.base.prepare`. Checked on hand-made cases
and, where the fast path applies, against ``prepare`` on the whole corpus."""

from __future__ import annotations

import os
import pathlib

import pytest
from mimekit.transports.base import Envelope, prepare
from mimekit.transports.errors import InvalidEnvelope, TransportError
from mimekit.transports.smtp.common import _fast_wire, prepare_send
from mimekit.transports.smtp.wire import normalize_line_endings
from smtp_server import DRIVERS, ENV, FakeSMTPServer, client, plain

from mimekit.parser import parse

BASE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n"
BODY = b"\r\nbody\r\n.dot\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"Bcc: hidden@example.test\r\n",
        b"bCC : hidden@example.test\r\n",
        b"Resent-Bcc: hidden@example.test\r\n",
        b"X-A: 1\rBcc: hidden@example.test\r\n",  # a bare CR: a line end on the wire
        b"X-A: 1\nBcc: hidden@example.test\r\n",
    ],
)
def test_bcc_is_never_sent_as_is(head: bytes) -> None:
    data = BASE + head + BODY
    for given in (data, parse(data)):
        wire, env, _ = prepare_send(given, ENV)
        assert b"hidden" not in wire and env is ENV
        assert wire.startswith(BASE) and wire.endswith(BODY)
    if b"\r" not in head[:-2]:
        assert _fast_wire(data) == (False, None)


@pytest.mark.parametrize(
    "data",
    [
        b"From sender@example.test Thu Dec  3 17:00:00 2026\r\n" + BASE + BODY,
        b"\xef\xbb\xbf" + BASE + BODY,
        BASE,  # no empty line: let the parser decide where the body starts
    ],
)
def test_prefixes_and_odd_shapes_take_the_parser(data: bytes) -> None:
    assert _fast_wire(data) == (False, None)
    assert prepare_send(data, ENV) == prepare(data, ENV)


def test_fast_path_keeps_the_bytes_and_reads_the_message_id() -> None:
    data = BASE + b"Message-ID:\r\n <id.1@example.test> \r\n" + BODY
    wire, env, mid = prepare_send(data, ENV)
    assert wire is data and env is ENV and mid == "id.1@example.test"
    assert prepare(data, ENV) == (data, ENV, "id.1@example.test")
    assert prepare_send(bytearray(BASE + BODY), ENV) == (BASE + BODY, ENV, None)
    crlf = BASE + b"Message-Id: <m@x>\r\n" + BODY
    lf = crlf.replace(b"\r\n", b"\n")  # made CRLF first, as the wire will be
    assert prepare_send(lf, ENV) == prepare(crlf, ENV) == (crlf, ENV, "m@x")
    encoded = BASE + b"Message-ID: =?utf-8?q?x?=\r\n" + BODY
    assert _fast_wire(encoded) == (False, None)  # decoded the parser's way


def test_without_envelope_only_the_header_section_is_parsed() -> None:
    data = BASE + b"Cc: c@example.test\r\nMessage-ID: <q@x>\r\n" + BODY
    wire, env, mid = prepare_send(data, None)
    assert env == Envelope("a@example.test", ("b@example.test", "c@example.test"))
    assert wire is data and mid == "q@x"
    assert prepare(data, None) == (data, env, mid)
    with pytest.raises(InvalidEnvelope, match="no recipients"):
        prepare_send(b"From: a@example.test\r\n" + BODY, None)


def test_bad_envelopes_still_refused_before_connecting() -> None:
    with FakeSMTPServer() as srv, plain(srv) as t:
        with pytest.raises(InvalidEnvelope):
            t.send(BASE + BODY, envelope=Envelope("a@x.test", ("b@x.test\r\nRSET",)))
        with pytest.raises(TransportError):
            t.send(BASE + BODY, envelope=("a@x.test", ["b@x.test"]))  # type: ignore[arg-type]
        assert t.send(BASE + b"Bcc: h@x.test\r\n" + BODY, envelope=ENV).ok
    assert srv.sessions[0].commands[0].startswith("EHLO")  # connected only for the last
    assert len(srv.deliveries) == 1 and b"h@x.test" not in srv.deliveries[0].content


_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))
_META = {"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"}
FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in _META)
    if CORPUS.is_dir()
    else []
)


@pytest.mark.corpus
@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
def test_fast_path_equals_prepare_on_the_corpus() -> None:
    fast = 0
    for path in FILES:
        data = path.read_bytes()
        ok, mid = _fast_wire(data)
        if not ok:
            continue
        fast += 1
        wire, _, expected_mid = prepare(data, ENV)
        assert (wire, mid) == (data, expected_mid), path
        crlf = normalize_line_endings(data)  # as prepare_send makes it first
        try:
            expected = prepare(crlf, None)
        except InvalidEnvelope:
            with pytest.raises(InvalidEnvelope):
                prepare_send(data, None)
        else:  # the envelope from the header section alone is the same
            assert prepare_send(data, None) == expected, path
    assert fast > len(FILES) // 2  # the common case really is the fast one


def test_long_line_check_boundaries() -> None:
    from mimekit.transports.smtp.wire import has_long_line

    assert not has_long_line(b"x" * 998 + b"\r\n" + b"y" * 998)
    assert has_long_line(b"x" * 999)
    assert has_long_line(b"a\r\n" * 400 + b"x" * 999 + b"\r\n")
    assert not has_long_line((b"q" * 76 + b"\r\n") * 30000)  # 2.3 MB of base64-like lines
    assert has_long_line((b"q" * 76 + b"\r\n") * 30000 + b"z" * 1000)


def test_normalize_and_dot_stuff_copies() -> None:
    from mimekit.transports.smtp.wire import dot_stuff, normalize_line_endings

    crlf = b"a\r\n.b\r\n"
    assert normalize_line_endings(crlf) is crlf  # nothing to change: no copy
    assert normalize_line_endings(b"a\n.b\n") == crlf
    assert normalize_line_endings(b"a\r.b\r\nc") == b"a\r\n.b\r\nc\r\n"
    assert normalize_line_endings(b"a\n\rb") == b"a\r\n\r\nb\r\n"
    assert dot_stuff(b".x\r\n.y\r\nz\r\n") == b"..x\r\n..y\r\nz\r\n.\r\n"


@pytest.mark.parametrize("kind", DRIVERS)
@pytest.mark.parametrize("with_envelope", [True, False])
def test_send_puts_crlf_and_dot_stuffing_on_the_wire(kind: str, with_envelope: bool) -> None:
    lf = b"From: a@example.test\nTo: b@example.test\nBcc: h@example.test\n\n.dot\nx\r.y\n"
    with FakeSMTPServer(extensions=("PIPELINING", "8BITMIME")) as srv, client(kind, srv) as t:
        t.send(lf, envelope=ENV if with_envelope else None)
        t.send(lf.replace(b"Bcc: h@example.test\n", b""), envelope=ENV)
    expected = b"From: a@example.test\r\nTo: b@example.test\r\n\r\n.dot\r\nx\r\n.y\r\n"
    assert [d.content for d in srv.deliveries] == [expected, expected]
    assert all(b"\r\n..dot\r\n" in d.raw for d in srv.deliveries)  # dot-stuffed
    assert all(b"\n" not in d.raw.replace(b"\r\n", b"") for d in srv.deliveries)
