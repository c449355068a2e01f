"""Regenerate the golden tree summaries: ``python tests/golden/update.py``.

For every file of the shared corpus (env MIMEKIT_CORPUS, else <repo>/../shared/corpus)
writes ``tests/golden/<source>/<path>.txt``: :func:`mimekit.summary.tree_text` of the
parsed message, i.e. our own output (ids, types, charsets, sizes, hash prefixes, defect
kinds), never the mail itself. Review the diff (``git diff tests/golden``) before
committing: every change is a change in what the parser understands.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys

GOLDEN = pathlib.Path(__file__).resolve().parent
REPO = GOLDEN.parent.parent
CORPUS = pathlib.Path(os.environ.get("MIMEKIT_CORPUS", REPO.parent / "shared" / "corpus"))
META = {"MANIFEST.md", "manifest.tsv", "stdlib-check.tsv", ".gitattributes"}


def corpus_files() -> list[pathlib.Path]:
    """Every message file of the corpus (metadata files left out), sorted."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in META)


def golden_path(path: pathlib.Path) -> pathlib.Path:
    """Where the summary of corpus file ``path`` is stored."""
    rel = path.relative_to(CORPUS)
    return GOLDEN / rel.parent / (rel.name + ".txt")


_PART_LINE = re.compile(r"(\s*part )(\S+) (.*)")


def collapse(text: str) -> str:
    """Runs of sibling lines that differ only in the section id become one line
    (``part 2.3..2.3039 x3037 ...``), so a 3,000-part message stays a small file."""
    out: list[str] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        if len(run) > 2:
            first, last = run[0], run[-1]
            out.append(f"{first.group(1)}{first.group(2)}..{last.group(2)} x{len(run)} "
                       f"{first.group(3)}")
        else:
            out.extend(m.group(0) for m in run)
        run.clear()

    for line in text.splitlines():
        m = _PART_LINE.fullmatch(line)
        if m is not None and run and (m.group(1), m.group(3)) == (run[0].group(1), run[0].group(3)):
            run.append(m)
            continue
        flush()
        if m is not None:
            run.append(m)
        else:
            out.append(line)
    flush()
    return "\n".join(out) + "\n"


def summarize(path: pathlib.Path) -> str:
    """The golden text for one corpus file."""
    from mimekit.mailbox import read_mbox
    from mimekit.parser import parse_file
    from mimekit.summary import tree_text

    if ".mbox" in path.name:
        # An mbox holds many messages: one summary each, as a mailbox reader sees them.
        return "".join(
            f"=== message {n}\n" + collapse(tree_text(msg))
            for n, msg in enumerate(read_mbox(path), 1)
        )
    return collapse(tree_text(parse_file(path)))


def main() -> int:
    """Write every summary; remove summaries of files no longer in the corpus."""
    files = corpus_files()
    if not files:
        print(f"corpus not found at {CORPUS} (set MIMEKIT_CORPUS)", file=sys.stderr)
        return 1
    wanted = set()
    changed = 0
    for path in files:
        target = golden_path(path)
        wanted.add(target)
        text = summarize(path)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed += 1
    for stale in GOLDEN.rglob("*.txt"):
        if stale not in wanted:
            stale.unlink()
            changed += 1
    print(f"{len(files)} summaries, {changed} written or removed")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
