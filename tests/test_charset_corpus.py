"""Real-world mail: every text part of the shared corpus decodes without raising, and
where the declared charset decodes the bytes, mimekit returns exactly that text.

The corpus is found through MIMEKIT_CORPUS or ../shared/corpus next to the
repository; the test skips when it is absent.
"""

from __future__ import annotations

import email
import email.policy
import os
from pathlib import Path

import pytest

from mimekit.charset import decode_bytes, lookup
from mimekit.errors import Defect

pytestmark = pytest.mark.corpus


def _corpus() -> Path:
    env = os.environ.get("MIMEKIT_CORPUS")
    path = Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"mail corpus not found at {path} (set MIMEKIT_CORPUS to its folder)")
    return path


def test_text_parts_decode_as_declared() -> None:
    checked = 0
    for path in sorted(_corpus().rglob("*")):
        if not path.is_file() or path.suffix in (".md", ".tsv") or path.name[0] == ".":
            continue
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for part in msg.walk():
            if part.is_multipart() or part.get_content_maintype() != "text":
                continue
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            declared = part.get_param("charset")
            label = declared if isinstance(declared, str) else None
            defects: list[Defect] = []
            text, used = decode_bytes(data, label, defects)
            assert isinstance(text, str) and used, path.name
            codec = lookup(label)
            if codec is None:
                continue
            try:
                expected = data.decode(codec)
            except UnicodeDecodeError:
                assert defects and defects[0].kind == "CharsetMismatch", path.name
                continue
            if used == "windows-1252":  # Latin-1 label with C1 bytes: read as browsers do
                continue
            assert text == expected.removeprefix("\ufeff"), path.name
            assert defects == [], path.name
            checked += 1
    assert checked > 1000
