"""`mimekit inspect --json` exits 0 with contract JSON on every corpus file (issue 2)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mimekit.cli import main
from mimekit.summary import schema_errors

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MIMEKIT_CORPUS", REPO.parent / "shared" / "corpus"))
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".tsv")
               ) if CORPUS.is_dir() else []


@pytest.mark.skipif(not FILES, reason=f"no corpus at {CORPUS} (set MIMEKIT_CORPUS)")
def test_inspect_json_on_every_corpus_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(FILES) >= 179
    for path in FILES:
        assert main(["inspect", "--json", str(path)]) == 0, path
        out = capsys.readouterr().out
        lines = out.splitlines()
        assert lines, path
        for line in lines:  # an mbox gives one object per message
            doc = json.loads(line)
            assert doc["schema"] == 1
            assert schema_errors(doc) == [], (path, schema_errors(doc)[:3])


@pytest.mark.skipif(not FILES, reason=f"no corpus at {CORPUS} (set MIMEKIT_CORPUS)")
def test_inspect_tree_on_every_corpus_file(capsys: pytest.CaptureFixture[str]) -> None:
    for path in FILES:
        assert main(["inspect", str(path)]) == 0, path
        assert capsys.readouterr().out.strip()
