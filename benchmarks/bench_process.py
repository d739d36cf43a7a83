"""Whole-process figures (issue #16): start-up and CS DR with 999 bootstrap draws, evalkit against peers.

    .venv/bin/python benchmarks/bench_process.py [--runs 5] [--peer-python .peer-venv/bin/python] [--out ...]

Each command runs in a fresh process; the parent reads its wall time and its CPU time (user +
system, from os.wait4) and reports the median over `--runs`, the commands interleaved round by round
(evalkit, csdid, differences, moderndid, evalkit, ...) so passing load falls on all alike. Rows:

* `evalkit --help`: the CLI's start-up (target < 0.3 s).
* `evalkit estimate --panel ... --method cs --est-method dr --bootstrap 999`: the whole job as a
  user runs it (start-up, reading the CSV, the estimation with all four aggregations, writing JSON).
* csdid, differences and moderndid (`--peer-python`, default benchmarks/.peer-venv) doing the same: read the CSV, CS with
  never-treated controls, DR without covariates, 999 multiplier-bootstrap draws, and the simple,
  group, dynamic and calendar aggregations, in a whole `python benchmarks/peers.py` process.

Data: pyfixest's `df_het` (1,500 units x 31 years) is not available offline, so an equivalent panel
of the same shape and design is generated here (`df_het_like`: 1,500 units in 40 states, years
1990-2020, states treated in 2000, in 2010 or never, effects that differ by cohort and grow with
time since treatment, unit and year effects, seed 20240101). The table is written into the
"Whole process" section of RESULTS.md (the rest of the file is run_all.py's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVALKIT = Path(sys.executable).parent / "evalkit"
PEER_PY = HERE / ".peer-venv" / "bin" / "python"
BEGIN, END = "<!-- whole-process:begin -->", "<!-- whole-process:end -->"


def df_het_like(path: Path, seed: int = 20240101) -> Path:
    """A panel shaped like pyfixest's df_het: unit, state, year, g (0 = never), dep_var."""
    rng = np.random.default_rng(seed)
    n_units, years = 1500, np.arange(1990, 2021)
    state = rng.integers(1, 41, n_units)
    cohort_of_state = rng.choice([2000, 2010, 0], size=41)
    g = cohort_of_state[state]
    unit_fe = rng.normal(state / 5, 1, n_units)
    year_fe = rng.normal(0, 1, len(years))
    te = np.where(g == 2000, 2.0, np.where(g == 2010, 1.0, 0.0))
    slope = np.where(g == 2000, 0.05, np.where(g == 2010, 0.15, 0.0))
    rows = ["unit,state,year,g,dep_var"]
    for i in range(n_units):
        rel = years - g[i]
        treated = (g[i] > 0) & (rel >= 0)
        y = unit_fe[i] + year_fe + treated * (te[i] + slope[i] * rel) + rng.normal(0, 1, len(years))
        rows += [f"{i + 1},{state[i]},{t},{g[i]},{v:.6f}" for t, v in zip(years, y)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# Children run as after `pip install`: bytecode compiled and cached (pip compiles installed packages; an
# editable checkout compiles on first run). PYTHONDONTWRITEBYTECODE in the caller's environment would make
# every evalkit run compile its modules from source (about 0.1 CPU s) while the peers' stay compiled.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
RUN_CLI = "import sys; from evalkit.cli import main; sys.argv = ['evalkit', *sys.argv[1:]]; main()"


def _run_once(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """One fresh process: its wall time, its own CPU time and peak RSS (reaped with os.wait4), stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env or CHILD_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            return {"error": err.read().decode(errors="replace").strip().splitlines()[-1:]}
        text = out.read().decode(errors="replace")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "stdout": text}


def _interleaved(
    cmds: dict[str, list[str]], runs: int, cwd: Path, envs: dict[str, dict] | None = None
) -> dict[str, dict]:
    """Each command run `runs` times in fresh processes, interleaved (round r runs every command once, in
    turn), so load that comes and goes on a shared machine falls on all of them alike; per command the
    median wall and CPU seconds, the largest RSS and the last stdout (or the first error). One untimed
    round first, so every command starts with its bytecode cached. The 1-minute load average before each
    round is kept in `loads`."""
    envs = envs or {}
    for name, cmd in cmds.items():
        _run_once(cmd, cwd, envs.get(name))
    seen: dict[str, list[dict]] = {name: [] for name in cmds}
    failed: dict[str, dict] = {}
    loads.clear()
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        for name, cmd in cmds.items():
            if name in failed:
                continue
            r = _run_once(cmd, cwd, envs.get(name))
            if "error" in r:
                failed[name] = r
            else:
                seen[name].append(r)
    out = {}
    for name, rs in seen.items():
        if name in failed:
            out[name] = failed[name]
            continue
        out[name] = {
            "wall": statistics.median(r["wall"] for r in rs),
            "cpu": statistics.median(r["cpu"] for r in rs),
            "cpus": [r["cpu"] for r in rs],
            "rss": max(r["rss"] for r in rs),
            "runs": len(rs),
            "stdout": rs[-1]["stdout"],
        }
    return out


PEERS = ("csdid", "differences", "moderndid")
loads: list[float] = []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument(
        "--peer-python",
        type=Path,
        default=PEER_PY,
        help="python of a venv holding csdid, differences and moderndid (never evalkit's .venv)",
    )
    ap.add_argument(
        "--ref",
        type=Path,
        help="a checkout of earlier evalkit code (e.g. `git archive`): its CS run is added, interleaved, "
        "run by this python with PYTHONPATH=REF",
    )
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evalkit-bench-"))
    data = df_het_like(work / "df_het_like.csv")
    cs = [
        str(EVALKIT),
        "estimate",
        "--panel",
        str(data),
        "--unit",
        "unit",
        "--time",
        "year",
        "--outcome",
        "dep_var",
        "--cohort",
        "g",
        "--method",
        "cs",
        "--est-method",
        "dr",
        "--bootstrap",
        "999",
        "--json",
        "-",
    ]
    cmds = {"help": [str(EVALKIT), "--help"], "evalkit": cs}
    envs = {}
    if a.ref is not None:
        cmds["before"] = [sys.executable, "-c", RUN_CLI, *cs[1:]]
        envs["before"] = {**CHILD_ENV, "PYTHONPATH": str(a.ref.resolve())}
    if a.peer_python.exists():
        for peer in PEERS:
            cmds[peer] = [
                str(a.peer_python),
                str(HERE / "peers.py"),
                f"{peer}_dfhet",
                str(data),
                "--biters",
                "999",
                "--aggregations",
                "all",
            ]
    load_before = os.getloadavg()
    res = _interleaved(cmds, a.runs, work, envs)
    load = os.getloadavg()
    ev = res["evalkit"]
    est = None
    if "stdout" in ev:
        doc = json.loads(ev["stdout"])
        est = next(r["estimate"] for r in doc["estimates"] if r["name"] == "simple")
    rows = [
        ("evalkit --help", res["help"], None),
        ("evalkit estimate (CS, DR, 999 draws, 4 aggregations)", ev, est),
    ]
    if "before" in res:
        b = res["before"]
        b_est = None
        if "stdout" in b:
            b_est = next(r["estimate"] for r in json.loads(b["stdout"])["estimates"] if r["name"] == "simple")
        rows.append((f"same, evalkit at {a.ref.name} (PYTHONPATH)", b, b_est))
    for peer in PEERS:
        if peer not in res:
            rows.append((f"{peer} (no peer python at {a.peer_python})", {"error": ["not installed"]}, None))
            continue
        r = res[peer]
        rows.append(
            (f"{peer} (same work, whole process)", r, json.loads(r["stdout"])["estimate"] if "stdout" in r else None)
        )
    lines = [
        BEGIN,
        "## Whole process (issues #16, #29)",
        "",
        f"`.venv/bin/python benchmarks/bench_process.py --runs {a.runs} --peer-python PY` (PY: a throwaway venv "
        "with csdid, differences and moderndid, e.g. .peer-venv/bin/python; never evalkit's .venv); data: "
        "df_het-shaped panel (1,500 units x 31 years, generated: pyfixest's df_het is not available offline; see the "
        "script). Every command runs in a fresh process, the commands interleaved round by round; medians over the "
        "runs; CPU = user + system of the process. Estimates agree when the simple ATTs differ by at most 1e-8.",
        "",
        "| command | wall s | CPU s | peak RSS MiB | simple ATT | same estimate | peer CPU / evalkit CPU | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = ev.get("cpu")
    for name, r, e in rows:
        if "error" in r:
            lines.append(f"| {name} | failed: {' '.join(r['error'])} | | | | | | |")
            continue
        peer = name.startswith(PEERS)
        ratio = f"{r['cpu'] / base:.1f}x" if base and peer else ""
        compared = peer or name.startswith("same, evalkit")
        same = ("yes" if abs(e - est) <= 1e-8 else f"NO ({e - est:+.2e})") if compared and e is not None and est else ""
        lines.append(
            f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss']:.0f} | "
            f"{'' if e is None else f'{e:.10f}'} | {same} | {ratio} | {r['runs']} |"
        )
    lines += [
        "",
        f"Load average before / after: {load_before[0]:.1f} / {load[0]:.1f} (1 min), {load[2]:.1f} (15 min) on "
        f"{os.cpu_count()} CPUs (other sessions share the machine: wall times stretch, CPU times much less); "
        f"1-minute load before each round: {', '.join(f'{x:.1f}' for x in loads)}. Bytecode cached for every "
        f"command (one untimed round first). evalkit CPU s per run: {', '.join(f'{x:.2f}' for x in ev.get('cpus', []))}.",
        END,
    ]
    section = "\n".join(lines) + "\n"
    text = a.out.read_text(encoding="utf-8") if a.out.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    a.out.write_text(text, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
