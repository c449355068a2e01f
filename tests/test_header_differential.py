"""Differential test: mimekit's decoded headers against the standard library's.

For every corpus message, every header of every part (embedded message/rfc822 included)
is decoded by mimekit and by ``email.message_from_bytes(data, policy=email.policy.default)``:

- unstructured and other headers: :attr:`mimekit.headers.Header.value` against
  ``str(header)``;
- address headers: the mailboxes and groups of :func:`mimekit.address.parse_address_list`
  against the stdlib's ``.groups``;
- Date / Resent-Date: :func:`mimekit.dates.parse_date` against ``.datetime``;
- Message-ID-like headers: :func:`mimekit.dates.parse_msgid_list` against the ids in
  angle brackets of the stdlib's value.

Parts are paired by their path in the tree (``1.2``; ``:msg`` for an embedded message).
Parts that exist in only one tree are skipped: the stdlib turns message/delivery-status
bodies and message/external-body into pseudo-parts and leaves base64 message/rfc822
unparsed, which are structure questions, not header ones (a header missing from a paired
stdlib part is recorded as ``(no such header)``). Address-like fields are compared as
parsed mailboxes only: the stdlib's ``str()`` of them is a re-rendering, not a decoding.

Trivially equal forms are normalised first (runs of white space, IDNA A-labels, the
stdlib's naive datetime for ``-0000``). Every remaining disagreement is recorded, with a
reviewed verdict and a one-line reason, in ``tests/data/header_differential.json``; the
test recomputes them and requires exactly the recorded set (a new disagreement must be
reviewed) and no verdict ``stdlib-right`` (those are fixed in mimekit instead).

Regenerate after a reviewed change with ``python tests/test_header_differential.py``
(keeps existing verdicts, marks new entries ``unreviewed``, which fails the test).
"""

from __future__ import annotations

import email
import email.headerregistry
import email.message
import email.policy
import json
import os
import pathlib
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from mimekit.address import Address, Group, parse_address_list
from mimekit.dates import parse_date, parse_msgid_list
from mimekit.folding import ADDRESS_HEADERS
from mimekit.headers import Header
from mimekit.model import Part
from mimekit.params import ContentDisposition, ContentType
from mimekit.parser import parse

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))
DATA = _REPO / "tests" / "data" / "header_differential.json"
_META = {"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"}
VERDICTS = {"ours-right", "both-acceptable", "stdlib-right"}
_MAX = 200  # characters kept of each value in the data file

_DATE_HEADERS = frozenset({"date", "resent-date"})
_MSGID_HEADERS = frozenset(
    {"message-id", "resent-message-id", "in-reply-to", "references", "content-id"}
)
_WS = re.compile(r"\s+")
_IN_BRACKETS = re.compile(r"<([^<>]*)>")
_SURROGATE = re.compile("[\udc80-\udcff]")

pytestmark = pytest.mark.corpus


def _files() -> list[pathlib.Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in _META)


def _norm(text: str) -> str:
    """White-space runs to one space, surrounding white space dropped; undecoded bytes
    (the stdlib's surrogate escapes) shown as ``\\xNN``."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return _WS.sub(" ", text).strip()


def _cut(text: str) -> str:
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"


def _domain(domain: str) -> str:
    """Domains compare case-insensitively, A-labels as U-labels (both trivially equal)."""
    domain = domain.lower()
    if "xn--" in domain:
        labels = []
        for label in domain.split("."):
            try:
                labels.append(label.encode("ascii").decode("idna"))
            except UnicodeError:
                labels.append(label)
        domain = ".".join(labels)
    return domain


def _mailbox_text(name: str | None, local: str, domain: str) -> str:
    addr = f"{local}@{_domain(domain)}" if domain else local
    return f"{_norm(name)} <{addr}>" if name else f"<{addr}>"


def _ours_addresses(text: str) -> str:
    out = []
    for item in parse_address_list(text):
        if isinstance(item, Group):
            members = ", ".join(_mailbox_text(m.name, m.local, m.domain) for m in item.members)
            out.append(f"{_norm(item.name)}: {members};")
        else:
            assert isinstance(item, Address)
            out.append(_mailbox_text(item.name, item.local, item.domain))
    return ", ".join(out)


def _stdlib_addresses(header: Any) -> str:
    if not hasattr(header, "groups"):
        # A field mimekit reads as addresses (Errors-To, Mail-Followup-To...) that the
        # stdlib registry leaves unstructured: run its address parser on the value.
        header = email.policy.default.header_factory("To", str(header))
    out = []
    for group in header.groups:
        members = ", ".join(
            _mailbox_text(a.display_name, a.username, a.domain) for a in group.addresses
        )
        if group.display_name is None:
            out.append(members)
        else:
            out.append(f"{_norm(group.display_name)}: {members};")
    return ", ".join(o for o in out if o)


def _date_text(dt: datetime | None) -> str:
    if dt is None:
        return "(none)"
    if dt.tzinfo is None:  # the stdlib's reading of -0000 ("no zone information")
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()


def _ours(header: Header) -> str:
    """mimekit's comparable text for one header."""
    key = header.name.lower()
    if key in ADDRESS_HEADERS:
        return _ours_addresses(header.unfolded)
    if key in _DATE_HEADERS:
        return _date_text(parse_date(header.unfolded))
    if key in _MSGID_HEADERS:
        return " ".join(f"<{i}>" for i in parse_msgid_list(header.unfolded))
    if key == "content-type":
        ct = ContentType.parse(header.unfolded)
        return _params_text(ct.mime_type, ct.params)
    if key == "content-disposition":
        cd = ContentDisposition.parse(header.unfolded)
        return _params_text(cd.kind, cd.params)
    return _norm(header.value)


def _theirs(key: str, theirs: Any) -> str:
    """The stdlib's comparable text for one header (``key``: lower-case name)."""
    if key in ADDRESS_HEADERS:
        return _stdlib_addresses(theirs)
    if key in _DATE_HEADERS:
        return _date_text(theirs.datetime)
    if key in _MSGID_HEADERS:
        ids = ["".join(i.split()) for i in _IN_BRACKETS.findall(str(theirs))]
        return " ".join(f"<{i}>" for i in ids if i)
    if key == "content-type":
        return _params_text(theirs.content_type, theirs.params.items())
    if key == "content-disposition":
        return _params_text(theirs.content_disposition or "(none)", theirs.params.items())
    return _norm(str(theirs))


def _params_text(head: str, params: Iterable[tuple[str, str]]) -> str:
    """``type; name=value; ...`` with lower-case names, values as decoded."""
    return "; ".join([head.lower()] + [f"{k.lower()}={_norm(v)!r}" for k, v in params])


def _walk_ours(part: Part, path: str) -> Iterator[tuple[str, Part]]:
    """Every part with a path: ``1.2`` for children, ``:msg`` for an embedded message."""
    yield path, part
    if part.children:
        for i, child in enumerate(part.children, 1):
            yield from _walk_ours(child, f"{path}.{i}" if path else str(i))
    elif part.message is not None:
        yield from _walk_ours(part.message, f"{path}:msg" if path else ":msg")


def _walk_theirs(part: Any, path: str) -> Iterator[tuple[str, Any]]:
    """The stdlib tree walked like :func:`_walk_ours` (same part paths)."""
    yield path, part
    payload = part.get_payload()
    if not part.is_multipart() or not isinstance(payload, list):
        return
    if part.get_content_type() in ("message/rfc822", "message/global") and len(payload) == 1:
        yield from _walk_theirs(payload[0], f"{path}:msg" if path else ":msg")
        return
    for i, child in enumerate(payload, 1):
        yield from _walk_theirs(child, f"{path}.{i}" if path else str(i))


def disagreements_for(rel: str, data: bytes) -> list[dict[str, str]]:
    """Every header disagreement of one message (see the module docstring)."""
    ours_msg = parse(data)
    theirs_msg = email.message_from_bytes(data, policy=email.policy.default)
    theirs_parts = dict(_walk_theirs(theirs_msg, ""))
    found: list[dict[str, str]] = []
    for path, part in _walk_ours(ours_msg, ""):
        other = theirs_parts.get(path)
        if other is None:
            continue  # structure differs here: not a header question
        theirs_by_name: dict[str, list[tuple[str, str]]] = {}
        for k, v in other.raw_items():
            theirs_by_name.setdefault(k.lower(), []).append((k, v))
        seen: dict[str, int] = {}
        for header in part.headers:
            key = header.name.lower()
            index = seen.get(key, 0)
            seen[key] = index + 1
            candidates = theirs_by_name.get(key, [])
            ours_v = _ours(header)
            if index >= len(candidates):
                theirs_v = "(no such header)"
            else:
                try:
                    theirs_h = other.policy.header_fetch_parse(*candidates[index])
                    theirs_v = _theirs(key, theirs_h)
                except Exception as exc:  # noqa: BLE001 - the stdlib raising is a finding
                    theirs_v = f"(raised {type(exc).__name__})"
            ours_v, theirs_v = _cut(ours_v), _cut(theirs_v)
            if ours_v != theirs_v:
                found.append(
                    {
                        "file": rel,
                        "part": path or "root",
                        "header": header.name if index == 0 else f"{header.name}[{index}]",
                        "ours": ours_v,
                        "stdlib": theirs_v,
                    }
                )
    return found


def compute() -> list[dict[str, str]]:
    """Disagreements over the whole corpus, in file order."""
    out: list[dict[str, str]] = []
    for path in _files():
        out.extend(disagreements_for(str(path.relative_to(CORPUS)), path.read_bytes()))
    return out


def _key(entry: dict[str, str]) -> tuple[str, str, str, str, str]:
    return (entry["file"], entry["part"], entry["header"], entry["ours"], entry["stdlib"])


def load() -> list[dict[str, str]]:
    if not DATA.exists():
        return []
    loaded: list[dict[str, str]] = json.loads(DATA.read_text(encoding="utf-8"))
    return loaded


FILES = _files()


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
def test_disagreements_are_exactly_the_reviewed_ones() -> None:
    recorded = load()
    current = compute()
    new = sorted({_key(e) for e in current} - {_key(e) for e in recorded})
    gone = sorted({_key(e) for e in recorded} - {_key(e) for e in current})
    assert not new, f"unreviewed disagreements (review, then regenerate the data file): {new[:5]}"
    assert not gone, f"recorded disagreements no longer seen (regenerate the data file): {gone[:5]}"


def test_recorded_verdicts_are_reviewed_and_never_stdlib_right() -> None:
    recorded = load()
    assert recorded, "tests/data/header_differential.json is missing or empty"
    for entry in recorded:
        assert set(entry) == {"file", "part", "header", "ours", "stdlib", "verdict", "reason"}
        assert entry["verdict"] in VERDICTS - {"stdlib-right"}, entry
        assert entry["reason"].strip() and "\n" not in entry["reason"], entry
        assert len(entry["ours"]) <= _MAX and len(entry["stdlib"]) <= _MAX
    assert len({_key(e) for e in recorded}) == len(recorded), "duplicate entries"


def _regenerate() -> None:  # pragma: no cover - maintenance tool
    """Rewrite the data file from the corpus, keeping reviewed verdicts by key."""
    old = {_key(e): e for e in load()}
    out = []
    for entry in compute():
        prev = old.get(_key(entry))
        entry["verdict"] = prev["verdict"] if prev else "unreviewed"
        entry["reason"] = prev["reason"] if prev else ""
        out.append(entry)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(out)} disagreements written to {DATA}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    _regenerate()
