"""The inspect-json dict: every field, exact values, schema checker."""

from __future__ import annotations

import hashlib
import json

import pytest

from mimekit.parser import parse
from mimekit.summary import schema_errors

DATA = (
    b"From: Ana <ana@example.com>, undisclosed:;\r\n"
    b"To: =?utf-8?q?B=C3=B6?= <bo@xn--mnchen-3ya.de>\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    b"Date: Fri, 1 Mar 2024 01:47:09 +0000\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"References: <r1@example.com>\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"hello \xc3\xa9\r\n"
    b"--b\r\n"
    b"Content-Type: application/octet-stream; name=data.bin\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAw==\r\n"
    b"--b\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner text\r\n"
    b"--b--\r\n"
)


def test_top_level_fields() -> None:
    d = parse(DATA).to_dict()
    assert schema_errors(d) == []
    assert d["schema"] == 1
    assert d["subject"] == "café"
    assert d["from"] == [{"name": "Ana", "address": "ana@example.com"},
                         {"group": "undisclosed", "members": []}]
    assert d["to"] == [{"name": "Bö", "address": "bo@münchen.de"}]
    assert d["sender"] == [] and d["reply_to"] == [] and d["cc"] == [] and d["bcc"] == []
    assert d["date"] == "2024-03-01T01:47:09+00:00"
    assert d["message_id"] == "m1@example.com"
    assert d["in_reply_to"] == [] and d["references"] == ["r1@example.com"]
    assert d["text"] == "hello é"
    assert d["html"] is None
    assert d["attachments"] == [
        {"part": "2", "filename": "data.bin", "content_type": "application/octet-stream",
         "size": 4, "sha256": hashlib.sha256(b"\x00\x01\x02\x03").hexdigest(),
         "disposition": "attachment"},
        {"part": "3", "filename": None, "content_type": "message/rfc822",
         "size": len(b"Subject: inner\r\n\r\ninner text"),
         "sha256": hashlib.sha256(b"Subject: inner\r\n\r\ninner text").hexdigest(),
         "disposition": None},
    ]
    assert d["defects"] == []
    json.dumps(d)


def test_part_fields() -> None:
    root = parse(DATA).to_dict()["root"]
    assert root["id"] == "" and root["content_type"] == "multipart/mixed"
    assert root["params"] == {"boundary": "b"}
    assert root["size"] is None and root["sha256"] is None and root["text"] is None
    assert root["headers"][2] == ["Subject", "café"]
    text, blob, rfc = root["parts"]
    assert text["id"] == "1" and text["charset"] == "utf-8" and text["text"] == "hello é"
    assert text["size"] == len("hello é".encode()) and text["transfer_encoding"] == "7bit"
    assert blob["filename"] == "data.bin" and blob["disposition"] == "attachment"
    assert blob["text"] is None and blob["charset"] is None and blob["size"] == 4
    assert blob["params"] == {"name": "data.bin"}
    assert rfc["message"]["id"] == "3"
    assert rfc["message"]["headers"] == [["Subject", "inner"]]
    assert rfc["message"]["text"] == "inner text"
    assert rfc["parts"] == []


def test_defects_in_parts_and_top_level() -> None:
    data = b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain; charset=nope\n\nx"
    d = parse(data).to_dict()
    assert schema_errors(d) == []
    kinds = [(x["part"], x["kind"]) for x in d["defects"]]
    assert ("", "MissingCloseBoundary") in kinds and ("1", "UnknownCharset") in kinds
    assert d["root"]["defects"][0]["offset"] == len(data)
    assert d["root"]["parts"][0]["defects"][0]["kind"] == "UnknownCharset"


def test_schema_errors_reports_problems() -> None:
    good = parse(DATA).to_dict()
    assert schema_errors(good) == []
    assert schema_errors({}) != []
    bad = json.loads(json.dumps(good))
    del bad["root"]["parts"][0]["sha256"]
    assert any("sha256" in e for e in schema_errors(bad))
    bad = json.loads(json.dumps(good))
    bad["to"][0]["address"] = 5
    assert schema_errors(bad) != []
    bad = json.loads(json.dumps(good))
    bad["root"]["parts"][2]["message"]["defects"] = [{"kind": "x"}]
    assert schema_errors(bad) != []


def test_deep_tree_has_no_recursion_limit() -> None:
    depth = 60
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i)
                    for i in range(depth))
    d = parse(head + b"\nleaf").to_dict()
    node = d["root"]
    for _ in range(depth):
        node = node["parts"][0]
    assert node["text"] == "leaf"
    assert schema_errors(d) == []


def test_many_parts_summary() -> None:
    n = 3000
    data = (b"Content-Type: multipart/mixed; boundary=m\n\n"
            + b"".join(b"--m\nContent-Type: application/octet-stream\n"
                       b"Subject: =?bogus?q?x?=\n\nx\n" for _ in range(n)) + b"--m--\n")
    d = parse(data).to_dict()
    assert [a["part"] for a in d["attachments"]] == [str(i) for i in range(1, n + 1)]
    assert len(d["root"]["parts"]) == n
    assert schema_errors(d) == []


def test_added_fields_report_and_from_are_checked() -> None:
    import copy

    from mimekit.parser import parse

    data = (b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            b"--b\r\n\r\nbounced\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; a@example.com\r\n"
            b"Action: failed\r\nStatus: 5.1.1\r\n\r\n--b\r\n"
            b"Content-Type: text/plain\r\n\r\nbegin 644 a.txt\r\n#86)C\r\n`\r\nend\r\n--b--\r\n")
    doc = parse(data).to_dict()
    from mimekit.summary import schema_errors

    assert schema_errors(doc) == []
    assert doc["root"]["parts"][1]["report"]["recipients"][0]["status"] == "5.1.1"
    assert [(a["part"], a["filename"], a.get("from")) for a in doc["attachments"]] == [
        ("2", None, None), ("3", "a.txt", "uuencode")]
    bad = copy.deepcopy(doc)
    bad["root"]["parts"][1]["report"] = "text"
    bad["attachments"][1]["from"] = 3
    assert schema_errors(bad) == ["$.attachments[1].from: not a string",
                                  "$.root.parts[1].report: not an object or null"]


def test_to_dict_defects_equal_all_defects_on_the_corpus() -> None:
    """to_dict gathers the tree's defects from the part dicts it made; that must be
    exactly Message.all_defects (same kinds, parts, offsets, order)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus import corpus_files

    from mimekit.parser import parse

    files = corpus_files()
    if not files:
        pytest.skip("shared corpus not found (set MIMEKIT_CORPUS)")
    for path in files:
        data = path.read_bytes()
        doc = parse(data).to_dict()
        fresh = parse(data)
        fresh.to_dict()
        assert doc["defects"] == [d.to_dict() for d in fresh.all_defects], path


# -- the two text views: one walk (review: the CLI had its own copy of the tree) ------------
INSPECT_TEXT = """m.eml
  Subject: café
  From: Ana <ana@example.com>, undisclosed: ;
  To: Bö <bo@münchen.de>
  Date: 2024-03-01T01:47:09+00:00

root  multipart/mixed
  1  text/plain  charset=utf-8  8 B
  2  application/octet-stream  attachment  "data.bin"  4 B  base64
  3  message/rfc822  28 B
    3 (message)  text/plain  charset=us-ascii  10 B
"""

TREE_TEXT = """part root multipart/mixed parts=3
  part 1 text/plain charset=utf-8 size=8 sha=5f7f4a2a937a
  part 2 application/octet-stream size=4 sha=054edec1d021 disp=attachment name="data.bin" cte=base64
  part 3 message/rfc822 size=28 sha=b4a8ab7fa215
    message 3 text/plain charset=us-ascii size=10 sha=9fdc8bc44d1c
attachment 2 mime "data.bin" application/octet-stream size=4 sha=054edec1d021
attachment 3 mime - message/rfc822 size=28 sha=b4a8ab7fa215
"""


def test_inspect_text_and_tree_text_exact() -> None:
    from mimekit.summary import inspect_text, tree_text

    assert inspect_text(parse(DATA), "m.eml") == INSPECT_TEXT
    assert tree_text(parse(DATA)) == TREE_TEXT


def test_cli_inspect_prints_inspect_text(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from mimekit.cli import main

    path = Path(str(tmp_path)) / "m.eml"
    path.write_bytes(DATA)
    assert main(["inspect", str(path), str(path)]) == 0
    one = INSPECT_TEXT.replace("m.eml", str(path), 1)
    assert capsys.readouterr().out == one + "\n" + one


def test_inspect_text_lists_defects_with_their_place() -> None:
    from mimekit.summary import inspect_text

    data = (b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"aGVsbG8=!!\r\n")
    msg = parse(data)
    text = inspect_text(msg, "x")
    kinds = [d["kind"] for d in msg.to_dict()["defects"]]
    assert kinds and f"defects ({len(kinds)}):" in text
    body = text.split("defects (")[1].splitlines()[1:]
    assert [line.split()[0] for line in body] == kinds
    assert all(line.startswith("  ") and "(part " in line for line in body)
    tree_line = next(line for line in text.splitlines() if line.lstrip().startswith("1  "))
    assert tree_line.endswith(("defect]", "defects]"))


def test_inspect_text_deep_tree_has_no_recursion_limit() -> None:
    from mimekit.summary import inspect_text, tree_text

    depth = 60
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i)
                    for i in range(depth))
    lines = inspect_text(parse(head + b"\nleaf"), "deep").splitlines()
    leaf = "  " * depth + "1" + ".1" * (depth - 1) + "  text/plain  charset=us-ascii  4 B"
    assert leaf in lines
    assert tree_text(parse(head + b"\nleaf")).splitlines()[depth].startswith("  " * depth + "part 1")


def test_schema_errors_checks_the_disposition_values() -> None:
    # docs/inspect-json.md: "disposition" is "inline", "attachment" or null.
    good = parse(DATA).to_dict()
    bad = json.loads(json.dumps(good))
    bad["root"]["parts"][0]["disposition"] = "*"
    assert schema_errors(bad) == ["$.root.parts[0].disposition: not inline, attachment or null"]
    bad = json.loads(json.dumps(good))
    bad["attachments"][0]["disposition"] = "form-data"
    assert schema_errors(bad) == [
        "$.attachments[0].disposition: not inline, attachment or null"]


UNKNOWN_DISPOSITION = (
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Disposition: *; filename=attach02\r\n\r\nxyz\r\n--b--\r\n"
)


def test_unknown_disposition_is_attachment_in_the_json() -> None:
    # RFC 2183 §2.8: an unrecognized disposition type is treated as attachment.
    doc = parse(UNKNOWN_DISPOSITION).to_dict()
    assert schema_errors(doc) == []
    assert doc["root"]["parts"][1]["disposition"] == "attachment"
    assert [(a["part"], a["filename"], a["disposition"]) for a in doc["attachments"]] == [
        ("2", "attach02", "attachment")]
    assert [(d["part"], d["kind"], d["header"], d["detail"]) for d in doc["defects"]] == [
        ("2", "UnknownDisposition", "Content-Disposition",
         "unknown disposition type '*'; treated as attachment (RFC 2183 §2.8)")]


def test_unknown_disposition_corpus_issue182() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus import corpus_bytes

    data = corpus_bytes("php-mime-mail-parser/issue182")
    msg = parse(data)
    doc = msg.to_dict()
    assert schema_errors(doc) == []
    assert doc["root"]["parts"][1]["disposition"] == "attachment"
    assert [d["kind"] for d in doc["defects"]] == ["UnixFromLine", "UnknownDisposition"]
    # The raw field is kept as written.
    header = msg.children[1].headers.get_header("Content-Disposition")
    assert header is not None and header.raw == b"Content-Disposition: *; filename=attach02\n"
    assert msg.to_bytes() == data
