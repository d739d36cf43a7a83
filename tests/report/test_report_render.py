"""The report renderer: deterministic bytes, self-contained HTML, banner, order, optional keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.io import write_json
from evalkit.report import DEMO_BANNER, render_report
from evalkit.report.figures import DEMO_TITLE_PREFIX
from tests.report.example_results import example_document

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    base = tmp_path_factory.mktemp("render")
    write_json(base / "results.json", example_document(synthetic_demo=True))
    return base, render_report(base / "results.json", base / "out")


def test_outputs_listed_sorted(rendered: tuple[Path, list[Path]]) -> None:
    base, paths = rendered
    assert paths == sorted(paths)
    assert [p.name for p in paths] == [
        "cla_synth-rmspe.csv",  # the synthetic control's extra tables, beside the report instead of in it
        "cla_synth-weights.csv",
        "fig-cla_cs-event-study.svg",
        "fig-cla_synth-synth-gaps.svg",
        "fig-cla_synth-synth-paths.svg",
        "fig-cla_synth-synth-rmspe.svg",
        "fig-cla_synth-synth-weights.svg",
        "report.html",
        "report.md",
    ]
    assert sorted(p.name for p in (base / "out").iterdir()) == [p.name for p in paths]


def test_render_twice_identical_bytes(rendered: tuple[Path, list[Path]], tmp_path: Path) -> None:
    base, first = rendered
    second = render_report(base / "results.json", tmp_path / "again")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_identical_bytes_in_a_fresh_process(rendered: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """Another interpreter with another hash seed (set order) gives the same bytes."""
    base, first = rendered
    code = (
        "import sys; from pathlib import Path; from evalkit.report import render_report; "
        "render_report(Path(sys.argv[1]), Path(sys.argv[2]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "987", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", code, str(base / "results.json"), str(tmp_path / "proc")],
        check=True,
        env=env,
        cwd=tmp_path,
    )
    for a in first:
        assert a.read_bytes() == (tmp_path / "proc" / a.name).read_bytes(), a.name


def test_no_absolute_paths_or_timestamps(rendered: tuple[Path, list[Path]]) -> None:
    base, paths = rendered
    for p in paths:
        text = p.read_text(encoding="utf-8")
        assert str(base) not in text
        assert "/tmp" not in text
        assert not re.search(r"dc:date|<dc:creator|Created with", text), p.name


def test_html_is_self_contained(rendered: tuple[Path, list[Path]]) -> None:
    base, _ = rendered
    html = (base / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"<(img|link|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"\bsrc\s*=", html, re.I)
    assert not re.search(r"url\((?!#)", html)  # only internal references such as clip paths
    assert "@import" not in html
    assert html.count("<svg ") == 5
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids in the page"
    for ref in set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', html)):
        target = ref[0] or ref[1]
        assert target in ids, f"dangling reference #{target}"


def test_demo_banner_everywhere(rendered: tuple[Path, list[Path]]) -> None:
    base, paths = rendered
    html = (base / "out" / "report.html").read_text(encoding="utf-8")
    md = (base / "out" / "report.md").read_text(encoding="utf-8")
    body = html.split("<main>", 1)[1]
    assert body.lstrip().startswith(f'<p class="banner" role="note"><strong>{DEMO_BANNER}</strong></p>')
    assert md.startswith(f"> **{DEMO_BANNER}**")
    for p in paths:
        if p.suffix == ".svg":
            root = ET.fromstring(p.read_bytes())
            title = root.find("{http://www.w3.org/2000/svg}title")
            assert title is not None and title.text.startswith(DEMO_TITLE_PREFIX), p.name
            assert DEMO_TITLE_PREFIX.strip() in p.read_text(encoding="utf-8").split("</desc>", 1)[1], p.name


def test_no_banner_for_real_data(tmp_path: Path) -> None:
    write_json(tmp_path / "results.json", example_document(synthetic_demo=False))
    paths = render_report(tmp_path / "results.json", tmp_path / "out")
    for p in paths:
        assert "SYNTHETIC DEMO DATA" not in p.read_text(encoding="utf-8"), p.name


def test_section_order_and_primary_first(rendered: tuple[Path, list[Path]]) -> None:
    base, _ = rendered
    md = (base / "out" / "report.md").read_text(encoding="utf-8")
    headings = re.findall(r"^(#{1,3}) (.+)$", md, re.M)
    h2 = [t for level, t in headings if level == "##"]
    assert h2 == [
        "The analysis plan",
        "Which estimate to trust",
        "Primary results",
        "Robustness checks",
        "Coverage and missing data",
        "Treated councils and sources",
        "Balance",
        "Limitations",
        "Provenance",
    ]
    h3 = [t for level, t in headings if level == "###"]
    assert h3.index("Children looked after: Callaway and Sant'Anna") < h3.index(
        "Children looked after: two-way fixed effects"
    )
    assert "analysis\\[0\\].options.control" in md or "`analysis[0].options.control`" in md
    assert "p-value 0.009" in md and "-7.390 to -1.030" in md


def test_markdown_figures_are_relative_and_exist(rendered: tuple[Path, list[Path]]) -> None:
    base, _ = rendered
    md = (base / "out" / "report.md").read_text(encoding="utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(refs) == 5
    for ref in refs:
        assert ref.startswith("fig-") and "/" not in ref
        assert (base / "out" / ref).is_file()


def test_svg_accessible_and_well_formed(rendered: tuple[Path, list[Path]]) -> None:
    _, paths = rendered
    for p in paths:
        if p.suffix != ".svg":
            continue
        root = ET.fromstring(p.read_bytes())
        assert root.get("role") == "img"
        ns = "{http://www.w3.org/2000/svg}"
        assert root[0].tag == ns + "title" and root[1].tag == ns + "desc"
        assert len(root[1].text) > 40
        assert p.stat().st_size < 200_000


def test_accessible_tables(rendered: tuple[Path, list[Path]]) -> None:
    base, _ = rendered
    html = (base / "out" / "report.html").read_text(encoding="utf-8")
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        assert "<caption>" in table and '<th scope="col"' in table
    assert '<html lang="en-GB">' in html


def test_minimal_document_without_optional_keys(tmp_path: Path) -> None:
    doc = example_document(synthetic_demo=False)
    minimal = {k: doc[k] for k in ("title", "name", "provenance", "analyses")}
    minimal["analyses"] = [dict(a, primary=False) for a in minimal["analyses"]]
    minimal["provenance"] = {}
    write_json(tmp_path / "results.json", minimal)
    paths = render_report(tmp_path / "results.json", tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "No analysis was marked primary" in md
    assert "## Results" in md and "## Robustness checks" not in md
    assert "not locked" in md and "Coverage was not recorded." in md
    assert len([p for p in paths if p.suffix == ".svg"]) == 5


def test_stale_figures_are_removed(tmp_path: Path) -> None:
    write_json(tmp_path / "results.json", example_document())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "fig-old.svg").write_text("<svg/>")
    (tmp_path / "out" / "notes.txt").write_text("keep me")
    render_report(tmp_path / "results.json", tmp_path / "out")
    assert not (tmp_path / "out" / "fig-old.svg").exists()
    assert (tmp_path / "out" / "notes.txt").exists()


def test_bad_results_file(tmp_path: Path) -> None:
    with pytest.raises(EvalkitError, match="not found"):
        render_report(tmp_path / "results.json", tmp_path / "out")
    (tmp_path / "results.json").write_text('{"title": "x", "name": "x", "provenance": {}}')
    with pytest.raises(EvalkitError) as info:
        render_report(tmp_path / "results.json", tmp_path / "out")
    assert info.value.column == "analyses" and "\n" not in str(info.value)
    (tmp_path / "results.json").write_text('{"title": ')
    with pytest.raises(EvalkitError, match="not valid JSON"):
        render_report(tmp_path / "results.json", tmp_path / "out")


def test_refused_inference_is_said_plainly() -> None:
    """Synthetic-control placebos refused on an unidentified fit and one-council rows without a valid
    interval are each one sentence; a studentised row without an interval says why in its table cell."""
    from evalkit.report.render import _ci_or_none, _no_valid_interval_blocks

    results = {
        "diagnostics": {
            "placebo_refused": {"E1": "2 pre-periods for 2 predictors: the pre-period fit is not identified"}
        },
        "inference": {
            "studentized": {"no_valid_interval": {"names": ["dynamic:e=-5"], "why": "rests on one treated council"}}
        },
    }
    texts = [b.content for b in _no_valid_interval_blocks(results, {"E1": "Slough"})]
    assert texts == [
        "No placebo p-value for Slough: 2 pre-periods for 2 predictors: the pre-period fit is not identified.",
        "No valid interval for dynamic:e=-5: rests on one treated council.",
    ]
    assert _no_valid_interval_blocks({"diagnostics": {}, "inference": {}}, {}) == []
    row = {"interval": "studentized", "ci_low": None, "ci_high": None, "p_value": None}
    assert _ci_or_none(row) == "none valid (rests on one council)"
    assert _ci_or_none({**row, "interval": "analytic"}) == "—"
