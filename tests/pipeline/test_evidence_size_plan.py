"""The evidence rule with the opt-in keys, end to end on the synthetic demo panel: the size-keeping default
interval draws one shared set of assignments for the family ([inference].shared_size_draws) so the verdicts
use Romano-Wolf on their joint null, and the RMS pre-trend equivalence bound ([inference].equivalence_rms)
stands beside the max and mean ones in results, answers and report; `also_first` puts the first-year
sensitivity beside the average's, labelled as not the verdict's number."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, evalkit_cmd, run_plan_on_demo

PLAN = REPO / "tests" / "data" / "evidence_size_demo.toml"
OUT = Path("reports") / "evidence-size-demo"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("evidence-size")
    shutil.copy(PLAN, work / "evidence.toml")
    run_plan_on_demo(work, "evidence.toml")
    return work, json.loads((work / OUT / "results.json").read_text())


def test_romano_wolf_on_the_shared_size_keeping_draws(run) -> None:
    _, doc = run
    by = {a["label"]: a["results"] for a in doc["analyses"]}
    kinds = {by[k]["inference"]["default_interval"]["interval"] for k in ("cla_cs_never", "spend_cs_never")}
    assert kinds <= {"studentized", "ferman_pinto"}
    joints = [
        by[k]["inference"][by[k]["inference"]["default_interval"]["interval"]]["joint"]
        for k in by
        if k in ("cla_cs_never", "spend_cs_never")
    ]
    assert len({j["assignments"] for j in joints}) == 1
    for c in doc["conclusions"]:
        m = c["multiplicity"]
        assert m["method"].startswith("Romano-Wolf stepdown on the joint size-keeping")
        assert m["p"] - 1e-12 <= m["romano_wolf"] == m["used"]


def test_rms_bound_beside_max_and_mean(run) -> None:
    work, doc = run
    for c in doc["conclusions"]:
        ev = c["pretrend_evidence"]
        assert ev["equivalence_rms"] == ev["rms"]["threshold"] > 0
        assert ev["rms"]["rms"] <= ev["equivalence_rms"]  # the bound rejected lies above the estimate
        assert ev["equivalence_max"] > 0 and ev["equivalence_mean"] > 0
    q = doc["answers"]["questions"][0]
    assert "equivalence_rms" in q["pretrend"]
    md = (work / OUT / "report.md").read_text()
    assert md.count("the root mean square of the placebo effects against the last pre-move year") == 2


def test_the_opt_in_run_reproduces_byte_for_byte(run) -> None:
    work, _ = run
    proc = evalkit_cmd("verify", str(OUT), cwd=work, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_without_the_keys_nothing_of_them_appears(run) -> None:
    """The plan without the two keys gives the size-keeping kinds no shared draws (Holm) and no RMS bound."""
    work, _ = run
    text = (work / "evidence.toml").read_text()
    plain = text.replace("shared_size_draws = true\n", "").replace("equivalence_rms = true\n", "")
    (work / "plain.toml").write_text(plain.replace('name = "evidence-size-demo"', 'name = "evidence-size-plain"'))
    evalkit_cmd("estimate", "--plan", "plain.toml", "--no-cache", cwd=work)
    doc = json.loads((work / "reports" / "evidence-size-plain" / "results.json").read_text())
    for c in doc["conclusions"]:
        assert c["multiplicity"]["method"].startswith("Holm")
        assert "root mean square" not in c["text"]
    for a in doc["analyses"]:
        inf = a["results"].get("inference") or {}
        assert "equivalence_rms" not in inf and not any(
            "joint" in (inf.get(k) or {}) for k in ("studentized", "ferman_pinto")
        )
    assert np.isfinite([c["multiplicity"]["holm"] for c in doc["conclusions"]]).all()


def test_first_year_sensitivity_beside_the_average_labelled(run) -> None:
    work, doc = run
    by = {a["label"]: a["results"] for a in doc["analyses"]}
    sens = by["cla_cs_never"]["diagnostics"]["sensitivity"]
    assert sens["target"] == "average" and sens["first_year"]["target"] == "first"
    assert "first_year" not in by["spend_cs_never"]["diagnostics"]["sensitivity"]  # only where the plan asks
    md = (work / OUT / "report.md").read_text()
    line = next(x for x in md.splitlines() if "Beside it, for the first year only" in x)
    # the average comes first, then the first year, named as not the verdict's number
    assert line.index("the average effect over the years since the move") < line.index("Beside it, for the first")
    assert "not the number the verdict states, which is the average" in line
    assert "the effect in the first year under the new model" in line
