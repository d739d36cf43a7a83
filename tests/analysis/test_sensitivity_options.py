"""--sensitivity / --pretrend-test on the command line and `sensitivity` in plans: rows written,
options that cannot apply refused in one line (exit 2 on the command line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.plan import load_plan
from tests.conftest import evalkit_cmd
from tests.test_plan import GOOD


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory) -> Path:
    # one cohort adopting in period 7 of 10, effect 1: a clear effect and parallel trends
    panel = simulate_staggered(200, 10, {7: 60}, effect=1.0, noise=0.5, seed=3)
    path = tmp_path_factory.mktemp("sens") / "panel.csv"
    panel.data.select("unit", "time", "y", "cohort").write_csv(path)
    return path


def _run(panel_csv: Path, *extra: str, check: bool = True):
    return evalkit_cmd(
        "estimate",
        "--panel",
        str(panel_csv),
        "--unit",
        "unit",
        "--time",
        "time",
        "--outcome",
        "y",
        "--cohort",
        "cohort",
        *extra,
        cwd=panel_csv.parent,
        check=check,
    )


def test_rm_rows_and_pretrend_row(panel_csv: Path) -> None:
    out = panel_csv.parent / "rm.json"
    _run(
        panel_csv,
        "--method",
        "sunab",
        "--sensitivity",
        "rm",
        "--mbar",
        "0.5,1,1.5,2",
        "--pretrend-test",
        "--json",
        str(out),
    )
    doc = json.loads(out.read_text())
    rows = {r["name"]: r for r in doc["estimates"]}
    for name in ("honest:rm:mbar=0.5", "honest:rm:mbar=1", "honest:rm:mbar=1.5", "honest:rm:mbar=2"):
        assert rows[name]["ci_low"] < rows[name]["ci_high"]
    widths = [rows[f"honest:rm:mbar={m}"]["ci_high"] - rows[f"honest:rm:mbar={m}"]["ci_low"] for m in ("0.5", "1", "2")]
    assert widths == sorted(widths)
    assert rows["honest:rm:original"]["estimate"] == pytest.approx(rows["dynamic:e=0"]["estimate"])
    assert rows["honest:rm:breakdown"]["estimate"] > 0.5  # a clear effect survives sizeable violations
    pre = doc["diagnostics"]["pretrend"]
    assert rows["pretrend"]["estimate"] == pytest.approx(pre["statistic"])
    assert rows["pretrend"]["p_value"] == pytest.approx(pre["p_value"]) and pre["df"] == 5
    assert doc["diagnostics"]["sensitivity"]["target"] == "first"


def test_sd_rows_cs_average(panel_csv: Path) -> None:
    out = panel_csv.parent / "sd.json"
    _run(
        panel_csv,
        "--method",
        "cs",
        "--sensitivity",
        "sd",
        "--m",
        "0,0.05",
        "--sensitivity-target",
        "average",
        "--json",
        str(out),
    )
    doc = json.loads(out.read_text())
    rows = {r["name"]: r for r in doc["estimates"]}
    assert {"honest:sd:m=0", "honest:sd:m=0.05", "honest:sd:breakdown", "honest:sd:original"} <= set(rows)
    assert rows["honest:sd:original"]["estimate"] == pytest.approx(rows["dynamic"]["estimate"])
    assert doc["options"]["base_period"] == "universal"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--method", "synth", "--sensitivity", "rm"), "needs an event study"),
        (("--method", "twfe", "--sensitivity", "rm"), "twfe_es"),
        (("--method", "imputation", "--pretrend-test"), "no pre-period"),
        (("--method", "cs", "--sensitivity", "sd"), "needs m"),
        (("--method", "cs", "--sensitivity", "rm", "--m", "1"), "--m goes with --sensitivity sd"),
        (("--method", "cs", "--mbar", "1"), "--mbar needs --sensitivity"),
        (("--method", "cs", "--sensitivity", "rm", "--mbar", "a,b"), "comma-separated"),
        (("--method", "cs", "--sensitivity", "rm", "--mbar", "-1"), ">= 0"),
        (("--method", "cs", "--sensitivity", "rm", "--sensitivity-target", "last"), "'first', 'average'"),
        (("--method", "cs", "--sensitivity", "xx"), "'rm', 'sd'"),
    ],
)
def test_refused_in_one_line_exit_2(panel_csv: Path, args: tuple[str, ...], fragment: str) -> None:
    proc = _run(panel_csv, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def _plan(tmp_path: Path, extra: str, method: str = "cs") -> Path:
    text = GOOD.replace('method = "cs"\nprimary = true', f'method = "{method}"\nprimary = true\n{extra}')
    p = tmp_path / "plan.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_plan_sensitivity_normalised(tmp_path: Path) -> None:
    plan = load_plan(_plan(tmp_path, 'sensitivity = { method = "rm", mbar = [0.5, 1, 2] }\npretrend_test = true'))
    a = plan["analysis"][0]
    assert a["sensitivity"] == {"method": "rm", "mbar": [0.5, 1.0, 2.0], "target": "first"}
    assert a["pretrend_test"] is True
    assert "sensitivity" not in plan["analysis"][1]  # absent stays absent: older plans validate unchanged


@pytest.mark.parametrize(
    ("extra", "method", "fragment"),
    [
        ('sensitivity = { method = "rm", m = [1] }', "cs", "'m' does not apply"),
        ('sensitivity = { method = "sd" }', "cs", "needs m"),
        ('sensitivity = { method = "rm", target = "last" }', "cs", "target"),
        ('sensitivity = { method = "rm", mbar = [-1] }', "cs", ">= 0"),
        ('sensitivity = { method = "xx" }', "cs", "method must be"),
        ('sensitivity = { method = "rm", level = 1 }', "cs", "unknown key"),
        ('sensitivity = { method = "rm" }\noptions = {}', "synth", "needs an event study"),  # synth has no `control`
        ("pretrend_test = true\noptions = {}", "imputation", "no pre-period"),
        ('sensitivity = { method = "rm" }\noptions = { base_period = "varying" }', "cs", "universal"),
    ],
)
def test_plan_sensitivity_refused_naming_the_key(tmp_path: Path, extra: str, method: str, fragment: str) -> None:
    text = (
        _plan(tmp_path, extra, method).read_text().replace('options = { control = "never" }\n', "", 1)
        if "options =" in extra
        else _plan(tmp_path, extra, method).read_text()
    )
    (tmp_path / "plan.toml").write_text(text, encoding="utf-8")
    with pytest.raises(EvalkitError) as info:
        load_plan(tmp_path / "plan.toml")
    msg = str(info.value)
    assert "\n" not in msg and "analysis[0]" in msg and fragment in msg, msg


def test_permutation_covariance_on_the_command_line(panel_csv: Path, tmp_path: Path) -> None:
    """--sensitivity-covariance permutation: the event study's covariance over the permuted adoption dates
    (kept draws), named in diagnostics; the robust intervals differ from the analytic-covariance ones."""
    common = ("--method", "cs", "--interval", "randomization", "--permutations", "99", "--sensitivity", "rm")
    common += ("--mbar", "0.5,1", "--sensitivity-target", "average")
    out = {}
    for cov in ("analytic", "permutation"):
        path = tmp_path / f"{cov}.json"
        _run(panel_csv, *common, "--sensitivity-covariance", cov, "--json", str(path))
        out[cov] = json.loads(path.read_text())
    perm = out["permutation"]
    assert perm["diagnostics"]["sensitivity"]["covariance"].startswith("permutation")
    assert perm["diagnostics"]["sensitivity"]["target"] == "average"
    assert len(perm["inference"]["randomisation"]["draws"]["values"]) == 99
    rows = {c: {r["name"]: r for r in out[c]["estimates"]} for c in out}
    a, p = rows["analytic"]["honest:rm:mbar=1"], rows["permutation"]["honest:rm:mbar=1"]
    assert a["estimate"] == p["estimate"] and (a["ci_low"], a["ci_high"]) != (p["ci_low"], p["ci_high"])


def test_sensitivity_covariance_needs_sensitivity(panel_csv: Path) -> None:
    proc = _run(panel_csv, "--method", "cs", "--sensitivity-covariance", "permutation", check=False)
    assert proc.returncode == 2 and "--sensitivity-covariance needs --sensitivity" in proc.stderr
