"""Pre-send lint findings, and that a builder message is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

import mimekit
from mimekit.cli import main
from mimekit.lint import lint

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def codes(msg: mimekit.Message) -> set[str]:
    return {i.code for i in lint(msg)}


def test_builder_output_is_clean() -> None:
    msg = (mimekit.compose().from_("a@example.org").to("b@example.org").subject("Grüße")
           .text("x").html("<img src='cid:logo'>").inline(PNG, cid="logo", filename="l.png")
           .attach(b"data", filename="Übersicht.pdf").build())
    assert lint(msg) == []


def test_findings_on_a_hand_written_message() -> None:
    raw = (b"To: b@example.org\nSubject: " + b"word " * 200 + b"\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/related; boundary=x\n\n"
           b"--x\nContent-Type: text/html\n\n<img src=\"cid:missing\">\n"
           b"--x\nContent-Type: image/png\nContent-ID: <unused>\nContent-Disposition: inline\n"
           b"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
           b"--x\nContent-Type: application/pdf; name*=utf-8''%C3%9C.pdf\n"
           b"Content-Disposition: attachment; filename*=utf-8''%C3%9C.pdf\n\n" + b"y" * 1200 + b"\n"
           b"--x--\n")
    found = codes(mimekit.parse(raw))
    assert {"MissingFrom", "MissingDate", "MissingMessageID", "BareLineEnding",
            "HeaderLineTooLong", "UnreferencedInlineImage", "MissingCidTarget", "HtmlWithoutText",
            "NoLegacyFilename", "BodyLineTooLong"} <= found


def test_every_finding_has_a_hint_saying_how_to_fix_it() -> None:
    raw = (b"To: b@example.org\nSubject: x\nMIME-Version: 1.0\n"
           b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n"
           + b"y" * 1200 + b"\n")
    issues = {i.code: i for i in mimekit.parse(raw).lint()}
    assert all(i.hint.strip() for i in issues.values())
    assert issues["MissingFrom"].severity == "error"
    assert "from_()" in issues["MissingFrom"].hint
    # A binary body is not exempt from the 998-octet limit (it needs BINARYMIME).
    assert "BINARYMIME" in issues["BodyLineTooLong"].hint
    assert str(issues["BodyLineTooLong"]).startswith("error: BodyLineTooLong (message): ")


def test_lint_command_exit_status(tmp_path: Path, capsys: object) -> None:
    good = tmp_path / "good.eml"
    good.write_bytes(mimekit.compose().from_("a@example.org").to("b@example.org").text("x")
                     .build().to_bytes())
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"Subject: x\n\nbody\n")
    assert main(["lint", str(good)]) == 0
    assert main(["lint", str(bad)]) == 1


def test_message_lint_method() -> None:
    msg = mimekit.parse(b"Subject: x\r\n\r\nbody\r\n")
    assert [i.code for i in msg.lint()] == [i.code for i in lint(msg)]
    assert "MissingFrom" in {i.code for i in msg.lint()}


def test_duplicate_single_use_headers_are_errors() -> None:
    raw = (b"From: a@example.org\r\nFrom: ceo@example.org\r\nTo: b@example.org\r\n"
           b"Date: Fri, 01 Mar 2024 01:47:09 +0000\r\nMessage-ID: <x@example.org>\r\n"
           b"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n")
    found = [i for i in lint(mimekit.parse(raw)) if i.code == "DuplicateHeader"]
    assert [i.detail for i in found] == ["2 From headers (at most one allowed).",
                                         "2 Content-Type headers (at most one allowed)."]
    assert all(i.severity == "error" for i in found)


def test_lint_accepts_bytes_and_refuses_other_types() -> None:
    from mimekit.lint import lint as lint_
    from mimekit.parser import parse as parse_

    data = b"Subject: hi\r\n\r\nbody\r\n"
    issues = lint_(data)
    assert issues == lint_(parse_(data))
    assert [i.code for i in issues] == ["MissingFrom", "MissingDate", "MissingMessageID"]
    assert lint_(bytearray(data)) == issues
    with pytest.raises(TypeError, match=r"^lint\(\) takes a Message or the bytes of one, not str$"):
        lint_(data.decode())  # type: ignore[arg-type]


def test_percent_encoded_cid_url_names_its_part() -> None:
    """Regression: ``cid:logo%40example.org`` (RFC 2392 §2: the URL form of the id is
    %-encoded) was reported as MissingCidTarget plus UnreferencedInlineImage."""
    msg = (mimekit.compose().from_("a@example.com").to("b@example.org").text("x")
           .html('<img src="cid:logo%40example.org">')
           .inline(b"\x89PNG\r\n\x1a\n", cid="logo@example.org").build())
    assert msg.lint() == []


def test_long_header_lines_of_an_attached_message_are_not_the_senders_problem() -> None:
    """Regression (new-user trial): forwarding a real message gave a HeaderLineLong
    warning per long Received/X-* line of the original, which is attached byte for byte
    and cannot be refolded. Only the hard 998-octet limit holds inside it."""
    from mimekit.reply import forward

    long = "X-Long: " + " ".join(["word"] * 40)
    orig = mimekit.parse(
        ("From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n"
         "Date: Thu, 01 Feb 2024 10:00:00 +0000\r\nMessage-ID: <x@example.org>\r\n"
         f"{long}\r\n\r\nbody\r\n").encode())
    assert [i.code for i in orig.lint()] == ["HeaderLineLong"]
    fwd = forward(orig, from_="me@example.org", to="c@example.org").build()
    assert fwd.lint() == []
    too_long = mimekit.parse(
        b"From: a@example.org\r\nDate: Thu, 01 Feb 2024 10:00:00 +0000\r\n"
        b"Message-ID: <y@example.org>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: message/rfc822\r\n\r\nX-Huge: " + b"y" * 1200 + b"\r\n\r\nz\r\n")
    assert [(i.code, i.part) for i in too_long.lint()] == [("HeaderLineTooLong", "")]
