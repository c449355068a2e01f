"""Header formatting and folding: c14, c16, c18 and round-trip properties."""

from __future__ import annotations

import email
import email.policy
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.address import Address, Group, parse_address_list
from mimekit.encoded_words import decode_header_text
from mimekit.errors import AddressError, BuildError, HeaderInjectionError
from mimekit.folding import fold_tokens, format_header
from mimekit.policy import DEFAULT, SMTPUTF8, Policy

C14 = (
    "Re: Auftrag 2024-118 - Rücksendung angefragt - Kundin Hannelore Brinkmann-Ostermeier"
    " - Abo Nachrichten digital für zwölf Wochen, Gazette, Kurier de Genève et tous les titres"
)


def _unfold_value(raw: bytes, linesep: bytes = b"\r\n") -> str:
    """The field body after the colon: unfolded (RFC 5322 §2.2.3), leading space removed."""
    body = raw.split(b":", 1)[1]
    assert body.endswith(linesep)
    text = body[: -len(linesep)].replace(linesep, b"").decode("utf-8")
    return text.removeprefix(" ")


def _lines(raw: bytes, linesep: bytes = b"\r\n") -> list[bytes]:
    assert raw.endswith(linesep)
    return raw[: -len(linesep)].split(linesep)


def _stdlib(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw + b"\r\n", policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_c14_adjacent_encoded_words() -> None:
    raw = format_header("Subject", C14, DEFAULT)
    text = raw.decode("ascii")
    assert "?==?" not in text
    assert not re.search(r"=\?[^?]+\?[QqBb]\?\?=", text)  # no empty encoded word
    assert all(len(line) <= 78 for line in _lines(raw))
    assert all(len(line) <= 76 for line in _lines(raw))  # RFC 2047 §2 with encoded words
    assert decode_header_text(_unfold_value(raw)) == C14
    header = _stdlib(raw)["Subject"]
    assert str(header) == C14 and not header.defects


def test_c16_sixty_addresses_fold_between_addresses() -> None:
    to = [f"Mitglied {i:03d} <member-{i:03d}@example.org>" for i in range(60)]
    raw = format_header("To", ", ".join(to), DEFAULT)
    lines = _lines(raw)
    assert len(lines) > 30
    assert all(len(line) <= 78 for line in lines)
    for line in lines[1:]:
        assert line.startswith(b" ")
    # Folds only between tokens: every addr-spec is whole on one line.
    assert sum(line.count(b"@example.org>") for line in lines) == 60
    back = parse_address_list(_unfold_value(raw))
    assert [a.address for a in back if isinstance(a, Address)] == [
        f"member-{i:03d}@example.org" for i in range(60)
    ]
    std = _stdlib(raw)["To"]
    assert [a.addr_spec for a in std.addresses] == [
        f"member-{i:03d}@example.org" for i in range(60)
    ]
    assert not std.defects


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "Invoice 42\r\nBcc: attacker@example.net"),  # c18 #1
        ("To", [("Ana\r\nBcc: attacker@example.net", "ana@example.org")]),  # c18 #2
        ("To", Address("Ana\r\nBcc: attacker@example.net", "ana", "example.org")),
        ("X-Ref", "abc\nBcc: attacker@example.net"),  # c18 #3
        ("X-Ref", "abc\rBcc: attacker@example.net"),
        ("X-Ref", "abc\0"),
        ("Message-ID", "<a@b>\r\nBcc: x@y"),
        ("References", ["<a@b>", "<c@d>\nBcc: x@y"]),
        ("Date", "Fri, 21 Nov 1997 09:55:06 -0600\r\nBcc: x@y"),
        ("Content-Type", 'text/plain; name="a.txt"\r\nBcc: attacker@example.net'),  # c18 #4
        ("X-Ref\r\nBcc", "x"),
        ("X Ref", "x"),
        ("X-Ref:", "x"),
        ("", "x"),
        ("X-Ünï", "x"),
    ],
)
def test_c18_injection_refused(name: str, value: object) -> None:
    with pytest.raises(HeaderInjectionError):
        format_header(name, value, DEFAULT)


def test_fold_tokens_injection_refused() -> None:
    with pytest.raises(HeaderInjectionError):
        fold_tokens("X-A", ["ok", "bad\r\nBcc: x"], DEFAULT)


def test_plain_ascii_left_alone() -> None:
    assert format_header("Subject", "Hello world", DEFAULT) == b"Subject: Hello world\r\n"
    assert format_header("X-Odd", "a  b\tc", DEFAULT) == b"X-Odd: a  b\tc\r\n"


def test_edge_white_space_carried_in_encoded_words() -> None:
    # Readers strip the field body's edges; an encoded word keeps that white space.
    assert format_header("Subject", " ", DEFAULT) == b"Subject: =?utf-8?Q?_?=\r\n"
    assert format_header("Subject", "Re: x ", DEFAULT) == b"Subject: Re: =?utf-8?Q?x_?=\r\n"
    assert format_header("Subject", "", DEFAULT) == b"Subject: \r\n"


def test_encoded_word_lookalike_is_encoded() -> None:
    raw = format_header("Subject", "see =?utf-8?q?x?= here", DEFAULT)
    assert b"=?utf-8?q?x?=" not in raw
    assert decode_header_text(_unfold_value(raw)) == "see =?utf-8?q?x?= here"
    assert str(_stdlib(raw)["Subject"]) == "see =?utf-8?q?x?= here"


def test_smtputf8_writes_raw_utf8() -> None:
    raw = format_header("Subject", "Grüße 日本 😀", SMTPUTF8)
    assert raw == "Subject: Grüße 日本 😀\r\n".encode()


def test_linesep_policy() -> None:
    pol = attrs.evolve(DEFAULT, linesep=b"\n")
    raw = format_header("Subject", "word " * 40, pol)
    assert b"\r" not in raw and raw.endswith(b"\n") and raw.count(b"\n") > 1
    assert decode_header_text(_unfold_value(raw, b"\n")) == "word " * 40


def test_long_ascii_word_is_encoded_to_respect_998() -> None:
    word = "x" * 3000
    raw = format_header("Subject", f"a {word} b", DEFAULT)
    assert all(len(line) <= 998 for line in _lines(raw))
    assert decode_header_text(_unfold_value(raw)) == f"a {word} b"
    assert str(_stdlib(raw)["Subject"]) == f"a {word} b"


def test_long_ascii_word_under_998_kept() -> None:
    word = "y" * 200
    raw = format_header("X-Token", word, DEFAULT)
    assert raw == f"X-Token: {word}\r\n".encode()


def test_message_ids() -> None:
    assert (
        format_header("Message-ID", "abc@example.com", DEFAULT)
        == b"Message-ID: <abc@example.com>\r\n"
    )
    assert format_header("Content-ID", "<img1@x>", DEFAULT) == b"Content-ID: <img1@x>\r\n"
    raw = format_header("References", [f"<id{i}@example.com>" for i in range(10)], DEFAULT)
    assert all(len(line) <= 78 for line in _lines(raw))
    assert _unfold_value(raw) == " ".join(f"<id{i}@example.com>" for i in range(10))
    assert format_header("In-Reply-To", "a@b (x) <c@d>", DEFAULT) == b"In-Reply-To: <a@b> <c@d>\r\n"
    with pytest.raises(BuildError):
        format_header("Message-ID", "has space@x", DEFAULT)
    with pytest.raises(BuildError):
        format_header("Message-ID", "jörg@x", DEFAULT)


def test_dates() -> None:
    dt = datetime(1997, 11, 21, 9, 55, 6, tzinfo=timezone(timedelta(hours=-6)))
    assert format_header("Date", dt, DEFAULT) == b"Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n"
    assert (
        format_header("Resent-Date", "21 Nov 97 09:55:06 GMT", DEFAULT)
        == b"Resent-Date: Fri, 21 Nov 1997 09:55:06 +0000\r\n"
    )
    with pytest.raises(BuildError):
        format_header("Date", "yesterday", DEFAULT)


def test_address_values() -> None:
    raw = format_header("From", Address("Jörg Müller", "j", "bücher.example"), DEFAULT)
    assert raw == b"From: =?utf-8?B?SsO2cmcgTcO8bGxlcg==?= <j@xn--bcher-kva.example>\r\n"
    assert format_header("Bcc", Group("undisclosed-recipients", ()), DEFAULT) == (
        b"Bcc: undisclosed-recipients:;\r\n"
    )
    assert format_header("Reply-To", '"Lima, Ana" <ana@example.com>', DEFAULT) == (
        b'Reply-To: "Lima, Ana" <ana@example.com>\r\n'
    )
    with pytest.raises(AddressError):
        format_header("To", "ana@example.org)<ceo@example.com>", DEFAULT)


def test_content_type_string_and_value() -> None:
    params = pytest.importorskip("mimekit.params")
    raw = format_header("Content-Type", "text/plain; charset=utf-8", DEFAULT)
    assert raw.lower().startswith(b"content-type: text/plain;")
    assert b"utf-8" in raw
    ct = params.ContentType.of("text/plain", charset="utf-8")
    assert format_header("Content-Type", ct, DEFAULT) == raw


def test_first_token_folds_after_colon_when_that_helps() -> None:
    raw = fold_tokens("Disposition-Notification-To", ["x" * 70], DEFAULT)
    assert raw == b"Disposition-Notification-To:\r\n " + b"x" * 70 + b"\r\n"


def test_unfoldable_token_over_998_raises() -> None:
    with pytest.raises(BuildError):
        fold_tokens("X-A", ["x" * 1200], DEFAULT)


# -- properties ---------------------------------------------------------------------

_pieces = st.sampled_from(
    ["a", "Z", "0", " ", " ", " ", "é", "e\u0301", "ß", "שלום", "مرحبا", "日本語", "😀",
     "👩\u200d💻", "=?", "?=", "_", "=", "\t", "x" * 30, "ok.", ",", "\"", "()"]
)  # fmt: skip
_values = st.one_of(
    st.lists(_pieces, min_size=1, max_size=80).map("".join),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200),
    st.text(alphabet="abc", min_size=100, max_size=1500),  # long words without spaces
)


@settings(max_examples=200, deadline=None)
@given(_values, st.sampled_from(["Subject", "X-Custom-Header", "Comments"]))
def test_unstructured_round_trip(value: str, name: str) -> None:
    raw = format_header(name, value, DEFAULT)
    assert raw.isascii()
    lines = _lines(raw)
    for i, line in enumerate(lines):
        assert len(line) <= 998
        if i:
            assert line[:1] in (b" ", b"\t") and line.strip()
        # <= 78 (76 when encoded words are present, RFC 2047 §2) wherever a fold point
        # existed: only a line holding one token may be longer.
        if len(line) > (76 if b"=?" in raw else 78):
            assert (
                line[1:].count(b" ") + line[1:].count(b"\t") == 0
                or i == 0
                and line.count(b" ") == 1
            )
    assert "?==?" not in raw.decode("ascii")
    assert decode_header_text(_unfold_value(raw)) == value
    # The standard library reads the same value, without defects.
    header = _stdlib(raw)[name]
    assert str(header) == value  # leading/trailing white space survives too
    if value:
        assert not header.defects


@settings(max_examples=100, deadline=None)
@given(_values)
def test_unstructured_smtputf8_round_trip(value: str) -> None:
    raw = format_header("Subject", value, SMTPUTF8)
    lines = _lines(raw)
    assert all(len(line) <= 998 for line in lines)
    assert decode_header_text(_unfold_value(raw)) == value
    assert "=?" not in value or b"=?utf-8?" in raw


@settings(max_examples=100, deadline=None)
@given(_values, st.integers(min_value=30, max_value=200))
def test_other_line_lengths(value: str, width: int) -> None:
    pol = Policy(max_line_length=width)
    raw = format_header("Subject", value, pol)
    assert decode_header_text(_unfold_value(raw)) == value
    assert all(len(line) <= 998 for line in _lines(raw))


# -- real-world corpus ---------------------------------------------------------------


def _corpus_dir() -> Path:
    env = os.environ.get("MIMEKIT_CORPUS")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"corpus not found at {path} (set MIMEKIT_CORPUS to the shared corpus folder)")
    return path


def _raw_fields(data: bytes) -> list[tuple[str, str]]:
    """Header fields unfolded (RFC 5322 §2.2.3), 8-bit bytes read as UTF-8 or Latin-1."""
    end = min(
        (i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0), default=len(data)
    )
    try:
        text = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        text = data[:end].decode("latin-1")
    text = re.sub(r"\r?\n(?=[ \t])", "", text.replace("\r\n", "\n"))
    out = []
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if sep and name and " " not in name:
            out.append((name.lower(), value.strip()))
    return out


@pytest.mark.corpus
def test_corpus_headers_round_trip() -> None:
    """Every Subject/address/Date/id header of the corpus parses without raising, and
    what we parsed formats and re-parses to the same values."""
    from mimekit.address import mailboxes
    from mimekit.dates import parse_date, parse_msgid_list

    files = [p for p in _corpus_dir().rglob("*") if p.is_file() and p.suffix not in (".md", ".tsv")]
    assert files
    checked = 0
    for path in files:
        for name, value in _raw_fields(path.read_bytes()):
            if name in ("subject", "comments", "x-subject"):
                text = decode_header_text(value, [])
                text = text.replace("\r", "").replace("\n", "").replace("\0", "")
                for pol in (DEFAULT, SMTPUTF8):
                    raw = format_header("Subject", text, pol)
                    assert decode_header_text(_unfold_value(raw)) == text, path
                checked += 1
            elif name in ("from", "to", "cc", "reply-to", "sender", "bcc"):
                items = parse_address_list(value, [])
                boxes = mailboxes(items)
                if not boxes:
                    continue
                raw = format_header("To", boxes, SMTPUTF8)
                back = parse_address_list(_unfold_value(raw), [])
                assert mailboxes(back) == boxes, (path, value)
                checked += 1
            elif name in ("date", "resent-date"):
                parse_date(value, [])
            elif name in ("message-id", "references", "in-reply-to"):
                parse_msgid_list(value, [])
    assert checked > 100


def test_address_lines_with_encoded_words_within_76() -> None:
    names = [(f"Jörg Müller-Lüdenscheidt {i}", f"j{i}@example.com") for i in range(8)]
    raw = format_header("Cc", names, DEFAULT)
    assert all(len(line) <= 76 for line in _lines(raw))
    std = _stdlib(raw)["Cc"]
    assert [a.display_name for a in std.addresses] == [n for n, _ in names]
    assert not std.defects


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(
        st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
                max_size=30),
        max_size=6,
    ),
    width=st.sampled_from([78, 40, 998]),
)
def test_fold_tokens_one_line_fast_path_equals_the_folder(tokens: list[str], width: int) -> None:
    """The one-line shortcut of fold_tokens gives what the folder itself builds."""
    from mimekit.folding import _Folder, _verify

    policy = attrs.evolve(DEFAULT, max_line_length=width)
    try:
        fast = fold_tokens("X-Test", tokens, policy)
    except BuildError:
        return
    folder = _Folder("X-Test", policy)
    for tok in tokens:
        folder.add(tok)
    assert fast == _verify("X-Test", folder.result(), policy)
