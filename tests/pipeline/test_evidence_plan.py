"""A plan with the evidence keys, end to end on the synthetic demo panel: shared permutations across the
family (Romano-Wolf), the permutation covariance in the sensitivity analysis, vote = false, smallest_effect,
and the report's sentences."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, evalkit_cmd

PLAN = REPO / "tests" / "data" / "evidence_demo.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("evidence")
    shutil.copy(PLAN, work / "evidence.toml")
    evalkit_cmd("ingest", cwd=work)
    evalkit_cmd("panel", cwd=work)
    evalkit_cmd("estimate", "--plan", "evidence.toml", "--no-cache", cwd=work)
    evalkit_cmd("report", "--plan", "evidence.toml", cwd=work)
    doc = json.loads((work / "reports" / "evidence-demo" / "results.json").read_text())
    return work, doc


def test_family_shares_its_permutations_and_is_adjusted(run) -> None:
    _, doc = run
    by = {a["label"]: a["results"] for a in doc["analyses"]}
    digests = {by[k]["inference"]["randomisation"]["joint"]["assignments"] for k in ("cla_cs_never", "spend_cs_never")}
    assert len(digests) == 1
    for c in doc["conclusions"]:
        m = c["multiplicity"]
        assert m["method"].startswith("Romano-Wolf") and m["family_size"] == 2
        assert m["p"] - 1e-12 <= m["romano_wolf"] <= m["holm"] + 1e-12
    assert doc["decision_rule"].startswith("The primary interval is each analysis's default interval (with few")


def test_verdicts_and_sentences(run) -> None:
    _, doc = run
    c = {x["label"]: x for x in doc["conclusions"]}
    # the demo's known answer: -6 children looked after per 10,000, no change in spending
    assert c["cla_cs_never"]["verdict"] == "estimated effect"
    assert c["spend_cs_never"]["verdict"] == "negligible"  # smallest effect of interest 500 pounds
    assert "The data rule out (at 95%)" in c["spend_cs_never"]["text"]
    assert "Shown for comparison only, not counted" in c["cla_cs_never"]["text"]
    ev = c["cla_cs_never"]["pretrend_evidence"]
    assert ev["power_80_slope"] > 0 and ev["equivalence_max"] >= ev["equivalence_mean"] > 0


def test_sensitivity_uses_the_permutation_covariance_for_the_average(run) -> None:
    _, doc = run
    res = next(a["results"] for a in doc["analyses"] if a["label"] == "cla_cs_never")
    sens = res["diagnostics"]["sensitivity"]
    assert sens["target"] == "average" and sens["covariance"].startswith("permutation")


def test_report_states_adjustment_and_no_wald_evidence(run) -> None:
    work, _ = run
    md = (work / "reports" / "evidence-demo" / "report.md").read_text()
    assert "after adjusting for the 2 primary outcomes" in md
    assert "Covariance of the event study: permutation" in md
    assert "Wald" not in md  # the plan asks for no analytic pre-trend test: none is printed as evidence


def test_the_evidence_run_reproduces_byte_for_byte(run) -> None:
    work, _ = run
    proc = evalkit_cmd("verify", "reports/evidence-demo", cwd=work, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
