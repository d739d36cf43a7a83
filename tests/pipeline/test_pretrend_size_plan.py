"""`[power] pretrend = true` end to end on the synthetic demo panel (issue #25 item 3, plan v7's key): the
calibration measures the pre-trend test's size on placebo draws of this panel, and the answer, the verdict's
text and the report print it beside the pre-trend p, the same words in each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, evalkit_cmd, run_plan_on_demo

PLAN = REPO / "tests" / "data" / "evidence_size_demo.toml"
OUT = Path("reports") / "pretrend-size-demo"
POWER = """
[power]
draws = 10
seed = 5
permutations = 19
intervals = ["analytic", "randomization", "ferman_pinto"]
pretrend = true
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("pretrend-size")
    text = PLAN.read_text().replace('name = "evidence-size-demo"', 'name = "pretrend-size-demo"')
    text = text.replace("shared_size_draws = true\n", 'shared_size_draws = true\npretrend_draws = "own"\n')
    (work / "plan.toml").write_text(text + POWER)
    run_plan_on_demo(work, "plan.toml")
    return work, json.loads((work / OUT / "results.json").read_text())


def test_calibration_has_the_pretrend_size_of_every_kind_and_design(run) -> None:
    _, doc = run
    power = doc["power"]  # `estimate` runs [power] and keeps it in results.json
    assert power["settings"]["pretrend"] is True
    for a in power["analyses"]:
        designs = a["calibration"]["designs"]
        assert set(designs) == {"exchangeable", "size_matched"}
        for per_kind in designs.values():
            for kind in ("analytic", "randomization", "ferman_pinto"):
                pre = per_kind[kind]["pretrend"]
                assert pre["draws"] == 10 and pre["rejected"] == round(pre["size"] * 10)
                assert pre["alpha"] == 0.05


def test_the_same_sentence_in_answer_verdict_and_report(run) -> None:
    work, doc = run
    power = {a["label"]: a for a in doc["power"]["analyses"]}
    md = (work / OUT / "report.md").read_text()
    html = (work / OUT / "report.html").read_text()
    for q in doc["answers"]["questions"]:
        kind = q["interval"].replace("randomisation", "randomization")
        pre = power[q["label"]]["calibration"]["designs"]["exchangeable"][kind]["pretrend"]
        said = f"rejected where there was no pre-trend in {100 * pre['size']:.1f}% of {pre['draws']} placebo draws"
        assert said in q["pretrend_size"]
        conclusion = next(c for c in doc["conclusions"] if c["label"] == q["label"])
        assert q["pretrend_size"] in conclusion["text"]
        inner = q["pretrend_size"][:1].lower() + q["pretrend_size"][1:].rstrip(".")
        assert inner in md
        assert said in html


def test_a_verify_rerun_is_byte_identical(run) -> None:
    work, _ = run
    proc = evalkit_cmd("verify", str(OUT), cwd=work, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_report_says_why_not_the_wald_test_with_its_size_here(run) -> None:
    work, doc = run
    md = (work / OUT / "report.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("Why not the usual Wald pre-trend test"))
    sizes = [
        per_kind["analytic"]["pretrend"]["size"]
        for a in doc["power"]["analyses"]
        for per_kind in a["calibration"]["designs"].values()
    ]
    lo, hi = f"{100 * min(sizes):.0f}%", f"{100 * max(sizes):.0f}%"
    assert f"rejected in {lo if lo == hi else f'{lo} to {hi}'} of 10 draws" in line
