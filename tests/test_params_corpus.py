"""Real-world mail: every Content-Type / Content-Disposition of the shared corpus
parses without raising, and every base64 / quoted-printable body decodes like the
stdlib's strict decoders wherever those succeed.

The corpus is not part of the repository: it is found through MIMEKIT_CORPUS or
../shared/corpus next to the repository, and the tests skip when it is absent.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import os
import quopri
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimekit.codecs import decode_body
from mimekit.errors import Defect
from mimekit.params import ContentDisposition, ContentType

pytestmark = pytest.mark.corpus

_HEADER = re.compile(
    rb"^(content-type|content-disposition):[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE
)


def _corpus() -> Path:
    env = os.environ.get("MIMEKIT_CORPUS")
    path = Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"mail corpus not found at {path} (set MIMEKIT_CORPUS to its folder)")
    return path


def _messages() -> Iterator[tuple[str, bytes]]:
    for path in sorted(_corpus().rglob("*")):
        if path.is_file() and path.suffix not in (".md", ".tsv") and path.name[0] != ".":
            yield str(path.relative_to(_corpus())), path.read_bytes()


def test_every_content_header_parses() -> None:
    seen = 0
    with_names = 0
    for name, data in _messages():
        for m in _HEADER.finditer(data):
            value = re.sub(rb"\r?\n[ \t]", b" ", m.group(2)).rstrip(b"\r")
            text = value.decode("utf-8", "replace")
            defects: list[Defect] = []
            if m.group(1).lower() == b"content-type":
                ct = ContentType.parse(text, defects)
                assert ct.maintype and ct.subtype, name
                filename = ct.get("name")
            else:
                filename = ContentDisposition.parse(text, defects).filename
            seen += 1
            if filename is not None:
                with_names += 1
                # RFC 2231 / 2047 forms are decoded, never left in the value.
                assert not re.search(r"^[\w-]+''|\?[BbQq]\?[^ ]*\?=", filename), (name, filename)
            assert all(d.header in ("Content-Type", "Content-Disposition") for d in defects)
    assert seen > 1000
    assert with_names > 100


def test_bodies_decode_like_strict_stdlib_decoders() -> None:
    compared = 0
    for name, data in _messages():
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        for part in msg.walk():
            if part.is_multipart():
                continue
            cte = str(part.get("content-transfer-encoding", "")).strip().lower()
            payload = part.get_payload(decode=False)
            if cte not in ("base64", "quoted-printable") or not isinstance(payload, str):
                continue
            if not payload.isascii():
                continue
            raw = payload.encode("ascii")
            defects: list[Defect] = []
            mine = decode_body(raw, cte, defects)
            if cte == "base64":
                try:
                    expected = base64.b64decode(raw, validate=False)
                except binascii.Error:
                    continue  # the stdlib gives up; mimekit repairs (defect recorded)
                if raw.find(b"=") >= 0 and raw[raw.find(b"=") :].strip(b"=\r\n\t "):
                    continue  # data after padding: the stdlib drops it, mimekit keeps it
            else:
                expected = quopri.decodestring(raw)
            assert mine == expected, (name, cte)
            compared += 1
    assert compared > 1000
