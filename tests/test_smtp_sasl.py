"""AUTH over a real loopback server, both drivers: every SASL mechanism with
UTF-8 credentials (c24), the exact bytes the server received, failures
(535, a server that does not know the password, an OAuth error challenge
answered as RFC 7628 §3.2.3 says), and secrets kept out of exceptions,
reprs and the protocol log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

import pytest
from mimekit.transports.errors import AuthenticationError
from smtp_server import DRIVERS, ENV, MSG, FakeSMTPServer, Session, client

pytestmark = pytest.mark.parametrize("kind", DRIVERS)

# c24: non-ASCII user name and password, sent as UTF-8
USER8, PW8 = "jörg@example.org", "Pässwört€42"
TOKEN = "ya29.good-token"


def _login(kind: str, srv: FakeSMTPServer, **kw: Any) -> Any:
    kw.setdefault("username", USER8)
    kw.setdefault("allow_plaintext_auth", True)
    kw.setdefault("retries", 2)
    return client(kind, srv, **kw)


def _auth_commands(srv: FakeSMTPServer) -> list[str]:
    return [c.split(" ")[1] for s in srv.sessions for c in s.commands if c.startswith("AUTH")]


def _no_mail(srv: FakeSMTPServer) -> bool:
    return not any(c.startswith("MAIL") for s in srv.sessions for c in s.commands)


def _secret_free(exc: BaseException, *secrets: str) -> None:
    """No secret in the exception, its repr, or anything chained to it."""
    forms = [
        f for s in secrets for f in (s, base64.b64encode(s.encode("utf-8", "replace")).decode())
    ]
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen) + repr(seen) + repr(seen.args)
        assert not any(f in text for f in forms), text
        seen = seen.__cause__ or seen.__context__


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"])
def test_password_mechanisms_log_in_and_deliver(kind: str, mech: str) -> None:
    with (
        FakeSMTPServer(auth_mechanisms=(mech,), credentials=(USER8, PW8)) as srv,
        _login(kind, srv, password=PW8) as t,
    ):
        result = t.send_raw(MSG, ENV)
    assert result.ok and result.queue_id == "Q1"
    assert [d.content for d in srv.deliveries] == [MSG]
    assert _auth_commands(srv) == [mech]
    user, pw = USER8.encode(), PW8.encode()
    if mech == "PLAIN":  # RFC 4616: authzid NUL authcid NUL passwd, UTF-8
        assert srv.auth_log == [b"\0" + user + b"\0" + pw]
    elif mech == "LOGIN":
        assert srv.auth_log == [user, pw]
    elif mech == "CRAM-MD5":  # RFC 2195: user SP hex HMAC-MD5(password, challenge)
        digest = hmac.new(pw, srv.challenges[0], hashlib.md5).hexdigest().encode()
        assert srv.auth_log == [user + b" " + digest]
    else:  # RFC 5802: client-first, client-final (proof checked by the server), ""
        first, final, last = srv.auth_log
        assert first.startswith(b"n,,n=" + user + b",r=")
        assert final.startswith(b"c=biws,r=" + first.split(b",r=")[1])
        assert last == b""  # the answer to the server's verified v= challenge


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"])
def test_wrong_password_is_535_once_and_nothing_sent(kind: str, mech: str) -> None:
    with (
        FakeSMTPServer(auth_mechanisms=(mech,), credentials=(USER8, PW8)) as srv,
        _login(kind, srv, password="wrong-Secret-9") as t,
        pytest.raises(AuthenticationError) as info,
    ):
        t.send_raw(MSG, ENV)
    assert (info.value.code, info.value.enhanced) == (535, "5.7.8")
    assert _auth_commands(srv) == [mech]  # never retried: no second login attempt
    assert _no_mail(srv) and srv.deliveries == []
    _secret_free(info.value, "wrong-Secret-9")


def test_scram_server_that_does_not_know_the_password_is_refused(kind: str) -> None:
    """RFC 5802 §9: the client checks the server signature; a wrong one ends
    the exchange ("*") and the session, with nothing sent after it."""
    with (
        FakeSMTPServer(
            auth_mechanisms=("SCRAM-SHA-256",), credentials=(USER8, PW8), scram_lie=True
        ) as srv,
        _login(kind, srv, password=PW8) as t,
        pytest.raises(AuthenticationError, match="server signature is wrong") as info,
    ):
        t.send_raw(MSG, ENV)
    assert info.value.code == 0
    assert bytes(srv.sessions[0].received).endswith(b"\r\n*\r\n")  # RFC 4954 §4: cancelled
    assert _no_mail(srv) and srv.deliveries == [] and len(srv.sessions) == 1


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth_token_logs_in_and_delivers(kind: str, mech: str) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return TOKEN

    user = "me@example.test"
    with (
        FakeSMTPServer(auth_mechanisms=(mech,), credentials=(user, "")) as srv,
        _login(kind, srv, username=user, oauth_token=token) as t,
    ):
        t.send_raw(MSG, ENV)
    assert [d.content for d in srv.deliveries] == [MSG] and calls == [1]
    if mech == "XOAUTH2":
        assert srv.auth_log == [b"user=me@example.test\x01auth=Bearer ya29.good-token\x01\x01"]
    else:  # RFC 7628 §3.1, with the host and port we connected to
        assert srv.auth_log == [
            b"n,a=me@example.test,\x01host=127.0.0.1\x01port=%d\x01"
            b"auth=Bearer ya29.good-token\x01\x01" % srv.port
        ]


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth_error_challenge_gets_the_dummy_answer(kind: str, mech: str) -> None:
    """RFC 7628 §3.2.3: the error comes as a 334 JSON challenge; the client
    answers with ^A (OAUTHBEARER; XOAUTH2: an empty answer), the server then
    fails the exchange. The error status is in the exception, the token not."""
    user, bad = "me@example.test", "ya29.EXPIRED-token-value"
    with (
        FakeSMTPServer(auth_mechanisms=(mech,), credentials=(user, "")) as srv,
        _login(kind, srv, username=user, oauth_token=lambda: bad) as t,
        pytest.raises(AuthenticationError) as info,
    ):
        t.send_raw(MSG, ENV)
    assert srv.auth_log[1] == (b"\x01" if mech == "OAUTHBEARER" else b"")
    assert len(srv.auth_log) == 2 and _auth_commands(srv) == [mech]
    assert (info.value.code, info.value.enhanced) == (535, "5.7.8")
    assert str(info.value) == (
        f"535 5.7.8 Error: authentication failed ({mech}: error status 'invalid_token')"
    )
    assert _no_mail(srv) and srv.deliveries == []
    _secret_free(info.value, bad)


@pytest.mark.parametrize("which", ["password", "username"])
def test_credentials_that_are_not_utf8_never_show_in_the_error(kind: str, which: str) -> None:
    """A lone surrogate (a secret read with surrogateescape) cannot be encoded:
    the error says so without the UnicodeEncodeError, whose args hold the
    whole password; nothing is sent."""
    secret = "pa\udcffss-Secret-1"
    kw = {"password": secret} if which == "password" else {
        "username": "u\udcff@example.test", "password": "Secret-2-pw"
    }
    with (
        FakeSMTPServer(auth_mechanisms=("PLAIN",)) as srv,
        _login(kind, srv, **kw) as t,
        pytest.raises(AuthenticationError) as info,
    ):
        t.send_raw(MSG, ENV)
    assert str(info.value) == (
        "PLAIN: the user name, password or token is not valid UTF-8 text"  # no "0 " code
    )
    assert info.value.__cause__ is None and info.value.__context__ is None
    _secret_free(info.value, secret, "Secret-2-pw")
    assert _auth_commands(srv) == [] and srv.deliveries == []


def test_token_must_be_text(kind: str) -> None:
    with (
        FakeSMTPServer(auth_mechanisms=("XOAUTH2",)) as srv,
        _login(kind, srv, username="me@example.test", oauth_token=lambda: b"bytes") as t,
        pytest.raises(AuthenticationError, match=r"oauth_token\(\) returned bytes, not str"),
    ):
        t.send_raw(MSG, ENV)
    assert _auth_commands(srv) == []


def test_421_during_auth_is_an_auth_error_never_retried(kind: str) -> None:
    """The credentials went out; a 421 then ("too many failed logins") must
    not make the client log in again on a fresh connection."""

    def on_command(session: Session, line: str) -> object:
        return "421 4.7.0 too many authentication failures" if line.startswith("AUTH") else None

    with (
        FakeSMTPServer(auth_mechanisms=("PLAIN",), on_command=on_command) as srv,
        _login(kind, srv, password=PW8, retries=3) as t,
        pytest.raises(AuthenticationError) as info,
    ):
        t.send_raw(MSG, ENV)
    assert (info.value.code, info.value.enhanced) == (421, "4.7.0")
    assert len(_auth_commands(srv)) == 1 and len(srv.sessions) == 1


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2"])
def test_no_secret_in_log_or_reprs(
    kind: str, mech: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mimekit.smtp")
    oauth = mech == "XOAUTH2"
    kw: dict[str, Any] = {"oauth_token": lambda: TOKEN} if oauth else {"password": PW8}
    with (
        FakeSMTPServer(auth_mechanisms=(mech,), credentials=(USER8, "" if oauth else PW8)) as srv,
        _login(kind, srv, **kw) as t,
    ):
        result = t.send_raw(MSG, ENV)
        shown = caplog.text + repr(t.t) + repr(t.settings) + repr(result) + str(result)
    assert f"C: AUTH {mech} [redacted]" in caplog.text
    assert srv.deliveries and srv.auth_log
    for raw in srv.auth_log:  # whatever went over the wire for AUTH (bar the user name)
        if raw == USER8.encode():
            continue  # LOGIN's first answer: the user name, shown by repr(settings)
        for form in (raw, base64.b64encode(raw)):
            if len(form) >= 4:
                assert form.decode("utf-8", "replace") not in shown
    secret = TOKEN if oauth else PW8
    assert secret not in shown and base64.b64encode(secret.encode()).decode() not in shown

