"""mimekit.reports: DSN (RFC 3464) and MDN (RFC 8098) bodies from the corpus and written
by hand, the repairs the lenient parser makes, and arbitrary bytes that must never raise."""

from __future__ import annotations

import email
import email.policy
import json
import re

import pytest
from corpus import corpus_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from mimekit import reports
from mimekit.errors import Defect
from mimekit.reports import (
    DeliveryStatus,
    Disposition,
    DispositionNotification,
    FeedbackReport,
    parse_delivery_status,
    parse_disposition_notification,
    parse_feedback_report,
    parse_report,
    parse_report_fields,
)

# ---------------------------------------------------------------------------------------
# Corpus




def report_body(name: str, mime_type: str) -> bytes:
    """The raw body of the first ``mime_type`` part of a corpus message.

    The stdlib parses message/delivery-status into fake sub-messages and loses the exact
    bytes, so it is used only to find the multipart boundaries; the body is then cut out
    of the raw message between two delimiter lines (RFC 2046 §5.1.1)."""
    raw = (corpus_dir() / name).read_bytes().removeprefix(b"\xef\xbb\xbf")  # a BOM hides
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    found: list[bytes] = []
    for part in msg.walk():
        boundary = part.get_boundary() if part.is_multipart() else None
        if not boundary:
            continue
        delimiter = re.compile(
            rb"(?m)^--" + re.escape(boundary.encode()) + rb"(?:--)?[ \t]*\r?$\n?")
        for section in delimiter.split(raw):
            head_end = re.search(rb"\r?\n\r?\n", section)
            if head_end is None:
                continue
            head = section[:head_end.start()]
            if re.search(rb"(?im)^content-type:[ \t]*" + re.escape(mime_type.encode()) + rb"\b",
                         head):
                found.append(section[head_end.end():])
    assert found, f"no {mime_type} part in {name}"
    return min(found, key=len)  # the innermost multipart's section


def dsn(name: str) -> tuple[DeliveryStatus, list[Defect]]:
    defects: list[Defect] = []
    result = parse_delivery_status(report_body(name, "message/delivery-status"), defects)
    json.dumps(result.to_dict())
    return result, defects


def kinds(defects: list[Defect]) -> list[str]:
    return [d.kind for d in defects]


@pytest.mark.corpus
def test_mimekit_delivery_status() -> None:
    status, defects = dsn("jstedfast-MimeKit/messages/delivery-status.txt")
    assert status.reporting_mta == ("dns", "mm1")
    assert status.arrival_date == "Mon, 29 Jul 1996 02:12:50 -0700"
    (rcpt,) = status.recipients
    assert rcpt.final_recipient == ("rfc822", "newsletter-request@imusic.com")  # "RFC822"
    assert rcpt.action == "failed"
    assert rcpt.diagnostic_code == ("x-local", "500 (err.nosuchuser)")  # comment kept
    assert rcpt.status is None
    assert kinds(defects) == ["MissingReportField"]  # RFC 3464 §2.3.4: Status is required
    assert defects[0].header == "Status"


@pytest.mark.corpus
def test_mimekit_delivery_status_variants() -> None:
    status, defects = dsn("jstedfast-MimeKit/messages/delivery-status2.txt")
    assert status.reporting_mta == ("dns", "smtp-out.dis-hosting.net")
    (rcpt,) = status.recipients
    assert (rcpt.action, rcpt.status, rcpt.address) == ("failed", "5.0.0", "source@domain.com")
    assert defects == []

    status, defects = dsn("jstedfast-MimeKit/messages/delivery-status-multiple-blank-lines.txt")
    assert status.reporting_mta == ("dns", "someserver.com")
    (rcpt,) = status.recipients  # two blank lines are one separator
    assert rcpt.original_recipient == ("rfc822", "orig_recip@customer.com")
    assert rcpt.final_recipient is None and rcpt.address == "orig_recip@customer.com"
    assert rcpt.status == "5.5.0"
    assert rcpt.diagnostic_code == ("smtp", "550 Requested action not taken")
    assert sorted(d.header or "" for d in defects) == ["Action", "Final-Recipient"]

    status, _ = dsn("jstedfast-MimeKit/messages/delivery-status-no-blank-line.txt")
    assert [r.final_recipient for r in status.recipients] == [
        ("rfc822", "newsletter-request@imusic.com")]


@pytest.mark.corpus
def test_base64_recipient_group_in_postfix_bounce() -> None:
    # A gateway base64-encoded the per-recipient group inside the report body.
    status, defects = dsn("jstedfast-MimeKit/messages/bounce.txt")
    assert status.reporting_mta == ("dns", "hmail.jitbit.com")
    assert status.get("X-Postfix-Queue-ID") == "630A242E63"
    assert status.arrival_date == "Wed, 26 Jan 2022 04:06:46 -0500"  # "(EST)" dropped
    (rcpt,) = status.recipients
    assert rcpt.final_recipient == ("rfc822", "netec.test@netecgc.com")
    assert rcpt.original_recipient == ("rfc822", "netec.test@netecgc.com")
    assert (rcpt.action, rcpt.status) == ("failed", "5.1.1")
    assert rcpt.remote_mta is not None and rcpt.remote_mta[0] == "dns"
    assert rcpt.diagnostic_code == (
        "smtp",
        "550 5.1.1 <netec.test@netecgc.com>: Recipient address rejected: User unknown")
    assert kinds(defects) == ["MalformedReportField"]
    assert "base64" in defects[0].detail


@pytest.mark.corpus
def test_flanker_bounces() -> None:
    status, defects = dsn("mailgun-flanker/bounce/zed.eml")
    (rcpt,) = status.recipients
    assert rcpt.status == "5.1.1" and rcpt.remote_mta == ("dns", "gmail-smtp-in.l.google.com")
    assert rcpt.diagnostic_code is not None
    kind, text = rcpt.diagnostic_code
    assert kind == "smtp"
    assert text.startswith("550-5.1.1 The email account that you tried to reach does not exist.")
    assert text.endswith("answer=6596 17si20661415yxe.22")  # five folded lines unfolded
    assert "\n" not in text and defects == []

    status, defects = dsn("mailgun-flanker/bounce/office365.eml")
    assert status.received_from_mta == ("dns", "ioutemea3.hes.trendmicro.eu")
    (rcpt,) = status.recipients
    assert rcpt.status == "5.1.10"  # three-digit detail (RFC 3463 §2)
    assert rcpt.is_permanent_failure
    assert defects == []

    status, _ = dsn("mailgun-flanker/bounce/no-mx.eml")
    (rcpt,) = status.recipients
    assert (rcpt.action, rcpt.status) == ("delayed", "4.4.4")
    assert rcpt.last_attempt_date == "Tue, 10 Jul 2012 00:09:18 -0600"
    assert not rcpt.is_permanent_failure and status.failed == ()

    status, _ = dsn("mailgun-flanker/bounce/mailbox-full.eml")
    assert status.reporting_mta == ("dns", "mtain-db01.r1000.mx.aol.com")  # "Reporting-Mta"
    (rcpt,) = status.recipients
    assert rcpt.diagnostic_code == ("smtp", "552 5.2.2 E4.12 user MAILBOX FULL")

    status, defects = dsn("SpamScope-mail-parser/mail_malformed_2")
    (rcpt,) = status.recipients
    assert rcpt.status == "4.2.2"  # the comment after the code is dropped
    assert rcpt.get("status") == "4.2.2 (Persistent transient failure - mailbox: mailbox full)"
    assert defects == []


@pytest.mark.corpus
def test_corpus_disposition_notifications() -> None:
    for name in ("jstedfast-MimeKit/messages/disposition-notification.txt",
                 "mailgun-flanker/disposition-notification.eml"):
        defects: list[Defect] = []
        mdn = parse_disposition_notification(
            report_body(name, "message/disposition-notification"), defects)
        assert defects == [], name
        assert mdn.reporting_ua == ("joes-pc.cs.example.com", "Foomail 97.1")
        assert mdn.original_recipient == ("rfc822", "Joe_Recipient@example.com")
        assert mdn.final_recipient == ("rfc822", "Joe_Recipient@example.com")
        assert mdn.original_message_id == "199509192301.23456@example.org"
        assert mdn.disposition == Disposition(
            "manual-action", "mdn-sent-manually", "displayed", (),
            "manual-action/MDN-sent-manually; displayed")
        assert mdn.disposition is not None and not mdn.disposition.is_automatic
        json.dumps(mdn.to_dict())


@pytest.mark.corpus
def test_anonymized_reports_are_parsed_with_defects() -> None:
    status, defects = dsn("jstedfast-MimeKit/messages/delivery-status.anonymized.eml")
    assert status.reporting_mta == ("", "xxxx xxx")
    assert status.recipients[0].action == "xxxxxx"
    assert "MalformedReportField" in kinds(defects)
    defects = []
    mdn = parse_disposition_notification(report_body(
        "jstedfast-MimeKit/messages/disposition-notification.anonymized.eml",
        "message/disposition-notification"), defects)
    assert mdn.original_message_id == "xxxxxxxxxxxx.xxxxx@xxxxxxx.xxx"
    assert mdn.disposition is not None and mdn.disposition.action_mode is None
    assert defects


# ---------------------------------------------------------------------------------------
# Hand-written delivery status notifications (RFC 3464)

MULTI = b"""\
Reporting-MTA: dns; mx1.example.net
DSN-Gateway: dns; gw.example.net
Received-From-MTA: dns; client.example.com (192.0.2.7)
Original-Envelope-Id: QQ314159
Arrival-Date: Tue, 2 Jan 2024 10:00:00 +0100

Original-Recipient: rfc822;Ana@Example.org
Final-Recipient: RFC822; <ana@example.org>
Action: Failed
Status: 5.1.1 (bad destination mailbox address)
Remote-MTA: DNS; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <ana@example.org>:
  Recipient address rejected (user unknown)
Last-Attempt-Date: Tue, 2 Jan 2024 10:00:05 +0100
Final-Log-ID: 4711

Final-Recipient: rfc822; bo@example.org
Action: delayed
Status: 4.4.7
Will-Retry-Until: Fri, 5 Jan 2024 10:00:00 +0100
X-Vendor-Note: kept as is

Final-Recipient: (forwarded) rfc822;cy@example.org (Cy)
Action: delivered
Status: 2.0.0
"""


def test_multi_recipient_report() -> None:
    defects: list[Defect] = []
    status = parse_delivery_status(MULTI, defects)
    assert defects == []
    assert status.reporting_mta == ("dns", "mx1.example.net")
    assert status.dsn_gateway == ("dns", "gw.example.net")
    assert status.received_from_mta == ("dns", "client.example.com")
    assert status.original_envelope_id == "QQ314159"
    assert status.arrival_date == "Tue, 2 Jan 2024 10:00:00 +0100"
    ana, bo, cy = status.recipients
    assert ana.original_recipient == ("rfc822", "Ana@Example.org")
    assert ana.final_recipient == ("rfc822", "ana@example.org")  # brackets dropped
    assert (ana.action, ana.status) == ("failed", "5.1.1")
    assert ana.remote_mta == ("dns", "mx.example.org")
    assert ana.diagnostic_code == (
        "smtp", "550 5.1.1 <ana@example.org>: Recipient address rejected (user unknown)")
    assert ana.last_attempt_date == "Tue, 2 Jan 2024 10:00:05 +0100"
    assert ana.final_log_id == "4711"
    assert (bo.action, bo.status, bo.will_retry_until) == (
        "delayed", "4.4.7", "Fri, 5 Jan 2024 10:00:00 +0100")
    assert bo.get("x-vendor-note") == "kept as is"
    assert cy.final_recipient == ("rfc822", "cy@example.org")  # comments dropped
    assert cy.action == "delivered"
    assert status.failed == (ana,)
    assert [r.address for r in status.recipients] == [
        "ana@example.org", "bo@example.org", "cy@example.org"]
    data = json.loads(json.dumps(status.to_dict()))
    assert data["recipients"][0]["final_recipient"] == {"type": "rfc822",
                                                        "value": "ana@example.org"}
    assert data["recipients"][1]["fields"][-1] == ["X-Vendor-Note", "kept as is"]


def test_crlf_lf_and_cr_give_the_same_value() -> None:
    lf = parse_delivery_status(MULTI)
    assert parse_delivery_status(MULTI.replace(b"\n", b"\r\n")) == lf
    assert parse_delivery_status(MULTI.replace(b"\n", b"\r")) == lf
    # blank lines made of white space still separate groups
    assert parse_delivery_status(MULTI.replace(b"\n\n", b"\n \t\n")) == lf


def test_missing_blank_line_after_per_message_group() -> None:
    body = (b"Reporting-MTA: dns; a.example\nArrival-Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
            b"Final-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.0.0\n")
    defects: list[Defect] = []
    status = parse_delivery_status(body, defects)
    assert [name for name, _ in status.fields] == ["Reporting-MTA", "Arrival-Date"]
    (rcpt,) = status.recipients
    assert rcpt.final_recipient == ("rfc822", "x@example.org")
    assert kinds(defects) == ["MalformedReportField"]


def test_missing_per_message_group() -> None:
    defects: list[Defect] = []
    status = parse_delivery_status(
        b"Final-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.0.0\n", defects)
    assert status.fields == () and status.reporting_mta is None
    assert status.recipients[0].address == "x@example.org"
    assert kinds(defects) == ["MissingReportField"] and defects[0].header == "Reporting-MTA"


def test_bad_values_are_defects_not_errors() -> None:
    body = (b"Reporting-MTA: mx.example\n\n"
            b"Final-Recipient: ; x@example.org\nAction: exploded\nStatus: 9.9\n"
            b"this line is not a field\n  \n"
            b"   orphan continuation\nFinal-Recipient: rfc822; y@example.org\n"
            b"Action: failed\nStatus: 5.0.0\n")
    defects: list[Defect] = []
    status = parse_delivery_status(body, defects)
    assert status.reporting_mta == ("", "mx.example")
    first, second = status.recipients
    assert first.final_recipient == ("", "x@example.org")
    assert (first.action, first.status) == ("exploded", "9.9")
    assert second.address == "y@example.org"
    details = " | ".join(d.detail for d in defects)
    for expected in ("no 'type;' prefix", "empty type", "unknown Action", "not class.subject",
                     "not a field", "continuation line"):
        assert expected in details
    assert set(kinds(defects)) == {"MalformedReportField"}


def test_eight_bit_bodies() -> None:
    # RFC 6533 global DSN: UTF-8 is legal, no defect.
    defects: list[Defect] = []
    utf8 = "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: utf-8; josé@exämple.org\n" \
           "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 boîte inconnue\n"
    rcpt = parse_delivery_status(utf8.encode("utf-8"), defects).recipients[0]
    assert rcpt.final_recipient == ("utf-8", "josé@exämple.org")
    assert defects == []
    # Latin-1 junk from an old MTA: decoded byte for byte, with a defect.
    rcpt = parse_delivery_status(utf8.encode("latin-1"), defects).recipients[0]
    assert rcpt.diagnostic_code == ("smtp", "550 boîte inconnue")
    assert kinds(defects) == ["MalformedReportField"]


def test_empty_and_blank_bodies() -> None:
    for body in (b"", b"\n\n\r\n", b"   \n"):
        defects: list[Defect] = []
        assert parse_delivery_status(body, defects) == DeliveryStatus((), ())
        assert kinds(defects) == ["MissingReportField"]


def test_field_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "MAX_FIELDS", 3)
    defects: list[Defect] = []
    groups = parse_report_fields(b"A: 1\nB: 2\nC: 3\nD: 4\nE: 5\n", defects)
    assert groups == [[("A", "1"), ("B", "2"), ("C", "3")]]
    assert "more than 3 fields" in defects[-1].detail


def test_feedback_report_fields() -> None:
    # RFC 5965 §3 (ARF): one group of fields, read with the shared layer.
    body = (b"Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
            b"Original-Mail-From: <somespammer@example.net>\r\n"
            b"Reported-Domain: example.net\r\nReported-Uri: http://example.net/earn_money\r\n"
            b"  ?now\r\n")
    (group,) = parse_report_fields(body)
    assert group[0] == ("Feedback-Type", "abuse")
    assert group[-1] == ("Reported-Uri", "http://example.net/earn_money ?now")


# ---------------------------------------------------------------------------------------
# Disposition notifications (RFC 8098)


def test_automatic_mdn_with_modifiers_errors_and_gateway() -> None:
    body = (b"Reporting-UA: mua.example.com (sorting host); Mailer/2.1\r\n"
            b"MDN-Gateway: smtp; gw.example.com\r\n"
            b"Original-Recipient: rfc822; Chris@Example.com\r\n"
            b"Final-Recipient: rfc822; chris@example.com\r\n"
            b"Original-Message-ID: (the one you sent) <20240102.1234@example.org>\r\n"
            b"Disposition: automatic-action/MDN-sent-automatically;\r\n"
            b"  processed/Error, expired (old)\r\n"
            b"Error: mailbox quota exceeded\r\n"
            b"Error: retry later\r\n")
    defects: list[Defect] = []
    mdn = parse_disposition_notification(body, defects)
    assert defects == []
    assert mdn.reporting_ua == ("mua.example.com", "Mailer/2.1")
    assert mdn.mdn_gateway == ("smtp", "gw.example.com")
    assert mdn.original_recipient == ("rfc822", "Chris@Example.com")
    assert mdn.final_recipient == ("rfc822", "chris@example.com")
    assert mdn.original_message_id == "20240102.1234@example.org"
    assert mdn.disposition is not None
    assert mdn.disposition.action_mode == "automatic-action"
    assert mdn.disposition.sending_mode == "mdn-sent-automatically"
    assert mdn.disposition.type == "processed"
    assert mdn.disposition.modifiers == ("error", "expired")
    assert mdn.disposition.is_automatic
    assert mdn.errors == ("mailbox quota exceeded", "retry later")
    assert mdn.get("error") == "mailbox quota exceeded"
    data = json.loads(json.dumps(mdn.to_dict()))
    assert data["disposition"]["modifiers"] == ["error", "expired"]
    assert data["reporting_ua"] == {"name": "mua.example.com", "product": "Mailer/2.1"}


def test_broken_mdns() -> None:
    defects: list[Defect] = []
    mdn = parse_disposition_notification(b"Reporting-UA: ua\n\nDisposition: deleted\n", defects)
    assert mdn.reporting_ua == ("ua", "")
    assert mdn.disposition == Disposition(None, None, "deleted", (), "deleted")
    details = " | ".join(d.detail for d in defects)
    assert "groups merged" in details and "no ';'" in details
    assert "no Final-Recipient" in details

    defects = []
    mdn = parse_disposition_notification(b"Disposition: manual-action; displayed\n", defects)
    assert mdn.disposition is not None and mdn.disposition.action_mode == "manual-action"
    assert mdn.disposition.sending_mode is None and mdn.disposition.type == "displayed"
    assert "mode without '/'" in " | ".join(d.detail for d in defects)

    defects = []
    mdn = parse_disposition_notification(b"", defects)
    assert mdn == DispositionNotification(None, None, None, None, None, ())
    assert set(kinds(defects)) == {"MissingReportField"}
    assert {d.header for d in defects} >= {"Disposition", "Final-Recipient"}


# ---------------------------------------------------------------------------------------
# Feedback reports (ARF, RFC 5965)


@pytest.mark.corpus
def test_corpus_feedback_reports() -> None:
    defects: list[Defect] = []
    arf = parse_feedback_report(report_body("jstedfast-MimeKit/messages/feedback-report.txt",
                                            "message/feedback-report"), defects)
    assert defects == []
    assert (arf.feedback_type, arf.user_agent, arf.version) == (
        "abuse", "SomeGenerator/1.0", "1")
    assert arf.original_mail_from == "somespammer@example.net"
    assert arf.original_rcpt_to == ("user@example.com",)
    assert arf.arrival_date == "Thu, 8 Mar 2005 14:00:00 EDT"
    assert arf.source_ip == "192.0.2.2"
    assert arf.authentication_results == (
        "mail.example.com; spf=fail smtp.mail=somespammer@example.com",)
    assert arf.reported_domains == ("example.net",)
    assert arf.reported_uris == ("http://example.net/earn_money.html",
                                 "mailto:user@example.com")
    assert arf.get("removal-recipient") == "user@example.com"
    json.dumps(arf.to_dict())

    arf = parse_feedback_report(report_body("mailgun-flanker/complaints/aol.eml",
                                            "message/feedback-report"))
    assert (arf.feedback_type, arf.user_agent, arf.version) == ("abuse", "AOL SComp", "0.1")
    assert arf.arrival_date == "Wed, 17 Nov 2010 12:41:30 -0500"  # from Received-Date
    assert arf.source_ip == "173.193.210.34"  # "Source-Ip"
    assert arf.reported_domains == ("mars-34.example.com",)

    arf = parse_feedback_report(report_body("mailgun-flanker/complaints/yahoo.eml",
                                            "message/feedback-report"))
    assert arf.user_agent == "Yahoo!-Mail-Feedback/1.0"
    assert arf.original_mail_from == "bounce+705f77.d4a-user=yahoo.com@example.com"
    assert arf.original_rcpt_to == ("user@yahoo.com",)


def test_broken_feedback_report() -> None:
    defects: list[Defect] = []
    arf = parse_feedback_report(b"Feedback-Type: Not-Spam\nIncidents: many\n\n"
                                b"Reporting-MTA: dns; mx.example\n", defects)
    assert arf.feedback_type == "not-spam"
    assert arf.incidents is None and arf.reporting_mta == ("dns", "mx.example")
    details = " | ".join(d.detail for d in defects)
    assert "groups merged" in details and "not a number" in details
    assert {d.header for d in defects if d.kind == "MissingReportField"} == {
        "User-Agent", "Version"}
    assert parse_feedback_report(b"Incidents: 12\n").incidents == 12
    assert parse_feedback_report(b"") == FeedbackReport(None, None, None, ())


def test_parse_report_dispatches_by_media_type() -> None:
    assert isinstance(parse_report("message/delivery-status", MULTI), DeliveryStatus)
    assert isinstance(parse_report("Message/Global-Delivery-Status", MULTI), DeliveryStatus)
    mdn = (b"Final-Recipient: rfc822; a@b.example\n"
           b"Disposition: manual-action/MDN-sent-manually; deleted\n")
    for mime_type in ("message/disposition-notification",
                      "message/global-disposition-notification"):
        result = parse_report(mime_type, mdn)
        assert isinstance(result, DispositionNotification)
        assert result.disposition is not None and result.disposition.type == "deleted"
    assert isinstance(parse_report("message/feedback-report", b"Feedback-Type: abuse\n"),
                      FeedbackReport)
    assert parse_report("text/plain", b"Action: failed\n") is None


# ---------------------------------------------------------------------------------------
# Property tests

FIELD_NAMES = ["Reporting-MTA", "Final-Recipient", "Original-Recipient", "Action", "Status",
               "Diagnostic-Code", "Disposition", "Reporting-UA", "Original-Message-ID",
               "Feedback-Type", "Incidents", "Original-Rcpt-To", "X-A"]
line = st.one_of(
    st.builds(lambda n, v: f"{n}:{v}", st.sampled_from(FIELD_NAMES), st.text(max_size=40)),
    st.text(alphabet=" \t;/()<>@,.:x5", max_size=20),
    st.just(""),
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    defects: list[Defect] = []
    json.dumps(parse_delivery_status(data, defects).to_dict())
    json.dumps(parse_disposition_notification(data, defects).to_dict())
    json.dumps(parse_feedback_report(data, defects).to_dict())


@settings(max_examples=300, deadline=None)
@given(st.lists(line, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_field_shaped_text_never_raises(lines: list[str], sep: str) -> None:
    body = sep.join(lines).encode("utf-8", "surrogatepass")
    status = parse_delivery_status(body)
    mdn = parse_disposition_notification(body)
    json.dumps(status.to_dict())
    json.dumps(mdn.to_dict())
    json.dumps(parse_feedback_report(body).to_dict())
