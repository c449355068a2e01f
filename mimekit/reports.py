"""Machine-readable parts of delivery and disposition reports.

``message/delivery-status`` (RFC 3464, and its UTF-8 twin ``message/global-delivery-status``
from RFC 6533), ``message/disposition-notification`` (RFC 8098, formerly RFC 3798/2298) and
``message/feedback-report`` (ARF, RFC 5965) bodies are not MIME messages: they are blocks
of header-style fields separated by blank lines.  The stdlib parses them as a list of fake
messages and leaves the field syntax (``type; value``, status codes, disposition modes) to
the caller; here they become frozen values with those pieces already split.

The entry points are pure functions over the *decoded* body bytes (the caller undoes any
Content-Transfer-Encoding first), never raise on bad input, and append
:class:`mimekit.errors.Defect` values to ``defects`` for what they had to recover from.
Real reports are messy: missing or doubled blank lines, 8-bit junk, comments, folded
diagnostic text, a recipient group base64-encoded by a broken gateway.  Each of those is
handled and reported rather than rejected.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from typing import TypeAlias

import attrs

from mimekit.errors import Defect

__all__ = [
    "DeliveryStatus",
    "Disposition",
    "DispositionNotification",
    "FeedbackReport",
    "RecipientStatus",
    "parse_delivery_status",
    "parse_disposition_notification",
    "parse_feedback_report",
    "parse_report",
    "parse_report_fields",
]

Fields = tuple[tuple[str, str], ...]
Typed = tuple[str, str]
Report: TypeAlias = "DeliveryStatus | DispositionNotification | FeedbackReport"

# Upper bound on the number of fields read from one body: a report has a handful per
# recipient; a hostile one with millions of lines costs linear time only up to this.
MAX_FIELDS = 100_000
MAX_LINE_DEFECTS = 20

# RFC 3464 §2.2 and §2.3: the fields that may only appear in the per-message group and
# the ones that mark a per-recipient group.  Used to repair a missing blank line.
_PER_MESSAGE = frozenset(
    {"reporting-mta", "dsn-gateway", "received-from-mta", "arrival-date",
     "original-envelope-id"}
)
_PER_RECIPIENT = frozenset(
    {"original-recipient", "final-recipient", "action", "status", "remote-mta",
     "diagnostic-code", "last-attempt-date", "final-log-id", "will-retry-until"}
)
# RFC 3464 §2.3.3: the values of the Action field.
_ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
# RFC 3463 §2: class "." subject "." detail, class in {2, 4, 5}, up to three digits each.
_STATUS_RE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?!\d)")
_FIELD_RE = re.compile(r"([!-9;-~]+)[ \t]*:(.*)", re.DOTALL)
_COMMENT_RE = re.compile(r"\((?:[^()\\]|\\.)*\)")
_BASE64_LINE_RE = re.compile(r"[A-Za-z0-9+/=]+")


# ---------------------------------------------------------------------------------------
# Values


def _typed_dict(value: Typed | None) -> dict[str, str] | None:
    return None if value is None else {"type": value[0], "value": value[1]}


def _fields_list(fields: Fields) -> list[list[str]]:
    return [[name, value] for name, value in fields]


def _get(fields: Fields, name: str) -> str | None:
    key = name.lower()
    for field_name, value in fields:
        if field_name.lower() == key:
            return value
    return None


@attrs.frozen
class RecipientStatus:
    """One per-recipient group of a delivery status notification (RFC 3464 §2.3).

    ``final_recipient``, ``original_recipient``, ``remote_mta`` and ``diagnostic_code``
    are ``(type, value)`` pairs with the type lower-cased (``("rfc822", "bo@example.org")``,
    ``("smtp", "550 5.1.1 user unknown")``); ``action`` is lower case; ``status`` is the
    bare ``class.subject.detail`` code (comments dropped) or the raw text when it is not
    one.  ``fields`` keeps every field of the group, unfolded, in order, so nothing an
    MTA wrote (``X-Postfix-*`` and friends) is lost.
    """

    final_recipient: Typed | None
    original_recipient: Typed | None
    action: str | None
    status: str | None
    remote_mta: Typed | None
    diagnostic_code: Typed | None
    last_attempt_date: str | None
    fields: Fields
    will_retry_until: str | None = None
    final_log_id: str | None = None

    @property
    def address(self) -> str | None:
        """The recipient address: Final-Recipient's value, else Original-Recipient's."""
        for typed in (self.final_recipient, self.original_recipient):
            if typed is not None and typed[1]:
                return typed[1]
        return None

    @property
    def is_permanent_failure(self) -> bool:
        """True for ``Action: failed`` or a 5.x.x status (RFC 3463 §2: permanent)."""
        return self.action == "failed" or (self.status or "").startswith("5.")

    def get(self, name: str) -> str | None:
        """The first field of this group called ``name`` (case-insensitive), unfolded."""
        return _get(self.fields, name)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for ``inspect --json``."""
        return {
            "final_recipient": _typed_dict(self.final_recipient),
            "original_recipient": _typed_dict(self.original_recipient),
            "action": self.action,
            "status": self.status,
            "remote_mta": _typed_dict(self.remote_mta),
            "diagnostic_code": _typed_dict(self.diagnostic_code),
            "last_attempt_date": self.last_attempt_date,
            "will_retry_until": self.will_retry_until,
            "final_log_id": self.final_log_id,
            "fields": _fields_list(self.fields),
        }


@attrs.frozen
class DeliveryStatus:
    """A parsed ``message/delivery-status`` body (RFC 3464 §2.1).

    ``fields`` is the per-message group (Reporting-MTA, Arrival-Date, ...); ``recipients``
    one :class:`RecipientStatus` per per-recipient group, in order.
    """

    fields: Fields
    recipients: tuple[RecipientStatus, ...]
    reporting_mta: Typed | None = None
    dsn_gateway: Typed | None = None
    received_from_mta: Typed | None = None
    arrival_date: str | None = None
    original_envelope_id: str | None = None

    def get(self, name: str) -> str | None:
        """The first per-message field called ``name`` (case-insensitive), unfolded."""
        return _get(self.fields, name)

    @property
    def failed(self) -> tuple[RecipientStatus, ...]:
        """The recipients whose Action is ``failed``."""
        return tuple(r for r in self.recipients if r.action == "failed")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for ``inspect --json``."""
        return {
            "reporting_mta": _typed_dict(self.reporting_mta),
            "dsn_gateway": _typed_dict(self.dsn_gateway),
            "received_from_mta": _typed_dict(self.received_from_mta),
            "arrival_date": self.arrival_date,
            "original_envelope_id": self.original_envelope_id,
            "fields": _fields_list(self.fields),
            "recipients": [r.to_dict() for r in self.recipients],
        }


@attrs.frozen
class Disposition:
    """The Disposition field of an MDN (RFC 8098 §3.2.6).

    ``manual-action/MDN-sent-manually; displayed`` gives ``action_mode="manual-action"``,
    ``sending_mode="mdn-sent-manually"``, ``type="displayed"``; ``modifiers`` are the names
    after ``/`` (``error``, or the obsolete RFC 2298 ones), all lower case.  ``raw`` keeps
    the unfolded text as written.
    """

    action_mode: str | None
    sending_mode: str | None
    type: str | None
    modifiers: tuple[str, ...] = ()
    raw: str = ""

    @property
    def is_automatic(self) -> bool:
        """True when the MDN was sent without the user's explicit consent (§3.2.6.1)."""
        return self.action_mode == "automatic-action" or (
            self.sending_mode == "mdn-sent-automatically"
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for ``inspect --json``."""
        return {
            "action_mode": self.action_mode,
            "sending_mode": self.sending_mode,
            "type": self.type,
            "modifiers": list(self.modifiers),
            "raw": self.raw,
        }


@attrs.frozen
class DispositionNotification:
    """A parsed ``message/disposition-notification`` body (RFC 8098 §3.1, §3.2).

    ``reporting_ua`` is ``(ua_name, ua_product)`` (product may be ``""``);
    ``original_recipient`` / ``final_recipient`` / ``mdn_gateway`` are ``(type, value)``;
    ``original_message_id`` is without angle brackets; ``errors`` are the Error fields
    (RFC 8098 §3.2.7).  ``fields`` keeps every field, unfolded, in order.
    """

    reporting_ua: tuple[str, str] | None
    original_recipient: Typed | None
    final_recipient: Typed | None
    original_message_id: str | None
    disposition: Disposition | None
    fields: Fields
    mdn_gateway: Typed | None = None
    errors: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        """The first field called ``name`` (case-insensitive), unfolded."""
        return _get(self.fields, name)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for ``inspect --json``."""
        return {
            "reporting_ua": None if self.reporting_ua is None else {
                "name": self.reporting_ua[0], "product": self.reporting_ua[1]},
            "original_recipient": _typed_dict(self.original_recipient),
            "final_recipient": _typed_dict(self.final_recipient),
            "mdn_gateway": _typed_dict(self.mdn_gateway),
            "original_message_id": self.original_message_id,
            "disposition": None if self.disposition is None else self.disposition.to_dict(),
            "errors": list(self.errors),
            "fields": _fields_list(self.fields),
        }


@attrs.frozen
class FeedbackReport:
    """A parsed ``message/feedback-report`` body (ARF, RFC 5965 §3.1 and §3.2).

    ``feedback_type`` is lower case (``abuse``, ``fraud``, ``not-spam``, ...).  Fields that
    may repeat are tuples in order.  ``original_mail_from`` and ``original_rcpt_to`` lose
    their angle brackets.  ``fields`` keeps every field, unfolded, in order.
    """

    feedback_type: str | None
    user_agent: str | None
    version: str | None
    fields: Fields
    original_mail_from: str | None = None
    original_rcpt_to: tuple[str, ...] = ()
    arrival_date: str | None = None
    source_ip: str | None = None
    reporting_mta: Typed | None = None
    incidents: int | None = None
    authentication_results: tuple[str, ...] = ()
    reported_domains: tuple[str, ...] = ()
    reported_uris: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        """The first field called ``name`` (case-insensitive), unfolded."""
        return _get(self.fields, name)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for ``inspect --json``."""
        return {
            "feedback_type": self.feedback_type,
            "user_agent": self.user_agent,
            "version": self.version,
            "original_mail_from": self.original_mail_from,
            "original_rcpt_to": list(self.original_rcpt_to),
            "arrival_date": self.arrival_date,
            "source_ip": self.source_ip,
            "reporting_mta": _typed_dict(self.reporting_mta),
            "incidents": self.incidents,
            "authentication_results": list(self.authentication_results),
            "reported_domains": list(self.reported_domains),
            "reported_uris": list(self.reported_uris),
            "fields": _fields_list(self.fields),
        }


# ---------------------------------------------------------------------------------------
# Field groups


def _defect(defects: list[Defect] | None, kind: str, detail: str,
            header: str | None = None) -> None:
    if defects is not None:
        defects.append(Defect(kind, detail, header=header))


def _decode(body: bytes, defects: list[Defect] | None) -> str:
    """UTF-8 (RFC 6533 allows it in global reports), else Latin-1 so no byte is lost."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        _defect(defects, "MalformedReportField",
                "report body is neither ASCII nor UTF-8; decoded as Latin-1")
        return body.decode("latin-1")


def _split_groups(text: str) -> list[list[str]]:
    """Blocks of physical lines separated by one or more blank lines (RFC 3464 §2.1)."""
    groups: list[list[str]] = []
    current: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if line.strip(" \t") == "":
            if current:
                groups.append(current)
                current = []
            continue
        current.append(line)
    if current:
        groups.append(current)
    return groups


def _parse_group(lines: list[str], defects: list[Defect] | None,
                 budget: list[int]) -> list[tuple[str, str]]:
    """Header-style fields of one group, unfolded (RFC 5322 §2.2.3 folding).

    A line that is neither ``name: value`` nor a continuation is dropped with a defect.
    ``budget`` is shared by the whole body: fields left (:data:`MAX_FIELDS`), bad lines seen.
    """
    fields: list[tuple[str, list[str]]] = []  # value pieces joined once: no O(n^2) folding
    for line in lines:
        if line[:1] in (" ", "\t"):
            if fields:
                fields[-1][1].append(line.strip(" \t"))
            else:
                _bad_line(defects, budget, "continuation line with no field before it", line)
            continue
        match = _FIELD_RE.fullmatch(line)
        if match is None:
            _bad_line(defects, budget, "not a field", line)
            continue
        if budget[0] <= 0:
            if budget[0] == 0:  # reported once per body
                _defect(defects, "MalformedReportField",
                        f"more than {MAX_FIELDS} fields; rest ignored")
                budget[0] = -1
            break
        budget[0] -= 1
        fields.append((match.group(1), [match.group(2).strip(" \t")]))
    return [(name, " ".join(piece for piece in pieces if piece)) for name, pieces in fields]


def _bad_line(defects: list[Defect] | None, budget: list[int], what: str, line: str) -> None:
    """One defect per bad line, up to :data:`MAX_LINE_DEFECTS`, then one summary defect:
    a megabyte of junk must not become a million defects."""
    budget[1] += 1
    if budget[1] <= MAX_LINE_DEFECTS:
        _defect(defects, "MalformedReportField", f"{what}: {line[:60]!r}")
    elif budget[1] == MAX_LINE_DEFECTS + 1:
        _defect(defects, "MalformedReportField",
                f"more than {MAX_LINE_DEFECTS} malformed lines; further ones not reported")


def _maybe_base64_group(lines: list[str], defects: list[Defect] | None) -> list[str] | None:
    """Lines of a group that a broken gateway base64-encoded (seen in Postfix bounces
    relayed through Exchange): when every line is base64 and the decoded text looks like
    fields, return its lines; else None."""
    if not all(_BASE64_LINE_RE.fullmatch(line.strip()) for line in lines):
        return None
    try:
        raw = base64.b64decode("".join(line.strip() for line in lines), validate=True)
    except (binascii.Error, ValueError):
        return None
    text = raw.decode("utf-8", "replace")
    decoded = re.split(r"\r\n|\r|\n", text)
    if not any(_FIELD_RE.fullmatch(line) for line in decoded):
        return None
    _defect(defects, "MalformedReportField",
            "a field group was base64-encoded inside the report body; decoded it")
    return decoded


def parse_report_fields(body: bytes,
                        defects: list[Defect] | None = None) -> list[list[tuple[str, str]]]:
    """The field groups of a report body, each a list of ``(name, unfolded value)``.

    The shared lower layer of the report parsers, public so callers can read report
    types this module has no value class for (vendor ``message/x-*`` reports, or the
    text/rfc822-headers part of a report).  Empty groups are dropped.
    """
    text = _decode(bytes(body), defects)
    budget = [MAX_FIELDS, 0]
    groups: list[list[tuple[str, str]]] = []
    for lines in _split_groups(text):
        if not any(_FIELD_RE.fullmatch(line) for line in lines):
            decoded = _maybe_base64_group(lines, defects)
            if decoded is not None:
                for sub in _split_groups("\n".join(decoded)):
                    parsed = _parse_group(sub, defects, budget)
                    if parsed:
                        groups.append(parsed)
                continue
        parsed = _parse_group(lines, defects, budget)
        if parsed:
            groups.append(parsed)
    return groups


# ---------------------------------------------------------------------------------------
# Field values


def _strip_comments(text: str) -> str:
    """Remove RFC 5322 §3.2.2 comments (nested ones from the inside out)."""
    for _ in range(32):  # bounded: nesting deeper than this is left as text
        stripped = _COMMENT_RE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split())


def _typed(name: str, value: str | None, defects: list[Defect] | None, *,
           keep_comments: bool = False) -> Typed | None:
    """Split ``type ; value`` (RFC 3464 §2.1.2 - §2.1.4: address-type / mta-name-type /
    diagnostic-type).  The type is an atom, compared case-insensitively, so it is
    lower-cased; comments around it are dropped.  For ``rfc822`` addresses comments and
    angle brackets around the address go too.  Diagnostic text keeps its comments
    (``500 (err.nosuchuser)`` is the message)."""
    if value is None:
        return None
    if ";" not in value:
        _defect(defects, "MalformedReportField",
                f"{name} has no 'type;' prefix: {value[:60]!r}", header=name)
        return ("", value.strip() if keep_comments else _strip_comments(value))
    kind, _, rest = value.partition(";")
    kind = _strip_comments(kind).lower()
    rest = rest.strip() if keep_comments else _strip_comments(rest)
    if kind in ("rfc822", "utf-8") and rest.startswith("<") and rest.endswith(">"):
        rest = rest[1:-1].strip()
    if not kind:
        _defect(defects, "MalformedReportField", f"{name} has an empty type", header=name)
    return (kind, rest)


def _status(value: str | None, defects: list[Defect] | None) -> str | None:
    """The RFC 3463 code out of a Status field (RFC 3464 §2.3.4), comments dropped."""
    if value is None:
        return None
    text = _strip_comments(value)
    match = _STATUS_RE.match(text)
    if match is None:
        _defect(defects, "MalformedReportField",
                f"Status is not class.subject.detail: {value[:60]!r}", header="Status")
        return text
    return match.group(0)


def _recipient(fields: list[tuple[str, str]],
               defects: list[Defect] | None) -> RecipientStatus:
    group = tuple(fields)
    action = _get(group, "Action")
    if action is not None:
        action = _strip_comments(action).lower()
        if action not in _ACTIONS:
            _defect(defects, "MalformedReportField",
                    f"unknown Action {action[:40]!r}", header="Action")
    status = _status(_get(group, "Status"), defects)
    for required in ("Final-Recipient", "Action", "Status"):  # RFC 3464 §2.3
        if _get(group, required) is None:
            _defect(defects, "MissingReportField",
                    f"recipient group without {required}", header=required)
    last = _get(group, "Last-Attempt-Date")
    retry = _get(group, "Will-Retry-Until")
    return RecipientStatus(
        final_recipient=_typed("Final-Recipient", _get(group, "Final-Recipient"), defects),
        original_recipient=_typed("Original-Recipient", _get(group, "Original-Recipient"),
                                  defects),
        action=action,
        status=status,
        remote_mta=_typed("Remote-MTA", _get(group, "Remote-MTA"), defects),
        diagnostic_code=_typed("Diagnostic-Code", _get(group, "Diagnostic-Code"), defects,
                               keep_comments=True),
        last_attempt_date=None if last is None else _strip_comments(last) or last,
        fields=group,
        will_retry_until=None if retry is None else _strip_comments(retry) or retry,
        final_log_id=_get(group, "Final-Log-ID"),
    )


def _names(fields: Iterable[tuple[str, str]]) -> set[str]:
    return {name.lower() for name, _ in fields}


def parse_delivery_status(body: bytes, defects: list[Defect] | None = None) -> DeliveryStatus:
    """Parse a ``message/delivery-status`` body (RFC 3464 §2.1) into a DeliveryStatus.

    Also right for ``message/global-delivery-status`` (RFC 6533: UTF-8 allowed).
    Repairs, each with a defect: a missing blank line between the per-message group and
    the first recipient (the group is split at the first per-recipient field); a missing
    per-message group; fields in the wrong kind of group are kept where they are.
    """
    groups = parse_report_fields(body, defects)
    per_message: list[tuple[str, str]] = []
    if groups:
        first = groups[0]
        names = _names(first)
        if names & _PER_MESSAGE and names & _PER_RECIPIENT:
            cut = next(i for i, (n, _) in enumerate(first) if n.lower() in _PER_RECIPIENT)
            if cut > 0:
                _defect(defects, "MalformedReportField",
                        "no blank line between the per-message and the first recipient "
                        "group")
                per_message, groups = first[:cut], [first[cut:], *groups[1:]]
            else:
                per_message, groups = first, groups[1:]
        elif names & _PER_RECIPIENT:
            _defect(defects, "MissingReportField",
                    "no per-message group (Reporting-MTA) before the recipients",
                    header="Reporting-MTA")
        else:
            per_message, groups = first, groups[1:]
    if not groups and not per_message:
        _defect(defects, "MissingReportField", "empty delivery-status body")
    elif per_message and _get(tuple(per_message), "Reporting-MTA") is None:  # RFC 3464 §2.2
        _defect(defects, "MissingReportField", "no Reporting-MTA field",
                header="Reporting-MTA")
    if not groups and per_message:
        _defect(defects, "MissingReportField", "no per-recipient group")
    message = tuple(per_message)
    envid = _get(message, "Original-Envelope-Id")
    arrival = _get(message, "Arrival-Date")
    return DeliveryStatus(
        fields=message,
        recipients=tuple(_recipient(group, defects) for group in groups),
        reporting_mta=_typed("Reporting-MTA", _get(message, "Reporting-MTA"), defects),
        dsn_gateway=_typed("DSN-Gateway", _get(message, "DSN-Gateway"), defects),
        received_from_mta=_typed("Received-From-MTA", _get(message, "Received-From-MTA"),
                                 defects),
        arrival_date=None if arrival is None else _strip_comments(arrival) or arrival,
        original_envelope_id=None if envid is None else envid.strip(),
    )


# ---------------------------------------------------------------------------------------
# Disposition notifications


def _disposition(value: str, defects: list[Defect] | None) -> Disposition:
    """``action-mode/sending-mode; type[/modifier, ...]`` (RFC 8098 §3.2.6)."""
    text = _strip_comments(value)
    mode, sep, rest = text.partition(";")
    if not sep:
        _defect(defects, "MalformedReportField",
                f"Disposition has no ';': {value[:60]!r}", header="Disposition")
        # Old or broken writers put only the type; take a lone word as the type.
        mode, rest = ("", text) if "/" not in text else (text, "")
    action_mode, slash, sending_mode = mode.partition("/")
    if mode and not slash:
        _defect(defects, "MalformedReportField",
                f"Disposition mode without '/': {mode[:40]!r}", header="Disposition")
    dtype, _, modifiers = rest.partition("/")
    mods = tuple(m.strip().lower() for m in modifiers.split(",") if m.strip())
    dtype = dtype.strip().lower()
    if not dtype:
        _defect(defects, "MalformedReportField", "Disposition without a type",
                header="Disposition")
    return Disposition(
        action_mode=action_mode.strip().lower() or None,
        sending_mode=sending_mode.strip().lower() or None,
        type=dtype or None,
        modifiers=mods,
        raw=value,
    )


def parse_disposition_notification(
    body: bytes, defects: list[Defect] | None = None
) -> DispositionNotification:
    """Parse a ``message/disposition-notification`` body (RFC 8098 §3.1) into a value.

    The body is one group of fields; further groups (a writer's stray blank line) are
    merged in, with a defect.  Reporting-UA and Original-Message-ID lose their comments;
    Original-Message-ID its angle brackets.
    """
    groups = parse_report_fields(body, defects)
    if not groups:
        _defect(defects, "MissingReportField", "empty disposition-notification body")
    elif len(groups) > 1:
        _defect(defects, "MalformedReportField",
                "blank line inside a disposition-notification body; groups merged")
    fields = tuple(field for group in groups for field in group)
    ua = _get(fields, "Reporting-UA")
    reporting_ua: tuple[str, str] | None = None
    if ua is not None:  # RFC 8098 §3.2.1: ua-name [";" ua-product]
        name, _, product = ua.partition(";")
        reporting_ua = (_strip_comments(name), _strip_comments(product))
    msgid = _get(fields, "Original-Message-ID")
    if msgid is not None:  # RFC 8098 §3.2.5
        msgid = _strip_comments(msgid)
        if msgid.startswith("<") and msgid.endswith(">"):
            msgid = msgid[1:-1].strip()
    disp = _get(fields, "Disposition")
    if disp is None or not disp.strip():
        _defect(defects, "MissingReportField", "no Disposition field", header="Disposition")
    for required in ("Final-Recipient",):  # RFC 8098 §3.1: required with Disposition
        if _get(fields, required) is None:
            _defect(defects, "MissingReportField", f"no {required} field", header=required)
    return DispositionNotification(
        reporting_ua=reporting_ua,
        original_recipient=_typed("Original-Recipient", _get(fields, "Original-Recipient"),
                                  defects),
        final_recipient=_typed("Final-Recipient", _get(fields, "Final-Recipient"), defects),
        original_message_id=msgid,
        disposition=None if disp is None or not disp.strip() else _disposition(disp, defects),
        fields=fields,
        mdn_gateway=_typed("MDN-Gateway", _get(fields, "MDN-Gateway"), defects),
        errors=tuple(v for n, v in fields if n.lower() == "error"),
    )


# ---------------------------------------------------------------------------------------
# Feedback reports (ARF)


def _unbracket(value: str) -> str:
    value = _strip_comments(value)
    return value[1:-1].strip() if value.startswith("<") and value.endswith(">") else value


def parse_feedback_report(body: bytes, defects: list[Defect] | None = None) -> FeedbackReport:
    """Parse a ``message/feedback-report`` body (RFC 5965 §3.1) into a FeedbackReport.

    Feedback-Type, User-Agent and Version are required (§3.1); a missing one is a
    ``MissingReportField`` defect.  Arrival-Date falls back to Received-Date, the pre-RFC
    name that AOL and Yahoo complaint reports still use.
    """
    groups = parse_report_fields(body, defects)
    if len(groups) > 1:
        _defect(defects, "MalformedReportField",
                "blank line inside a feedback-report body; groups merged")
    fields = tuple(field for group in groups for field in group)
    for required in ("Feedback-Type", "User-Agent", "Version"):
        if _get(fields, required) is None:
            _defect(defects, "MissingReportField", f"no {required} field", header=required)

    def every(name: str) -> tuple[str, ...]:
        key = name.lower()
        return tuple(v for n, v in fields if n.lower() == key)

    feedback_type = _get(fields, "Feedback-Type")
    incidents_text = _get(fields, "Incidents")
    incidents: int | None = None
    if incidents_text is not None:
        digits = _strip_comments(incidents_text)
        if digits.isdigit() and len(digits) <= 18:
            incidents = int(digits)
        else:
            _defect(defects, "MalformedReportField",
                    f"Incidents is not a number: {incidents_text[:40]!r}", header="Incidents")
    mail_from = _get(fields, "Original-Mail-From")
    arrival = _get(fields, "Arrival-Date") or _get(fields, "Received-Date")
    source_ip = _get(fields, "Source-IP")
    return FeedbackReport(
        feedback_type=None if feedback_type is None else _strip_comments(feedback_type).lower(),
        user_agent=_get(fields, "User-Agent"),
        version=None if (v := _get(fields, "Version")) is None else _strip_comments(v),
        fields=fields,
        original_mail_from=None if mail_from is None else _unbracket(mail_from),
        original_rcpt_to=tuple(_unbracket(v) for v in every("Original-Rcpt-To")),
        arrival_date=None if arrival is None else _strip_comments(arrival) or arrival,
        source_ip=None if source_ip is None else _strip_comments(source_ip),
        reporting_mta=_typed("Reporting-MTA", _get(fields, "Reporting-MTA"), defects),
        incidents=incidents,
        authentication_results=every("Authentication-Results"),
        reported_domains=tuple(_strip_comments(v) for v in every("Reported-Domain")),
        reported_uris=tuple(_strip_comments(v) for v in every("Reported-URI")),
    )


# RFC 3464 §2.1, RFC 6533, RFC 8098 §3.1, RFC 5965 §3: media type -> parser.
_PARSERS: dict[str, Callable[[bytes, list[Defect] | None], Report]] = {
    "message/delivery-status": parse_delivery_status,
    "message/global-delivery-status": parse_delivery_status,
    "message/disposition-notification": parse_disposition_notification,
    "message/global-disposition-notification": parse_disposition_notification,
    "message/feedback-report": parse_feedback_report,
}


def parse_report(mime_type: str, body: bytes,
                 defects: list[Defect] | None = None) -> Report | None:
    """Parse a report body by its media type; None for a type that is not a report.

    The one call a MIME part needs: ``parse_report(part.mime_type, part.get_content())``.
    """
    parser = _PARSERS.get(mime_type.strip().lower())
    return None if parser is None else parser(body, defects)
