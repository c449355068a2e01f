"""Sans-I/O tests of the SMTP protocol core: replies, EHLO, STARTTLS reset
(c22), AUTH (c24, SCRAM), pipelining, SIZE, 8BITMIME, SMTPUTF8, DSN,
dot-stuffing (c20) and command injection -- all without a socket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import logging
import subprocess
import sys
import textwrap
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mimekit.transports.errors import (
    AuthenticationError,
    ConnectionLost,
    InvalidEnvelope,
    MessageTooLarge,
    SMTPResponseError,
    TLSError,
)
from mimekit.transports.smtp import sasl
from mimekit.transports.smtp.protocol import (
    DSNOptions,
    Receive,
    ReplyParser,
    Send,
    SMTPClientProtocol,
    SMTPNotSupportedError,
    SMTPProtocolError,
    StartTLS,
    dot_stuff,
    normalize_line_endings,
    parse_queue_id,
    xtext,
)

REPO = Path(__file__).resolve().parent.parent


class Script:
    """Drives a protocol generator with canned server output; records what
    the client wrote and when it asked for TLS."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.sent: list[bytes] = []
        self.events: list[str] = []

    def run(self, gen: Generator[Any, bytes, Any]) -> Any:
        value = b""
        try:
            action = next(gen)
            while True:
                if isinstance(action, Send):
                    self.sent.append(action.data)
                    self.events.append("send")
                    value = b""
                elif isinstance(action, Receive):
                    value = self.chunks.pop(0) if self.chunks else b""
                    self.events.append("recv")
                else:
                    assert isinstance(action, StartTLS)
                    self.events.append("tls")
                    value = b""
                action = gen.send(value)
        except StopIteration as stop:
            return stop.value

    @property
    def wire(self) -> bytes:
        return b"".join(self.sent)


def ready(
    caps: str = "250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000\r\n", *, tls: bool = True
) -> SMTPClientProtocol:
    proto = SMTPClientProtocol("client.example", tls_active=tls)
    Script(b"220 mx ESMTP\r\n", caps.encode()).run(proto.open_session(security="none"))
    return proto


# ------------------------------------------------------------------ replies


def test_reply_multiline_enhanced_and_lenient() -> None:
    p = ReplyParser()
    p.feed(b"250-mx.example Hello\r\n250-SIZE 100\n250 2.0.0 Ok: queued as ABC\r\n")
    r = p.next_reply()
    assert r is not None
    assert r.code == 250
    assert r.lines == ("mx.example Hello", "SIZE 100", "2.0.0 Ok: queued as ABC")
    p.feed(b"550 5.1.1 <x@y>: user unknown\r\n")
    r = p.next_reply()
    assert r is not None and (r.code, r.enhanced, r.text) == (550, "5.1.1", "<x@y>: user unknown")
    assert p.next_reply() is None


def test_reply_byte_by_byte_and_trailing() -> None:
    data = b"451-4.3.0 first\r\n451-4.3.0 second\r\n451 4.3.0 third\r\n221 bye\r\n"
    p = ReplyParser()
    got = []
    for i in range(len(data)):
        p.feed(data[i : i + 1])
        r = p.next_reply()
        if r is not None:
            got.append(r)
    assert [(r.code, r.enhanced, r.lines) for r in got] == [
        (451, "4.3.0", ("first", "second", "third")),
        (221, None, ("bye",)),
    ]


def test_reply_code_only_and_mismatched_class() -> None:
    p = ReplyParser()
    p.feed(b"250\r\n550 2.0.0 odd\r\n")
    a, b = p.next_reply(), p.next_reply()
    assert a is not None and (a.code, a.lines, a.enhanced) == (250, ("",), None)
    # RFC 3463: the class must match the reply code's first digit
    assert b is not None and (b.code, b.enhanced, b.text) == (550, None, "2.0.0 odd")


def test_reply_garbage_and_overlong() -> None:
    p = ReplyParser()
    p.feed(b"hello there\r\n")
    with pytest.raises(SMTPProtocolError):
        p.next_reply()
    p = ReplyParser()
    p.feed(b"2" * 20000)
    with pytest.raises(SMTPProtocolError):
        p.next_reply()


def test_queue_id_forms() -> None:
    assert parse_queue_id("Ok: queued as 4ZxYq12abc") == "4ZxYq12abc"
    assert parse_queue_id("OK id=1tXyZ-0003ab-Cd") == "1tXyZ-0003ab-Cd"
    assert parse_queue_id("<a@b> [InternalId=1234, Hostname=x] Queued") == "1234"
    assert parse_queue_id("Ok") is None


# ------------------------------------------------------------------ EHLO, HELO, STARTTLS


def test_ehlo_capabilities() -> None:
    proto = ready(
        "250-mx greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n"
        "250-AUTH=LOGIN\r\n250-auth PLAIN login\r\n250 SMTPUTF8\r\n"
    )
    assert proto.esmtp
    assert proto.has("PIPELINING") and proto.has("SMTPUTF8")
    assert proto.size_limit == 35882577
    assert set(proto.auth_mechanisms) == {"LOGIN", "PLAIN"}


def test_helo_fallback() -> None:
    proto = SMTPClientProtocol("client.example")
    s = Script(b"220 old\r\n", b"502 what\r\n", b"250 old.example\r\n")
    s.run(proto.open_session(security="none"))
    assert s.sent == [b"EHLO client.example\r\n", b"HELO client.example\r\n"]
    assert not proto.esmtp and proto.capabilities == {}


def test_c22_starttls_discards_injected_plaintext() -> None:
    """c22: bytes after the 220 to STARTTLS are dropped and EHLO re-read in TLS."""
    proto = SMTPClientProtocol("client.example.com")
    s = Script(
        b"220 mx.example.net ESMTP\r\n",
        b"250-mx.example.net\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
        b"220 2.0.0 go ahead\r\n250-mx.example.net\r\n250 AUTH PLAIN\r\n",  # one write
        b"250-mx.example.net\r\n250 8BITMIME\r\n",  # inside TLS
    )
    s.run(proto.open_session(security="starttls"))
    assert s.events.index("tls") < len(s.events) - 2
    assert s.sent == [
        b"EHLO client.example.com\r\n",
        b"STARTTLS\r\n",
        b"EHLO client.example.com\r\n",
    ]
    assert set(proto.capabilities) == {"8BITMIME"}
    assert proto.tls_active
    assert proto.auth_mechanisms == ()


def test_c22_no_auth_from_injected_line() -> None:
    proto = SMTPClientProtocol("c")
    s = Script(
        b"220 mx\r\n",
        b"250-mx\r\n250 STARTTLS\r\n",
        b"220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n",
        b"250-mx\r\n250 8BITMIME\r\n",
    )
    with pytest.raises(AuthenticationError, match="does not offer AUTH"):
        s.run(proto.open_session(security="starttls", credentials=sasl.Credentials("u", "p")))
    assert not any(x.startswith(b"AUTH") for x in s.sent)


def test_starttls_required_but_missing_sends_nothing() -> None:
    proto = SMTPClientProtocol("c")
    s = Script(b"220 mx\r\n", b"250-mx\r\n250 AUTH PLAIN\r\n")
    with pytest.raises(TLSError):
        s.run(proto.open_session(security="starttls", credentials=sasl.Credentials("u", "p")))
    assert s.sent == [b"EHLO c\r\n"]


def test_starttls_refused_opportunistic_continues() -> None:
    proto = SMTPClientProtocol("c")
    s = Script(b"220 mx\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"454 4.7.0 TLS not available\r\n")
    s.run(proto.open_session(security="starttls-opportunistic"))
    assert "tls" not in s.events and not proto.tls_active


def test_no_auth_in_clear_unless_allowed() -> None:
    proto = SMTPClientProtocol("c")
    s = Script(b"220 mx\r\n", b"250-mx\r\n250 AUTH PLAIN\r\n")
    with pytest.raises(TLSError, match="unencrypted"):
        s.run(proto.open_session(security="none", credentials=sasl.Credentials("u", "p")))
    assert s.sent == [b"EHLO c\r\n"]
    proto = SMTPClientProtocol("c")
    s = Script(b"220 mx\r\n", b"250-mx\r\n250 AUTH PLAIN\r\n", b"235 ok\r\n")
    s.run(
        proto.open_session(
            security="none", credentials=sasl.Credentials("u", "p"), allow_plaintext_auth=True
        )
    )
    assert proto.authenticated


# ------------------------------------------------------------------ AUTH


def _auth(
    caps: str, *replies: bytes, cred: sasl.Credentials, mech: str | None = None
) -> tuple[Script, SMTPClientProtocol]:
    proto = ready(f"250-mx\r\n250 AUTH {caps}\r\n")
    s = Script(*replies)
    s.run(proto.authenticate(cred, mechanism=mech))
    return s, proto


def test_c24_plain_utf8() -> None:
    cred = sasl.Credentials("jörg@example.org", "Pässwört€42")
    s, proto = _auth("PLAIN LOGIN", b"235 2.7.0 ok\r\n", cred=cred)
    verb, mech, blob = s.sent[0].decode().split()
    assert (verb, mech) == ("AUTH", "PLAIN")
    assert base64.b64decode(blob) == (
        b"\x00" + "jörg@example.org".encode() + b"\x00" + "Pässwört€42".encode()
    )
    assert proto.authenticated


def test_c24_login_utf8() -> None:
    cred = sasl.Credentials("jörg@example.org", "Pässwört€42")
    s, _ = _auth(
        "LOGIN", b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n", b"235 ok\r\n", cred=cred
    )
    assert s.sent[0] == b"AUTH LOGIN\r\n"
    assert base64.b64decode(s.sent[1]) == "jörg@example.org".encode()
    assert base64.b64decode(s.sent[2]) == "Pässwört€42".encode()


def test_cram_md5() -> None:
    challenge = b"<1896.697170952@postoffice.reston.mci.net>"
    cred = sasl.Credentials("tim", "tanstaaftanstaaf")
    s, _ = _auth(
        "CRAM-MD5", b"334 " + base64.b64encode(challenge) + b"\r\n", b"235 ok\r\n", cred=cred
    )
    # RFC 2195 §2 example
    assert base64.b64decode(s.sent[1]) == b"tim b913a602c7eda7a495b4e6e7334d3890"


def test_wrong_password_535() -> None:
    with pytest.raises(AuthenticationError) as info:
        _auth(
            "PLAIN",
            b"535 5.7.8 Error: authentication failed\r\n",
            cred=sasl.Credentials("u", "bad"),
        )
    assert (info.value.code, info.value.enhanced) == (535, "5.7.8")


def test_mechanism_choice() -> None:
    cred = sasl.Credentials("u", "p")
    assert sasl.choose(["LOGIN", "PLAIN", "CRAM-MD5"], cred, encrypted=True).name == "PLAIN"
    assert sasl.choose(["LOGIN", "PLAIN", "CRAM-MD5"], cred, encrypted=False).name == "CRAM-MD5"
    assert sasl.choose(["PLAIN", "SCRAM-SHA-256"], cred, encrypted=True).name == "SCRAM-SHA-256"
    tok = sasl.Credentials("u", None, lambda: "tok")
    assert (
        sasl.choose(["PLAIN", "XOAUTH2", "OAUTHBEARER"], tok, encrypted=True).name == "OAUTHBEARER"
    )
    assert sasl.choose(["XOAUTH2"], tok, encrypted=True).name == "XOAUTH2"
    with pytest.raises(AuthenticationError):
        sasl.choose(["GSSAPI"], cred, encrypted=True)


def test_xoauth2_and_oauthbearer_payloads() -> None:
    calls = []

    def token() -> str:
        calls.append(1)
        return "ya29.TOKEN"

    cred = sasl.Credentials("me@example.com", None, token, "smtp.example.com", 587)
    s, _ = _auth("XOAUTH2", b"235 ok\r\n", cred=cred)
    assert (
        base64.b64decode(s.sent[0].split()[2])
        == b"user=me@example.com\x01auth=Bearer ya29.TOKEN\x01\x01"
    )
    s, _ = _auth("OAUTHBEARER", b"235 ok\r\n", cred=cred)
    assert base64.b64decode(s.sent[0].split()[2]) == (
        b"n,a=me@example.com,\x01host=smtp.example.com\x01port=587\x01"
        b"auth=Bearer ya29.TOKEN\x01\x01"
    )
    assert len(calls) == 2  # asked at each login: a refreshed token is used
    # RFC 7628 §3.2.3: an error challenge is answered with ^A, then 535
    with pytest.raises(AuthenticationError) as info:
        _auth(
            "OAUTHBEARER",
            b"334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n",
            b"535 5.7.8 bad token\r\n",
            cred=cred,
        )
    assert info.value.code == 535


def _scram_server(
    password: str, salt: bytes, iterations: int, client_first: bytes, server_nonce: str
) -> tuple[bytes, Any]:
    bare = client_first[3:].decode()
    cnonce = dict(x.split("=", 1) for x in bare.split(","))["r"]
    server_first = f"r={cnonce}{server_nonce},s={base64.b64encode(salt).decode()},i={iterations}"

    def final(client_final: bytes, *, lie: bool = False) -> bytes:
        without_proof = client_final.decode().rsplit(",p=", 1)[0]
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        auth_msg = f"{bare},{server_first},{without_proof}".encode()
        ck = hmac.new(salted, b"Client Key", "sha256").digest()
        sig = hmac.new(hashlib.sha256(ck).digest(), auth_msg, "sha256").digest()
        proof = base64.b64decode(client_final.decode().rsplit(",p=", 1)[1])
        assert bytes(a ^ b for a, b in zip(proof, sig)) == ck  # the client knows the password
        sk = hmac.new(salted, b"Server Key", "sha256").digest()
        v = hmac.new(sk, auth_msg + (b"x" if lie else b""), "sha256").digest()
        return b"v=" + base64.b64encode(v)

    return server_first.encode(), final


def test_scram_sha256_rfc7677_vector() -> None:
    """RFC 7677 §3 example: user "user", password "pencil"."""
    m = sasl.ScramSHA256("user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert m.initial_response() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = m.respond(
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    assert final == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert m.respond(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") == b""
    m.success(None)


@pytest.mark.parametrize("lie", [False, True])
def test_scram_exchange_verifies_server(lie: bool) -> None:
    proto = ready("250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n")
    cred = sasl.Credentials("jörg", "Pässwört")
    gen = proto.authenticate(cred)
    first = next(gen)
    assert isinstance(first, Send) and first.data.startswith(b"AUTH SCRAM-SHA-256 ")
    client_first = base64.b64decode(first.data.split()[2])
    server_first, final = _scram_server("Pässwört", b"saltsalt", 4096, client_first, "SRV")
    assert isinstance(gen.send(b""), Receive)
    action = gen.send(b"334 " + base64.b64encode(server_first) + b"\r\n")
    assert isinstance(action, Send)
    server_final = final(base64.b64decode(action.data.strip()), lie=lie)
    assert isinstance(gen.send(b""), Receive)
    if lie:
        # RFC 4954 §4: the client cancels with "*" and never trusts the session
        action = gen.send(b"334 " + base64.b64encode(server_final) + b"\r\n")
        assert isinstance(action, Send) and action.data == b"*\r\n"
        assert isinstance(gen.send(b""), Receive)
        with pytest.raises(AuthenticationError, match="signature"):
            gen.send(b"501 5.7.0 cancelled\r\n")
        assert not proto.authenticated
        return
    action = gen.send(b"334 " + base64.b64encode(server_final) + b"\r\n")
    assert isinstance(action, Send) and action.data == b"\r\n"
    assert isinstance(gen.send(b""), Receive)
    with pytest.raises(StopIteration):
        gen.send(b"235 2.7.0 ok\r\n")
    assert proto.authenticated


def test_auth_log_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mimekit.smtp")
    _auth(
        "LOGIN",
        b"334 VXNlcm5hbWU6\r\n",
        b"334 UGFzc3dvcmQ6\r\n",
        b"235 ok\r\n",
        cred=sasl.Credentials("user@x", "hunter2-secret"),
    )
    _auth("PLAIN", b"235 ok\r\n", cred=sasl.Credentials("user@x", "hunter2-secret"))
    text = caplog.text
    assert "C: AUTH LOGIN [redacted]" in text and "C: AUTH PLAIN [redacted]" in text
    secret_forms = [
        "hunter2-secret",
        base64.b64encode(b"hunter2-secret").decode(),
        base64.b64encode(b"\0user@x\0hunter2-secret").decode(),
    ]
    assert not any(f in text for f in secret_forms)


# ------------------------------------------------------------------ transactions


def test_c20_dot_stuffing_exact() -> None:
    body = b"Subject: dots\r\n\r\nConfig follows\n.\n..hidden\n.signature\nend\n"
    proto = ready()
    s = Script(b"250 ok\r\n250 ok\r\n354 go\r\n", b"250 2.0.0 Ok: queued as X1\r\n")
    tx = s.run(proto.transaction(body, "a@example.com", ["b@example.org"]))
    assert s.sent[0] == (
        b"MAIL FROM:<a@example.com> SIZE=63\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    )
    data = s.sent[1]
    lines = data.split(b"\r\n")
    assert b".." in lines and b"...hidden" in lines and b"..signature" in lines
    assert data.endswith(b"\r\nend\r\n.\r\n") and data.count(b"\r\n.\r\n") == 1
    unstuffed = b"".join(
        line[1:] if line.startswith(b".") else line for line in data[:-3].splitlines(keepends=True)
    )
    assert unstuffed == (
        b"Subject: dots\r\n\r\nConfig follows\r\n.\r\n..hidden\r\n.signature\r\nend\r\n"
    )
    assert tx.final.code == 250


def test_line_endings_normalised_no_smuggling() -> None:
    assert normalize_line_endings(b"a\rb\nc\r\nd") == b"a\r\nb\r\nc\r\nd\r\n"
    evil = b"x\n.\nMAIL FROM:<e@v>\r\n.\r\n"
    out = dot_stuff(normalize_line_endings(evil))
    assert out == b"x\r\n..\r\nMAIL FROM:<e@v>\r\n..\r\n.\r\n"
    assert dot_stuff(normalize_line_endings(b".lead")) == b"..lead\r\n.\r\n"
    assert dot_stuff(b"") == b".\r\n"


def test_non_pipelined_sequence_and_partial() -> None:
    proto = ready("250-mx\r\n250 SIZE\r\n")
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"450 4.2.0 busy\r\n", b"354 go\r\n", b"250 ok\r\n")
    tx = s.run(proto.transaction(b"hi\r\n", "a@x", ["b@x", "c@x"]))
    assert s.sent[:4] == [
        b"MAIL FROM:<a@x> SIZE=4\r\n",
        b"RCPT TO:<b@x>\r\n",
        b"RCPT TO:<c@x>\r\n",
        b"DATA\r\n",
    ]
    assert [(r.address, r.reply.code) for r in tx.recipients] == [("b@x", 250), ("c@x", 450)]


def test_pipelined_all_refused_then_rset() -> None:
    proto = ready()
    s = Script(b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n", b"250 ok\r\n")
    tx = s.run(proto.transaction(b"x\r\n", "a@x", ["b@x"]))
    assert tx.final is None and tx.recipients[0].reply.enhanced == "5.1.1"
    assert s.sent[-1] == b"RSET\r\n"
    assert not proto.data_committed


def test_pipelined_354_without_recipients_ends_empty() -> None:
    proto = ready()
    s = Script(b"250 ok\r\n550 no\r\n354 go\r\n", b"554 no recipients\r\n", b"250 ok\r\n")
    tx = s.run(proto.transaction(b"secret body\r\n", "a@x", ["b@x"]))
    assert tx.final is None
    assert s.sent[1:] == [b".\r\n", b"RSET\r\n"]
    assert b"secret" not in s.wire


def test_mail_refused_raises_and_resets() -> None:
    proto = ready("250-mx\r\n250 8BITMIME\r\n")
    s = Script(b"553 5.7.1 sender rejected\r\n", b"250 ok\r\n")
    with pytest.raises(SMTPResponseError) as info:
        s.run(proto.transaction(b"x", "a@x", ["b@x"]))
    assert (info.value.code, info.value.enhanced) == (553, "5.7.1")
    assert s.sent == [b"MAIL FROM:<a@x>\r\n", b"RSET\r\n"]


def test_421_closes() -> None:
    proto = ready()
    s = Script(b"421 4.3.2 shutting down\r\n")
    with pytest.raises(SMTPResponseError) as info:
        s.run(proto.transaction(b"x", "a@x", ["b@x"]))
    assert info.value.code == 421 and proto.closed


def test_size_refused_before_mail() -> None:
    proto = ready()  # SIZE 1000
    s = Script()
    with pytest.raises(MessageTooLarge) as info:
        s.run(proto.transaction((b"x" * 98 + b"\r\n") * 20, "a@x", ["b@x"]))
    assert (info.value.size, info.value.limit) == (2000, 1000)
    assert s.sent == []


def test_8bitmime_declared() -> None:
    proto = ready()
    s = Script(b"250 ok\r\n250 ok\r\n354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction("héllo\r\n".encode(), "a@x", ["b@x"]))
    assert s.sent[0].startswith(b"MAIL FROM:<a@x> BODY=8BITMIME SIZE=8\r\n")


def test_8bit_without_8bitmime() -> None:
    proto = ready("250-mx\r\n250 PIPELINING\r\n")
    s = Script()
    with pytest.raises(SMTPNotSupportedError):
        s.run(proto.transaction("héllo".encode(), "a@x", ["b@x"]))
    assert s.sent == []
    s = Script(b"250 ok\r\n250 ok\r\n354 go\r\n", b"250 ok\r\n")
    s.run(
        proto.transaction(
            "héllo".encode(),
            "a@x",
            ["b@x"],
            downgrade=lambda d, _8: d.replace("é".encode(), b"=C3=A9"),
        )
    )
    assert s.sent[1] == b"h=C3=A9llo\r\n.\r\n"


def test_smtputf8() -> None:
    proto = ready("250-mx\r\n250 8BITMIME\r\n")
    with pytest.raises(SMTPNotSupportedError, match="SMTPUTF8"):
        Script().run(proto.transaction(b"x", "jörg@x", ["b@x"]))
    proto = ready("250-mx\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction(b"x", "jörg@x", ["b@x"]))
    assert s.sent[0] == "MAIL FROM:<jörg@x> SMTPUTF8\r\n".encode()
    proto = ready("250-mx\r\n250 SMTPUTF8\r\n")
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction(b"x", "a@x", ["b@x"]))
    assert s.sent[0] == b"MAIL FROM:<a@x>\r\n"  # ASCII envelope: no SMTPUTF8


def test_dsn_parameters() -> None:
    proto = ready("250-mx\r\n250 DSN\r\n")
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n")
    dsn = DSNOptions(notify=("success", "failure"), ret="hdrs", envid="id+1=x", orcpt=True)
    s.run(proto.transaction(b"x", "a@x", ["b@x"], dsn=dsn))
    assert s.sent[0] == b"MAIL FROM:<a@x> RET=HDRS ENVID=id+2B1+3Dx\r\n"
    assert s.sent[1] == b"RCPT TO:<b@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@x\r\n"
    assert xtext("a b+") == "a+20b+2B"
    with pytest.raises(ValueError):
        DSNOptions(notify=("NEVER", "SUCCESS"))
    proto = ready("250-mx\r\n250 8BITMIME\r\n")  # no DSN: dropped
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction(b"x", "a@x", ["b@x"], dsn=dsn))
    assert s.sent[0] == b"MAIL FROM:<a@x>\r\n"


@pytest.mark.parametrize(
    "sender,rcpt",
    [
        ("a@x\r\nRCPT TO:<evil@x>", "b@x"),
        ("a@x", "b@x>\r\nDATA"),
        ("a@x", "b@x\nRSET"),
        ("a@x", "b\x00@x"),
        ("a@x> SIZE=1", "b@x"),
    ],
)
def test_command_injection_refused_nothing_sent(sender: str, rcpt: str) -> None:
    proto = ready()
    s = Script()
    with pytest.raises(InvalidEnvelope):
        s.run(proto.transaction(b"x", sender, [rcpt]))
    assert s.sent == []


def test_local_hostname_injection() -> None:
    with pytest.raises(InvalidEnvelope):
        SMTPClientProtocol("host\r\nMAIL FROM:<x>")


def test_server_eof_is_connection_lost() -> None:
    proto = ready()
    with pytest.raises(ConnectionLost):
        Script(b"250 ok\r\n").run(proto.transaction(b"x", "a@x", ["b@x"]))


# ------------------------------------------------------------------ purity


def test_protocol_imports_no_socket_ssl_asyncio() -> None:
    """protocol.py, wire.py and sasl.py are sans-I/O: importing them (with the packages
    around them stubbed) pulls in no socket, ssl or asyncio."""
    code = textwrap.dedent(f"""
        import sys, types
        repo = {str(REPO)!r}
        for name, path in (("mimekit", repo + "/mimekit"),
                           ("mimekit.transports", repo + "/transports"),
                           ("mimekit.transports.smtp", repo + "/transports/smtp")):
            mod = types.ModuleType(name)
            mod.__path__ = [path]
            sys.modules[name] = mod
        import mimekit.transports.smtp.protocol, mimekit.transports.smtp.sasl
        import mimekit.transports.smtp.wire
        bad = sorted(m for m in ("socket", "ssl", "asyncio", "_socket", "_ssl") if m in sys.modules)
        print(",".join(bad) or "clean")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "clean", out.stdout + out.stderr


# ------------------------------------------------------------------ properties


@given(
    st.binary(max_size=300)
    | st.lists(st.sampled_from([b".", b"\r", b"\n", b"a", b"\r\n"]), max_size=40).map(b"".join)
)
def test_dot_stuffing_round_trip(data: bytes) -> None:
    """Whatever the input, the DATA stream is CRLF-only, ends with the terminator
    exactly once, and unstuffs to the CRLF-normalized input (no smuggling)."""
    norm = normalize_line_endings(data)
    wire = dot_stuff(norm)
    assert wire.endswith(b".\r\n")
    body = wire[:-3]
    assert b"\r\n.\r\n" not in b"\r\n" + body  # the terminator never appears early
    lines = body.split(b"\r\n")
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    unstuffed = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
    assert unstuffed == norm
    assert norm.replace(b"\r\n", b"") == data.replace(b"\r\n", b"").replace(b"\r", b"").replace(
        b"\n", b""
    )


@given(st.lists(st.binary(max_size=20), max_size=10))
def test_reply_parser_any_split(chunks: list[bytes]) -> None:
    """The same replies whatever the chunking of the stream."""
    stream = b"250-a\r\n250-2.0.0 b\r\n250 2.0.0 c\r\n354 go\n221 2.0.0 bye\r\n"
    cuts = sorted({min(len(c), len(stream)) for c in chunks} | {0, len(stream)})
    p = ReplyParser()
    got = []
    for a, b in itertools.pairwise(cuts):
        p.feed(stream[a:b])
        while (r := p.next_reply()) is not None:
            got.append((r.code, r.lines))
    assert got == [(250, ("a", "2.0.0 b", "2.0.0 c")), (354, ("go",)), (221, ("bye",))]


def test_long_line_refused_without_downgrade() -> None:
    proto = ready("250-mx\r\n250-8BITMIME\r\n250 PIPELINING\r\n")
    s = Script()
    with pytest.raises(SMTPNotSupportedError, match="998"):
        s.run(proto.transaction(b"Subject: x\r\n\r\n" + b"y" * 999 + b"\r\n", "a@x", ["b@x"]))
    assert s.sent == []
    # exactly 998 octets is fine (RFC 5321 §4.5.3.1.6)
    s = Script(b"250 ok\r\n250 ok\r\n354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction(b"Subject: x\r\n\r\n" + b"y" * 998 + b"\r\n", "a@x", ["b@x"]))
    assert s.sent[1].endswith(b"y" * 998 + b"\r\n.\r\n")


def test_oauth_field_injection_refused() -> None:
    cred = sasl.Credentials("me@x\x01auth=Bearer stolen", None, lambda: "tok")
    with pytest.raises(AuthenticationError, match="control character"):
        sasl.choose(["XOAUTH2"], cred, encrypted=True)


def test_refused_bdat_is_followed_by_rset() -> None:
    """Regression (review): after an error reply to BDAT LAST the state is indeterminate
    (RFC 3030 §2); the client went straight on with the next MAIL."""
    proto = ready("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
    s = Script(b"250 ok\r\n250 ok\r\n", b"554 5.6.0 content rejected\r\n", b"250 reset\r\n")
    with pytest.raises(Exception) as err:
        s.run(proto.transaction(b"x\r\n", "a@x", ["b@x"], chunking=True))
    assert "554" in str(err.value)
    assert any(b"BDAT" in chunk for chunk in s.sent)
    assert s.sent[-1] == b"RSET\r\n"
    assert not proto.closed


def test_plain_refuses_nul_in_credentials() -> None:
    """Regression (review): NUL is PLAIN's field separator (RFC 4616 §2)."""
    from mimekit.transports.smtp.sasl import Plain, SASLError

    for args in (("us\0er", "pw"), ("user", "p\0w"), ("user", "pw", "a\0z")):
        with pytest.raises(SASLError):
            Plain(*args)
    assert Plain("user", "pw").initial_response() == b"\0user\0pw"


def test_normalize_never_changes_the_callers_buffer() -> None:
    """Regression (review): `data += b"\\r\\n"` extended a caller's bytearray in place,
    and a memoryview raised AttributeError."""
    buf = bytearray(b"Subject: x\r\n\r\nbody")
    assert normalize_line_endings(buf) == b"Subject: x\r\n\r\nbody\r\n"
    assert buf == bytearray(b"Subject: x\r\n\r\nbody")
    assert normalize_line_endings(memoryview(b"a\nb")) == b"a\r\nb\r\n"


@pytest.mark.parametrize("line", [b"099 odd\r\n", b"600 odd\r\n", b"199 odd\r\n"])
def test_reply_codes_outside_2_to_5_are_protocol_errors(line: bytes) -> None:
    """RFC 5321 §4.2: the first digit of a reply code is 2, 3, 4 or 5."""
    from mimekit.transports.smtp.wire import SMTPProtocolError

    proto = SMTPClientProtocol("client.example", tls_active=True)
    with pytest.raises(SMTPProtocolError):
        Script(line).run(proto.open_session(security="none"))


def test_plain_text_fallback_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    proto = SMTPClientProtocol("client.example", tls_active=False)
    with caplog.at_level("WARNING", logger="mimekit.smtp"):
        Script(b"220 mx ESMTP\r\n", b"250 mx\r\n").run(
            proto.open_session(security="starttls-opportunistic"))
    assert any("plain text" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)


def test_null_reverse_path_is_sent_as_empty_brackets() -> None:
    proto = ready("250-mx\r\n250 SIZE\r\n")
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction(b"bounce\r\n", "", ["b@x"]))
    assert s.sent[0].startswith(b"MAIL FROM:<>")


def test_ehlo_name_must_be_ascii() -> None:
    """RFC 5321 §4.1.1.1: EHLO takes a domain (A-labels) or an address literal."""
    from mimekit.transports.errors import InvalidEnvelope

    with pytest.raises(InvalidEnvelope):
        SMTPClientProtocol("bücher.example")
    assert SMTPClientProtocol("xn--bcher-kva.example").local_hostname == "xn--bcher-kva.example"


def test_dsn_limits_and_utf8_orcpt() -> None:
    """RFC 3461 §4.4 (ENVID <= 100), RFC 6533 §3 (utf-8 ORCPT for UTF-8 addresses)."""
    from mimekit.transports.errors import InvalidEnvelope

    proto = ready("250-mx\r\n250-SMTPUTF8\r\n250 DSN\r\n")
    with pytest.raises(InvalidEnvelope):
        Script().run(proto.transaction(b"x\r\n", "a@x", ["b@x"],
                                       dsn=DSNOptions(envid="e" * 101)))
    proto = ready("250-mx\r\n250-SMTPUTF8\r\n250 DSN\r\n")
    s = Script(b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n")
    s.run(proto.transaction(b"x\r\n", "a@x", ["jörg@x"], dsn=DSNOptions(orcpt=True)))
    rcpt = next(c for c in s.sent if c.startswith(b"RCPT"))
    assert rcpt == "RCPT TO:<jörg@x> ORCPT=utf-8;j\\x{F6}rg@x\r\n".encode()


# ------------------------------------------------------------------ bounds (hostile servers)


def test_reply_size_limits_hold_for_complete_lines() -> None:
    """A line over MAX_REPLY_LINE is refused even when it arrives whole in one
    read, and a reply is refused past MAX_REPLY_BYTES in all."""
    from mimekit.transports.smtp.wire import MAX_REPLY_BYTES, MAX_REPLY_LINE

    p = ReplyParser()
    p.feed(b"250 " + b"x" * MAX_REPLY_LINE + b"\r\n")
    with pytest.raises(SMTPProtocolError, match="line from the server is too long"):
        p.next_reply()
    p = ReplyParser()
    line = b"250-" + b"y" * 16000 + b"\r\n"
    p.feed(line * (MAX_REPLY_BYTES // len(line) + 1) + b"250 end\r\n")
    with pytest.raises(SMTPProtocolError, match=f"larger than {MAX_REPLY_BYTES} octets"):
        p.next_reply()
    # just under the limits: accepted, and the count starts again for the next reply
    p = ReplyParser()
    n = MAX_REPLY_BYTES // len(line)
    p.feed(line * (n - 1) + b"250 end\r\n" + line * (n - 1) + b"250 again\r\n")
    first, second = p.next_reply(), p.next_reply()
    assert first is not None and len(first.lines) == n and first.lines[-1] == "end"
    assert second is not None and second.lines[-1] == "again"


def test_receive_says_when_it_continues_a_reply() -> None:
    """The first read for each reply has continued=False (the driver starts the
    reply's deadline), the later reads of the same reply continued=True."""
    proto = ready()
    gen = proto.noop()
    assert gen.send(None) == Send(b"NOOP\r\n")
    assert gen.send(b"") == Receive(False, False)
    assert gen.send(b"25") == Receive(False, True)
    assert gen.send(b"0-a\r\n250") == Receive(False, True)
    with pytest.raises(StopIteration) as stop:
        gen.send(b" 2.0.0 ok\r\n")
    assert stop.value.value.lines == ("a", "2.0.0 ok")
    gen = proto.noop()
    assert gen.send(None) == Send(b"NOOP\r\n")
    assert gen.send(b"") == Receive(False, False)  # a new reply: a new deadline


def _window_run(
    proto: SMTPClientProtocol, step: Any, replies: Any, writes: list[tuple[str, int]] | None = None
) -> list[tuple[str, int]]:
    """Drive ``step``, answering each command line with ``replies(line)``; returns
    the writes (also appended to ``writes``) as (first command, number of
    lines) and checks that every reply to a write is read before the next."""
    writes = [] if writes is None else writes
    pending: list[bytes] = []
    value: Any = None
    try:
        action = step.send(None)
        while True:
            if isinstance(action, Send):
                assert not pending, "a write before the replies to the previous one were read"
                lines = action.data.split(b"\r\n")[:-1]
                if action.data.startswith((b"MAIL", b"RCPT", b"DATA", b"RSET")):
                    writes.append((lines[0].decode().split(":")[0], len(lines)))
                    pending = [replies(x) for x in lines]
                else:
                    writes.append(("<data>", 0))
                    pending = [b"250 2.0.0 queued\r\n"]
                value = b""
            else:
                value = pending.pop(0)
            action = step.send(value)
    except StopIteration as stop:
        proto.last = stop.value  # type: ignore[attr-defined]
    return writes


def test_pipelined_groups_hold_at_most_the_window() -> None:
    """RFC 2920 §3.1: 250 recipients go as MAIL+99 RCPT, 100 RCPT, 51 RCPT+DATA,
    each group's replies read before the next is written (no deadlock)."""
    from mimekit.transports.smtp.protocol import PIPELINE_WINDOW

    rcpts = [f"u{i}@x" for i in range(250)]

    def replies(line: bytes) -> bytes:
        if line == b"DATA":
            return b"354 go\r\n"
        return b"550 5.1.1 no\r\n" if line == b"RCPT TO:<u123@x>" else b"250 ok\r\n"

    proto = ready()
    writes = _window_run(proto, proto.transaction(b"hi\r\n", "a@x", rcpts), replies)
    assert PIPELINE_WINDOW == 100
    assert writes == [("MAIL FROM", 100), ("RCPT TO", 100), ("RCPT TO", 52), ("<data>", 0)]
    tx = proto.last  # type: ignore[attr-defined]
    assert [r.address for r in tx.recipients] == rcpts
    assert [r.address for r in tx.recipients if not r.reply.ok] == ["u123@x"]
    # with CHUNKING: the same groups without DATA, then BDAT with the body
    proto = ready("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
    writes = _window_run(proto, proto.transaction(b"hi\r\n", "a@x", rcpts), replies)
    assert writes == [("MAIL FROM", 100), ("RCPT TO", 100), ("RCPT TO", 51), ("<data>", 0)]
    assert proto.last.final.code == 250  # type: ignore[attr-defined]


def test_refused_sender_stops_after_the_first_group() -> None:
    rcpts = [f"u{i}@x" for i in range(250)]

    def replies(line: bytes) -> bytes:
        if line == b"RSET":
            return b"250 ok\r\n"
        return b"553 5.7.1 sender refused\r\n" if line.startswith(b"MAIL") else b"503 no\r\n"

    proto = ready()
    writes: list[tuple[str, int]] = []
    with pytest.raises(SMTPResponseError) as info:
        _window_run(proto, proto.transaction(b"hi\r\n", "a@x", rcpts), replies, writes)
    assert info.value.code == 553
    assert writes == [("MAIL FROM", 100), ("RSET", 1)]  # no RCPT group after the refusal


@pytest.mark.parametrize("depth", [4000, 50_000])
@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_a_hostile_oauth_error_document_never_crashes(mech: str, depth: int) -> None:
    """Review finding: a server's error challenge of 5,000 '[' raised RecursionError
    out of the JSON parser instead of the AuthenticationError with its 535."""
    from mimekit.transports.smtp import sasl

    m = (sasl.XOAuth2("me@example.test", "tok") if mech == "XOAUTH2"
         else sasl.OAuthBearer("me@example.test", "tok"))
    m.respond(b"[" * depth)
    assert m.failure_detail() is None
    m.respond(b'{"status": "invalid_token", "schemes": "Bearer"}')
    assert m.failure_detail() == "error status 'invalid_token'"
