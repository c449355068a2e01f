"""Where the shared corpus of real messages is, for the tests that read it.

The corpus is never copied into the repository: it is found through the environment
variable MIMEKIT_CORPUS or at ``<repo>/../shared/corpus``, and tests that need it skip
with a reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MIMEKIT_CORPUS", REPO.parent / "shared" / "corpus"))
META = frozenset({"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"})


def corpus_dir() -> Path:
    """The corpus folder, or skip the calling test."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (set MIMEKIT_CORPUS)")
    return CORPUS


def corpus_bytes(relative: str) -> bytes:
    """One corpus file's bytes, or skip the calling test."""
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} not found under {CORPUS} (set MIMEKIT_CORPUS)")
    return path.read_bytes()


def corpus_files() -> list[Path]:
    """Every message file of the corpus (empty when it is absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in META)
