"""Plan files: validation (one-line errors naming the key), template, lock and deviations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.plan import (
    check_against_lock,
    check_inputs,
    deviations,
    init_plan,
    load_plan,
    lock_path,
    lock_plan,
    plan_sha256,
    read_lock,
)

GOOD = """
[plan]
name = "demo"
title = "Demo"
question = "Did it work?"
synthetic_demo = true

[data]
panel = "data/processed/panel.parquet"

[sample]
years = [2011, 2024]
treated = [{ unit = "E1", first_year = 2016 }]

[inference]
seed = 1

[[analysis]]
label = "a_cs"
outcome = "y"
method = "cs"
primary = true
options = { control = "never" }

[[analysis]]
label = "a_twfe"
outcome = "y"
method = "twfe"
"""


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_of(tmp_path: Path, text: str) -> EvalkitError:
    with pytest.raises(EvalkitError) as info:
        load_plan(write(tmp_path, text))
    err = info.value
    assert "\n" not in str(err)
    assert str(tmp_path / "plan.toml") in str(err)
    return err


def test_good_plan_gets_defaults(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, GOOD))
    assert plan["plan"]["synthetic_demo"] is True
    assert plan["inference"] == {"alpha": 0.05, "seed": 1, "bootstrap": 999, "permutations": 999}
    assert plan["sample"]["donors"] == "never_treated"
    assert plan["sample"]["exclude_units"] == []
    assert plan["sample"]["treated"] == [{"unit": "E1", "first_year": 2016}]
    assert plan["data"]["expected_sha256"] == {}
    assert plan["analysis"][1] == {
        "label": "a_twfe",
        "title": "a_twfe",
        "outcome": "y",
        "method": "twfe",
        "primary": False,
        "options": {},
    }
    assert plan["report"] == {"limitations": []}


@pytest.mark.parametrize(
    ("old", "new", "column", "fragment"),
    [
        ("seed = 1", 'seed = "1"', "inference.seed", "an integer"),
        ("seed = 1", "seed = true", "inference.seed", "an integer"),
        ("seed = 1", "seed = 1\nalpha = 2", "inference.alpha", "between 0 and 1"),
        ("seed = 1", "seed = 1\nbootstrap = -1", "inference.bootstrap", ">= 0"),
        ('method = "cs"', 'method = "did"', "analysis[0].method", "twfe, cs, sunab"),
        ('method = "cs"', "method = 3", "analysis[0].method", "a string"),
        ("primary = true", 'primary = "yes"', "analysis[0].primary", "true or false"),
        ("primary = true", 'primary = true\ncolour = "red"', "analysis[0].colour", "unknown key"),
        ("synthetic_demo = true", 'synthetic_demo = true\nauthor = "x"', "plan.author", "unknown key"),
        ('name = "demo"', 'name = "Demo Plan"', "plan.name", "lowercase"),
        ('name = "demo"\n', "", "plan.name", "missing required key"),
        ("years = [2011, 2024]", "years = [2011]", "sample.years", "[first, last]"),
        ("years = [2011, 2024]", "years = [2024, 2011]", "sample.years", "after last year"),
        ("years = [2011, 2024]", 'years = [2011, "2024"]', "sample.years[1]", "an integer"),
        ("first_year = 2016", 'first_year = "2016"', "sample.treated[0].first_year", "an integer"),
        ("first_year = 2016 }", 'first_year = 2016, model = "trust" }', "sample.treated[0].model", "unknown key"),
        ("[sample]", '[sample]\ndonors = "everyone"', "sample.donors", "never_treated"),
        ('label = "a_twfe"', 'label = "a_cs"', "analysis[1].label", "duplicate"),
        ('options = { control = "never" }', 'options = "never"', "analysis[0].options", "a table"),
        ('panel = "data/processed/panel.parquet"', 'panel = "/abs/panel.parquet"', "data.panel", "relative"),
        ('control = "never"', "control = 2024-01-01", "analysis[0].options.control", "one of never or notyet"),
        ('control = "never"', 'control = "last"', "analysis[0].options.control", "one of never or notyet"),
        ('control = "never"', 'control = "never", min_e = nan', "analysis[0].options.min_e", "finite"),
        ('control = "never"', 'control = "never", contol = "x"', "analysis[0].options.contol", "unknown key"),
        ('control = "never"', 'control = "never", anticipation = -1', "analysis[0].options.anticipation", ">= 0"),
        ('control = "never"', 'control = "never", min_e = "3"', "analysis[0].options.min_e", "a number"),
        (
            'panel = "data/processed/panel.parquet"',
            'panel = "p.parquet"\nexpected_sha256 = { "p.parquet" = "abc" }',
            'data.expected_sha256["p.parquet"]',
            "64 lowercase",
        ),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, old: str, new: str, column: str, fragment: str) -> None:
    assert old in GOOD
    err = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert err.column == column
    assert fragment in str(err)


@pytest.mark.parametrize("section", ["plan", "data", "inference"])
def test_missing_section(tmp_path: Path, section: str) -> None:
    text = GOOD
    start = text.index(f"[{section}]")
    end = text.index("\n[", start + 1)
    err = error_of(tmp_path, text[:start] + text[end + 1 :])
    assert err.column == section
    assert f"missing section [{section}]" in str(err)


def test_missing_analysis_and_unknown_section(tmp_path: Path) -> None:
    err = error_of(tmp_path, GOOD[: GOOD.index("[[analysis]]")])
    assert err.column == "analysis"
    err = error_of(tmp_path, GOOD + "\n[extras]\nx = 1\n")
    assert err.column == "extras" and "unknown section" in str(err)
    err = error_of(tmp_path, GOOD.replace("[[analysis]]", "[analysis]", 1).split("[[analysis]]")[0])
    assert err.column == "analysis" and "[[analysis]]" in str(err)


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, GOOD.replace('title = "Demo"', 'title = "Demo'))
    assert err.row == 4
    assert "row 4" in str(err) and "TOML syntax error" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvalkitError, match="not found"):
        load_plan(tmp_path / "nope.toml")


def test_template_is_valid_and_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "my-eval.toml"
    init_plan(target)
    plan = load_plan(target)
    assert plan["plan"]["name"] == "my-eval"
    assert any(a["primary"] for a in plan["analysis"])
    assert "#" in target.read_text()
    with pytest.raises(EvalkitError, match="already exists"):
        init_plan(target)


def test_lock_unchanged_then_edited(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    lock = lock_plan(p)
    assert lock == lock_path(p) == tmp_path / "plan.lock.json"
    record = read_lock(p)
    assert record is not None and record == read_lock(lock)
    assert record["sha256"] == plan_sha256(p)
    assert record["plan"] == json.loads(json.dumps(load_plan(p)))
    assert record["locked_at"].endswith("Z")
    assert set(record) == {"plan_file", "sha256", "locked_at", "evalkit_version", "plan"}
    assert check_against_lock(p, allow_deviations=False) == []
    assert lock_plan(p) == lock  # relocking an unchanged plan is a no-op

    p.write_text(GOOD.replace('control = "never"', 'control = "notyet"').replace("seed = 1", "seed = 2"))
    with pytest.raises(EvalkitError) as info:
        check_against_lock(p, allow_deviations=False)
    msg = str(info.value)
    assert "plan changed since it was locked" in msg and "--allow-deviations" in msg and "\n" not in msg
    devs = check_against_lock(p, allow_deviations=True)
    assert [d["field"] for d in devs] == ["analysis[0].options.control", "inference.seed"]
    assert devs[0]["locked"] == "never" and devs[0]["current"] == "notyet"
    with pytest.raises(EvalkitError, match="already locked"):
        lock_plan(p)
    lock_plan(p, force=True)
    assert check_against_lock(p, allow_deviations=False) == []


def test_comment_only_change_is_reported(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    lock_plan(p)
    p.write_text(GOOD + "\n# a comment\n")
    with pytest.raises(EvalkitError):
        check_against_lock(p, allow_deviations=False)
    assert [d["field"] for d in check_against_lock(p, allow_deviations=True)] == ["plan_sha256"]


def test_no_lock_means_no_deviations(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    assert read_lock(p) is None
    assert check_against_lock(p, allow_deviations=False) == []


def test_deviations_paths_are_sorted_naturally() -> None:
    locked = {"analysis": [{"label": f"a{i}", "options": {}} for i in range(11)], "x": {"b": 1, "a": [1]}}
    current = json.loads(json.dumps(locked))
    current["analysis"][10]["options"]["k"] = 1
    current["analysis"][2]["label"] = "z"
    current["x"]["a"] = [1, 2]
    current["analysis"].append({"label": "new"})
    devs = deviations(locked, current)
    assert [d["field"] for d in devs] == ["analysis[2].label", "analysis[10].options.k", "analysis[11]", "x.a"]
    assert devs[1]["change"] == "added" and devs[1]["locked"] is None
    assert devs[2]["change"] == "added" and devs[2]["current"] == {"label": "new"}
    assert deviations(locked, locked) == []


def test_check_inputs(tmp_path: Path) -> None:
    (tmp_path / "p.parquet").write_bytes(b"abc")
    plan = {"data": {"expected_sha256": {"p.parquet": "0" * 64}}}
    with pytest.raises(EvalkitError, match="sha256 is"):
        check_inputs(plan, tmp_path)
    plan["data"]["expected_sha256"]["p.parquet"] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    check_inputs(plan, tmp_path)


@pytest.mark.parametrize(
    ("old", "new", "column", "fragment"),
    [
        ("seed = 1", 'seed = 1\nfamily = ["a_cs", "a_twfe"]', "inference.family[1]", "not a primary analysis"),
        ("seed = 1", 'seed = 1\nfamily = ["a_cs"]', "inference.family", "at least 2"),
        ("primary = true", "primary = true\nvote = false", "analysis[0].vote", "always votes"),
        ('method = "twfe"', 'method = "twfe"\nsmallest_effect = 1.0', "analysis[1].smallest_effect", "primary"),
        ("primary = true", "primary = true\nsmallest_effect = -1.0", "analysis[0].smallest_effect", "> 0"),
        (
            "primary = true",
            'primary = true\nsensitivity = { method = "rm", covariance = "bootstrap" }',
            "analysis[0].sensitivity",
            "covariance must be 'analytic' or 'permutation'",
        ),
    ],
)
def test_evidence_keys_are_checked(tmp_path: Path, old: str, new: str, column: str, fragment: str) -> None:
    err = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert err.column == column
    assert fragment in str(err)


def test_evidence_keys_accepted_and_absent_from_older_plans(tmp_path: Path) -> None:
    text = GOOD.replace('method = "twfe"', 'method = "twfe"\nvote = false', 1).replace(
        "primary = true",
        'primary = true\nsmallest_effect = 2.5\nsensitivity = { method = "rm", covariance = "permutation" }',
        1,
    )
    (tmp_path / "p.toml").write_text(text)
    plan = load_plan(tmp_path / "p.toml")
    assert plan["analysis"][1]["vote"] is False and plan["analysis"][0]["smallest_effect"] == 2.5
    assert plan["analysis"][0]["sensitivity"]["covariance"] == "permutation"
    (tmp_path / "q.toml").write_text(GOOD)
    old = load_plan(tmp_path / "q.toml")
    assert "family" not in old["inference"] and "vote" not in old["analysis"][1]


@pytest.mark.parametrize(
    ("new", "column", "fragment"),
    [
        ('interval = "auto-size"\none_council = "hagemann"', "inference.hagemann_rho", "needs it"),
        ('interval = "auto-size"\none_council = "hagemann"\nhagemann_rho = 0.5', "inference.hagemann_rho", "0.5"),
        ('interval = "auto-size"\nhagemann_rho = 2.0', "inference.hagemann_rho", "without one_council"),
        ('one_council = "hagemann"\nhagemann_rho = 2.0', "inference.one_council", "size-keeping intervals"),
        ('interval = "studentized"\none_council = "rank"\nhagemann_rho = 2.0', "inference.one_council", "'rank'"),
    ],
)
def test_one_council_keys_are_checked(tmp_path: Path, new: str, column: str, fragment: str) -> None:
    err = error_of(tmp_path, GOOD.replace("seed = 1", f"seed = 1\n{new}", 1))
    assert err.column == column
    assert fragment in str(err)
    if column == "inference.hagemann_rho" and "0.5" in fragment:
        assert "a number >= 1" in str(err)


def test_one_council_keys_accepted_and_absent_from_older_plans(tmp_path: Path) -> None:
    text = GOOD.replace(
        "seed = 1", 'seed = 1\ninterval = "ferman_pinto"\none_council = "hagemann"\nhagemann_rho = 2', 1
    )
    plan = load_plan(write(tmp_path, text))
    assert plan["inference"]["one_council"] == "hagemann" and plan["inference"]["hagemann_rho"] == 2
    old = load_plan(write(tmp_path, GOOD, "old.toml"))
    assert "one_council" not in old["inference"] and "hagemann_rho" not in old["inference"]
