"""Part.report / Message.delivery_status / disposition_notification and the ``report``
field of the inspect JSON part object (mimekit.reports hooked into the tree)."""

from __future__ import annotations

import os
import pathlib

from corpus import corpus_bytes

from mimekit.parser import parse
from mimekit.reports import DeliveryStatus, DispositionNotification, FeedbackReport

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))


_corpus = corpus_bytes


DSN = (
    b"From: MAILER-DAEMON@mx.example.org\r\nTo: a@example.com\r\nSubject: failure\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nIt bounced.\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
    b"Final-Recipient: rfc822; bo@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
    b"Final-Recipient: rfc822; cy@example.net\r\nAction: delayed\r\n\r\n"
    b"--b--\r\n"
)


def test_delivery_status_part_and_message_accessor() -> None:
    msg = parse(DSN)
    part = msg.children[1]
    report = part.report
    assert isinstance(report, DeliveryStatus)
    assert part.report is report  # cached
    assert [(r.address, r.action, r.status) for r in report.recipients] == [
        ("bo@example.net", "failed", "5.1.1"), ("cy@example.net", "delayed", None)]
    assert msg.delivery_status is report
    assert msg.disposition_notification is None
    assert msg.children[0].report is None and msg.report is None
    # The missing Status of the second recipient is a defect of part 2, at its body.
    defects = [(d.kind, d.part, d.offset) for d in msg.defects]
    body_at = DSN.index(b"Reporting-MTA")
    assert ("MissingReportField", "2", body_at) in defects
    assert msg.to_bytes() == DSN


def test_report_in_inspect_json() -> None:
    doc = parse(DSN).to_dict()
    report_part = doc["root"]["parts"][1]
    assert report_part["report"]["reporting_mta"] == {"type": "dns", "value": "mx.example.org"}
    assert report_part["report"]["recipients"][0]["status"] == "5.1.1"
    assert doc["root"]["report"] is None and doc["root"]["parts"][0]["report"] is None


def test_report_defects_complete_without_asking() -> None:
    # defects (the whole tree) reads the report by itself.
    kinds = [d.kind for d in parse(DSN).defects]
    assert "MissingReportField" in kinds


def test_corpus_disposition_notification() -> None:
    msg = parse(_corpus("mailgun-flanker/disposition-notification.eml"))
    mdn = msg.disposition_notification
    assert isinstance(mdn, DispositionNotification)
    assert mdn.original_message_id == "199509192301.23456@example.org"
    assert mdn.disposition is not None and mdn.disposition.type == "displayed"
    assert msg.delivery_status is None


def test_corpus_bounce_and_feedback_report() -> None:
    msg = parse(_corpus("mailgun-flanker/bounce/mailbox-full.eml"))
    ds = msg.delivery_status
    assert ds is not None
    assert [(r.address, r.status) for r in ds.recipients] == [("user@aol.com", "5.2.2")]
    arf = parse(_corpus("mailgun-flanker/complaints/aol.eml"))
    report = arf.children[1].report
    assert isinstance(report, FeedbackReport)
    assert report.feedback_type == "abuse" and report.source_ip == "173.193.210.34"


def test_edit_drops_cached_report() -> None:
    msg = parse(DSN)
    part = msg.children[1]
    assert part.report is not None
    part.set_body(b"Reporting-MTA: dns; other.example\r\n\r\n"
                  b"Final-Recipient: rfc822; z@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n")
    report = part.report
    assert isinstance(report, DeliveryStatus)
    assert [r.address for r in report.recipients] == ["z@example.net"]
