"""Nothing POSIX-only on the common path, so evalkit imports and runs on Windows.

Two checks, because each misses what the other sees: importing every evalkit module in a process
where the POSIX-only standard modules cannot be imported (as on Windows) catches a module-level
import, in evalkit or in a library it loads; reading every evalkit source file catches an import
of one inside a function (the lazy imports that keep start-up fast), which the first check only
meets when that function runs. An import guarded by a platform test or an ImportError handler is
allowed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

POSIX_ONLY = ("fcntl", "pwd", "grp", "resource", "termios", "tty", "pty", "crypt", "syslog", "posix")

IMPORT_ALL = textwrap.dedent(
    f"""
    import importlib, pkgutil, sys, warnings
    for name in {POSIX_ONLY!r}:
        if name != "posix":  # os itself needs posix here; it is the one module os hides on Windows
            sys.modules[name] = None  # `import name` now raises ImportError, as on Windows
    warnings.simplefilter("ignore")
    import evalkit
    failed = []
    for info in pkgutil.walk_packages(evalkit.__path__, "evalkit."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed.append(f"{{info.name}}: {{exc}}")
    print("\\n".join(failed))
    """
)


def test_every_module_imports_without_posix_only_modules() -> None:
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", "modules that need a POSIX-only module to import:\n" + proc.stdout


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an import sits under `if sys.platform ...`/`os.name` or in a try that catches ImportError."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and any(
            isinstance(n, ast.Attribute) and n.attr in ("platform", "name") for n in ast.walk(node.test)
        ):
            return True
        if isinstance(node, ast.Try) and any(
            h.type is None
            or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in ast.walk(h.type))
            for h in node.handlers
        ):
            return True
    return False


def posix_only_imports(root: Path) -> list[str]:
    """`file:line module` for every unguarded import of a POSIX-only module under `root`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            for name in names:
                if name in POSIX_ONLY and not _guarded(node, parents):
                    found.append(f"{path.relative_to(root.parent).as_posix()}:{node.lineno} {name}")
    return found


def test_no_unguarded_posix_only_import_in_the_source() -> None:
    assert posix_only_imports(REPO / "evalkit") == []


def test_the_source_scan_finds_what_it_should(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "import fcntl\n"
        "def f():\n    import pwd.x\n"
        "def g():\n    from resource import getrusage\n"
        "import sys\nif sys.platform != 'win32':\n    import termios\n"
        "try:\n    import grp\nexcept ImportError:\n    grp = None\n",
        encoding="utf-8",
    )
    assert posix_only_imports(pkg) == ["pkg/a.py:1 fcntl", "pkg/a.py:3 pwd", "pkg/a.py:5 resource"]


def test_the_import_check_would_catch_a_module_level_fcntl(tmp_path: Path) -> None:
    """The sys.modules block really makes `import fcntl` fail (else the first test proves nothing)."""
    code = "import sys; sys.modules['fcntl'] = None\ntry:\n    import fcntl\nexcept ImportError:\n    print('blocked')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "blocked"


def text_io_without_encoding(root: Path) -> list[str]:
    """`file:line call` for open()/read_text()/write_text() in text mode with no encoding= (the
    platform default is cp1252 on many Windows machines, so UTF-8 must be named)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            keywords = {k.arg for k in node.keywords}
            if name in ("read_text", "write_text"):
                bad = "encoding" not in keywords
            elif name == "open" and not (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in ("os", "gzip", "zipfile", "tarfile", "bz2", "lzma")
            ):
                mode_args = [a for a in node.args[1:2]] + [k.value for k in node.keywords if k.arg == "mode"]
                if isinstance(func, ast.Attribute):  # Path.open(mode, ...): the mode is the first argument
                    mode_args = [a for a in node.args[0:1]] + [k.value for k in node.keywords if k.arg == "mode"]
                mode = next((a.value for a in mode_args if isinstance(a, ast.Constant)), "r" if not mode_args else None)
                bad = mode is not None and "b" not in mode and "encoding" not in keywords
            else:
                continue
            if bad:
                found.append(f"{path.relative_to(root.parent).as_posix()}:{node.lineno} {name}")
    return found


def test_text_is_read_and_written_as_utf8_by_name() -> None:
    assert text_io_without_encoding(REPO / "evalkit") == []


def test_the_encoding_scan_finds_what_it_should(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "from pathlib import Path\n"
        "p = Path('x')\n"
        "p.read_text()\n"
        "open('y', 'w')\n"
        "p.open()\n"
        "p.read_text(encoding='utf-8')\n"
        "open('y', 'rb')\n"
        "p.open('wb')\n"
        "open('y', 'w', encoding='utf-8', newline='\\n')\n",
        encoding="utf-8",
    )
    assert text_io_without_encoding(pkg) == ["pkg/a.py:3 read_text", "pkg/a.py:4 open", "pkg/a.py:5 open"]
