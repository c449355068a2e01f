"""Golden tree summaries: fresh :func:`mimekit.summary.tree_text` output for every corpus
file equals the reviewed file under tests/golden (regenerate with
``python tests/golden/update.py`` and review the diff)."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "golden_update", pathlib.Path(__file__).resolve().parent / "golden" / "update.py")
assert _SPEC is not None and _SPEC.loader is not None
golden = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(golden)

FILES = golden.corpus_files()

pytestmark = pytest.mark.corpus


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {golden.CORPUS} (set MIMEKIT_CORPUS)")
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(golden.CORPUS)))
def test_golden_summary(path: pathlib.Path) -> None:
    target = golden.golden_path(path)
    assert target.is_file(), f"no golden summary for {path}: run python tests/golden/update.py"
    assert golden.summarize(path) == target.read_text(encoding="utf-8")
