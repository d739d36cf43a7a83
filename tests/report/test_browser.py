"""Open a rendered report in headless Chromium: it must paint, show its headings, log no errors.

Skipped when /usr/bin/chromium is missing (CI installs Debian's `chromium` package). The first
screen is also saved as reports/_browser_test/first_screen.png for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit.estimators.results import Results, estimates_frame
from evalkit.io import write_json
from evalkit.report import DEMO_BANNER, render_report

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser test needs /usr/bin/chromium (install it with `apt-get install -y chromium`)",
)


def _document() -> dict:
    did = Results(
        method="cs",
        outcome="cla_rate_per_10000",
        estimates=estimates_frame(
            [
                {
                    "name": "simple",
                    "aggregation": "simple",
                    "estimate": -3.2,
                    "se": 1.4,
                    "ci_low": -5.9,
                    "ci_high": -0.5,
                    "p_value": 0.022,
                }
            ]
            + [
                {
                    "name": f"group:g={g}",
                    "aggregation": "group",
                    "group": g,
                    "estimate": -2.0 - 0.1 * g % 3,
                    "se": 1.9,
                    "ci_low": -5.8,
                    "ci_high": 1.7,
                    "p_value": 0.3,
                }
                for g in (2015, 2018)
            ]
            + [
                {
                    "name": f"dynamic:e={e}",
                    "aggregation": "dynamic",
                    "event_time": e,
                    "estimate": 0.0 if e < 0 else -1.0 * (e + 1),
                    "se": 1.0,
                    "ci_low": -1.96 + (0.0 if e < 0 else -e - 1),
                    "ci_high": 1.96 + (0.0 if e < 0 else -e - 1),
                    "p_value": 0.5,
                }
                for e in range(-4, 5)
            ]
        ),
        inference={"se_type": "multiplier bootstrap", "alpha": 0.05},
        options={"control": "never"},
        seed=7,
    )
    years = list(range(2012, 2023))
    synth = Results(
        method="synth",
        outcome="cla_rate_per_10000",
        estimates=estimates_frame(
            [{"name": "unit:E1", "aggregation": "unit", "unit": "E1", "group": 2017, "estimate": -4.0, "p_value": 0.1}]
        ),
        inference={"se_type": "placebo permutation", "alpha": 0.05},
        seed=7,
        extra={
            "paths": pl.DataFrame(
                {
                    "unit": ["E1"] * len(years),
                    "time": years,
                    "treated": [50.0 + t - 2012 - (4.0 if t >= 2017 else 0.0) for t in years],
                    "synthetic": [50.0 + t - 2012 for t in years],
                    "gap": [-4.0 if t >= 2017 else 0.0 for t in years],
                }
            ),
            "placebo": pl.DataFrame(
                {
                    "unit": [f"D{i}" for i in range(4) for _ in years],
                    "time": years * 4,
                    "gap": [((i + t) % 5 - 2) * 0.5 for i in range(4) for t in years],
                }
            ),
            "weights": pl.DataFrame({"unit": ["D0", "D1", "D2", "D3"], "weight": [0.5, 0.3, 0.2, 0.0]}),
            "rmspe": pl.DataFrame(
                {
                    "unit": ["E1", "D0", "D1", "D2", "D3"],
                    "pre_rmspe": [1.0] * 5,
                    "post_rmspe": [5.0, 1.2, 1.5, 0.9, 2.0],
                    "ratio": [5.0, 1.2, 1.5, 0.9, 2.0],
                }
            ),
        },
    )
    return {
        "title": "Browser test evaluation",
        "name": "browser",
        "synthetic_demo": True,
        "question": "Did the trust change the rate of children looked after?",
        "lock": None,
        "deviations": [],
        "provenance": {
            "inputs": [{"path": "data/processed/panel.parquet", "sha256": "cd" * 32, "rows": 10}],
            "evalkit_version": "0.1.0",
            "command": "evalkit estimate --plan plans/browser.toml",
        },
        "analyses": [
            {"label": "did", "title": "Difference-in-differences", "primary": True, "results": did.to_dict()},
            {"label": "synth", "title": "Synthetic control", "primary": False, "results": synth.to_dict()},
        ],
        "limitations": ["A test document."],
    }


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
    )


def test_report_opens_in_chromium(tmp_path: Path) -> None:
    write_json(tmp_path / "results.json", _document())
    render_report(tmp_path / "results.json", tmp_path / "report")
    url = (tmp_path / "report" / "report.html").as_uri()

    shot = tmp_path / "first_screen.png"
    proc = _run([f"--screenshot={shot}", "--window-size=1280,900", "--enable-logging=stderr", "--v=0", url], tmp_path)
    assert shot.exists(), f"no screenshot; chromium said:\n{proc.stderr[-2000:]}"
    log = proc.stderr
    assert "Uncaught" not in log and "ERROR:CONSOLE" not in log, log[-2000:]
    assert shot.stat().st_size > 10_000

    import matplotlib.image

    img = matplotlib.image.imread(shot)
    assert img.shape[:2] == (900, 1280)
    pixels = np.round(img[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours = np.unique(pixels, axis=0)
    assert len(colours) > 20, "the first screen is (nearly) one colour"
    # The yellow demo banner is painted near the top.
    top = np.round(img[:120, :, :3] * 255).astype(int)
    assert ((top[..., 0] > 240) & (top[..., 1] > 200) & (top[..., 2] < 40)).sum() > 5000

    keep = ROOT / "reports" / "_browser_test"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep / "first_screen.png")

    dom = _run(["--dump-dom", url], tmp_path).stdout
    for heading in (
        DEMO_BANNER,
        "Browser test evaluation",
        "Which estimate to trust",
        "Primary results",
        "Robustness checks",
        "Limitations",
        "Provenance",
    ):
        assert heading in dom, heading
    assert dom.count("<svg ") == 5
