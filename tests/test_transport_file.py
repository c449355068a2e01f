"""FileTransport (.eml + envelope, atomic), MaildirTransport and MboxTransport."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from mimekit.transports import (
    Envelope,
    FileTransport,
    InvalidEnvelope,
    MaildirTransport,
    MboxTransport,
    TransportError,
)


def raw(*headers: str, body: str = "Hello.\r\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


MSG = raw(
    "From: Ana <ana@example.org>",
    "To: bo@example.net",
    "Bcc: hidden@example.net",
    "Subject: Quarterly report / Q3 ../../etc",
    "Message-ID: <r1@example.org>",
    body="Line one\r\n.\r\nFrom the desk\r\n>From quoted\r\nend\r\n",
)
WIRE = raw(
    "From: Ana <ana@example.org>",
    "To: bo@example.net",
    "Subject: Quarterly report / Q3 ../../etc",
    "Message-ID: <r1@example.org>",
    body="Line one\r\n.\r\nFrom the desk\r\n>From quoted\r\nend\r\n",
)


WIRE_LF = WIRE.replace(b"\r\n", b"\n")
# The envelope of MSG as a delivering MTA records it (Postfix local(8) order): the
# Bcc recipient is only here.
DELIVERY = (
    b"Return-Path: <ana@example.org>\n"
    b"X-Original-To: bo@example.net\n"
    b"X-Original-To: hidden@example.net\n"
)
MSG_ENVELOPE = Envelope("ana@example.org", ("bo@example.net", "hidden@example.net"))


def visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------- FileTransport
def test_eml_is_the_wire_bytes_and_envelope_is_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "outbox" / "nested"  # created if missing
    result = FileTransport(out).send(MSG)
    names = visible(out)
    assert len(names) == 2
    eml = next(n for n in names if n.endswith(".eml"))
    assert result.queue_id == eml
    assert (out / eml).read_bytes() == WIRE  # CRLF kept, Bcc removed, no dot-stuffing
    meta = json.loads((out / eml.replace(".eml", ".envelope.json")).read_text("utf-8"))
    assert meta == {
        "mail_from": "ana@example.org",
        "rcpt_to": ["bo@example.net", "hidden@example.net"],
        "message_id": "r1@example.org",
    }
    assert result.accepted == ("bo@example.net", "hidden@example.net")
    assert all(r.code == 250 for r in result.recipients)
    assert result.message_id == "r1@example.org"


def test_file_name_is_utc_stamp_random_and_safe_slug(tmp_path: Path) -> None:
    name = FileTransport(tmp_path).send(MSG).queue_id
    assert name is not None
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{12}-quarterly-report-q3-etc\.eml", name), name
    assert "/" not in name and ".." not in name


def test_slug_keeps_letters_of_every_script(tmp_path: Path) -> None:
    """Regression (review): the ASCII-only slug dropped "ß" ("Grüße" -> "grue") and whole
    scripts ("日本語" -> "message"). Letters stay, lower-cased, NFKC."""
    t = FileTransport(tmp_path)
    subject = "=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln_=E2=9C=93?="
    name = t.send(raw("From: a@example.org", "To: b@example.net", f"Subject: {subject}")).queue_id
    assert name is not None and name.endswith("-grüße-aus-köln.eml")
    assert (tmp_path / name).is_file()
    for subj, slug in [("日本語", "日本語"), ("Привет, мир!", "привет-мир"),
                       ("ﬁle Ａ", "file-a"), ("Straße", "straße")]:
        name = t.send(raw("From: a@example.org", "To: b@example.net",
                          f"Subject: {subj}")).queue_id
        assert name is not None and name.endswith(f"-{slug}.eml"), name
        assert (tmp_path / name).read_bytes().startswith(b"From: ")


def test_slug_is_ascii_with_transliteration_without_a_utf8_file_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mimekit.transports.file as file_mod

    monkeypatch.setattr(file_mod, "_unicode_names", lambda: False)
    assert file_mod._slug("Grüße aus Köln") == "grusse-aus-koln"
    assert file_mod._slug("Æble, Øl, Þing, Łódź") == "aeble-ol-thing-lodz"
    assert file_mod._slug("日本語") == "message"


@pytest.mark.parametrize(
    "subject,slug",
    [
        ("../../etc/passwd", "etc-passwd"),
        ("a/b\\c", "a-b-c"),
        (".hidden", "hidden"),
        ("evil\u202etxt.exe", "evil-txt-exe"),  # a bidi override cannot spoof the extension
        ("tab\there\x00nul\x7f", "tab-here-nul"),
        ("\u0301accent first", "accent-first"),  # no leading combining mark
        ("  -- a - b --  ", "a-b"),
    ],
)
def test_slug_is_safe(subject: str, slug: str) -> None:
    from mimekit.transports.file import _slug

    assert _slug(subject) == slug


def test_slug_is_bounded_in_characters_and_bytes() -> None:
    from mimekit.transports.file import SLUG_BYTES, SLUG_CHARS, _slug

    assert _slug("x" * 100) == "x" * SLUG_CHARS
    cjk = _slug("日" * 100)
    assert len(cjk.encode("utf-8")) <= SLUG_BYTES and cjk == "日" * (SLUG_BYTES // 3)
    cut = _slug("a" * 39 + " bcd")  # never ends in the "-" of a cut word
    assert cut == "a" * 39


def test_slug_falls_back_for_empty_or_symbolic_subjects(tmp_path: Path) -> None:
    t = FileTransport(tmp_path)
    n1 = t.send(raw("From: a@example.org", "To: b@example.net")).queue_id
    n2 = t.send(raw("From: a@example.org", "To: b@example.net", "Subject: ???")).queue_id
    assert n1 is not None and n1.endswith("-message.eml")
    assert n2 is not None and n2.endswith("-message.eml")


def test_durable_write_fsyncs_files_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    FileTransport(tmp_path).send(MSG)
    assert len(synced) == 3  # envelope.json, .eml, the directory
    synced.clear()
    FileTransport(tmp_path, durable=False).send(MSG)
    assert synced == []


def test_files_are_private(tmp_path: Path) -> None:
    FileTransport(tmp_path / "new-outbox").send(MSG)
    assert (tmp_path / "new-outbox").stat().st_mode & 0o777 == 0o700  # created by us
    for p in (tmp_path / "new-outbox").iterdir():
        assert p.stat().st_mode & 0o777 == 0o600


def test_unique_names_over_1000_quick_sends(tmp_path: Path) -> None:
    t = FileTransport(tmp_path, durable=False)  # same naming; fsync skipped for speed
    names = {t.send(MSG).queue_id for _ in range(1000)}
    assert len(names) == 1000
    assert len(list(tmp_path.glob("*.eml"))) == 1000
    assert len(list(tmp_path.glob("*.envelope.json"))) == 1000
    assert not list(tmp_path.glob(".tmp-*"))


def test_unique_names_from_threads(tmp_path: Path) -> None:
    t = FileTransport(tmp_path, durable=False)
    names: list[str | None] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            n = t.send(MSG).queue_id
            with lock:
                names.append(n)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(names)) == 200


def test_crash_mid_write_leaves_no_partial_eml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fdopen = os.fdopen

    class Exploding:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            self.fh.write(data[: len(data) // 2])  # half written, then the "crash"
            raise OSError(28, "No space left on device")

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.fh, name)

    calls = {"n": 0}

    def fdopen(fd, mode="r", *a, **kw):  # type: ignore[no-untyped-def]
        fh = real_fdopen(fd, mode, *a, **kw)
        calls["n"] += 1
        # first write = envelope.json (let it pass), second = the .eml (crash)
        return Exploding(fh) if calls["n"] == 2 else fh

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(TransportError, match="No space left"):
        FileTransport(tmp_path).send(MSG)
    assert visible(tmp_path) == []  # no .eml, no temp file, no orphan envelope


def test_crash_at_rename_leaves_nothing_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # the process is being killed

    monkeypatch.setattr(os, "link", boom)
    with pytest.raises(KeyboardInterrupt):
        FileTransport(tmp_path).send(MSG)
    assert visible(tmp_path) == []


def test_bad_envelope_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidEnvelope):
        FileTransport(tmp_path / "x").send(
            MSG, envelope=Envelope("a@b.example\r\n", ("c@d.example",))
        )
    assert not (tmp_path / "x").exists()


def test_create_false_requires_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match="does not exist"):
        FileTransport(tmp_path / "missing", create=False).send(MSG)


def test_file_in_the_way_is_a_transport_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_bytes(b"not a directory")
    with pytest.raises(TransportError):
        FileTransport(blocker).send(MSG)


def test_eml_parses_back(tmp_path: Path) -> None:
    from mimekit.parser import parse_file

    name = FileTransport(tmp_path).send(MSG).queue_id
    assert name is not None
    m = parse_file(tmp_path / name)
    assert m.subject == "Quarterly report / Q3 ../../etc"
    assert m.headers.get("bcc") is None


# ---------------------------------------------------------------- Maildir
def test_maildir_delivers_to_new_with_lf(tmp_path: Path) -> None:
    md = tmp_path / "Maildir"
    t = MaildirTransport(md)
    r1 = t.send(MSG)
    r2 = t.send(MSG)
    assert sorted(p.name for p in md.iterdir()) == ["cur", "new", "tmp"]
    assert list((md / "tmp").iterdir()) == []
    files = sorted((md / "new").iterdir())
    assert {f.name for f in files} == {r1.queue_id, r2.queue_id}
    assert len(files) == 2
    for f in files:
        assert f.read_bytes() == DELIVERY + WIRE.replace(b"\r\n", b"\n")
        assert ":" not in f.name and "/" not in f.name
    assert r1.accepted == ("bo@example.net", "hidden@example.net")


def test_maildir_reads_back_with_mimekit_mailbox(tmp_path: Path) -> None:
    mailbox = pytest.importorskip("mimekit.mailbox")
    t = MaildirTransport(tmp_path / "md")
    t.send(MSG)
    msgs = list(mailbox.read_maildir(tmp_path / "md"))
    assert [m.subject for m in msgs] == ["Quarterly report / Q3 ../../etc"]


def test_maildir_readable_by_stdlib(tmp_path: Path) -> None:
    import mailbox

    MaildirTransport(tmp_path / "md").send(MSG)
    box = mailbox.Maildir(str(tmp_path / "md"), create=False)
    (m,) = list(box)
    assert m["Subject"] == "Quarterly report / Q3 ../../etc"
    assert m["Bcc"] is None


# ---------------------------------------------------------------- mbox
def test_mbox_separator_escaping_and_stdlib_read_back(tmp_path: Path) -> None:
    import mailbox

    path = tmp_path / "mail" / "out.mbox"
    t = MboxTransport(path)
    t.send(MSG)
    t.send(
        raw("From: x@example.org", "To: y@example.net", "Subject: second", body="From here\r\nbye")
    )
    data = path.read_bytes()
    lines = data.split(b"\n")
    assert re.fullmatch(
        rb"From ana@example\.org \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", lines[0]
    )
    # mboxrd: "From " and ">From " body lines get one more ">"
    assert b"\n>From the desk\n" in data and b"\n>>From quoted\n" in data
    assert b"end\n\nFrom x@example.org " in data
    assert data.endswith(b"\n>From here\nbye\n\n")
    assert b"\r" not in data
    box = mailbox.mbox(str(path), create=False)
    subjects = [m["Subject"] for m in box]
    assert subjects == ["Quarterly report / Q3 ../../etc", "second"]


def test_mbox_unescape_restores_bodies(tmp_path: Path) -> None:
    path = tmp_path / "out.mbox"
    MboxTransport(path).send(MSG)
    data = path.read_bytes()
    body = data.split(b"\n\n", 1)[1]
    unescaped = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
    assert unescaped == b"Line one\n.\nFrom the desk\n>From quoted\nend\n\n"


def test_mbox_reads_back_with_mimekit_mailbox(tmp_path: Path) -> None:
    mailbox = pytest.importorskip("mimekit.mailbox")
    path = tmp_path / "out.mbox"
    t = MboxTransport(path)
    for i in range(3):
        t.send(
            raw("From: a@example.org", "To: b@example.net", f"Subject: n{i}", body="From me\r\n")
        )
    msgs = list(mailbox.read_mbox(path))
    assert [m.subject for m in msgs] == ["n0", "n1", "n2"]
    assert msgs[0].get_content().replace(b"\r\n", b"\n") == b"From me\n"


def test_mbox_concurrent_appends_do_not_interleave(tmp_path: Path) -> None:
    import mailbox

    path = tmp_path / "out.mbox"

    def work(k: int) -> None:
        t = MboxTransport(path)  # one instance per thread: only the file lock protects
        for i in range(20):
            t.send(
                raw(
                    "From: a@example.org",
                    "To: b@example.net",
                    f"Subject: t{k}-{i}",
                    body="x" * 5000,
                )
            )

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    box = mailbox.mbox(str(path), create=False)
    subjects = sorted(m["Subject"] for m in box)
    assert subjects == sorted(f"t{k}-{i}" for k in range(4) for i in range(20))
    assert all(m.get_payload() == "x" * 5000 + "\n" for m in box)


def test_mbox_queue_id_is_the_file_name(tmp_path: Path) -> None:
    assert MboxTransport(tmp_path / "out.mbox").send(MSG).queue_id == "out.mbox"


def test_mbox_quoted_local_part_sender_is_a_transport_error(tmp_path: Path) -> None:
    # A From line cannot carry white space: refused cleanly, nothing written.
    env = Envelope('"a b"@example.org', ("c@example.net",))
    with pytest.raises(TransportError):
        MboxTransport(tmp_path / "out.mbox").send(MSG, envelope=env)
    path = tmp_path / "out.mbox"
    assert not path.exists() or path.read_bytes() == b""


def test_mboxrd_escape() -> None:
    from mimekit.mailbox import mbox_escape

    assert mbox_escape(b"From a\n>From b\nxFrom c\n>>From d") == (
        b">From a\n>>From b\nxFrom c\n>>>From d"
    )


def test_stored_bytes_are_the_wire_form_and_a_cr_hidden_bcc_is_stripped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Regression (review): file and memory transports kept a bare CR, behind which a
    Bcc line hid ("Subject: hi\\rBcc: ..."), and bare LF line ends, unlike SMTP."""
    from mimekit.transports import FileTransport, MemoryTransport

    raw = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\rBcc: secret@example.org"
           b"\r\n\r\nline one\nline two\r\n")
    with FileTransport(tmp_path / "out") as ft:
        ft.send(raw)
    (eml,) = (tmp_path / "out").glob("*.eml")
    memory = MemoryTransport()
    memory.send(raw)
    for data in (eml.read_bytes(), memory.outbox.last.data):
        assert b"secret" not in data
        assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
        assert data.endswith(b"line one\r\nline two\r\n")


# ---------------------------------------------------------------- envelope in Maildir/mbox
ASCTIME = rb"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"


def test_maildir_records_the_envelope_and_reads_it_back(tmp_path: Path) -> None:
    t = MaildirTransport(tmp_path / "md")
    result = t.send(MSG)
    (stored,) = t.read()
    assert stored.envelope == MSG_ENVELOPE  # Bcc recipient recovered
    assert stored.data == WIRE_LF  # exactly the message as sent, the block removed
    assert stored.source == str(tmp_path / "md" / "new" / str(result.queue_id))
    assert stored.message.subject == "Quarterly report / Q3 ../../etc"


def test_mbox_records_the_envelope_below_the_from_line_and_reads_it_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.mbox"
    t = MboxTransport(path)
    t.send(MSG)
    data = path.read_bytes()
    first, rest = data.split(b"\n", 1)
    assert re.fullmatch(rb"From ana@example\.org " + ASCTIME, first), first
    escaped = WIRE_LF.replace(b"\nFrom the", b"\n>From the").replace(b"\n>From q", b"\n>>From q")
    assert rest == DELIVERY + escaped + b"\n"
    (stored,) = t.read()
    assert stored.envelope == MSG_ENVELOPE
    assert stored.data == WIRE_LF
    assert stored.source == str(path)


def test_null_sender_is_recorded_as_empty_return_path(tmp_path: Path) -> None:
    env = Envelope.null_sender_for(["bo@example.net"])
    md = MaildirTransport(tmp_path / "md")
    md.send(MSG, envelope=env)
    (f,) = (tmp_path / "md" / "new").iterdir()
    assert f.read_bytes() == b"Return-Path: <>\nX-Original-To: bo@example.net\n" + WIRE_LF
    box = MboxTransport(tmp_path / "out.mbox")
    box.send(MSG, envelope=env)
    data = (tmp_path / "out.mbox").read_bytes()
    assert re.match(rb"From MAILER-DAEMON " + ASCTIME + rb"\nReturn-Path: <>\n"
                    rb"X-Original-To: bo@example\.net\nFrom: Ana", data), data[:120]
    for stored in (md.read()[0], box.read()[0]):
        assert stored.envelope == env
        assert stored.envelope is not None and stored.envelope.null_sender
        assert stored.envelope.mail_from == ""
        assert stored.data == WIRE_LF


def test_quoted_and_utf8_addresses_round_trip(tmp_path: Path) -> None:
    env = Envelope('"a b"@example.org', ("jörg@bücher.example", "bo@example.net"))
    t = MaildirTransport(tmp_path / "md")
    t.send(MSG, envelope=env)
    (f,) = (tmp_path / "md" / "new").iterdir()
    assert f.read_bytes() == (
        'Return-Path: <"a b"@example.org>\n'
        "X-Original-To: jörg@xn--bcher-kva.example\n"  # the domain in IDNA A-labels
        "X-Original-To: bo@example.net\n"
    ).encode() + WIRE_LF
    (stored,) = t.read()
    assert stored.envelope == Envelope(
        '"a b"@example.org', ("jörg@xn--bcher-kva.example", "bo@example.net")
    )


def test_an_older_return_path_in_the_message_is_kept_and_not_taken(tmp_path: Path) -> None:
    old = raw(
        "Return-Path: <old@example.org>",
        "X-Original-To: old-rcpt@example.org",
        "From: a@example.org",
        "To: b@example.net",
        "Subject: again",
    )
    t = MaildirTransport(tmp_path / "md")
    t.send(old)
    (stored,) = t.read()
    assert stored.envelope == Envelope("a@example.org", ("b@example.net",))
    assert stored.data == old.replace(b"\r\n", b"\n")


def test_envelope_headers_can_be_turned_off(tmp_path: Path) -> None:
    md = MaildirTransport(tmp_path / "md", envelope_headers=False)
    md.send(MSG)
    (f,) = (tmp_path / "md" / "new").iterdir()
    assert f.read_bytes() == WIRE_LF
    assert [(s.envelope, s.data) for s in md.read()] == [(None, WIRE_LF)]
    box = MboxTransport(tmp_path / "out.mbox", envelope_headers=False)
    box.send(MSG)
    first, rest = (tmp_path / "out.mbox").read_bytes().split(b"\n", 1)
    assert first.startswith(b"From ana@example.org ")  # the From line still has the sender
    assert rest.startswith(b"From: Ana <ana@example.org>\n")
    assert [s.envelope for s in box.read()] == [None]


def test_url_option_envelope_headers(tmp_path: Path) -> None:
    from mimekit.transports.url import InvalidURL, from_url, parse_url

    for scheme, cls in (("maildir", MaildirTransport), ("mbox", MboxTransport)):
        off = parse_url(f"{scheme}:{tmp_path}/x?envelope_headers=0")
        assert off.envelope_headers is False
        assert off.path == f"{tmp_path}/x"
        assert off.redacted() == f"{scheme}:{tmp_path}/x?envelope_headers=0"
        t = from_url(f"{scheme}:{tmp_path}/x?envelope_headers=no")
        assert isinstance(t, cls) and t.envelope_headers is False
        on = from_url(f"{scheme}:{tmp_path}/x")
        assert isinstance(on, cls) and on.envelope_headers is True
        assert parse_url(f"{scheme}:{tmp_path}/x?envelope_headers=1").envelope_headers is True
        with pytest.raises(InvalidURL, match="envelope_headers=.maybe. must be"):
            parse_url(f"{scheme}:{tmp_path}/x?envelope_headers=maybe")
        with pytest.raises(InvalidURL, match="take only"):
            parse_url(f"{scheme}:{tmp_path}/x?other=1")
    with pytest.raises(InvalidURL, match="take no options"):
        parse_url(f"file:{tmp_path}/x?envelope_headers=0")  # the .eml sidecar is always written


def test_delivery_headers_are_injection_safe(tmp_path: Path) -> None:
    from mimekit.transports.file import delivery_headers

    # Envelope.check refuses line breaks before anything is written...
    for bad in (
        Envelope("a@example.org\r\nBcc: x@example.net", ("b@example.net",)),
        Envelope("a@example.org", ("b@example.net\nX-Evil: 1",)),
        Envelope("a@example.org", ("b\x01@example.net",)),
    ):
        for t in (MaildirTransport(tmp_path / "md"), MboxTransport(tmp_path / "out.mbox")):
            with pytest.raises(InvalidEnvelope):
                t.send(MSG, envelope=bad)
    assert not (tmp_path / "md").exists() and not (tmp_path / "out.mbox").exists()
    # ...and the header writer refuses them itself (an envelope that skipped check()),
    # including the Unicode line separators a quoted local part may hold.
    for bad_addr in ("a@example.org\r\nX: y", "a\x01@example.org", '"a\u2028b"@example.org'):
        with pytest.raises(InvalidEnvelope, match="header"):
            delivery_headers(Envelope(bad_addr, ("b@example.net",)))
    with pytest.raises(InvalidEnvelope, match="998"):
        delivery_headers(Envelope("a" * 1000 + "@example.org", ("b@example.net",)))
    assert delivery_headers(MSG_ENVELOPE) == DELIVERY


def test_split_delivery_headers_only_takes_a_complete_block_at_the_top() -> None:
    from mimekit.transports.file import split_delivery_headers

    body = b"From: a@example.org\n\nx\n"
    assert split_delivery_headers(body) == (None, body)
    only_rp = b"Return-Path: <a@example.org>\n" + body  # no recipient: not ours
    assert split_delivery_headers(only_rp) == (None, only_rp)
    folded = b"Return-Path: <a@example.org>\nX-Original-To: b@example.net\n c\n" + body
    assert split_delivery_headers(folded) == (None, folded)
    crlf = b"Return-Path: <a@example.org>\r\nX-Original-To: b@example.net\r\n" + body
    assert split_delivery_headers(crlf) == (
        Envelope("a@example.org", ("b@example.net",)), body
    )


def test_file_transport_reads_back_with_the_sidecar_envelope(tmp_path: Path) -> None:
    t = FileTransport(tmp_path)
    name = t.send(MSG).queue_id
    (stored,) = t.read()
    assert stored.envelope == MSG_ENVELOPE
    assert stored.data == WIRE
    assert stored.source == str(tmp_path / str(name))


# ---------------------------------------------------------------- never overwrite
def test_atomic_write_never_replaces_an_existing_file(tmp_path: Path) -> None:
    from mimekit.transports.file import atomic_write

    target = tmp_path / "taken.eml"
    target.write_bytes(b"older message")
    with pytest.raises(FileExistsError):
        atomic_write(target, b"new message")
    assert target.read_bytes() == b"older message"
    assert visible(tmp_path) == ["taken.eml"]  # no temporary file left


def test_atomic_write_falls_back_to_rename_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from mimekit.transports.file import atomic_write

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # e.g. FAT, some FUSE

    monkeypatch.setattr(os, "link", no_links)
    atomic_write(tmp_path / "a.eml", b"first")
    assert (tmp_path / "a.eml").read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "a.eml", b"second")  # still never replaced
    assert (tmp_path / "a.eml").read_bytes() == b"first"
    assert visible(tmp_path) == ["a.eml"]


def test_atomic_write_other_link_errors_propagate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def io_error(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "link", io_error)
    with pytest.raises(TransportError, match="Input/output error"):
        FileTransport(tmp_path).send(MSG)
    assert visible(tmp_path) == []  # no rename fallback for a real error, nothing left


@pytest.mark.parametrize("taken", [".eml", ".envelope.json"])
def test_file_transport_never_overwrites_a_taken_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: str
) -> None:
    names = iter(["20260101T000000000000Z-aaaaaaaaaaaa-x.eml",
                  "20260101T000000000000Z-bbbbbbbbbbbb-x.eml"])
    monkeypatch.setattr(FileTransport, "_unique_name", lambda self, subject: next(names))
    first = tmp_path / ("20260101T000000000000Z-aaaaaaaaaaaa-x" + taken)
    first.write_bytes(b"someone else's file")
    result = FileTransport(tmp_path).send(MSG)
    assert result.queue_id == "20260101T000000000000Z-bbbbbbbbbbbb-x.eml"
    assert first.read_bytes() == b"someone else's file"
    assert (tmp_path / "20260101T000000000000Z-bbbbbbbbbbbb-x.eml").read_bytes() == WIRE
    assert visible(tmp_path) == sorted([
        first.name,  # untouched; our envelope for that name was removed again
        "20260101T000000000000Z-bbbbbbbbbbbb-x.envelope.json",
        "20260101T000000000000Z-bbbbbbbbbbbb-x.eml",
    ])


def test_maildir_never_overwrites_a_taken_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mimekit import mailbox as mb

    names = iter(["1.M1P1Q1Rtaken.host", "2.M2P2Q2Rfree.host"])
    monkeypatch.setattr(mb, "_unique_name", lambda: next(names))
    md = tmp_path / "md"
    (md / "new").mkdir(parents=True)
    (md / "new" / "1.M1P1Q1Rtaken.host").write_bytes(b"an older message")
    result = MaildirTransport(md).send(MSG)
    assert result.queue_id == "2.M2P2Q2Rfree.host"
    assert (md / "new" / "1.M1P1Q1Rtaken.host").read_bytes() == b"an older message"
    assert (md / "new" / "2.M2P2Q2Rfree.host").read_bytes() == DELIVERY + WIRE_LF
    assert list((md / "tmp").iterdir()) == []


def test_mbox_lock_timeout_is_a_transport_error(tmp_path: Path) -> None:
    path = tmp_path / "out.mbox"
    (tmp_path / "out.mbox.lock").write_bytes(b"12345\n")  # another program's dot-lock
    with pytest.raises(TransportError, match=r"locked by another program \(dot-lock"):
        MboxTransport(path, lock_timeout=0).send(MSG)
    assert not path.exists() or path.read_bytes() == b""
    assert (tmp_path / "out.mbox.lock").read_bytes() == b"12345\n"  # not ours: kept
    MboxTransport(path, lock_timeout=0, dotlock=False).send(MSG)  # the kernel locks only
    assert [s.envelope for s in MboxTransport(path).read()] == [MSG_ENVELOPE]
