"""All of evalkit's benchmarks in one command: wall time and peak memory, written to RESULTS.md.

    python benchmarks/run_all.py [--peers] [--skip-large] [--timeout 600] [--out benchmarks/RESULTS.md]

(`make bench` runs it with the project venv.) Every measurement runs in a fresh subprocess, so
imports, data loading and memory of one measurement never leak into the next. For each child the
parent reads the child's own resource usage with os.wait4 (the same kernel accounting that
resource.getrusage(RUSAGE_CHILDREN) sums up, but per child instead of "largest child so far"):

  * process s   wall time of the whole subprocess (interpreter start, imports, data load, work);
  * est. s      seconds inside the estimation call only (perf_counter around it, reported by the
                child as JSON) - this is the figure compared with the peers;
  * peak RSS    ru_maxrss of the child (resident set, MiB; includes the interpreter and imports).

Sections: 1 the demo pipeline as console commands in a temporary working directory; 2 each
estimator on the reference data; 3 (with --peers) csdid, differences and pysyncon in a separate
venv (benchmarks/.peer-venv, pinned by benchmarks/requirements-peers.txt); 4 scaling of CS.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from tests.shared_data import VALIDATION  # noqa: E402  (EVALKIT_SHARED_DATA, default ../shared/data)

MPDTA = VALIDATION / "mpdta.csv"
PROP99 = VALIDATION / "california_prop99.csv"
PEER_VENV = HERE / ".peer-venv"
PEER_REQS = HERE / "requirements-peers.txt"
PEER_PACKAGES = ("csdid", "differences", "pysyncon")
N_PERIODS = 31
DRAWS = 999
SDID_REPS = 200
CS_TOL = 1e-6
DEMO_TARGET_S = 20.0
SPEEDUP_TARGET = 5.0


# ------------------------------------------------------------------------------------------------
# child side: one evalkit measurement, printed as a JSON line


def _sim_cohorts(n_units: int) -> dict[int, int]:
    """13 cohorts (first treated in 6, 8, ..., 30), 6% of the units each; 22% never treated."""
    return {g: round(90 * n_units / 1500) for g in range(6, N_PERIODS, 2)}


def write_sim_csv(n_units: int, path: Path) -> None:
    """The simulated staggered panel of bench_did.py (2 covariates with a covariate-driven trend)."""
    import polars as pl

    from evalkit.estimators.did.simulate import simulate_staggered

    panel = simulate_staggered(
        n_units,
        N_PERIODS,
        _sim_cohorts(n_units),
        effect=lambda g, e: 0.1 * e,
        n_covariates=2,
        covariate_trend=1.0,
        seed=1,
    )
    panel.data.select(
        pl.col("unit").cast(pl.Int64).alias("id"),
        pl.col("time").alias("period"),
        "y",
        pl.col("cohort").alias("first"),
        "x0",
        "x1",
    ).sort("id", "period").write_csv(path)


def child(task: str, arg: str | None) -> None:
    from evalkit.estimators.data import make_panel, read_panel_file

    out: dict = {}
    if task.startswith("cs_") or task == "twfe_mpdta":
        from evalkit.estimators.did.cs import callaway_santanna

        if task == "cs_sim":
            frame = read_panel_file(arg)
            panel = make_panel(frame, unit="id", time="period", outcome="y", cohort="first", covariates=["x0", "x1"])
        else:
            covs = ["lpop"] if task == "cs_mpdta_lpop" else []
            panel = make_panel(
                read_panel_file(MPDTA),
                unit="countyreal",
                time="year",
                outcome="lemp",
                cohort="first.treat",
                covariates=covs,
            )
        if task == "twfe_mpdta":
            from evalkit.estimators.did.twfe import twfe

            start = time.perf_counter()
            res = twfe(panel)
            out["seconds"] = time.perf_counter() - start
            out["estimate"] = res.estimate("coef")["estimate"]
        else:
            start = time.perf_counter()
            res = callaway_santanna(panel, control="never", est_method="dr", bootstrap=DRAWS)
            out["seconds"] = time.perf_counter() - start
            row = res.estimate("simple")
            out["estimate"], out["se"] = row["estimate"], row["se"]
            out["cells"] = res.estimates.height
    else:
        panel = make_panel(
            read_panel_file(PROP99), unit="State", time="Year", outcome="PacksPerCapita", treated="treated"
        )
        if task in ("sc_prop99_fit", "sc_prop99_full"):
            from evalkit.estimators.synth.synth import synthetic_control

            start = time.perf_counter()
            res = synthetic_control(panel, v="nested", inference=task == "sc_prop99_full")
            out["seconds"] = time.perf_counter() - start
            row = res.estimate("att")
            out["estimate"], out["p_value"] = row["estimate"], row.get("p_value")
            out["loss_V"] = res.diagnostics.get("loss")
        elif task in ("sdid_prop99", "did_prop99"):
            from evalkit.estimators.synth.sdid import synthetic_did

            start = time.perf_counter()
            res = synthetic_did(
                panel, se="placebo", reps=SDID_REPS, seed=0, estimator="sdid" if task == "sdid_prop99" else "did"
            )
            out["seconds"] = time.perf_counter() - start
            row = res.estimate("att")
            out["estimate"], out["se"] = row["estimate"], row["se"]
        else:
            raise SystemExit(f"unknown task {task!r}")
    print(json.dumps(out, default=float))


# ------------------------------------------------------------------------------------------------
# parent side


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 600.0, json_out: bool = True) -> dict:
    """Run cmd in a fresh process; return wall seconds, the child's peak RSS (MiB), its exit code,
    its last stdout line parsed as JSON (if json_out) and the first line of stderr on failure."""
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=so, stderr=se, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = start + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the child and its workers only
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        stdout = so.read().decode(errors="replace")
        stderr = se.read().decode(errors="replace")
    res: dict = {
        "wall": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "rc": proc.returncode,
        "timed_out": timed_out,
    }
    if timed_out:
        res["error"] = f"timed out after {timeout:.0f} s"
    elif proc.returncode != 0:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        res["error"] = (lines[-1] if lines else f"exit code {proc.returncode}")[:200]
    elif json_out:
        lines = [ln for ln in stdout.strip().splitlines() if ln.startswith("{")]
        try:
            res.update(json.loads(lines[-1]))
        except (IndexError, json.JSONDecodeError):
            res["error"] = "no JSON result on stdout"
    return res


REPEAT = {"n": 3, "budget": 60.0}


def repeated(cmd: list[str], *, cwd: Path | None = None, timeout: float = 600.0) -> dict:
    """Run cmd up to REPEAT["n"] times (fewer once the runs so far took REPEAT["budget"] s); report the
    median est. seconds and process seconds, the largest peak RSS and how many runs were taken."""
    runs: list[dict] = []
    spent = 0.0
    while len(runs) < REPEAT["n"]:
        r = run(cmd, cwd=cwd, timeout=timeout)
        runs.append(r)
        spent += r["wall"]
        if "error" in r or spent > REPEAT["budget"]:
            break
    bad = [r for r in runs if "error" in r]
    if bad:
        return bad[0]
    out = dict(runs[len(runs) // 2])
    med = lambda key: sorted(r[key] for r in runs)[len(runs) // 2]  # noqa: E731
    out["wall"], out["cpu_s"], out["runs"] = med("wall"), med("cpu_s"), len(runs)
    out["rss_mib"] = max(r["rss_mib"] for r in runs)
    if all("seconds" in r for r in runs):
        out["seconds"] = med("seconds")
        out["seconds_all"] = [r["seconds"] for r in runs]
    return out


def evalkit_child(task: str, arg: str | None = None, timeout: float = 600.0) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", task] + ([arg] if arg else [])
    return repeated(cmd, cwd=ROOT, timeout=timeout)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import numpy

    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "memory": mem,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "os": platform.platform(),
        "EVALKIT_JOBS": os.environ.get("EVALKIT_JOBS", "unset (1)"),
    }


def fmt(x, spec: str = ".2f", dash: str = "–") -> str:
    if x is None:
        return dash
    if isinstance(x, float) and x != x:
        return dash
    return format(x, spec)


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def status(res: dict) -> str:
    return res.get("error", "ok")


class Report:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def section(self, title: str, header: list[str], rows: list[list[str]], note: str = "") -> None:
        note = (note + " " if note else "") + f"Load average (1/5/15 min) when the section finished: {loadavg()}."
        text = f"## {title}\n\n{table(header, rows)}\n\n{note}\n"
        print("\n" + text, flush=True)
        self.parts.append(text)


def bench_demo(rep: Report, timeout: float) -> None:
    exe = Path(sys.executable).parent / "evalkit"
    base = [str(exe)] if exe.exists() else [shutil.which("evalkit") or "evalkit"]
    rows, total_wall, total_cpu, total_ok = [], 0.0, 0.0, True
    peak = 0.0
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        for stage in ("ingest", "panel", "estimate", "report"):
            r = run(base + [stage], cwd=Path(tmp), timeout=timeout, json_out=False)
            total_wall += r["wall"]
            peak = max(peak, r["rss_mib"])
            total_ok &= r["rc"] == 0
            total_cpu += r["cpu_s"]
            rows.append([f"`evalkit {stage}`", fmt(r["wall"]), fmt(r["cpu_s"]), fmt(r["rss_mib"], ".0f"), status(r)])
            print(f"  demo {stage}: {r['wall']:.2f} s", flush=True)
            if r["rc"] != 0:
                break
    verdict = "met" if total_ok and total_wall < DEMO_TARGET_S else "NOT met"
    rows.append(
        [
            "**total**",
            f"**{total_wall:.2f}**",
            fmt(total_cpu),
            fmt(peak, ".0f") + " (max)",
            f"target < {DEMO_TARGET_S:.0f} s: {verdict}",
        ]
    )
    rep.section(
        "1. Demo pipeline (console commands in a temporary working directory)",
        ["stage", "wall s", "CPU s", "peak RSS MiB", "status"],
        rows,
        "Each stage is a separate `evalkit` process on the embedded synthetic demo data; wall time "
        "includes interpreter start-up and imports.",
    )


def bench_reference(rep: Report, timeout: float) -> dict:
    specs = [
        ("cs_mpdta_never", "CS, never treated, no covariates, DR, 999 draws", "mpdta", "simple ATT"),
        ("cs_mpdta_lpop", "CS, never treated, DR with lpop, 999 draws", "mpdta", "simple ATT"),
        ("twfe_mpdta", "TWFE (PanelOLS, clustered by unit)", "mpdta", "coef"),
        ("sc_prop99_fit", "Synthetic control, nested V, one fit (no inference)", "Prop 99", "ATT 1989-2000"),
        (
            "sc_prop99_full",
            "Synthetic control, nested V, full placebo/LOO/conformal inference",
            "Prop 99",
            "ATT 1989-2000",
        ),
        ("sdid_prop99", f"SDID, placebo SE ({SDID_REPS} reps)", "Prop 99", "ATT"),
        ("did_prop99", f"DiD (synthetic_did estimator='did'), placebo SE ({SDID_REPS} reps)", "Prop 99", "ATT"),
    ]
    rows, results = [], {}
    for task, label, data, what in specs:
        r = evalkit_child(task, timeout=timeout)
        results[task] = r
        print(f"  {task}: {r.get('seconds', float('nan')):.2f} s", flush=True)
        extra = (
            f"SE {fmt(r.get('se'), '.4f')}"
            if r.get("se") is not None
            else (f"p {fmt(r.get('p_value'), '.3f')}" if r.get("p_value") is not None else "")
        )
        rows.append(
            [
                label,
                data,
                fmt(r.get("seconds")),
                fmt(r["wall"]),
                fmt(r["cpu_s"]),
                fmt(r["rss_mib"], ".0f"),
                f"{what} {fmt(r.get('estimate'), '.4f')}" + (f" ({extra})" if extra else ""),
                r.get("runs", 1),
                status(r),
            ]
        )
    rep.section(
        "2. Estimators on the reference data",
        ["estimation", "data", "est. s", "process s", "process CPU s", "peak RSS MiB", "estimate", "runs", "status"],
        rows,
        "mpdta: `$EVALKIT_SHARED_DATA/validation/mpdta.csv` (500 counties × 5 years, outcome lemp); "
        'Prop 99: `california_prop99.csv` (39 states × 31 years, make_panel(treated="treated")). '
        f"`EVALKIT_JOBS` = {os.environ.get('EVALKIT_JOBS', 'unset (1 job)')}.",
    )
    return results


def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def setup_peers(timeout: float) -> dict[str, str]:
    """Create the peer venv and install the pinned peers; returns {package: 'ok' | first error line}."""
    state: dict[str, str] = {}
    if not peer_python().exists():
        print("  creating benchmarks/.peer-venv", flush=True)
        base = getattr(sys, "_base_executable", None) or sys.executable
        r = run([base, "-m", "venv", str(PEER_VENV)], timeout=timeout, json_out=False)
        if r["rc"] != 0:
            return {p: f"cannot create venv: {r.get('error')}" for p in PEER_PACKAGES}
    pins = {}
    for line in PEER_REQS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, ver = line.split("==", 1)
            pins[name.strip().lower()] = ver.strip()
    pip = [str(peer_python()), "-m", "pip", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory() as dl:
        for pkg in PEER_PACKAGES:
            spec = f"{pkg}=={pins[pkg]}" if pkg in pins else pkg
            r = run(pip + ["download", "--no-deps", "-q", "-d", dl, spec], timeout=timeout, json_out=False)
            state[pkg] = "ok" if r["rc"] == 0 else f"pip download failed: {r.get('error')}"
    print("  pip install -r benchmarks/requirements-peers.txt", flush=True)
    r = run(pip + ["install", "-q", "-r", str(PEER_REQS)], timeout=timeout, json_out=False)
    if r["rc"] != 0:  # fall back to each peer on its own, so one broken peer does not hide the others
        for pkg in PEER_PACKAGES:
            if state[pkg] != "ok":
                continue
            spec = f"{pkg}=={pins[pkg]}" if pkg in pins else pkg
            ri = run(pip + ["install", "-q", spec], timeout=timeout, json_out=False)
            if ri["rc"] != 0:
                state[pkg] = f"pip install failed: {ri.get('error')}"
    return state


def peer(task: str, data: Path | str, timeout: float, *extra: str) -> dict:
    return repeated([str(peer_python()), str(HERE / "peers.py"), task, str(data), *extra], cwd=ROOT, timeout=timeout)


def bench_peers(rep: Report, ref: dict, sim1500: Path, ek_sim1500: dict, timeout: float) -> None:
    state = setup_peers(timeout)
    versions = {}
    if peer_python().exists():
        v = run([str(peer_python()), str(HERE / "peers.py"), "versions"], timeout=120)
        versions = {k: v.get(k) for k in ("csdid", "drdid", "differences", "pysyncon", "numpy", "pandas", "scipy")}
    installed = {p: state.get(p) == "ok" and versions.get(p) for p in PEER_PACKAGES}
    rows = []

    def add(label: str, pkg: str, task: str, data, ek: dict, kind: str, *extra: str) -> None:
        ek_s = ek.get("seconds")
        if not installed[pkg]:
            rows.append(
                [label, pkg, fmt(ek_s), "not installed", "–", "–", "–", "–", 0, state.get(pkg) or "not installed"]
            )
            return
        print(f"  peer {pkg} {task} {' '.join(extra)}", flush=True)
        r = peer(task, data, timeout, *extra)
        ps = r.get("seconds")
        if "error" in r:
            rows.append(
                [
                    label,
                    f"{pkg} {versions.get(pkg)}",
                    fmt(ek_s),
                    "timed out" if r["timed_out"] else "failed",
                    fmt(r["wall"]),
                    fmt(r["rss_mib"], ".0f"),
                    "–",
                    "–",
                    r.get("runs", 1),
                    r["error"],
                ]
            )
            return
        speed = ps / ek_s if ek_s else None
        diff = abs(r["estimate"] - ek["estimate"]) if ek.get("estimate") is not None else None
        if kind == "cs":
            agree = f"{'yes' if diff is not None and diff <= CS_TOL else 'NO'} (|Δ| = {fmt(diff, '.1e')})"
            target = f"{'met' if speed and speed >= SPEEDUP_TARGET else 'NOT met'} ({SPEEDUP_TARGET:.0f}× target)"
        else:
            agree = (
                f"|Δ| = {fmt(diff, '.3f')} packs (evalkit {ek['estimate']:.3f}, loss {fmt(ek.get('loss_V'), '.3f')}; "
                f"{pkg} {r['estimate']:.3f}, loss {fmt(r.get('loss_V'), '.3f')})"
            )
            target = ""
        rows.append(
            [
                label,
                f"{pkg} {versions.get(pkg)}",
                fmt(ek_s),
                fmt(ps),
                fmt(r["wall"]),
                fmt(r["rss_mib"], ".0f"),
                f"{fmt(speed, '.1f')}×",
                agree,
                r.get("runs", 1),
                target or "ok",
            ]
        )

    mp_lpop = ref.get("cs_mpdta_lpop", {})
    for pkg in ("csdid", "differences"):
        add("CS mpdta, DR ~lpop, 999 draws, simple only", pkg, f"{pkg}_mpdta", MPDTA, mp_lpop, "cs")
    for pkg in ("csdid", "differences"):
        add("CS sim 1,500×31, DR ~x0+x1, 999 draws, simple only", pkg, f"{pkg}_sim", sim1500, ek_sim1500, "cs")
        add(
            "CS sim 1,500×31, DR ~x0+x1, 999 draws, all 4 aggregations",
            pkg,
            f"{pkg}_sim",
            sim1500,
            ek_sim1500,
            "cs",
            "--aggregations",
            "all",
        )
    add(
        "SC Prop 99, nested V, one fit (no placebos)",
        "pysyncon",
        "pysyncon_prop99",
        PROP99,
        ref.get("sc_prop99_fit", {}),
        "sc",
    )
    vtxt = ", ".join(f"{k} {v}" for k, v in versions.items() if v) or "none"
    rep.section(
        "3. Peers (separate venv benchmarks/.peer-venv)",
        [
            "estimation",
            "peer",
            "evalkit est. s",
            "peer est. s",
            "peer process s",
            "peer peak RSS MiB",
            "peer / evalkit",
            "estimates agree",
            "peer runs",
            "status / target",
        ],
        rows,
        f"Installed in the peer venv: {vtxt}. Install check (`pip download --no-deps`): "
        + "; ".join(f"{p}: {s}" for p, s in state.items())
        + ". "
        "evalkit's CS call always computes the simple, group, dynamic and calendar aggregations with the "
        "bootstrap, so the 'all 4 aggregations' rows are the like-for-like comparison. CS agreement: "
        f"|simple ATT(evalkit) − simple ATT(peer)| ≤ {CS_TOL:g}. pysyncon is one fit only (its placebo "
        "inference would be one such fit per donor); it minimises the same nested-V objective by Nelder-Mead, "
        "so its ATT agrees only as far as its optimiser reaches the same V (compare the losses). "
        f"Each peer run has a {timeout:.0f} s timeout.",
    )


def bench_scaling(rep: Report, sims: dict[int, Path], timeout: float) -> dict[int, dict]:
    rows, out = [], {}
    for n, path in sims.items():
        r = evalkit_child("cs_sim", str(path), timeout=timeout)
        out[n] = r
        print(f"  cs_sim {n}: {r.get('seconds', float('nan')):.2f} s", flush=True)
        up = n * N_PERIODS
        s = r.get("seconds")
        rows.append(
            [
                f"{n:,} × {N_PERIODS}",
                f"{up:,}",
                fmt(s),
                fmt(r["wall"]),
                fmt(r["cpu_s"]),
                fmt(r["rss_mib"], ".0f"),
                fmt(s * 1e6 / up if s else None, ".1f"),
                fmt(r.get("estimate"), ".4f"),
                fmt(r.get("cells"), "d"),
                r.get("runs", 1),
                status(r),
            ]
        )
    rep.section(
        "4. Scaling: CS (never treated, DR with 2 covariates, 999 draws) on simulated staggered panels",
        [
            "units × periods",
            "unit-periods",
            "est. s",
            "process s",
            "process CPU s",
            "peak RSS MiB",
            "µs per unit-period",
            "simple ATT",
            "estimates rows",
            "runs",
            "status",
        ],
        rows,
        "Panels from `simulate_staggered` (13 cohorts first treated in 6, 8, …, 30, 6% of units each, "
        "22% never treated; effect 0.1 × event time; 2 covariates with a covariate-driven trend; seed 1), "
        "written to CSV and read back in the child. Peak RSS includes the interpreter, imports and the panel.",
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", action="store_true", help="also install and time csdid, differences, pysyncon")
    ap.add_argument("--skip-large", action="store_true", help="leave out the 10,000-unit scaling run")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per subprocess (default 600)")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per measurement, median reported (fewer once a measurement's runs took 60 s)",
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1] if len(a.child) > 1 else None)
        return

    started = time.perf_counter()
    REPEAT["n"] = max(1, a.repeat)
    load0 = loadavg()
    info = machine()
    rep = Report()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-data-") as tmp:
        sizes = [150, 1500] + ([] if a.skip_large else [10000])
        sims = {}
        for n in sizes:
            sims[n] = Path(tmp) / f"sim_{n}x{N_PERIODS}.csv"
            write_sim_csv(n, sims[n])
        print("1. demo pipeline", flush=True)
        bench_demo(rep, a.timeout)
        print("2. reference data", flush=True)
        ref = bench_reference(rep, a.timeout)
        print("4. scaling", flush=True)
        scaling = bench_scaling(rep, sims, a.timeout)
        if a.peers:
            print("3. peers", flush=True)
            bench_peers(rep, ref, sims[1500], scaling[1500], a.timeout)
    total = time.perf_counter() - started
    parts = sorted(rep.parts, key=lambda p: p.split(".", 1)[0])  # sections in numeric order
    head = [
        "# evalkit benchmarks",
        "",
        f"Written by `python benchmarks/run_all.py{' --peers' if a.peers else ''}"
        f"{' --skip-large' if a.skip_large else ''}` (see README.md); whole run {total / 60:.1f} min.",
        "",
        table(
            ["date", "CPU", "cores", "memory", "Python", "numpy", "OS"],
            [[info["date"], info["cpu"], info["cores"], info["memory"], info["python"], info["numpy"], info["os"]]],
        ),
        "",
        "Memory: peak resident set (ru_maxrss) of each measurement's own subprocess, read by the parent with "
        "os.wait4 (per-child rusage, the accounting behind getrusage(RUSAGE_CHILDREN)); it includes the "
        "Python interpreter and imports. 'est. s' is the estimation call alone; 'process s' the wall time of "
        "the whole subprocess; 'CPU s' its user + system CPU time (all threads; less sensitive than wall time "
        f"to other load on the machine). Times are the median of up to {REPEAT['n']} runs in fresh processes (fewer when one "
        "measurement's runs passed 60 s; the demo pipeline is run once); RSS the largest of them. "
        f"Load average (1/5/15 min) at the start: {load0}; other work on the machine slows every figure, "
        "so compare rows of one run rather than runs.",
        "",
    ]
    if not a.peers:
        parts.append("## 3. Peers\n\nNot run (pass `--peers`).\n")
        parts = sorted(parts, key=lambda p: p.split(".", 1)[0])
    a.out.write_text("\n".join(head) + "\n" + "\n".join(parts))
    print(f"\nwrote {a.out} (whole run {total / 60:.1f} min)")


if __name__ == "__main__":
    main()
