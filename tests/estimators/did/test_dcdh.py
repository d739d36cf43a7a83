"""de Chaisemartin-D'Haultfœuille DID_ℓ (evalkit.estimators.dcdh) against the published implementations.

Reference numbers: tests/estimators/reference/dcdh/<package>.json, written by make.py there
(moderndid 0.4.1's `did_multiplegt` and the authors' py-did-multiplegt-dyn 0.1.9, each in its own
venv). Tolerances: estimates 1e-6 absolute, standard errors 1e-4 relative (the issue's), switcher
counts exact. Data: ../shared/data/more (simulated switch-on/switch-off panel, wagepan union → wage,
the R package's Favara-Imbs example with a 0-4 treatment).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel, make_panel
from evalkit.estimators.did.dcdh import dcdh
from tests.shared_data import SHARED, absent_reason

MORE = SHARED / "more"
REF = Path(__file__).parents[1] / "reference" / "dcdh"
REFERENCES = sorted(p for p in REF.glob("*.json"))
pytestmark = pytest.mark.skipif(not MORE.exists(), reason=absent_reason(MORE))

# the requested effects and placebos of each case (make.py CASES)
REQUESTED = {
    "sim_both": (4, 3),
    "sim_in": (4, 3),
    "sim_out": (4, 3),
    "wagepan_both": (5, 3),
    "wagepan_in": (5, 3),
    "wagepan_out": (5, 3),
    "favara": (8, 3),
}


def _panel(case: dict) -> LongPanel:
    frame = pl.read_csv(MORE / case["file"], infer_schema_length=100000)
    return make_panel(frame, unit=case["group"], time=case["time"], outcome=case["outcome"], treated=case["treatment"])


def _cases():
    for path in REFERENCES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for name, case in doc["cases"].items():
            yield pytest.param(doc["package"], name, case, id=f"{path.stem}-{name}")


@pytest.mark.parametrize(("package", "name", "case"), list(_cases()))
def test_matches_reference(package: str, name: str, case: dict) -> None:
    effects, placebo = REQUESTED[name]
    res = dcdh(_panel(case), effects=effects, placebo=placebo, switchers=case["switchers"])
    rows = {r["name"]: r for r in res.estimates.to_dicts()}
    n = res.diagnostics["switchers_per_effect"]
    checked = 0
    for kind, sign in (("effects", 1), ("placebos", -1)):
        for ell, ref in case[kind].items():
            e = int(ell) - 1 if sign > 0 else -int(ell) - 1
            got = rows[f"dynamic:e={e}"]
            assert got["estimate"] == pytest.approx(ref["estimate"], abs=1e-6), (package, name, kind, ell)
            assert got["se"] == pytest.approx(ref["se"], rel=1e-4), (package, name, kind, ell)
            assert n[f"dynamic:e={e}"] == ref["switchers"], (package, name, kind, ell)
            checked += 1
    assert rows["average"]["estimate"] == pytest.approx(case["average"]["estimate"], abs=1e-6)
    assert rows["average"]["se"] == pytest.approx(case["average"]["se"], rel=1e-4)
    assert checked == effects + len(case["placebos"])  # every requested effect was estimable here


def test_reference_files_exist() -> None:
    assert REFERENCES, "no reference numbers stored (run tests/estimators/reference/dcdh/make.py)"


def test_pooled_is_the_switcher_weighted_mean_of_in_and_out() -> None:
    frame = pl.read_csv(MORE / "dcdh_sim_nonabsorbing.csv")
    res = dcdh(make_panel(frame, unit="id", time="t", outcome="y", treated="D"), effects=2, placebo=1)
    rows = {r["name"]: r for r in res.estimates.to_dicts()}
    n = res.diagnostics["switchers_per_effect"]
    for e in (0, 1, -2):
        pooled = (n[f"in:dynamic:e={e}"] * rows[f"in:dynamic:e={e}"]["estimate"]) + (
            n[f"out:dynamic:e={e}"] * rows[f"out:dynamic:e={e}"]["estimate"]
        )
        assert rows[f"dynamic:e={e}"]["estimate"] == pytest.approx(pooled / n[f"dynamic:e={e}"], rel=1e-12)


def test_absorbing_panel_has_no_switchers_out_and_is_refused() -> None:
    frame = pl.DataFrame(
        {
            "u": [1, 1, 1, 2, 2, 2, 3, 3, 3],
            "t": [1, 2, 3] * 3,
            "y": [0.0, 3.0, 4.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "d": [0, 1, 1, 0, 0, 0, 0, 0, 1],
        }
    )
    panel = make_panel(frame, unit="u", time="t", outcome="y", treated="d")
    with pytest.raises(EvalkitError, match="no unit switches out"):
        dcdh(panel, switchers="out")
    # unit 1 (switches at 2): (3 - 0) - mean of units 2 and 3 (1, 1) = 2; unit 3 (at 3): (8 - 7) - (5 - 4) = 0
    assert dcdh(panel, switchers="in", effects=1).estimate("dynamic:e=0")["estimate"] == pytest.approx(1.0)


def test_no_switcher_at_all_is_refused() -> None:
    frame = pl.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [1.0, 2.0, 3.0, 5.0], "d": [0, 0, 1, 1]})
    with pytest.raises(EvalkitError, match="no unit switches treatment"):
        dcdh(make_panel(frame, unit="u", time="t", outcome="y", treated="d"))


def test_interior_missing_treatment_is_refused_with_unit_and_period() -> None:
    frame = pl.DataFrame({"u": [1, 1, 1, 2, 2, 2], "t": [1, 2, 3] * 2, "y": np.arange(6.0), "d": [0, None, 1, 0, 0, 0]})
    with pytest.raises(EvalkitError, match="treatment missing for unit 1 in period 2"):
        dcdh(make_panel(frame, unit="u", time="t", outcome="y", treated="d"))


def test_randomisation_interval_is_seeded_and_covers_its_estimate() -> None:
    frame = pl.read_csv(MORE / "dcdh_sim_nonabsorbing.csv")
    panel = make_panel(frame, unit="id", time="t", outcome="y", treated="D")
    a = dcdh(panel, effects=2, placebo=1, permutations=29, seed=7)
    b = dcdh(panel, effects=2, placebo=1, permutations=29, seed=7)
    assert a.to_json() == b.to_json()
    rows = {r["name"]: r for r in a.estimates.to_dicts()}
    for name in ("dynamic:e=0", "dynamic:e=1", "out:dynamic:e=0", "average"):
        ri = rows[f"{name}:randomisation"]
        assert ri["interval"] == "randomization"
        assert ri["ci_low"] < rows[name]["estimate"] < ri["ci_high"]
        # the simulated effect (about 5 after a switch) is far from zero: the smallest attainable p-value
        assert ri["p_value"] == pytest.approx(1 / 30) if name != "average" else ri["p_value"] <= 0.1
    assert rows["dynamic:e=-2:randomisation"]["ci_low"] is None  # a placebo gets its p-value only


def test_per_switcher_effects_average_to_the_estimate() -> None:
    frame = pl.read_csv(MORE / "dcdh_sim_nonabsorbing.csv")
    panel = make_panel(frame, unit="id", time="t", outcome="y", treated="D")
    for switchers in ("in", "out"):
        res = dcdh(panel, effects=2, placebo=1, switchers=switchers)
        rows = res.extra["switchers"].to_dicts()
        for e in (0, 1, -2):
            own = [r["estimate"] for r in rows if r["event_time"] == e]
            assert len(own) == res.diagnostics["switchers_per_effect"][f"dynamic:e={e}"]
            assert np.mean(own) == pytest.approx(res.estimate(f"dynamic:e={e}")["estimate"], rel=1e-10)
