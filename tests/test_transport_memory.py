"""MemoryTransport and its Outbox: same preparation as real transports, helpers for tests."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mimekit.transports import (
    ConnectionLost,
    Envelope,
    InvalidEnvelope,
    MemoryTransport,
    MessageTooLarge,
    RecipientsRefused,
    Transport,
    from_url,
)


def raw(*headers: str, body: str = "Hello there.\r\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


def msg(subject: str = "Welcome", to: str = "bo@example.net", **extra: str) -> bytes:
    headers = ["From: Ana <ana@example.org>", f"To: {to}", f"Subject: {subject}"]
    headers += [f"{k}: {v}" for k, v in extra.items()]
    return raw(*headers)


def test_send_records_wire_bytes_parsed_message_envelope_and_result() -> None:
    t = MemoryTransport()
    data = msg(Bcc="hidden@example.net")
    result = t.send(data)
    assert result.ok
    assert result.accepted == ("bo@example.net", "hidden@example.net")
    assert [r.code for r in result.recipients] == [250, 250]
    assert result.queue_id == "mem-1"
    (item,) = t.outbox
    assert item.result is result
    assert item.envelope == Envelope("ana@example.org", ("bo@example.net", "hidden@example.net"))
    assert b"hidden@example.net" not in item.data  # Bcc never transmitted
    assert item.data == raw("From: Ana <ana@example.org>", "To: bo@example.net", "Subject: Welcome")
    assert item.message.subject == "Welcome"
    assert item.subject == "Welcome"
    assert item.message.headers.get("bcc") is None


def test_is_a_transport_and_truthy_when_empty() -> None:
    t = MemoryTransport()
    assert isinstance(t, Transport)
    assert bool(t) and len(t) == 0


def test_errors_surface_like_real_transports() -> None:
    t = MemoryTransport()
    with pytest.raises(InvalidEnvelope):
        t.send(raw("From: a@example.org", "Subject: no one"))
    with pytest.raises(InvalidEnvelope):
        t.send(msg(), envelope=Envelope("a@example.org", ("x@example.net\r\nDATA",)))
    assert len(t.outbox) == 0


def test_messages_find_and_assert_sent() -> None:
    t = MemoryTransport()
    t.send(msg("Welcome", "bo@example.net"))
    t.send(msg("Invoice 42", "cy@example.net", Cc="bo@example.net"))
    t.send(msg("Reminder", "dee@example.net"))
    assert [m.subject for m in t.outbox.messages] == ["Welcome", "Invoice 42", "Reminder"]
    assert len(t.outbox.find(to="bo@example.net")) == 2
    assert len(t.outbox.find(to="BO@example.NET", subject="Welcome")) == 1
    assert len(t.outbox.find(subject=re.compile(r"^Invoice \d+$"))) == 1
    assert len(t.outbox.find(subject=lambda s: s.startswith("Re"))) == 1
    assert len(t.outbox.find(to=["cy@example.net", "bo@example.net"])) == 1
    assert len(t.outbox.find(mail_from="ana@example.org")) == 3
    assert len(t.outbox.find(from_="Ana")) == 3
    assert len(t.outbox.find(contains="Hello there")) == 3
    assert len(t.outbox.find(header=("subject", "Reminder"))) == 1
    assert len(t.outbox.find(where=lambda item: item.result.queue_id == "mem-2")) == 1
    found = t.outbox.assert_sent(count=1, subject="Invoice 42")
    assert found[0].envelope.rcpt_to == ("cy@example.net", "bo@example.net")
    t.outbox.assert_sent(to="dee@example.net")
    t.outbox.assert_not_sent(to="nobody@example.net")
    assert t.outbox.last.subject == "Reminder"
    assert t.outbox[0].subject == "Welcome" and t.outbox[-1].subject == "Reminder"
    assert [i.subject for i in t.outbox[1:]] == ["Invoice 42", "Reminder"]


def test_assert_sent_failure_lists_the_outbox() -> None:
    t = MemoryTransport()
    t.send(msg("Welcome"))
    with pytest.raises(AssertionError) as info:
        t.outbox.assert_sent(count=1, subject="Goodbye")
    text = str(info.value)
    assert "expected 1 message(s) matching subject='Goodbye', found 0" in text
    assert "subject='Welcome'" in text
    with pytest.raises(AssertionError, match="found 1"):
        t.outbox.assert_sent(count=2)
    with pytest.raises(AssertionError, match="outbox holds 0: nothing"):
        MemoryTransport().outbox.assert_sent()


def test_unknown_filter_is_a_type_error() -> None:
    t = MemoryTransport()
    t.send(msg())
    with pytest.raises(TypeError, match="unknown filter 'sujet'"):
        t.outbox.find(sujet="x")


def test_clear() -> None:
    t = MemoryTransport()
    t.send(msg())
    t.clear()
    assert len(t.outbox) == 0 and t.messages == []


def test_transport_level_helpers_delegate_to_outbox() -> None:
    t = MemoryTransport()
    t.send(msg("A"))
    assert len(t) == 1 and t[0].subject == "A" and [i.subject for i in t] == ["A"]
    t.assert_sent(count=1, subject="A")
    t.assert_not_sent(subject="B")
    assert t.find(subject="A")[0].subject == "A"
    assert t.messages[0].subject == "A"


def test_partial_refusal_returns_a_partial_result() -> None:
    t = MemoryTransport(refuse={"Cy@Example.net": (550, "5.1.1", "no such user")})
    result = t.send(msg(to="bo@example.net, cy@example.net"))
    assert result.accepted == ("bo@example.net",)
    assert result.refused == ("cy@example.net",)
    refused = result.recipients[1]
    assert (refused.code, refused.enhanced, refused.text) == (550, "5.1.1", "no such user")
    assert not result.ok
    t.outbox.assert_sent(count=1, to="bo@example.net")
    t.outbox.assert_not_sent(to="cy@example.net")


def test_all_refused_raises_and_stores_nothing() -> None:
    t = MemoryTransport(refuse={"bo@example.net": (550, "5.1.1", "no such user")})
    with pytest.raises(RecipientsRefused) as info:
        t.send(msg())
    assert info.value.code == 550
    assert info.value.replies == {"bo@example.net": (550, "5.1.1", "no such user")}
    assert info.value.result.refused == ("bo@example.net",)
    assert len(t.outbox) == 0


def test_max_size_simulates_a_size_limit() -> None:
    data = msg()
    t = MemoryTransport(max_size=len(data) - 1)
    with pytest.raises(MessageTooLarge) as info:
        t.send(data)
    assert (info.value.size, info.value.limit) == (len(data), len(data) - 1)
    assert len(t.outbox) == 0
    t.max_size = len(data)
    t.send(data)
    assert len(t.outbox) == 1


def test_fail_simulates_an_outage() -> None:
    t = MemoryTransport(fail=ConnectionLost("server went away"))
    with pytest.raises(ConnectionLost):
        t.send(msg())
    t.fail = None
    t.send(msg())
    assert len(t.outbox) == 1


def test_async_send_and_context_manager() -> None:
    async def main() -> MemoryTransport:
        async with MemoryTransport() as t:
            r = await t.asend(msg("async"))
            assert r.accepted == ("bo@example.net",)
            results = await t.asend_many([msg("a2"), msg("a3")])
            assert len(results) == 2
        return t

    t = asyncio.run(main())
    assert t.closed
    assert [m.subject for m in t.messages] == ["async", "a2", "a3"]


def test_sync_context_manager_and_send_many() -> None:
    with MemoryTransport() as t:
        t.send_many([msg("1"), msg("2")])
    assert t.closed and len(t.outbox) == 2


def test_explicit_envelope_is_used() -> None:
    t = MemoryTransport()
    env = Envelope("bounces@example.org", ("other@example.net",))
    t.send(msg(), envelope=env)
    assert t.outbox[0].envelope == env
    t.outbox.assert_sent(to="other@example.net")
    t.outbox.assert_not_sent(to="bo@example.net")


def test_directory_outbox_round_trip(tmp_path: Path) -> None:
    box = tmp_path / "box"
    t = MemoryTransport(path=box)
    t.send(msg("one", Bcc="hidden@example.net"))
    t.send(msg("two"))
    reader = MemoryTransport(path=box)  # a second instance sees the same outbox
    assert [i.subject for i in reader.outbox] == ["one", "two"]
    first = reader.outbox[0]
    assert first.envelope.rcpt_to == ("bo@example.net", "hidden@example.net")
    assert first.result.accepted == ("bo@example.net", "hidden@example.net")
    assert first.result.recipients[0].code == 250
    assert b"hidden@" not in first.data
    assert not list(box.glob(".tmp-*"))
    reader.clear()
    assert len(t.outbox) == 0


def test_directory_outbox_across_processes(tmp_path: Path) -> None:
    box = tmp_path / "shared"
    code = (
        "import sys; from mimekit.transports import from_url\n"
        "t = from_url(sys.argv[1])\n"
        "t.send(b'From: a@example.org\\r\\nTo: z@example.net\\r\\nSubject: from child\\r\\n\\r\\nhi\\r\\n')\n"
    )
    subprocess.run([sys.executable, "-c", code, f"memory:{box}"], check=True, timeout=120)
    t = from_url(f"memory:{box}")
    assert isinstance(t, MemoryTransport)
    t.outbox.assert_sent(count=1, subject="from child", to="z@example.net")


def test_builder_message_is_sent_as_built() -> None:
    import mimekit

    m = (
        mimekit.compose()
        .from_("Ana <ana@example.org>")
        .to("bo@example.net")
        .bcc("hidden@example.net")
        .subject("Grüße")
        .text("Hallo\n")
        .build()
    )
    t = MemoryTransport()
    t.send(m)
    item = t.outbox[0]
    assert item.data == m.to_bytes(exclude_headers=("bcc", "resent-bcc"))
    assert item.message.subject == "Grüße"
    assert item.envelope.rcpt_to == ("bo@example.net", "hidden@example.net")


# ------------------------------------------------ directory outbox: read once (review)
def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    from mimekit.transports import memory

    parsed: list[bytes] = []
    real = memory._parse

    def counting(data: bytes) -> object:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(memory, "_parse", counting)
    return parsed


def test_directory_outbox_parses_each_stored_message_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (review): every read of a path-mode outbox re-read and re-parsed every
    stored message (``outbox[i]`` in a loop was quadratic)."""
    box = tmp_path / "box"
    writer = MemoryTransport(path=box)
    for n in range(5):
        writer.send(msg(f"s{n}", to=f"r{n}@example.net"))
    parsed = _count_parses(monkeypatch)
    reader = MemoryTransport(path=box)
    assert len(reader.outbox) == 5
    reader.outbox.assert_sent(count=1, to="r3@example.net")  # envelope only: no parse
    assert parsed == []
    assert [reader.outbox[i].subject for i in range(5)] == [f"s{n}" for n in range(5)]
    assert len(parsed) == 5
    first = reader.outbox[0].message
    for _ in range(3):
        assert [m.subject for m in reader.outbox.messages] == [f"s{n}" for n in range(5)]
        reader.outbox.assert_sent(count=1, subject="s2")
    assert len(parsed) == 5  # still one parse per stored message
    assert reader.outbox[0].message is first
    # the sending side keeps what it sent: no re-read of its own files either
    assert [i.subject for i in writer.outbox] == [f"s{n}" for n in range(5)]
    assert len(parsed) == 10


def test_directory_outbox_cache_sees_new_replaced_and_removed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tmp_path / "box"
    reader = MemoryTransport(path=box)
    code = (
        "import sys; from mimekit.transports import from_url\n"
        "from_url(sys.argv[1]).send(b'From: a@example.org\\r\\nTo: z@example.net\\r\\n"
        "Subject: ' + sys.argv[2].encode() + b'\\r\\n\\r\\nhi\\r\\n')\n"
    )
    subprocess.run([sys.executable, "-c", code, f"memory:{box}", "one"], check=True, timeout=120)
    assert [i.subject for i in reader.outbox] == ["one"]
    subprocess.run([sys.executable, "-c", code, f"memory:{box}", "two"], check=True, timeout=120)
    assert [i.subject for i in reader.outbox] == ["one", "two"]  # another process's new one
    parsed = _count_parses(monkeypatch)
    # a file replaced under the same name is read again (mtime/size/inode changed)
    eml = min(box.glob("*.eml"))
    eml.write_bytes(eml.read_bytes().replace(b"Subject: one", b"Subject: uno, again"))
    assert [i.subject for i in reader.outbox] == ["uno, again", "two"]
    assert len(parsed) == 1
    eml.unlink()
    assert [i.subject for i in reader.outbox] == ["two"]
    MemoryTransport(path=box).clear()
    assert len(reader.outbox) == 0


def test_in_memory_outbox_parses_lazily_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _count_parses(monkeypatch)
    t = MemoryTransport()
    t.send(msg("lazy"))
    t.assert_sent(count=1, to="bo@example.net")
    assert parsed == []
    item = t.outbox[0]
    assert item.message is item.message and item.subject == "lazy"
    assert len(parsed) == 1


def test_null_sender_envelope_survives_the_directory_outbox(tmp_path: Path) -> None:
    """Regression (review): reading a stored MAIL FROM:<> envelope back lost ``null_sender``,
    so it no longer equalled the envelope used."""
    env = Envelope.null_sender_for(["bo@example.net"])
    t = MemoryTransport(path=tmp_path / "box")
    t.send(msg(), envelope=env)
    reader = MemoryTransport(path=tmp_path / "box")
    assert reader.outbox[0].envelope == env
    assert reader.outbox[0].envelope.null_sender is True
    assert reader.outbox[0].result.envelope == env


def test_queue_ids_count_only_stored_messages() -> None:
    """Regression (review): an all-refused send used up a queue id (mem-1 was skipped)."""
    t = MemoryTransport(refuse={"bo@example.net": (550, "5.1.1", "no such user")})
    with pytest.raises(RecipientsRefused):
        t.send(msg())
    assert t.send(msg(to="cy@example.net")).queue_id == "mem-1"


def test_directory_outbox_queue_ids_are_unique_across_processes(tmp_path: Path) -> None:
    """Regression (review): every process sharing a directory outbox answered "mem-1"."""
    box = tmp_path / "shared"
    code = (
        "import sys; from mimekit.transports import from_url\n"
        "r = from_url(sys.argv[1]).send(b'From: a@example.org\\r\\nTo: z@example.net\\r\\n"
        "Subject: s\\r\\n\\r\\nhi\\r\\n')\n"
        "print(r.queue_id)\n"
    )
    ids = [
        subprocess.run([sys.executable, "-c", code, f"memory:{box}"], check=True, timeout=120,
                       capture_output=True, text=True).stdout.strip()
        for _ in range(2)
    ]
    ids.append(MemoryTransport(path=box).send(msg()).queue_id or "")
    assert len(set(ids)) == 3
    stems = sorted(p.stem for p in box.glob("*.eml"))
    assert sorted(ids) == [f"mem-{stem}" for stem in stems]
    reader = MemoryTransport(path=box)
    assert [item.result.queue_id for item in reader.outbox] == [f"mem-{s}" for s in stems]


def test_unwritable_directory_outbox_is_a_transport_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (review): a directory outbox that cannot be written (full disk, no
    permission) raised a bare OSError, not the TransportError every transport failure is."""
    from mimekit.transports import TransportError, memory

    def full_disk(path: Path, data: bytes, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    t = MemoryTransport(path=tmp_path / "box")
    monkeypatch.setattr(memory, "atomic_write", full_disk)
    with pytest.raises(TransportError, match="cannot store.*No space left"):
        t.send(msg())
    assert len(t.outbox) == 0
