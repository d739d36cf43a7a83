"""Markdown code spans hold their text exactly: a path with backticks cannot break out (issue #14).

Checked with an independent CommonMark parser (markdown-it-py, installed with rich): the rendered
<code> element must hold the original text, and nothing outside it may become markup.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from evalkit.io import write_json
from evalkit.report import render_report
from evalkit.report.blocks import Pre, block_md, md_code
from tests.report.example_results import example_document

markdown_it = pytest.importorskip("markdown_it")

HOSTILE = [
    "data/processed/panel.parquet",
    "a`b",
    "x``y",
    "`start",
    "end`",
    "```",
    "p` **bold** [link](http://evil.example) `",
    "data/`panel`.parquet",
    "a | b",
    "  both sides  ",
    "line\nbreak",
    "<script>alert(1)</script>",
]


def _codes(rendered: str) -> list[str]:
    import re

    return [html.unescape(m) for m in re.findall(r"<code>(.*?)</code>", rendered, flags=re.S)]


@pytest.mark.parametrize("text", HOSTILE)
def test_code_span_round_trips_through_commonmark(text: str) -> None:
    md = markdown_it.MarkdownIt("commonmark")
    out = md.render(f"before {md_code(text)} after")
    assert _codes(out) == [text.replace("\n", " ")], out
    assert "<strong>" not in out and "<a " not in out and "<script>" not in out


@pytest.mark.parametrize("text", HOSTILE)
def test_code_span_in_a_table_cell(text: str) -> None:
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    out = md.render(f"| k | v |\n| --- | --- |\n| Panel | {md_code(text, in_table=True)} |\n")
    assert out.count("<td>") == 2, out  # the pipe did not split the cell
    assert _codes(out) == [text.replace("\n", " ")], out


def test_code_block_fence_longer_than_any_run() -> None:
    text = "````\nnot the end\n```"
    out = markdown_it.MarkdownIt("commonmark").render(block_md(Pre(text)))
    assert html.unescape(out.split("<code>")[1].split("</code>")[0]) == text + "\n"


def test_report_md_keeps_a_backticked_panel_path_in_its_span(tmp_path: Path) -> None:
    doc = example_document(synthetic_demo=True)
    path = "data/`x`` **pwned** [a](http://evil.example) ``/panel.parquet"
    doc["plan"]["data"]["panel"] = path
    write_json(tmp_path / "results.json", doc)
    paths = render_report(tmp_path / "results.json", tmp_path / "out")
    md = next(p for p in paths if p.name == "report.md").read_text(encoding="utf-8")
    out = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    assert path in _codes(out)
    assert "pwned</strong>" not in out and "evil.example" not in out.replace(html.escape(path), "")
