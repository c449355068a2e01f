"""The public face: a complete, sorted __all__ and the dependency direction."""

from __future__ import annotations

import subprocess
import sys

import mimekit.transports

import mimekit


def test_all_is_sorted_and_complete() -> None:
    for module in (mimekit, mimekit.transports):
        names = list(module.__all__)
        assert names == sorted(names)
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name} is listed but missing"
        public = {n for n in vars(module) if not n.startswith("_") and n != "annotations"
                  and not isinstance(getattr(module, n), type(sys))}
        assert public - set(names) == set(), f"{module.__name__}: not in __all__"


def test_fixed_names_exist() -> None:
    for name in ("parse", "parse_file", "compose", "Message"):
        assert name in mimekit.__all__
    for method in ("to_bytes", "to_dict", "walk"):
        assert callable(getattr(mimekit.Message, method))
    for attr in ("subject", "text", "html", "attachments", "defects"):
        assert hasattr(mimekit.Message, attr)
    b = mimekit.compose()
    for method in ("from_", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attach",
                   "inline", "header", "build"):
        assert callable(getattr(b, method))
    for name in ("MemoryTransport", "FileTransport", "SMTPTransport", "from_url"):
        assert name in mimekit.transports.__all__


def _imports_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_no_transport_and_no_network() -> None:
    mods = _imports_after("import mimekit")
    assert not any(m.startswith("mimekit.transports") for m in mods)
    assert "socket" not in mods and "ssl" not in mods and "asyncio" not in mods
    assert "chardet" not in mods and "magic" not in mods  # both imported lazily


def test_smtp_state_machine_imports_no_io() -> None:
    """The sans-I/O core names no socket, ssl or asyncio module, directly or through
    the mimekit modules it imports."""
    import ast
    from pathlib import Path

    smtp_dir = Path(mimekit.transports.__file__).parent / "smtp"
    for name in ("protocol.py", "sasl.py", "batch.py", "envelope.py", "wire.py"):
        path = smtp_dir / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        assert not {"socket", "ssl", "asyncio", "selectors"} & imported, (name, imported)


def test_every_package_directory_is_packaged() -> None:
    """A subpackage missing from pyproject's list installs fine in editable mode and
    breaks every real install: keep the list complete."""
    from pathlib import Path

    tomllib = __import__("tomllib") if sys.version_info >= (3, 11) else None
    if tomllib is None:
        import pytest

        pytest.skip("tomllib needs Python 3.11")
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("mimekit", "mimekit"), ("transports", "mimekit.transports")):
        for init in (root / top).rglob("__init__.py"):
            rel = init.parent.relative_to(root / top).parts
            found.add(".".join((name, *rel)))
    assert found == listed
