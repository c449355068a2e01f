"""Transport base: Envelope.from_message, prepare(), results and errors."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mimekit.transports import (
    AuthenticationError,
    Envelope,
    InvalidEnvelope,
    RecipientResult,
    RecipientsRefused,
    SendResult,
    SMTPResponseError,
    Transport,
    TransportError,
    prepare,
)
from mimekit.transports.base import check_address

from mimekit.errors import MimekitError


def raw(*headers: str, body: str = "Hello.\r\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


def _parse(data: bytes):  # type: ignore[no-untyped-def]
    from mimekit.parser import parse

    return parse(data)


SIMPLE = raw(
    "From: Ana <ana@example.org>",
    "To: Bo <bo@example.net>, cy@example.net",
    "Cc: Dee <dee@example.net>",
    "Bcc: secret@example.net",
    "Subject: hi",
    "Message-ID: <m1@example.org>",
)


# ------------------------------------------------------------------ Envelope
def test_envelope_from_headers_to_cc_bcc_in_order() -> None:
    env = Envelope.from_message(_parse(SIMPLE))
    assert env == Envelope(
        "ana@example.org",
        ("bo@example.net", "cy@example.net", "dee@example.net", "secret@example.net"),
    )


def test_sender_wins_over_from() -> None:
    msg = _parse(
        raw("From: a@example.org, b@example.org", "Sender: sec@example.org", "To: x@example.net")
    )
    assert Envelope.from_message(msg).mail_from == "sec@example.org"


def test_first_from_mailbox_without_sender() -> None:
    msg = _parse(raw("From: First <a@example.org>, b@example.org", "To: x@example.net"))
    assert Envelope.from_message(msg).mail_from == "a@example.org"


def test_duplicates_dropped_case_insensitively_keeping_first() -> None:
    msg = _parse(
        raw(
            "From: a@example.org",
            "To: Bo@Example.net, x@example.net",
            "Cc: bo@example.net",
            "Bcc: X@EXAMPLE.NET, z@example.net",
        )
    )
    assert Envelope.from_message(msg).rcpt_to == (
        "Bo@Example.net",
        "x@example.net",
        "z@example.net",
    )


def test_groups_are_flattened() -> None:
    msg = _parse(
        raw(
            "From: a@example.org",
            "To: Team: one@example.net, Two <two@example.net>;, solo@example.net",
            "Cc: undisclosed-recipients:;",
        )
    )
    assert Envelope.from_message(msg).rcpt_to == (
        "one@example.net",
        "two@example.net",
        "solo@example.net",
    )


def test_idna_domain_becomes_a_label() -> None:
    msg = _parse(raw("From: a@bücher.example", "To: Jö <jo@münchen.example>"))
    env = Envelope.from_message(msg)
    assert env.mail_from == "a@xn--bcher-kva.example"
    assert env.rcpt_to == ("jo@xn--mnchen-3ya.example",)


def test_resent_block_replaces_to_cc_bcc() -> None:
    # RFC 5322 §3.6.6: a resent message goes to the Resent-* recipients only.
    msg = _parse(
        raw(
            "Resent-From: fwd@example.org",
            "Resent-Date: Mon, 1 Jan 2024 10:00:00 +0000",
            "Resent-To: new1@example.net",
            "Resent-Cc: new2@example.net",
            "Resent-Bcc: hidden@example.net",
            "From: orig@example.org",
            "To: old@example.net",
            "Cc: old2@example.net",
        )
    )
    env = Envelope.from_message(msg)
    assert env.mail_from == "fwd@example.org"
    assert env.rcpt_to == ("new1@example.net", "new2@example.net", "hidden@example.net")


def test_only_the_topmost_resent_block_counts() -> None:
    msg = _parse(
        raw(
            "Resent-Date: Tue, 2 Jan 2024 10:00:00 +0000",
            "Resent-From: second@example.org",
            "Resent-To: latest@example.net",
            "Received: from x by y; Tue, 2 Jan 2024 10:00:00 +0000",
            "Resent-Date: Mon, 1 Jan 2024 10:00:00 +0000",
            "Resent-From: first@example.org",
            "Resent-To: earlier@example.net",
            "From: orig@example.org",
            "To: old@example.net",
        )
    )
    env = Envelope.from_message(msg)
    assert env == Envelope("second@example.org", ("latest@example.net",))


def test_resent_without_resent_from_uses_sender_from() -> None:
    msg = _parse(raw("Resent-To: r@example.net", "From: orig@example.org", "To: old@example.net"))
    assert Envelope.from_message(msg) == Envelope("orig@example.org", ("r@example.net",))


def test_no_from_gives_empty_sender_and_prepare_refuses() -> None:
    msg = _parse(raw("To: x@example.net"))
    assert Envelope.from_message(msg).mail_from == ""
    with pytest.raises(InvalidEnvelope, match="no sender"):
        prepare(msg, None)


def test_no_recipients_refused_with_a_clear_error() -> None:
    with pytest.raises(InvalidEnvelope, match="no recipients"):
        prepare(raw("From: a@example.org", "Subject: nobody"), None)


def test_rcpt_to_accepts_any_iterable_and_a_single_string() -> None:
    assert Envelope("a@x.example", ["b@y.example"]).rcpt_to == ("b@y.example",)
    assert Envelope("a@x.example", "b@y.example").rcpt_to == ("b@y.example",)


@pytest.mark.parametrize(
    "bad",
    [
        "a@example.org\r\nRCPT TO:<evil@example.net>",
        "a@example.org\n",
        "a\x00@example.org",
        "a b@example.org",
        "<a@example.org>",
        "a@example.org>",
        "a@exa mple.org",
        "a@",
        "",
    ],
)
def test_unsafe_envelope_addresses_refused_before_sending(bad: str) -> None:
    # RFC 5321 §4.1.1.2/§4.1.2: these would end or corrupt MAIL/RCPT commands.
    with pytest.raises(InvalidEnvelope):
        prepare(SIMPLE, Envelope(bad, ("ok@example.net",)))
    with pytest.raises(InvalidEnvelope):
        prepare(SIMPLE, Envelope("ok@example.org", ("ok@example.net", bad)))


def test_quoted_local_part_with_space_is_allowed() -> None:
    env = Envelope('"john doe"@example.org', ('"a b"@example.net', "postmaster"))
    assert env.check() is env


def test_invalid_envelope_is_a_transport_error_and_value_error() -> None:
    with pytest.raises(TransportError):
        Envelope("", ()).check()
    assert issubclass(InvalidEnvelope, ValueError)
    assert issubclass(TransportError, MimekitError)


# ------------------------------------------------------------------- prepare
def test_prepare_strips_bcc_keeps_everything_else_byte_for_byte() -> None:
    data = raw(
        "From: a@example.org",
        "To: b@example.net",
        "Bcc: hidden@example.net,",
        " other@example.net",
        "Subject: =?utf-8?q?caf=C3=A9?=",
        "Resent-Bcc: r@example.net",
        "X-Weird:   spaced   ",
        body="line1\r\n.\r\nline3\r\n",
    )
    wire, env, mid = prepare(data, None)
    expected = raw(
        "From: a@example.org",
        "To: b@example.net",
        "Subject: =?utf-8?q?caf=C3=A9?=",
        "X-Weird:   spaced   ",
        body="line1\r\n.\r\nline3\r\n",
    )
    assert wire == expected
    # a Resent-Bcc makes it a resent message (RFC 5322 §3.6.6): the Resent-* set wins
    assert env.rcpt_to == ("r@example.net",)
    assert mid is None
    wire2, env2, _ = prepare(data.replace(b"Resent-Bcc: r@example.net\r\n", b""), None)
    assert wire2 == expected
    assert env2.rcpt_to == ("b@example.net", "hidden@example.net", "other@example.net")


def test_prepare_bytes_without_bcc_is_identical() -> None:
    data = raw("From: a@example.org", "To: b@example.net", "Message-ID: <x.1@example.org>")
    wire, env, mid = prepare(data, None)
    assert wire == data
    assert env == Envelope("a@example.org", ("b@example.net",))
    assert mid == "x.1@example.org"


def test_prepare_message_object_and_explicit_envelope() -> None:
    msg = _parse(SIMPLE)
    env = Envelope("bounce@example.org", ("only@example.net",))
    wire, used, mid = prepare(msg, env)
    assert used is env
    assert b"secret@example.net" not in wire
    assert mid == "m1@example.org"
    # the caller's message is not modified: it still has its Bcc and its bytes
    assert msg.headers.get("bcc") == "secret@example.net"
    assert msg.to_bytes() == SIMPLE


def test_prepare_accepts_bytearray() -> None:
    wire, _, _ = prepare(bytearray(raw("From: a@example.org", "To: b@example.net")), None)
    assert wire.startswith(b"From: a@example.org\r\n")


def test_prepare_rejects_non_envelope() -> None:
    with pytest.raises(TransportError):
        prepare(SIMPLE, ("a@example.org", ["b@example.net"]))  # type: ignore[arg-type]


# ------------------------------------------------------------------- results
def _result() -> SendResult:
    env = Envelope("a@example.org", ("b@example.net", "c@example.net"))
    return SendResult(
        "m@example.org",
        env,
        [
            RecipientResult("b@example.net", True, 250, "2.1.5", "OK"),
            RecipientResult("c@example.net", False, 550, "5.1.1", "no such user"),
        ],
        queue_id="ABC123",
    )


def test_send_result_accepted_refused_ok() -> None:
    r = _result()
    assert r.recipients[0].code == 250
    assert r.accepted == ("b@example.net",)
    assert r.refused == ("c@example.net",)
    assert r.ok is False
    ok = SendResult(None, r.envelope, [r.recipients[0]])
    assert ok.ok is True
    assert SendResult(None, r.envelope, []).ok is False


def test_send_result_to_dict_is_json_ready() -> None:
    import json

    d: Any = _result().to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["envelope"] == {
        "mail_from": "a@example.org",
        "rcpt_to": ["b@example.net", "c@example.net"],
    }
    assert d["recipients"][1] == {
        "address": "c@example.net",
        "accepted": False,
        "code": 550,
        "enhanced": "5.1.1",
        "text": "no such user",
    }
    assert d["queue_id"] == "ABC123" and d["message_id"] == "m@example.org"


def test_smtp_response_error_str_and_attrs() -> None:
    e = AuthenticationError(535, "5.7.8", "authentication failed")
    assert str(e) == "535 5.7.8 authentication failed"
    assert (e.code, e.enhanced, e.text) == (535, "5.7.8", "authentication failed")
    assert isinstance(e, SMTPResponseError) and isinstance(e, TransportError)
    assert e.is_permanent and not e.is_transient
    assert str(SMTPResponseError(421, None, "closing")) == "421 closing"
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is AuthenticationError and str(copy) == str(e)


def test_recipients_refused_carries_result_and_replies() -> None:
    env = Envelope("a@example.org", ("b@example.net", "c@example.net"))
    result = SendResult(
        None,
        env,
        [
            RecipientResult("b@example.net", False, 550, "5.1.1", "no such user"),
            RecipientResult("c@example.net", False, 452, "4.2.2", "mailbox full"),
        ],
    )
    e = RecipientsRefused(result)
    assert e.result is result
    assert e.replies == {
        "b@example.net": (550, "5.1.1", "no such user"),
        "c@example.net": (452, "4.2.2", "mailbox full"),
    }
    assert (e.code, e.enhanced, e.text) == (550, "5.1.1", "no such user")
    assert "550 5.1.1 no such user" in str(e)
    assert isinstance(e, SMTPResponseError)


# ---------------------------------------------------------------- the ABCs
class _Recorder(Transport):
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = 0

    def send(self, message, *, envelope=None):  # type: ignore[no-untyped-def]
        wire, env, mid = prepare(message, envelope)
        self.sent.append(wire)
        return SendResult(mid, env, [RecipientResult(r, True, 250) for r in env.rcpt_to])

    def close(self) -> None:
        self.closed += 1


def test_transport_send_many_and_context_manager() -> None:
    with _Recorder() as t:
        results = t.send_many(
            [raw("From: a@example.org", f"To: n{i}@example.net") for i in range(3)]
        )
    assert [r.accepted for r in results] == [(f"n{i}@example.net",) for i in range(3)]
    assert t.closed == 1


def test_transport_is_abstract() -> None:
    with pytest.raises(TypeError):
        Transport()  # type: ignore[abstract]


# ---------------------------------------------------------------- properties
@given(st.text(max_size=40), st.sampled_from(["\r", "\n", "\x00", "<", ">"]), st.text(max_size=40))
def test_any_address_with_a_command_breaking_character_is_refused(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(InvalidEnvelope):
        Envelope(before + bad + after, ("ok@example.net",)).check()
    with pytest.raises(InvalidEnvelope):
        Envelope("ok@example.org", (before + bad + after,)).check()


@given(st.text(max_size=60))
def test_check_address_raises_only_invalid_envelope(text: str) -> None:
    from mimekit.transports.base import check_address

    try:
        assert check_address(text) == text
    except InvalidEnvelope:
        return
    assert not any(c in text for c in "\r\n\x00<>")


@given(
    st.lists(
        st.tuples(st.sampled_from(["To", "Cc", "Bcc"]), st.sampled_from(["a", "B", "c", "A"])),
        min_size=1,
        max_size=8,
    )
)
def test_envelope_recipients_are_unique_and_in_first_seen_order(
    fields: list[tuple[str, str]],
) -> None:
    headers = ["From: s@example.org"] + [f"{name}: {local}@Example.net" for name, local in fields]
    env = Envelope.from_message(_parse(raw(*headers)))
    order = {"to": 0, "cc": 1, "bcc": 2}
    expected: list[str] = []
    for _, local in sorted(fields, key=lambda f: order[f[0].lower()]):
        if local.lower() not in [e.split("@")[0].lower() for e in expected]:
            expected.append(f"{local}@Example.net")
    assert env.rcpt_to == tuple(expected)


def test_prepare_drops_an_mbox_from_line_and_bom() -> None:
    from mimekit.transports.base import prepare

    for prefix in (b"From ana@example.org Thu Jan  1 00:00:00 2024\n", b"\xef\xbb\xbf"):
        wire, env, _ = prepare(prefix + b"From: a@example.org\nTo: b@example.org\n\nx\n", None)
        assert wire == b"From: a@example.org\nTo: b@example.org\n\nx\n"
        assert env.rcpt_to == ("b@example.org",)


def test_null_reverse_path_only_when_asked_for() -> None:
    """RFC 5321 §4.5.5: bounces go out with MAIL FROM:<>; an envelope derived from
    headers without a sender is still refused."""
    from mimekit.transports import MemoryTransport
    from mimekit.transports.base import Envelope
    from mimekit.transports.errors import InvalidEnvelope

    env = Envelope.null_sender_for(["bo@example.org"])
    assert env.check() is env and env.mail_from == ""
    with pytest.raises(InvalidEnvelope):
        Envelope("", ("bo@example.org",)).check()
    with pytest.raises(InvalidEnvelope):
        Envelope("x@example.org", ("bo@example.org",), null_sender=True).check()
    raw = b"To: bo@example.org\r\nSubject: Undelivered\r\n\r\nbounce\r\n"
    with pytest.raises(InvalidEnvelope):
        MemoryTransport().send(raw)
    result = MemoryTransport().send(raw, envelope=env)
    assert result.accepted == ("bo@example.org",)


# ---------------------------------------------------------------- IDNA, '@', controls
def test_explicit_envelope_domains_become_a_labels_like_derived_ones() -> None:
    """Regression: Envelope("a@bücher.example", ...) kept the U-label, so SMTP asked
    for SMTPUTF8 (and a server without it refused) while the same address taken from
    the headers went out as xn--. Both give A-labels now (RFC 5890)."""
    env = Envelope("ana@bücher.example", ["jö@münchen.example", "x@[192.0.2.1]", "b@ok.example"])
    assert env.mail_from == "ana@xn--bcher-kva.example"
    assert env.rcpt_to == ("jö@xn--mnchen-3ya.example", "x@[192.0.2.1]", "b@ok.example")
    derived = Envelope.from_message(_parse(raw(
        "From: ana@bücher.example", "To: jö@münchen.example, x@[192.0.2.1], b@ok.example"
    )))
    assert derived == env
    _, prepared, _ = prepare(raw("From: a@example.org", "To: b@example.org"), env)
    assert prepared.mail_from == "ana@xn--bcher-kva.example"
    assert Envelope.null_sender_for(["z@bücher.example"]).rcpt_to == ("z@xn--bcher-kva.example",)


def test_explicit_envelope_domain_that_idna_cannot_convert_is_refused_by_check() -> None:
    bad = "a@" + "ü" * 70 + ".example"  # a label over 63 octets even as Punycode
    env = Envelope("a@example.org", [bad])
    assert env.rcpt_to == (bad,)  # left as given for check() to explain
    with pytest.raises(InvalidEnvelope, match=r"cannot be converted to ASCII \(IDNA\)"):
        env.check()


def test_unquoted_at_in_the_local_part_is_refused() -> None:
    for address in ("a@b@example.org", "a@b@c"):
        with pytest.raises(InvalidEnvelope) as info:
            check_address(address, what="recipient")
        assert str(info.value) == (
            f"envelope recipient {address!r} has more than one '@' (RFC 5321 §4.1.2: an "
            """'@' in the local part must be inside a quoted string, e.g. "a@b"@example.org)"""
        )
        with pytest.raises(InvalidEnvelope):
            Envelope("s@example.org", [address]).check()
    assert check_address('"a@b"@example.org') == '"a@b"@example.org'


@pytest.mark.parametrize("ch", ["\x01", "\x08", "\x0b", "\x1b", "\x7f"])
def test_control_characters_are_refused(ch: str) -> None:
    with pytest.raises(InvalidEnvelope, match="control character"):
        check_address(f"a{ch}b@example.org")
    with pytest.raises(InvalidEnvelope, match="control character"):
        check_address(f"ab@exa{ch}mple.org")


# ---------------------------------------------------------------- MemoryTransport(fail=)
def test_memory_fail_raises_a_fresh_copy_each_time() -> None:
    """Regression: the same exception object was raised by every send, so its
    traceback grew with each raise and concurrent sends shared one instance."""
    from mimekit.transports import ConnectionLost, MemoryTransport, MessageTooLarge

    class Custom(TransportError):
        def __init__(self, *, why: str) -> None:  # a constructor __reduce__ cannot call
            super().__init__(f"custom: {why}")
            self.why = why

    msg = raw("From: a@example.org", "To: b@example.org")
    cause = OSError(111, "Connection refused")
    down = ConnectionLost("server went away")
    down.__cause__ = cause
    for configured, attrs_ in (
        (down, {}),
        (MessageTooLarge("too big", size=10, limit=5), {"size": 10, "limit": 5}),
        (SMTPResponseError(421, "4.3.2", "shutting down"), {"code": 421, "text": "shutting down"}),
        (Custom(why="x"), {"why": "x"}),
    ):
        t = MemoryTransport(fail=configured)
        raised = []
        for _ in range(2):
            with pytest.raises(type(configured)) as info:
                t.send(msg)
            raised.append(info.value)
        first, second = raised
        assert first is not second and first is not configured
        assert type(first) is type(configured) and first.args == configured.args
        assert str(first) == str(configured)
        for name, value in attrs_.items():
            assert getattr(first, name) == value == getattr(second, name)
        assert configured.__traceback__ is None  # the configured object is never raised
        assert first.__cause__ is configured.__cause__
        assert len(t.outbox) == 0


# ---------------------------------------------------------------- TransportURL.redacted
def test_redacted_percent_encodes_the_user_name() -> None:
    """Regression: redacted() wrote the decoded user name as is, so '@' or ':' in it
    gave a URL that named another host or user."""
    from mimekit.transports.url import parse_url

    url = parse_url("smtp+starttls://ana%40example.org%3Ax%25y:p%40ss%3Aw@localhost:2525")
    assert url.username == "ana@example.org:x%y"
    assert url.redacted() == "smtp+starttls://ana%40example.org%3Ax%25y:***@localhost:2525"
    back = parse_url(url.redacted())
    assert (back.username, back.host, back.port) == ("ana@example.org:x%y", "localhost", 2525)
    assert parse_url("smtps://j%C3%B6rg:pw@localhost").redacted() == (
        "smtps://j%C3%B6rg:***@localhost:465"
    )
    assert parse_url("smtp://user.name-1_~:pw@[::1]:25").redacted() == (
        "smtp://user.name-1_~:***@[::1]:25"
    )
