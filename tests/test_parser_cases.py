"""End-to-end bug reproductions from ../shared/cases (c01, c04, c08, c11)."""

from __future__ import annotations

import os
import pathlib

import pytest

from mimekit.parser import parse, parse_file

_REPO = pathlib.Path(__file__).resolve().parent.parent
CASES = pathlib.Path(os.environ.get("MIMEKIT_CASES", _REPO.parent / "shared" / "cases"))


def load(name: str) -> bytes:
    matches = sorted(CASES.glob(f"{name}-*.eml")) if CASES.is_dir() else []
    if not matches:
        pytest.skip(f"case {name} not found under {CASES} (set MIMEKIT_CASES)")
    return matches[0].read_bytes()


def test_c01_rfc2231_continuation_filename() -> None:
    data = load("c01")
    msg = parse(data)
    assert msg.to_bytes() == data
    atts = msg.attachments
    assert len(atts) == 1
    att = atts[0]
    assert att.mime_type == "application/pdf"
    assert att.filename == "Rechnung März Übersicht Köln.pdf"
    assert att.get_content() == b"%PDF-1.4\n"
    assert msg.text == "Anbei die Datei."
    assert msg.to_dict()["attachments"][0]["filename"] == "Rechnung März Übersicht Köln.pdf"


def test_c04_malformed_params_do_not_crash() -> None:
    data = load("c04")
    msg = parse(data)
    assert msg.to_bytes() == data
    for header in msg.headers:
        assert isinstance(header.value, str)
    assert msg.mime_type == "text/plain"
    assert msg.content_type.get("name*") in (None, "")
    assert msg.content_type.get("name") in (None, "")
    assert any(d.header == "Content-Type" for d in msg.defects)
    from mimekit.address import mailboxes

    assert mailboxes(msg.to) == []
    assert any(d.header == "To" for d in msg.defects)
    assert msg.text is not None and msg.text.rstrip("\n") == "hello"


def test_c08_missing_close_boundary() -> None:
    data = load("c08")
    msg = parse(data)
    assert msg.to_bytes() == data
    assert msg.mime_type == "multipart/mixed"
    assert len(msg.children) == 2
    first, second = msg.children
    assert first.get_text() == "first part"
    assert second.is_attachment and second.filename == "notes.txt"
    assert second.get_text().rstrip("\n") == "second part"
    assert [p.id for p in msg.attachments] == ["2"]
    assert [(d.kind, d.part) for d in msg.defects] == [("MissingCloseBoundary", "")]
    assert msg.defects[0].offset == len(data)


def test_c11_unknown_charset_falls_back() -> None:
    data = load("c11")
    msg = parse(data)
    assert msg.to_bytes() == data
    assert msg.text == "Café opens at 8.\n"
    assert msg.charset == "utf-8"
    unknown = [d for d in msg.defects if d.kind == "UnknownCharset"]
    assert unknown and "uft-8" in unknown[0].detail


def test_cases_via_parse_file() -> None:
    matches = sorted(CASES.glob("*.eml")) if CASES.is_dir() else []
    if not matches:
        pytest.skip(f"no cases under {CASES}")
    for path in matches:
        msg = parse_file(path)
        assert msg.to_bytes() == path.read_bytes()
        msg.to_dict()
