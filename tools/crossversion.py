"""Build the demo under every installed Python 3.11-3.13 and check the reports are byte-identical.

Each version gets its own virtual environment in `.venv-crossversion/<version>`, installed from
requirements.lock only (hashes checked) and reused while the lock and pyproject.toml are unchanged.
The four demo stages run in a fresh folder per version; then results.json, results.parquet,
report.md, report.html and every fig-*.svg are compared byte for byte. A version that is not
installed is skipped with a message. Needs the package index the first time (or after the lock
changes), which is why this is `make crossversion` and not part of pytest.

Usage: python tools/crossversion.py [--versions 3.11,3.12,3.13] [--keep DIR]
Exit status: 0 identical (or fewer than two versions to compare), 1 a difference, 2 a set-up failure.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
VENVS = REPO / ".venv-crossversion"
STAGES = ("ingest", "panel", "estimate", "report")
COMPARED = ("results.json", "results.parquet", "report.md", "report.html")


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def find_python(version: str) -> str | None:
    """An interpreter of `version` (e.g. "3.12"): on PATH as pythonX.Y, else under pyenv's versions."""
    check = f"import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '{version}' else 1)"
    candidates = [f"python{version}"]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(glob.glob(str(pyenv / f"{version}.*" / "bin" / f"python{version}")), reverse=True)
    for exe in candidates:
        try:
            ok = subprocess.run([exe, "-c", check], capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok:
            return subprocess.run(
                [exe, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
            ).stdout.strip()
    return None


def _run(cmd: list[str], **kw) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
        )


def ensure_venv(version: str, python: str, uv: str) -> Path:
    """A venv for `version` holding exactly the lock and evalkit (editable); rebuilt when the lock changes."""
    venv = VENVS / version
    stamp = venv / ".installed"
    key = hashlib.sha256(LOCK.read_bytes() + (REPO / "pyproject.toml").read_bytes() + python.encode()).hexdigest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == key:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    _run([uv, "venv", "--quiet", "--python", python, str(venv)])
    py = str(_bin(venv, "python"))
    _run([uv, "pip", "install", "--quiet", "--python", py, "--require-hashes", "-r", str(LOCK)])
    _run([uv, "pip", "install", "--quiet", "--python", py, "--no-deps", "--no-build-isolation", "-e", str(REPO)])
    stamp.write_text(key, encoding="utf-8", newline="\n")
    return venv


def build_demo(venv: Path, work: Path) -> Path:
    """Run the four demo stages in `work`; returns the report folder."""
    work.mkdir(parents=True, exist_ok=True)
    exe = str(_bin(venv, "evalkit"))
    for stage in STAGES:
        _run([exe, stage], cwd=work)  # no --quiet: the command line is recorded in the report
    return work / "reports" / "demo"


def compared_files(report: Path) -> list[str]:
    return [*COMPARED, *sorted(p.name for p in report.glob("fig-*.svg"))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", default="3.11,3.12,3.13")
    ap.add_argument("--keep", type=Path, help="Keep the per-version demo folders here (default: a temporary folder).")
    args = ap.parse_args(argv)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        print("crossversion: uv not found (it is in requirements.lock: run 'make .venv/.installed')", file=sys.stderr)
        return 2

    found: dict[str, str] = {}
    for version in args.versions.split(","):
        python = find_python(version)
        if python is None:
            print(
                f"crossversion: skip Python {version}: not installed (install it, e.g. 'pyenv install {version}', "
                f"or put python{version} on PATH)"
            )
        else:
            found[version] = python
    if not found:
        print("crossversion: no Python 3.11-3.13 found; nothing built")
        return 0

    root = args.keep or Path(tempfile.mkdtemp(prefix="evalkit-crossversion-"))
    reports: dict[str, Path] = {}
    try:
        for version, python in found.items():
            t0 = time.monotonic()
            try:
                venv = ensure_venv(version, python, uv)
                t1 = time.monotonic()
                reports[version] = build_demo(venv, root / version)
            except RuntimeError as exc:
                print(f"crossversion: Python {version} ({python}) failed: {exc}", file=sys.stderr)
                return 2
            print(
                f"crossversion: Python {version} ({python}): venv {t1 - t0:.0f} s, demo {time.monotonic() - t1:.0f} s"
            )

        first, *others = reports
        names = compared_files(reports[first])
        digests = {
            v: {n: hashlib.sha256((r / n).read_bytes()).hexdigest() if (r / n).is_file() else "missing" for n in names}
            for v, r in reports.items()
        }
        width = max(map(len, names))
        print(f"{'file':<{width}}  " + "  ".join(f"{v:<12}" for v in reports))
        for n in names:
            print(f"{n:<{width}}  " + "  ".join(f"{digests[v][n][:12]:<12}" for v in reports))
        skipped = len(args.versions.split(",")) - len(reports)
        if not others:
            print(f"crossversion: only Python {first} installed; nothing to compare")
            print(f"crossversion: 0 passed, 0 failed, {skipped} skipped")
            return 0
        from evalkit.verify import compare_dirs

        differing = {v: compare_dirs(reports[first], reports[v]) for v in others}
        for v, diffs in differing.items():
            for d in diffs:
                print(f"Python {v} vs {first}: {d}", file=sys.stderr)
        failed = sum(1 for diffs in differing.values() if diffs)
        if failed:
            print("crossversion: the demo reports DIFFER between Python versions (above)", file=sys.stderr)
        else:
            print(f"crossversion: {len(names)} files byte-identical under Python {', '.join(reports)}")
        # One line per comparison of a version with the first: the closing summary CI reads.
        print(f"crossversion: {len(others) - failed} passed, {failed} failed, {skipped} skipped")
        return 1 if failed else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
