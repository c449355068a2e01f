"""Tests for mimekit.params: lenient RFC 2045/2183/2231 parsing and token formatting."""

from __future__ import annotations

import email
import email.policy
import re

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit.errors import BuildError, Defect, HeaderInjectionError
from mimekit.params import (
    ContentDisposition,
    ContentType,
    make_boundary,
    param_tokens,
    parse_params,
)
from mimekit.policy import DEFAULT, SMTPUTF8

NO_LEGACY = attrs.evolve(DEFAULT, legacy_filename=False)


def _kinds(defects: list[Defect]) -> list[str]:
    return [d.kind for d in defects]


# --- parsing: the cases -------------------------------------------------------------


def test_c01_rfc2231_continuation_filename() -> None:
    value = (
        "attachment;\n filename*0*=UTF-8''Rechnung%20M%C3%A4rz%20;\n"
        " filename*1*=%C3%9Cbersicht%20K%C3%B6ln.pdf"
    )
    defects: list[Defect] = []
    cd = ContentDisposition.parse(value, defects)
    assert cd.kind == "attachment"
    assert cd.filename == "Rechnung März Übersicht Köln.pdf"
    assert cd.params == (("filename", "Rechnung März Übersicht Köln.pdf"),)
    assert defects == []


def test_c04_bare_extended_name_is_dropped_with_a_defect() -> None:
    defects: list[Defect] = []
    ct = ContentType.parse("text/plain; name*", defects)
    assert ct.mime_type == "text/plain"
    assert ct.params == ()
    assert _kinds(defects) == ["InvalidParameter"]
    assert defects[0].header == "Content-Type"


# --- parsing: lenient forms ----------------------------------------------------------


def test_simple_and_quoted() -> None:
    ct = ContentType.parse('Multipart/Mixed; BOUNDARY="=_a b;c"; charset=UTF-8')
    assert (ct.maintype, ct.subtype, ct.mime_type) == ("multipart", "mixed", "multipart/mixed")
    assert ct.boundary == "=_a b;c"
    assert ct.charset == "utf-8"
    assert ct.get("Charset") == "UTF-8"
    assert ct.get("missing", "d") == "d"


def test_quoted_escapes_and_inner_quotes() -> None:
    defects: list[Defect] = []
    params = parse_params(r'; a="x \"y\" \\ z"; b="my "best" file.pdf"; c="C:\dir\f.txt"',
                          defects)
    assert params == [("a", 'x "y" \\ z'), ("b", 'my "best" file.pdf'), ("c", "C:\\dir\\f.txt")]
    assert _kinds(defects) == ["InvalidParameter"]  # only the inner-quote one


def test_unquoted_values_with_spaces_and_specials() -> None:
    defects: list[Defect] = []
    params = parse_params("filename=my report (final).pdf; name = a/b@c ; charset=us-ascii (Plain)",
                          defects)
    assert params == [("filename", "my report (final).pdf"), ("name", "a/b@c"),
                      ("charset", "us-ascii")]
    assert defects == []


def test_unterminated_quote() -> None:
    defects: list[Defect] = []
    assert parse_params('; filename="broken.pdf', defects) == [("filename", "broken.pdf")]
    assert _kinds(defects) == ["InvalidParameter"]


def test_duplicates_first_wins() -> None:
    defects: list[Defect] = []
    assert parse_params("; charset=utf-8; charset=latin1; x=1; x=1", defects) == [
        ("charset", "utf-8"),
        ("x", "1"),
    ]
    assert _kinds(defects) == ["DuplicateParameter"]


def test_rfc2231_out_of_order_ten_plus_sections_mixed() -> None:
    sections = {i: chr(ord("a") + i) for i in range(12)}
    parts = [f"t*{i}={sections[i]}" for i in sorted(sections, reverse=True)]
    parts[-1] = "t*0*=us-ascii'en'%61"  # section 0 encoded, the rest plain
    defects: list[Defect] = []
    assert parse_params("; " + "; ".join(parts), defects) == [("t", "abcdefghijkl")]
    assert defects == []


def test_rfc2231_character_split_across_sections() -> None:
    # "ä" is C3 A4: the two bytes are in different sections.
    text = "; f*0*=utf-8''M%C3; f*1*=%A4rz; f*2=\" x.pdf\""
    assert parse_params(text) == [("f", "März x.pdf")]


def test_rfc2231_single_and_charsets() -> None:
    assert parse_params("; f*=iso-8859-1'de'Gr%FC%DFe.txt") == [("f", "Grüße.txt")]
    assert parse_params("; f*=''plain%20text") == [("f", "plain text")]
    assert parse_params("; f*=koi8-r''%F0%D2%C9%D7%C5%D4") == [("f", "Привет")]


def test_rfc2231_wins_over_plain_and_gaps_are_reported() -> None:
    defects: list[Defect] = []
    params = parse_params("; filename=old.pdf; filename*=utf-8''new%C3%A9.pdf", defects)
    assert params == [("filename", "newé.pdf")]
    assert defects == []
    params = parse_params("; f*0=a; f*2=c", defects)
    assert params == [("f", "ac")]
    assert _kinds(defects) == ["InvalidParameter"]


def test_rfc2231_missing_prefix_and_unknown_charset() -> None:
    defects: list[Defect] = []
    assert parse_params("; f*=caf%C3%A9", defects) == [("f", "café")]
    assert "InvalidParameter" in _kinds(defects)
    defects.clear()
    assert parse_params("; f*=bogus''caf%C3%A9", defects) == [("f", "café")]
    assert _kinds(defects) == ["UnknownCharset"]
    assert defects[0].header is None  # parse_params without a header name


def test_rfc2047_words_in_quoted_values() -> None:
    pytest.importorskip("mimekit.encoded_words")
    ct = ContentType.parse('application/pdf; name="=?utf-8?B?UsOkY2hudW5nLnBkZg==?="')
    assert ct.get("name") == "Rächnung.pdf"
    cd = ContentDisposition.parse('attachment; filename="=?iso-8859-1?Q?Gr=FC=DFe.txt?="')
    assert cd.filename == "Grüße.txt"


def test_invalid_or_missing_type() -> None:
    for text in ["", "text", "garbage here", "/plain", "text/"]:
        defects: list[Defect] = []
        ct = ContentType.parse(text, defects)
        assert ct.mime_type == "text/plain", text
        assert _kinds(defects)[:1] == ["InvalidContentType"], text
    defects = []
    ct = ContentType.parse("charset=utf-8", defects)
    assert (ct.mime_type, ct.charset) == ("text/plain", "utf-8")


def test_missing_semicolon_before_parameters() -> None:
    defects: list[Defect] = []
    ct = ContentType.parse('text/html charset="utf-8"', defects)
    assert (ct.mime_type, ct.charset) == ("text/html", "utf-8")
    assert _kinds(defects) == ["InvalidContentType"]


def test_disposition_parse() -> None:
    defects: list[Defect] = []
    cd = ContentDisposition.parse('INLINE; filename="a.png"; size=12', defects)
    assert (cd.kind, cd.filename, cd.get("SIZE"), cd.is_attachment) == ("inline", "a.png", "12",
                                                                      False)
    cd = ContentDisposition.parse('filename="x.pdf"', defects)
    assert (cd.kind, cd.filename) == ("attachment", "x.pdf")
    assert _kinds(defects) == ["InvalidContentDisposition"]


def test_parse_params_skips_a_leading_type() -> None:
    defects: list[Defect] = []
    assert parse_params("text/plain; charset=utf-8", defects) == [("charset", "utf-8")]
    assert parse_params("attachment; filename=a", defects) == [("filename", "a")]
    assert defects == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_parsing_never_raises(text: str) -> None:
    defects: list[Defect] = []
    ct = ContentType.parse(text, defects)
    assert ct.maintype and ct.subtype
    ContentDisposition.parse(text, defects)
    parse_params(text, defects)


# --- values -----------------------------------------------------------------------------


def test_values_are_frozen_and_normalised() -> None:
    ct = ContentType("Text", "HTML", {"Charset": "utf-8"})
    assert ct.params == (("charset", "utf-8"),)
    assert ct.mime_type == "text/html"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ct.maintype = "x"  # type: ignore[misc]
    ct2 = ct.with_params(charset="us-ascii", format="flowed", report_type="x")
    assert ct2.params == (("charset", "us-ascii"), ("format", "flowed"), ("report-type", "x"))
    assert ct2.with_params(format=None).params == (("charset", "us-ascii"), ("report-type", "x"))
    assert ct.params == (("charset", "utf-8"),)  # unchanged
    assert ContentType.of("text/plain", charset="utf-8") == ContentType("text", "plain",
                                                                        (("charset", "utf-8"),))
    cd = ContentDisposition.of("attachment", filename="a.pdf")
    assert cd.filename == "a.pdf"
    with pytest.raises(BuildError):
        ContentType.of("not a type")
    with pytest.raises(HeaderInjectionError):
        ContentType.of("text/plain\r\nBcc: x@example.com")


# --- formatting -------------------------------------------------------------------------


def test_header_tokens_simple_and_quoted() -> None:
    assert ContentType.of("text/plain", charset="utf-8").header_tokens(DEFAULT) == [
        "text/plain;",
        "charset=utf-8",
    ]
    assert ContentType.of("multipart/mixed", boundary="=_x y").header_tokens(DEFAULT) == [
        "multipart/mixed;",
        'boundary="=_x y"',
    ]
    assert ContentType.of("text/plain").header_tokens(DEFAULT) == ["text/plain"]
    assert str(ContentDisposition.of("attachment", filename="a b.pdf")) == (
        'attachment; filename="a b.pdf"'
    )
    assert param_tokens("name", "", DEFAULT) == ['name=""']


def test_rfc2231_and_legacy_forms() -> None:
    cd = ContentDisposition.of("attachment", filename="Grüße.pdf")
    assert cd.header_tokens(NO_LEGACY) == ["attachment;", "filename*=utf-8''Gr%C3%BC%C3%9Fe.pdf"]
    # filename keeps RFC 2231 only; the legacy RFC 2047 form goes to Content-Type name
    # only, so no header ever carries two forms of one parameter
    assert cd.header_tokens(DEFAULT) == ["attachment;", "filename*=utf-8''Gr%C3%BC%C3%9Fe.pdf"]
    assert param_tokens("name", "Grüße.pdf", DEFAULT) == ['name="=?utf-8?B?R3LDvMOfZS5wZGY=?="']
    assert param_tokens("name", "Grüße.pdf", NO_LEGACY) == ["name*=utf-8''Gr%C3%BC%C3%9Fe.pdf"]
    # SMTPUTF8: raw UTF-8 in a quoted string
    assert cd.header_tokens(SMTPUTF8) == ["attachment;", 'filename="Grüße.pdf"']
    # other parameters never get the legacy form
    assert param_tokens("title", "é", DEFAULT) == ["title*=utf-8''%C3%A9"]
    # quotes and backslashes go RFC 2231 rather than relying on escapes
    assert param_tokens("x", 'a"b\\', NO_LEGACY) == ["x*=utf-8''a%22b%5C"]


def test_long_values_become_short_continuations() -> None:
    name = "Sehr langer Dateiname mit Umlauten äöü und noch viel mehr Text " * 3 + ".pdf"
    tokens = ContentDisposition.of("attachment", filename=name).header_tokens(DEFAULT)
    assert all(len(t) <= 76 for t in tokens)
    assert tokens[1].startswith("filename*0*=utf-8''")
    assert any(t.startswith("filename*3*=") for t in tokens)
    assert ContentDisposition.parse(" ".join(tokens)).filename == name
    ascii_name = "a" * 150 + ".txt"
    tokens = param_tokens("filename", ascii_name, NO_LEGACY)
    assert len(tokens) > 1 and all(len(t) <= 76 for t in tokens)
    assert tokens[0].startswith("filename*0=")
    assert parse_params("; ".join(t.rstrip(";") for t in tokens)) == [("filename", ascii_name)]
    # legacy name=: one long plain value (<= 998 octets per line) for clients without RFC 2231
    assert param_tokens("name", ascii_name, DEFAULT) == [f"name={ascii_name}"]
    assert param_tokens("filename", ascii_name, DEFAULT) == tokens


def test_injection_and_bad_names_raise() -> None:
    for bad in ["a\r\nBcc: x@example.com", "a\nb", "a\rb", "a\0b"]:
        with pytest.raises(HeaderInjectionError):
            ContentDisposition.of("attachment", filename=bad).header_tokens(DEFAULT)
    with pytest.raises(HeaderInjectionError):
        param_tokens("na\nme", "x", DEFAULT)
    for bad_name in ["", "a b", "a*", "a'b", "a%b", "a=b"]:
        with pytest.raises(BuildError):
            param_tokens(bad_name, "x", DEFAULT)


def test_make_boundary() -> None:
    seen = {make_boundary() for _ in range(200)}
    assert len(seen) == 200
    for b in seen:
        assert 1 <= len(b) <= 70  # RFC 2046 §5.1.1
        assert b.startswith("=_")
        assert re.fullmatch(r"[0-9A-Za-z'()+_,\-./:=?]+", b)
    tokens = ContentType.of("multipart/mixed", boundary=next(iter(seen))).header_tokens()
    assert tokens[1].startswith('boundary="=_')


# --- round trips --------------------------------------------------------------------------

FILENAMES = st.text(
    alphabet=st.characters(codec="utf-8", blacklist_characters="\r\n\0"),
    min_size=1,
    max_size=90,
)
# The stdlib reader strips or rewrites some things no real file name has (control
# characters, leading/trailing white space, and get_filename() removes one pair of
# surrounding double quotes from the decoded value); compare on names without them.
STDLIB_SAFE = (
    st.text(
        alphabet=st.characters(codec="utf-8", blacklist_categories=["Cc", "Cs", "Zl", "Zp"]),
        min_size=1,
        max_size=90,
    )
    .map(str.strip)
    .filter(lambda n: bool(n) and not (len(n) >= 2 and n[0] == n[-1] == '"'))
)


@settings(max_examples=200, deadline=None)
@given(FILENAMES, st.sampled_from([DEFAULT, NO_LEGACY, SMTPUTF8]))
def test_filename_round_trip(name: str, policy: object) -> None:
    assert isinstance(policy, type(DEFAULT))
    cd = ContentDisposition.of("attachment", filename=name)
    tokens = cd.header_tokens(policy)
    if not policy.smtputf8:
        assert all(t.isascii() for t in tokens)
    assert all(len(t) <= 76 for t in tokens if not t.startswith("filename="))
    for sep in (" ", "\r\n "):  # unfolded by the header layer: either form must work
        defects: list[Defect] = []
        joined = sep.join(tokens).replace("\r\n", "")
        assert ContentDisposition.parse(joined, defects).filename == name
        assert defects == []
    ct = ContentType.of("application/octet-stream", name=name)
    assert ContentType.parse(" ".join(ct.header_tokens(policy))).get("name") == name


@settings(max_examples=200, deadline=None)
@given(STDLIB_SAFE)
def test_stdlib_reads_our_filename(name: str) -> None:
    tokens = ContentDisposition.of("attachment", filename=name).header_tokens(DEFAULT)
    raw = (
        b"Content-Type: application/octet-stream\r\nContent-Disposition: "
        + "\r\n ".join(tokens).encode("ascii")
        + b"\r\n\r\nx"
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_filename() == name


def test_hostile_parameter_lists_stay_linear() -> None:
    # 50,000 distinct names, inner quotes everywhere, a huge unterminated quote:
    # each must finish promptly (these were quadratic once); results are still exact.
    many = "; " + "; ".join(f"n{i}=v" for i in range(50_000))
    assert len(parse_params(many)) == 50_000
    quotes = "; " + "; ".join(['a="x"y'] * 20_000)
    defects: list[Defect] = []
    assert parse_params(quotes, defects) == [("a", "xy")]
    assert parse_params('; a="' + "x;" * 100_000) == [("a", "x;" * 99_999 + "x;")]
    assert parse_params("; boundary==?x?q?y?=") == [("boundary", "=?x?q?y?=")]


def test_structural_parameters_are_never_split() -> None:
    boundary = "----=_NextPart_" + "0" * 55  # 70 characters, the RFC 2046 maximum
    tokens = ContentType.of("multipart/mixed", boundary=boundary).header_tokens(DEFAULT)
    assert tokens == ["multipart/mixed;", f'boundary="{boundary}"']
    assert ContentType.parse(" ".join(tokens)).boundary == boundary


def test_unquoted_rfc2047_value() -> None:
    pytest.importorskip("mimekit.encoded_words")
    ct = ContentType.parse("image/png; name==?UTF-8?B?w7xiZXIucG5n?=")
    assert ct.get("name") == "über.png"


def test_valueless_word_after_a_type_is_a_defect() -> None:
    defects: list[Defect] = []
    assert ContentType.parse("text/plain; attachment", defects).params == ()
    assert _kinds(defects) == ["InvalidParameter"]


def test_invalid_names_are_dropped_so_values_can_be_written_back() -> None:
    defects: list[Defect] = []
    ct = ContentType.parse("text/plain; a/b=1; (x)=2; ok=3", defects)
    assert ct.params == (("ok", "3"),)
    assert _kinds(defects) == ["InvalidParameter", "InvalidParameter"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\r\n\0"),
               max_size=120))
def test_any_parsed_value_formats_and_reparses_the_same(text: str) -> None:
    for cls in (ContentType, ContentDisposition):
        parsed = cls.parse(text)
        tokens = parsed.header_tokens(NO_LEGACY)
        again = cls.parse(" ".join(tokens))
        assert again == parsed, tokens


def test_a_leading_byte_order_mark_in_a_filename_is_kept() -> None:
    """Regression (hypothesis): the RFC 2231 value "\\ufeffa" lost its first character."""
    for policy in (DEFAULT, NO_LEGACY):
        tokens = ContentDisposition.of("attachment", filename="\ufeffa").header_tokens(policy)
        assert ContentDisposition.parse(" ".join(tokens)).filename == "\ufeffa"
