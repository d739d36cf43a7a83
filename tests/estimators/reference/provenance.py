"""Provenance block shared by the reference scripts (make.py): who computed the numbers, from what.

Standard library only, because each make.py runs in its own throwaway venv holding the peer package,
not the project's. Deliberately no date: rerunning a script on the same data and peer version must
give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def shared_data(argv: list[str]) -> Path:
    """The shared data folder: the script's first argument, else ../shared/data beside the checkout."""
    return Path(argv[1]) if len(argv) > 1 else REPO.parent / "shared" / "data"


def block(script: str, packages: list[str], data: dict[str, Path]) -> dict:
    """Package versions, interpreter, the command line, and a SHA-256 of every input file."""
    return {
        "script": Path(script).resolve().relative_to(REPO).as_posix(),
        "command": f"python {Path(script).resolve().relative_to(REPO).as_posix()} [SHARED_DATA_DIR]",
        "packages": {name: version(name) for name in packages},
        "python": platform.python_version(),
        "data": {
            name: {
                "file": f"<shared>/{path.parent.name}/{path.name}",
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
            for name, path in data.items()
        },
    }


def write(script: str, payload: dict) -> None:
    """reference.json beside the script, full float precision (json writes repr, round-trip exact)."""
    out = Path(script).resolve().parent / "reference.json"
    out.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    print(f"wrote {out}", file=sys.stderr)
