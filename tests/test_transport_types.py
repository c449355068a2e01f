"""Every transport's send/asend (and send_many, send_raw) refuses anything but a
Message or the bytes of one with a clear TypeError, before doing anything: no
file written, no connection made (attempts counted at a loopback listener)."""

from __future__ import annotations

import asyncio
import email.message
from pathlib import Path
from typing import Any

import pytest
from mimekit.transports import FileTransport, MaildirTransport, MboxTransport, MemoryTransport
from mimekit.transports.smtp import AsyncSMTPTransport, SMTPTransport
from mimekit.transports.url import ThreadedAsyncTransport
from smtp_server import ENV, MSG, SilentServer

ACCEPTS = "takes a mimekit Message, bytes, bytearray or memoryview, not "
TEXT = "From: a@example.test\r\nTo: b@example.test\r\n\r\nhi\r\n"


def _stdlib_message() -> email.message.Message:
    m = email.message.Message()
    m["From"] = "a@example.test"
    return m


BAD: list[tuple[Any, str]] = [
    (TEXT, "str (encode text first, e.g. text.encode('utf-8'), or parse it into a Message)"),
    (None, "NoneType"),
    (42, "int"),
    ({"From": "a@example.test"}, "dict"),
    (_stdlib_message(), "email.message.Message"),
    ([MSG], "list"),
]


def _sync_transports(tmp_path: Path) -> list[Any]:
    return [
        MemoryTransport(),
        MemoryTransport(path=tmp_path / "mem"),
        FileTransport(tmp_path / "out"),
        MaildirTransport(tmp_path / "md"),
        MboxTransport(tmp_path / "mbox"),
    ]


def _files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in tmp_path.rglob("*") if p.is_file())


@pytest.mark.parametrize(("value", "name"), BAD)
def test_local_transports_send(tmp_path: Path, value: Any, name: str) -> None:
    for t in _sync_transports(tmp_path):
        with pytest.raises(TypeError) as info:
            t.send(value)
        assert str(info.value) == "send() " + ACCEPTS + name, t
        with pytest.raises(TypeError) as info:
            t.send_many([value])
        assert str(info.value) == "send() " + ACCEPTS + name, t
    assert _files(tmp_path) == []
    assert all(len(t.outbox) == 0 for t in _sync_transports(tmp_path)[:2])


@pytest.mark.parametrize(("value", "name"), BAD)
def test_async_local_transports_asend(tmp_path: Path, value: Any, name: str) -> None:
    async def go(t: Any) -> None:
        with pytest.raises(TypeError) as info:
            await t.asend(value)
        assert str(info.value) == "asend() " + ACCEPTS + name
        with pytest.raises(TypeError) as info:
            await t.asend_many([value])
        assert str(info.value) == "asend() " + ACCEPTS + name

    asyncio.run(go(MemoryTransport()))
    for inner in _sync_transports(tmp_path)[2:]:
        asyncio.run(go(ThreadedAsyncTransport(inner)))
    assert _files(tmp_path) == []


def test_memory_transport_accepts_every_bytes_type() -> None:
    t = MemoryTransport()
    for data in (MSG, bytearray(MSG), memoryview(MSG)):
        t.send(data)
    asyncio.run(t.asend(memoryview(MSG)))
    assert len(t.outbox) == 4
    assert {m.envelope for m in t.outbox} == {ENV}


@pytest.mark.parametrize(("value", "name"), BAD)
def test_smtp_send_refuses_before_connecting(value: Any, name: str) -> None:
    with SilentServer() as srv:
        t = SMTPTransport(srv.host, srv.port, security="none", timeout=0.5, retries=0)
        with pytest.raises(TypeError) as info:
            t.send(value)
        assert str(info.value) == "send() " + ACCEPTS + name
        with pytest.raises(TypeError) as info:
            t.send_many([MSG, value])  # checked before the first one goes out
        assert str(info.value) == "send_many() " + ACCEPTS + name
        with pytest.raises(TypeError) as info:
            t.send_many([(value, ENV)])
        assert str(info.value) == "send_many() " + ACCEPTS + name
        if not isinstance(value, str):
            with pytest.raises(TypeError, match=r"^send_raw\(\) takes bytes, bytearray or "
                               r"memoryview, not "):
                t.send_raw(value, ENV)
        t.close()
        assert srv.attempts() == 0


@pytest.mark.parametrize(("value", "name"), BAD)
def test_async_smtp_asend_refuses_before_connecting(value: Any, name: str) -> None:
    async def go(t: AsyncSMTPTransport) -> None:
        async with t:
            with pytest.raises(TypeError) as info:
                await t.asend(value)
            assert str(info.value) == "asend() " + ACCEPTS + name
            with pytest.raises(TypeError) as info:
                await t.asend_many([MSG, value])
            assert str(info.value) == "asend_many() " + ACCEPTS + name
            with pytest.raises(TypeError, match=r"^asend_raw\(\) takes bytes"):
                await t.asend_raw(value, ENV)

    with SilentServer() as srv:
        asyncio.run(go(AsyncSMTPTransport(srv.host, srv.port, security="none", timeout=0.5,
                                          retries=0)))
        assert srv.attempts() == 0


def test_send_raw_text_is_refused() -> None:
    with SilentServer() as srv:
        t = SMTPTransport(srv.host, srv.port, security="none", timeout=0.5, retries=0)
        with pytest.raises(TypeError) as info:
            t.send_raw(TEXT, ENV)  # type: ignore[arg-type]
        assert str(info.value) == (
            "send_raw() takes bytes, bytearray or memoryview, not str (send()/asend() take a "
            "Message)"
        )
        assert srv.attempts() == 0
