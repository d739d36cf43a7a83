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


# Reads, after layout, the text of every text node painted in the first viewport and the answer table's
# bottom edge, into a <pre id="first-viewport"> that --dump-dom returns. The page is laid out at the
# window's width; --dump-dom's window keeps browser chrome (innerHeight 657 of 800), so the viewport's
# height is given (the page has no height-dependent units: positions at scroll 0 are page positions).
VIEWPORT_PROBE = """<script>
(function () {
  var h = VIEWPORT_HEIGHT, w = window.innerWidth, texts = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    var node = walker.currentNode, range = document.createRange();
    range.selectNodeContents(node);
    var box = range.getBoundingClientRect();
    if (box.height > 0 && box.top < h && box.bottom > 0 && node.textContent.trim()) texts.push(node.textContent.trim());
  }
  var table = document.getElementById("in-brief").getBoundingClientRect();
  var pre = document.createElement("pre");
  pre.id = "first-viewport";
  pre.setAttribute("data-height", h);
  pre.setAttribute("data-width", w);
  pre.setAttribute("data-table-bottom", table.bottom);
  pre.textContent = texts.join("\\n");
  document.body.appendChild(pre);
})();
</script>"""
ESTIMATOR_WORDS = (
    "Callaway",
    "Sant'Anna",
    "randomisation",
    "randomization",
    "synthetic control",
    "SDID",
    "TWFE",
    "bootstrap",
)


def first_viewport(html: Path, tmp: Path, width: int = 1280, height: int = 800) -> tuple[dict, str, Path]:
    """(geometry, text painted in the first viewport, screenshot) of a report in headless Chromium."""
    import html as htmllib
    import re

    probe = tmp / "probe.html"
    script = VIEWPORT_PROBE.replace("VIEWPORT_HEIGHT", str(height))
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    dom = _run([f"--window-size={width},{height}", "--dump-dom", probe.as_uri()], tmp).stdout
    m = re.search(
        r'<pre id="first-viewport" data-height="([\d.]+)" data-width="([\d.]+)" data-table-bottom="([\d.]+)">(.*?)</pre>',
        dom,
        re.S,
    )
    assert m, dom[-2000:]
    geometry = {"height": float(m.group(1)), "width": float(m.group(2)), "table_bottom": float(m.group(3))}
    shot = tmp / "first_viewport.png"
    _run([f"--screenshot={shot}", f"--window-size={width},{height}", html.as_uri()], tmp)
    return geometry, htmllib.unescape(m.group(4)), shot


def test_first_viewport_answers_the_question(demo_run: Path, tmp_path: Path) -> None:
    """At 1280×800 the first screen holds the question and the whole answer table (outcome, what we found,
    size beside the level before the move, how sure, councils), and no estimator name."""
    import json

    from evalkit.answers import amount, interval_text, sig

    folder = demo_run / "reports" / "demo"
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    geometry, text, shot = first_viewport(folder / "report.html", tmp_path)
    assert geometry["height"] == 800 and geometry["width"] == 1280, geometry
    assert geometry["table_bottom"] <= 800, geometry
    assert doc["question"][:60] in " ".join(text.split("\n"))
    for q in doc["answers"]["questions"]:
        words = q["outcome_words"][:1].upper() + q["outcome_words"][1:]
        row = text[text.index(words) :]
        assert amount(q["estimate"], q["unit"]) in row and interval_text(q) in row, q["label"]
        assert sig(q["baseline"]["value"]) in row  # beside the treated councils' level before the move
    for word in ESTIMATOR_WORDS:
        assert word.lower() not in text.lower(), word
    for verdict in doc["answers"]["verdicts"]:
        assert verdict in text  # the verdict words are defined on the first screen
    keep = ROOT / "reports" / "_browser_test"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep / "first_viewport.png")
    (keep / "first_viewport.txt").write_text(text + "\n", encoding="utf-8")
