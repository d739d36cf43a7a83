"""The report's summary sections quote the stored answers and nothing else (tests/report/answer_check.py),
the `default` flag marks only rows with the rule's interval, and `evalkit answer` prints the same values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from evalkit.answers import amount, interval_text, sig
from tests.conftest import evalkit_cmd
from tests.report.answer_check import allowed_numbers, problems


def _copy(demo_run: Path, tmp_path: Path) -> Path:
    src = demo_run / "reports" / "demo"
    dst = tmp_path / "demo"
    dst.mkdir(parents=True)
    for name in ("results.json", "report.md"):
        shutil.copyfile(src / name, dst / name)
    return dst


def test_demo_summary_numbers_come_from_the_answers(demo_run: Path) -> None:
    assert problems(demo_run / "reports" / "demo") == []


def test_a_broken_copy_fails(demo_run: Path, tmp_path: Path) -> None:
    """Change one number of the first screen, then one of the bottom line: each is caught."""
    folder = _copy(demo_run, tmp_path)
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    first = doc["answers"]["questions"][0]
    allowed = allowed_numbers(doc)
    shown = amount(first["estimate"], first["unit"])
    wrong = amount(first["estimate"] * 1.37, first["unit"])
    assert sig(first["estimate"] * 1.37) not in allowed  # the broken number is not an answer by chance
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert shown in md
    (folder / "report.md").write_text(md.replace(shown, wrong, 1), encoding="utf-8")
    found = problems(folder)
    assert any(sig(first["estimate"] * 1.37) in p for p in found), found

    # a number in the bottom line only (the interval of the second question)
    folder2 = _copy(demo_run, tmp_path / "b")
    second = doc["answers"]["questions"][1]
    md = (folder2 / "report.md").read_text(encoding="utf-8")
    head, sep, rest = md.partition("## The bottom line")
    ci = interval_text(second)
    assert ci in rest
    broken = ci.replace(sig(second["ci_high"]), sig(second["ci_high"] + 1.111))
    (folder2 / "report.md").write_text(head + sep + rest.replace(ci, broken, 1), encoding="utf-8")
    assert any("is not a number of the answers" in p for p in problems(folder2))


def test_default_marks_only_rows_with_the_rules_interval(demo_run: Path) -> None:
    doc = json.loads((demo_run / "reports" / "demo" / "results.json").read_text(encoding="utf-8"))
    checked = 0
    for a in doc["analyses"]:
        kind = ((a["results"].get("inference") or {}).get("default_interval") or {}).get("interval")
        if kind in (None, "analytic"):
            continue
        for row in a["results"]["estimates"]:
            if row.get("default"):
                assert row["interval"] == kind, (a["label"], row["name"], row["interval"])
                checked += 1
    assert checked > 0
    est = pl.read_parquet(demo_run / "reports" / "demo" / "results.parquet")
    cs = est.filter(pl.col("method") == "callaway_santanna", pl.col("default"))
    assert cs.height > 0 and set(cs["interval"].to_list()) == {"randomization"}


def test_answers_hold_the_rules_row_and_the_optional_fields(demo_run: Path) -> None:
    doc = json.loads((demo_run / "reports" / "demo" / "results.json").read_text(encoding="utf-8"))
    by_label = {a["label"]: a for a in doc["analyses"]}
    for q in doc["answers"]["questions"]:
        rows = {r["name"]: r for r in by_label[q["label"]]["results"]["estimates"]}
        rule = next(r for n, r in rows.items() if r.get("default") and n.split(":")[0] in ("simple", "coef", "att"))
        assert (q["estimate"], q["ci_low"], q["ci_high"], q["p_value"]) == (
            rule["estimate"],
            rule["ci_low"],
            rule["ci_high"],
            rule["p_value"],
        )
        assert q["interval_is_rules"] is True
        for field in ("adjusted_p", "ruled_out", "sensitivity", "pretrend", "exaggeration"):
            assert field in q  # filled by the evidence rule (plans with a family), else None
        assert q["adjusted_p"] is None  # the demo plan declares no family
        if q["ruled_out"] is not None:  # every null says which effects its interval rules out
            assert q["verdict"] in ("no detectable effect", "negligible")
            assert (q["ruled_out"]["decreases_below"], q["ruled_out"]["increases_above"]) == (q["ci_low"], q["ci_high"])
        concl = next(c for c in doc["conclusions"] if c["label"] == q["label"])
        assert q["verdict"] == concl["verdict"]
        assert q["baseline"]["councils"] == len(q["councils"])


def test_the_demo_answer_recovers_the_known_effect(demo_run: Path) -> None:
    """The demo's data-generating process has −6 per 10,000 on the rate of children looked after and 0 on
    spending (evalkit/demo/dgp.py): the stored answers cover both truths."""
    doc = json.loads((demo_run / "reports" / "demo" / "results.json").read_text(encoding="utf-8"))
    qs = {q["outcome"]: q for q in doc["answers"]["questions"]}
    cla = qs["cla_rate_per_10000"]
    assert cla["ci_low"] <= -6 <= cla["ci_high"] and cla["verdict"] == "estimated effect"
    spend = qs["spend_csc_per_child"]
    assert spend["ci_low"] <= 0 <= spend["ci_high"]


def test_evalkit_answer_prints_the_stored_answers(demo_run: Path) -> None:
    out = evalkit_cmd("answer", "reports/demo", cwd=demo_run).stdout
    doc = json.loads((demo_run / "reports" / "demo" / "results.json").read_text(encoding="utf-8"))
    for q in doc["answers"]["questions"]:
        line = next(line for line in out.splitlines() if line.startswith(q["outcome_words"]))
        assert q["verdict"] in line and sig(q["estimate"]) in line and interval_text(q) in line
    assert "no detectable effect:" in out  # the verdict words, defined once
    missing = evalkit_cmd("answer", "reports/none", cwd=demo_run, check=False)
    assert missing.returncode == 1 and "no results" in missing.stderr


def test_significant_figures() -> None:
    assert sig(-64.7123) == "−64.7"
    assert sig(0.0012345) == "0.00123"
    assert sig(12345.6) == "12,300"
    assert sig(2.5) == "2.5"
    assert sig(0.46, 2) == "0.46"
    assert sig(0.0) == "0"
    assert amount(-4.351, "£ a year per child") == "−£4.35 a year per child"
