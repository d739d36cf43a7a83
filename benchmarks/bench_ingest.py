"""CPU seconds of `evalkit ingest` of the reference folder, whole process, optionally against an older checkout.

    .venv/bin/python benchmarks/bench_ingest.py [--runs 5] [--ref DIR] [--from ../shared/data/reference]

Each run ingests into a fresh folder in a fresh process (user + system CPU from os.wait4, peak RSS, the
1-minute load average just before). With `--ref DIR` (e.g. `git archive <commit> | tar -x -C DIR`) the old
code, put first on PYTHONPATH, runs before each new run, and every output file of each new run is compared
byte for byte with the old code's first run. The processes start in a temporary folder, never in the
checkout: `python -c` puts its working folder first on sys.path, ahead of PYTHONPATH, so a run started in
the checkout would import the new code as the "old" one. PYTHONDONTWRITEBYTECODE is removed so that both
run with cached bytecode, as after `pip install` (one untimed run of each first).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
RUN = (
    "import sys, evalkit; assert evalkit.__file__.startswith(sys.argv[1]), evalkit.__file__; "
    "from evalkit.cli import main; sys.argv = ['evalkit', '--quiet', 'ingest', '--from', sys.argv[2], "
    "'--out', sys.argv[3]]; main()"
)


def _ingest(code: Path, source: Path, out: Path, cwd: Path) -> dict:
    load = os.getloadavg()[0]
    env = {**ENV, "PYTHONPATH": str(code)}
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(code), str(source), str(out)], cwd=cwd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"ingest with {code} failed")
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "load": load}


def _outputs(out: Path) -> Path:
    return (out / "generations" / (out / "CURRENT").read_text().strip()).resolve()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ref", type=Path, help="an older checkout, run interleaved before each new run")
    ap.add_argument("--from", dest="source", type=Path, default=ROOT.parent / "shared" / "data" / "reference")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evalkit-ingest-bench-"))
    sides = {"after": ROOT} | ({"before": a.ref.resolve()} if a.ref else {})
    for name, code in sides.items():  # bytecode written, caches warm
        _ingest(code, a.source.resolve(), work / f"warm-{name}", work)
    seen: dict[str, list[dict]] = {name: [] for name in sides}
    for i in range(a.runs):
        for name in ("before", "after"):
            if name in sides:
                r = _ingest(sides[name], a.source.resolve(), work / f"{name}-{i}", work)
                seen[name].append(r)
                print(f"{name} run {i + 1}: {r['cpu']:.2f} CPU s, peak RSS {r['rss']:.0f} MiB, load {r['load']:.1f}")
        if "before" in sides:
            old, new = _outputs(work / "before-0"), _outputs(work / f"after-{i}")
            names = sorted(p.name for p in old.iterdir())
            same = [n for n in names if filecmp.cmp(old / n, new / n, shallow=False)]
            print(f"  after run {i + 1}: {len(same)} of {len(names)} output files byte-identical to before")
    for name, rs in seen.items():
        cpus = [r["cpu"] for r in rs]
        print(f"{name}: median {statistics.median(cpus):.2f} CPU s ({min(cpus):.2f}-{max(cpus):.2f}), {len(rs)} runs")


if __name__ == "__main__":
    main()
