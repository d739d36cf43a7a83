"""The report stage: results.json -> report.html (self-contained) and report.md with fig-*.svg."""

from __future__ import annotations

from evalkit.report.render import DEMO_BANNER, load_results, render_report

__all__ = ["DEMO_BANNER", "load_results", "render_report"]
