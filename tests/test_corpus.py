"""Every message of the shared real-world corpus: parses, round-trips, summarizes.

The corpus is never copied into the repository: it is found through the environment
variable MIMEKIT_CORPUS or at ``<repo>/../shared/corpus``; without it these tests skip.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import pytest

from mimekit.parser import parse
from mimekit.summary import schema_errors

_REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", _REPO.parent / "shared" / "corpus"))
_META = {"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"}


def _files() -> list[pathlib.Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in _META)


FILES = _files()

pytestmark = pytest.mark.corpus


def _ids(path: pathlib.Path) -> str:
    return str(path.relative_to(CORPUS))


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
@pytest.mark.parametrize("path", FILES, ids=_ids)
def test_corpus_message(path: pathlib.Path) -> None:
    data = path.read_bytes()
    msg = parse(data)
    assert msg.to_bytes() == data
    summary = msg.to_dict()
    text = json.dumps(summary, ensure_ascii=False)
    again: Any = json.loads(text)
    assert schema_errors(again) == []
    # Whole-tree defects are exactly the per-part defects, in tree order.
    per_part: list[dict[str, Any]] = []
    stack = [again["root"]]
    while stack:
        node = stack.pop()
        per_part.extend(node["defects"])
        if node["message"] is not None:
            stack.append(node["message"])
        stack.extend(reversed(node["parts"]))
    assert per_part == again["defects"]
    assert msg.to_bytes() == data  # reading everything changed nothing


def test_corpus_present_or_skipped() -> None:
    if not FILES:
        pytest.skip(f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
    assert len(FILES) >= 100
