"""`evalkit estimate --panel ... --method cs` loads only what that run uses (issue #29).

Heavy libraries are imported where they are used: scipy.stats only when a test needs it (about a CPU
second at start-up), matplotlib only when a figure is drawn, numba only for synthetic DiD, dask only for
that backend, the pydantic plan schema only when a plan is read, pydantic itself only when a value is not
plain (a bad option, a list). The run happens in a subprocess, as a
user starts it, and the test reads the modules it left in sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Modules a CS estimate on a CSV panel never needs; each costs tenths of a CPU second to import.
NOT_NEEDED = (
    "scipy.stats",
    "matplotlib",
    "numba",
    "dask",
    "distributed",
    "statsmodels",
    "linearmodels",
    "pandas",
    "evalkit.plan_schema",
    # typer builds a pydantic converter per option and evalkit validated method options with pydantic:
    # plain values now take neither (evalkit.cli_coercion, methods._plainly_valid), a third of a CPU s
    "pydantic",
    "typer._adapters",
    "evalkit.report",
    "evalkit.estimators.synth",
    "evalkit.estimators.honest",
)

RUN = textwrap.dedent(
    """
    import json, sys
    from evalkit.cli import main
    sys.argv = ["evalkit", *json.loads(sys.argv[1])]
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    else:
        code = 0
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
    """
)


def _panel_csv(path: Path) -> Path:
    """A small staggered panel (60 units x 8 years, cohorts 2004, 2006 and never) for the CLI."""
    rng = np.random.default_rng(3)
    rows = ["unit,year,g,y"]
    for i in range(60):
        g = (2004, 2006, 0)[i % 3]
        for t in range(2000, 2008):
            y = i / 10 + t / 100 + (1.0 if g and t >= g else 0.0) + rng.normal(0, 0.1)
            rows.append(f"{i},{t},{g},{y:.6f}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _modules_after(args: list[str], cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    return set(report["modules"])


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def test_cs_estimate_on_a_panel_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    csv = _panel_csv(tmp_path / "panel.csv")
    args = ["estimate", "--panel", str(csv), "--unit", "unit", "--time", "year", "--outcome", "y", "--cohort", "g"]
    modules = _modules_after([*args, "--method", "cs", "--json", str(tmp_path / "cs.json")], tmp_path)
    assert json.loads((tmp_path / "cs.json").read_text(encoding="utf-8"))["estimates"], "the CS run wrote no estimates"
    loaded = [name for name in NOT_NEEDED if _loaded(modules, name)]
    assert loaded == [], f"`evalkit estimate --panel ... --method cs` imported modules it does not use: {loaded}"


def test_the_check_sees_a_module_a_run_does_import(tmp_path: Path) -> None:
    """The same inspection on a run that needs scipy.stats (the pre-trend Wald test) finds it, so the
    test above cannot pass merely because the subprocess reports nothing."""
    csv = _panel_csv(tmp_path / "panel.csv")
    args = ["estimate", "--panel", str(csv), "--unit", "unit", "--time", "year", "--outcome", "y", "--cohort", "g"]
    modules = _modules_after([*args, "--method", "cs", "--pretrend-test", "--json", str(tmp_path / "p.json")], tmp_path)
    assert _loaded(modules, "scipy.stats")
    assert _loaded(modules, "evalkit.estimators.did.cs")
